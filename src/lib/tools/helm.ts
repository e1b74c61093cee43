/**
 * helm argv builders (pure). Helm 4 renamed `--atomic` to `--rollback-on-failure` and made
 * `--wait` take an optional strategy, so builders that differ take the major version; a bare
 * `--wait` means "watcher" on helm 4 and plain waiting on helm 3.
 */
export type HelmMajor = 3 | 4

/** `--set` splits on commas and treats backslashes as escapes; keep values literal. */
function escapeSetValue(value: string): string {
  return value.replace(/\\/gu, '\\\\').replace(/,/gu, '\\,')
}

/**
 * A string goes with `--set-string`: `--set` reads `null`, `true`, `1e3` or `0123` as YAML would
 * (`--image-tag null` deployed the chart's default tag). A number or a boolean from .idp.yml keeps
 * its type with `--set`.
 */
function setArgs(set: Record<string, string | number | boolean> | undefined): string[] {
  if (!set) return []
  return Object.keys(set)
    .sort()
    .flatMap((key) => {
      const value = set[key]!
      return typeof value === 'string' ? ['--set-string', `${key}=${escapeSetValue(value)}`] : ['--set', `${key}=${String(value)}`]
    })
}

export interface HelmUpgradeInstallOptions {
  release: string
  chart: string
  namespace: string
  values?: string[]
  set?: Record<string, string | number | boolean>
  /** Wait for resources to be ready (default true). */
  wait?: boolean
  /** A Go duration, e.g. "5m0s". */
  timeout?: string
  /** Roll back on failure (helm 4 `--rollback-on-failure`, helm 3 `--atomic`); default true. */
  rollbackOnFailure?: boolean
  createNamespace?: boolean
  /** Chart version constraint (for repository charts). */
  version?: string
  major: HelmMajor
}

export function helmUpgradeInstallArgs(o: HelmUpgradeInstallOptions): string[] {
  const args = ['upgrade', '--install', o.release, o.chart, '--namespace', o.namespace]
  if (o.createNamespace) args.push('--create-namespace')
  if (o.version) args.push('--version', o.version)
  for (const file of o.values ?? []) args.push('--values', file)
  args.push(...setArgs(o.set))
  if (o.wait ?? true) args.push('--wait')
  if (o.rollbackOnFailure ?? true) args.push(o.major >= 4 ? '--rollback-on-failure' : '--atomic')
  if (o.timeout) args.push('--timeout', o.timeout)
  return args
}

export function helmUninstallArgs(o: {release: string; namespace: string; wait?: boolean; timeout?: string; /** helm >= 3.17 */ ignoreNotFound?: boolean}): string[] {
  const args = ['uninstall', o.release, '--namespace', o.namespace]
  if (o.ignoreNotFound) args.push('--ignore-not-found')
  if (o.wait) args.push('--wait')
  if (o.timeout) args.push('--timeout', o.timeout)
  return args
}

export function helmStatusArgs(o: {release: string; namespace: string}): string[] {
  return ['status', o.release, '--namespace', o.namespace, '--output', 'json']
}

export function helmRollbackArgs(o: {release: string; namespace: string; revision?: number; wait?: boolean; timeout?: string}): string[] {
  const args = ['rollback', o.release, ...(o.revision === undefined ? [] : [String(o.revision)]), '--namespace', o.namespace]
  if (o.wait) args.push('--wait')
  if (o.timeout) args.push('--timeout', o.timeout)
  return args
}

export function helmListArgs(o: {namespace?: string; selector?: string} = {}): string[] {
  return ['list', ...(o.namespace ? ['--namespace', o.namespace] : ['--all-namespaces']), ...(o.selector ? ['--selector', o.selector] : []), '--output', 'json']
}

export interface HelmReleaseStatus {
  name: string
  namespace: string
  version: number
  info?: {status?: string; description?: string}
}


/** `helm history -o json`: revision, updated, status, chart, app_version, description (no manifest, no values). */
export function helmHistoryArgs(o: {release: string; namespace: string; max?: number}): string[] {
  return ['history', o.release, '--namespace', o.namespace, ...(o.max ? ['--max', String(o.max)] : []), '--output', 'json']
}

/** One row of `helm history -o json`. */
export interface HelmHistoryRow {
  revision: number
  updated?: string
  status?: string
  chart?: string
  app_version?: string
  description?: string
}

/** `helm get values --all -o json` of one revision: the values it was rendered with (read for image.*, never printed). */
export function helmGetValuesArgs(o: {release: string; namespace: string; revision: number}): string[] {
  return ['get', 'values', o.release, '--namespace', o.namespace, '--revision', String(o.revision), '--all', '--output', 'json']
}

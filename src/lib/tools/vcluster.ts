import type {RunOptions, ToolRunner} from './types.js'

/**
 * vcluster argv builders (pure), checked against the real flag surface (vcluster 0.2x-0.37).
 * Bool flags that default to true are switched off with `--flag=false`: pflag reads
 * `--flag false` as a positional argument.
 */
function setArgs(set: Record<string, string> | undefined): string[] {
  return Object.keys(set ?? {})
    .sort()
    .flatMap((key) => ['--set', `${key}=${set![key]}`])
}

export interface VclusterCreateOptions {
  name: string
  namespace: string
  values?: string[]
  set?: Record<string, string>
  chartVersion?: string
  /** Update an existing vcluster instead of failing. */
  upgrade?: boolean
  labels?: Record<string, string>
}

export function vclusterCreateArgs(o: VclusterCreateOptions): string[] {
  const args = ['create', o.name, '--namespace', o.namespace, '--connect=false', '--background-proxy=false']
  if (o.chartVersion) args.push('--chart-version', o.chartVersion)
  if (o.upgrade) args.push('--upgrade')
  for (const file of o.values ?? []) args.push('--values', file)
  args.push(...setArgs(o.set))
  for (const key of Object.keys(o.labels ?? {}).sort()) args.push('--labels', `${key}=${o.labels![key]}`)
  return args
}

/**
 * Print the vcluster's kubeconfig on stdout. Without `server` vcluster falls back to a
 * port-forward and keeps running after printing, so callers pass the exposed endpoint. The
 * context is named `vcluster_<name>_<namespace>_<parent context>` (renaming is deprecated).
 */
export function vclusterConnectArgs(o: {name: string; namespace: string; server?: string; insecure?: boolean}): string[] {
  const args = ['connect', o.name, '--namespace', o.namespace, '--print', '--background-proxy=false']
  if (o.server) args.push('--server', o.server)
  if (o.insecure) args.push('--insecure')
  return args
}

export function vclusterDeleteArgs(o: {name: string; namespace: string; deleteNamespace?: boolean; ignoreNotFound?: boolean; wait?: boolean}): string[] {
  const args = ['delete', o.name, '--namespace', o.namespace, '--delete-context=false']
  if (o.deleteNamespace) args.push('--delete-namespace')
  if (o.ignoreNotFound ?? true) args.push('--ignore-not-found')
  if (o.wait === false) args.push('--wait=false')
  return args
}

export function vclusterListArgs(o: {namespace?: string} = {}): string[] {
  return ['list', ...(o.namespace ? ['--namespace', o.namespace] : []), '--output', 'json']
}

export interface VclusterListItem {
  Name: string
  Namespace: string
  Status: string
  Version: string
  Created: string
  AgeSeconds: number
  Connected: boolean
}

/** `vcluster list --output json`; the helm driver prints `null` when there are none. */
export async function vclusterList(runner: ToolRunner, o: {namespace?: string} = {}, options: RunOptions = {}): Promise<VclusterListItem[]> {
  const {stdout} = await runner.run('vcluster', vclusterListArgs(o), options)
  return (JSON.parse(stdout.trim() || 'null') as VclusterListItem[] | null) ?? []
}


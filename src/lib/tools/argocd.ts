/**
 * argocd argv builders (pure), checked against the real flag surface (argocd 2.10-3.x). The
 * auth token never goes in argv: the CLI reads ARGOCD_AUTH_TOKEN (and ARGOCD_SERVER).
 */
export interface ArgocdGlobals {
  /** Talk to the cluster directly (KUBECONFIG) instead of an Argo CD API server. */
  core?: boolean
  server?: string
  grpcWeb?: boolean
  insecure?: boolean
  plaintext?: boolean
}

function globalArgs(g: ArgocdGlobals | undefined): string[] {
  if (!g) return []
  return [
    ...(g.core ? ['--core'] : []),
    ...(g.server ? ['--server', g.server] : []),
    ...(g.grpcWeb ? ['--grpc-web'] : []),
    ...(g.insecure ? ['--insecure'] : []),
    ...(g.plaintext ? ['--plaintext'] : []),
  ]
}

export interface ArgocdAppCreateOptions {
  name: string
  project: string
  repo: string
  path: string
  revision?: string
  destServer?: string
  destNamespace: string
  /** Namespace of the Application object (apps-in-any-namespace). */
  appNamespace?: string
  valuesFiles?: string[]
  /** Strings go as --helm-set-string (read as strings, whatever they look like), numbers and booleans as --helm-set. */
  helmSet?: Record<string, string | number | boolean>
  labels?: Record<string, string>
  autoSync?: boolean
  createNamespace?: boolean
  globals?: ArgocdGlobals
}

export function argocdAppCreateArgs(o: ArgocdAppCreateOptions): string[] {
  const args = ['app', 'create', o.name, '--upsert', '--project', o.project, '--repo', o.repo, '--path', o.path]
  if (o.revision) args.push('--revision', o.revision)
  args.push('--dest-server', o.destServer ?? 'https://kubernetes.default.svc', '--dest-namespace', o.destNamespace)
  if (o.appNamespace) args.push('--app-namespace', o.appNamespace)
  for (const file of o.valuesFiles ?? []) args.push('--values', file)
  for (const key of Object.keys(o.helmSet ?? {}).sort()) {
    const value = o.helmSet![key]!
    args.push(typeof value === 'string' ? '--helm-set-string' : '--helm-set', `${key}=${String(value)}`)
  }
  for (const key of Object.keys(o.labels ?? {}).sort()) args.push('--label', `${key}=${o.labels![key]}`)
  if (o.autoSync) args.push('--sync-policy', 'automated', '--auto-prune', '--self-heal')
  if (o.createNamespace) args.push('--sync-option', 'CreateNamespace=true')
  return [...args, ...globalArgs(o.globals)]
}

export function argocdAppSyncArgs(o: {name: string; prune?: boolean; timeoutSeconds?: number; appNamespace?: string; globals?: ArgocdGlobals}): string[] {
  return [
    'app',
    'sync',
    o.name,
    ...(o.prune ? ['--prune'] : []),
    ...(o.timeoutSeconds ? ['--timeout', String(o.timeoutSeconds)] : []),
    ...(o.appNamespace ? ['--app-namespace', o.appNamespace] : []),
    ...globalArgs(o.globals),
  ]
}

/** Wait for sync and health. `--timeout 0` would wait forever, so a timeout is required. */
export function argocdAppWaitArgs(o: {name: string; timeoutSeconds: number; health?: boolean; sync?: boolean; appNamespace?: string; globals?: ArgocdGlobals}): string[] {
  return [
    'app',
    'wait',
    o.name,
    ...(o.sync ?? true ? ['--sync'] : []),
    ...(o.health ?? true ? ['--health'] : []),
    '--timeout',
    String(Math.max(1, Math.round(o.timeoutSeconds))),
    ...(o.appNamespace ? ['--app-namespace', o.appNamespace] : []),
    ...globalArgs(o.globals),
  ]
}

export function argocdAppGetArgs(o: {name: string; refresh?: boolean; appNamespace?: string; globals?: ArgocdGlobals}): string[] {
  return ['app', 'get', o.name, '--output', 'json', ...(o.refresh ? ['--refresh'] : []), ...(o.appNamespace ? ['--app-namespace', o.appNamespace] : []), ...globalArgs(o.globals)]
}


/**
 * `argocd app rollback APPNAME ID`: the history id (see `status.history`); argocd then waits for
 * the rollback's sync operation only, up to --timeout (0 would wait forever, so one is required).
 * Argo CD refuses it while automated sync is enabled.
 */
export function argocdAppRollbackArgs(o: {name: string; id: number; timeoutSeconds: number; appNamespace?: string; globals?: ArgocdGlobals}): string[] {
  return ['app', 'rollback', o.name, String(o.id), '--timeout', String(Math.max(1, Math.round(o.timeoutSeconds))), ...(o.appNamespace ? ['--app-namespace', o.appNamespace] : []), ...globalArgs(o.globals)]
}

/** `argocd app set APPNAME --sync-policy none`: turn automated sync off (what a rollback needs first). */
export function argocdAppSetManualSyncArgs(o: {name: string; appNamespace?: string; globals?: ArgocdGlobals}): string[] {
  return ['app', 'set', o.name, '--sync-policy', 'none', ...(o.appNamespace ? ['--app-namespace', o.appNamespace] : []), ...globalArgs(o.globals)]
}

/** `argocd app list -o json`: every Application matching the label selector, in one call (`--app-namespace`: only those in that namespace). */
export function argocdAppListArgs(o: {selector: string; appNamespace?: string; globals?: ArgocdGlobals}): string[] {
  return ['app', 'list', '--output', 'json', '--selector', o.selector, ...(o.appNamespace ? ['--app-namespace', o.appNamespace] : []), ...globalArgs(o.globals)]
}

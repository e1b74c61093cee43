import type {RunOptions, ToolRunner} from './types.js'

/**
 * kubectl argv builders (pure). No `--context`: idp always passes a private kubeconfig that
 * holds exactly one context, so the user's current context can never be used by accident.
 */
function ns(namespace: string | undefined): string[] {
  return namespace ? ['--namespace', namespace] : []
}

export function kubectlApplyArgs(o: {file?: string; namespace?: string; serverSide?: boolean; fieldManager?: string}): string[] {
  const args = ['apply', ...ns(o.namespace), '--filename', o.file ?? '-']
  if (o.serverSide ?? true) args.push('--server-side', '--field-manager', o.fieldManager ?? 'idp')
  return args
}

export function kubectlGetArgs(o: {kind: string; name?: string; namespace?: string; allNamespaces?: boolean; selector?: string; output?: string}): string[] {
  return [
    'get',
    o.kind,
    ...(o.name ? [o.name] : []),
    ...(o.allNamespaces ? ['--all-namespaces'] : ns(o.namespace)),
    ...(o.selector ? ['--selector', o.selector] : []),
    '--output',
    o.output ?? 'json',
  ]
}

export function kubectlDeleteArgs(o: {kind: string; name?: string; namespace?: string; selector?: string; ignoreNotFound?: boolean; wait?: boolean}): string[] {
  return [
    'delete',
    o.kind,
    ...(o.name ? [o.name] : []),
    ...ns(o.namespace),
    ...(o.selector ? ['--selector', o.selector] : []),
    ...(o.ignoreNotFound ?? true ? ['--ignore-not-found'] : []),
    `--wait=${o.wait ?? true}`,
  ]
}

export function kubectlWaitArgs(o: {resource: string; for: string; namespace?: string; timeout?: string; selector?: string}): string[] {
  return ['wait', o.resource, ...ns(o.namespace), ...(o.selector ? ['--selector', o.selector] : []), `--for=${o.for}`, `--timeout=${o.timeout ?? '300s'}`]
}

export function kubectlRolloutStatusArgs(o: {resource: string; namespace?: string; timeout?: string}): string[] {
  return ['rollout', 'status', o.resource, ...ns(o.namespace), `--timeout=${o.timeout ?? '300s'}`]
}

export function kubectlEventsArgs(o: {namespace: string}): string[] {
  return ['get', 'events', ...ns(o.namespace), '--sort-by=.lastTimestamp']
}

export function kubectlLogsArgs(o: {resource: string; namespace?: string; tail?: number; allContainers?: boolean}): string[] {
  return ['logs', o.resource, ...ns(o.namespace), `--tail=${o.tail ?? 50}`, ...(o.allContainers ?? true ? ['--all-containers'] : [])]
}

export function kubectlAuthCanIArgs(o: {verb: string; resource: string; namespace?: string}): string[] {
  return ['auth', 'can-i', o.verb, o.resource, ...ns(o.namespace)]
}

/** Parse `kubectl get -o json`. */
export async function kubectlGetJson<T = unknown>(runner: ToolRunner, o: Parameters<typeof kubectlGetArgs>[0], options: RunOptions = {}): Promise<T> {
  const {stdout} = await runner.run('kubectl', kubectlGetArgs({...o, output: 'json'}), options)
  return JSON.parse(stdout) as T
}

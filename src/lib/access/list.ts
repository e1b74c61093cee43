/**
 * Reading grants back from the clusters: which namespaces to look in (the environments of this
 * service) and the idp-labelled RoleBindings there. An unreachable cluster becomes a warning, as
 * in `env list`, unless every cluster fails.
 */
import {type Human, idpCommand, type Service} from '../cli/deps.js'
import {IdpError} from '../cli/errors.js'
import {table} from '../cli/output.js'
import {redact} from '../cli/redact.js'
import {resolveEnvironment} from '../config/environments.js'
import {loadConfig} from '../config/load.js'
import type {IdpConfig} from '../config/schema.js'
import {type ClusterConnection, type ClusterTarget, configuredClusters, connectCluster} from '../env/cluster.js'
import {listEnvironments} from '../env/list.js'
import {isNotFound, kubeError} from '../kube/client.js'
import {accessSelector, compareGrants, type GrantRecord, parseGrant} from './bindings.js'

export interface AccessListRequest {
  dir: string
  /** Only this environment; default every environment of .idp.yml and the previews that exist. */
  env?: string
}

export interface AccessListResult {
  service: string
  grants: GrantRecord[]
  /** The environments looked at. */
  environments: Array<{env: string; namespace: string; cluster: string}>
}

/** `idp access list`: the grants idp manages, read back from the environments' namespaces. */
export const accessList: Service<AccessListRequest, AccessListResult> = async (request, deps) => {
  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const service = loaded.config.service.name
  const found = request.env ? {targets: [envTarget(loaded.config, loaded.root, request.env)], warnings: []} : await accessEnvTargets(loaded, {stateDir: deps.stateDir, signal: deps.signal, processEnv: deps.env})
  for (const warning of found.warnings) deps.out.warn(warning)
  const listing = await listGrants(found.targets, {service, stateDir: deps.stateDir, now: deps.now(), processEnv: deps.env})
  for (const warning of listing.warnings) deps.out.warn(warning)
  return {service, grants: listing.grants, environments: found.targets.map((t) => ({env: t.env, namespace: t.namespace, cluster: t.cluster.alias}))}
}

export const renderAccessList: Human<AccessListResult> = (result, view) => {
  if (result.grants.length === 0) return `No grants of ${result.service} in ${result.environments.map((e) => e.env).join(', ') || 'any environment'}.`
  const rows = result.grants.map((g) => [
    g.env,
    `${g.kind === 'Group' ? 'group:' : ''}${g.subject}`,
    g.role,
    g.expiresAt ? `${g.expiresAt}${g.expired ? ' (expired)' : ''}` : 'never',
    g.grantedBy ?? '',
    g.reason ?? '',
  ])
  const expired = result.grants.filter((g) => g.expired).length
  const footer = expired > 0 ? `\n\n${expired} expired grant${expired === 1 ? '' : 's'} still in effect: run \`${idpCommand(view, ['access', 'revoke', '--expired'])}\`.` : ''
  return `${table(['ENV', 'SUBJECT', 'ROLE', 'EXPIRES', 'GRANTED BY', 'REASON'], rows)}${footer}`
}

/** An environment's namespace on its cluster. */
export interface EnvTarget {
  env: string
  namespace: string
  cluster: ClusterTarget
}

export function envTarget(config: IdpConfig, root: string, name: string): EnvTarget {
  const env = resolveEnvironment(config, name, {root})
  return {env: env.name, namespace: env.namespace, cluster: {alias: env.cluster.alias, context: env.cluster.context, ...(env.cluster.kubeconfig ? {kubeconfig: env.cluster.kubeconfig} : {})}}
}

/**
 * The environments `access list` (and `revoke --expired`) look at without --env: every exact-name
 * environment of .idp.yml, plus the preview environments (pattern matches) that exist now, found
 * by their namespace labels.
 */
export async function accessEnvTargets(loaded: {config: IdpConfig; root: string}, options: {stateDir: string; signal?: AbortSignal; processEnv?: NodeJS.ProcessEnv}): Promise<{targets: EnvTarget[]; warnings: string[]}> {
  const {config, root} = loaded
  const targets: EnvTarget[] = Object.keys(config.environments)
    .filter((key) => !key.includes('*'))
    .map((key) => envTarget(config, root, key))
  const warnings: string[] = []
  if (Object.keys(config.environments).some((key) => key.includes('*'))) {
    const clusters = configuredClusters(loaded, undefined)
    try {
      const found = await listEnvironments({clusters, stateDir: options.stateDir, service: config.service.name, signal: options.signal, processEnv: options.processEnv})
      warnings.push(...found.warnings)
      for (const record of found.environments) {
        if (targets.some((t) => t.env === record.env && t.cluster.alias === record.cluster)) continue
        const cluster = clusters.find((c) => c.alias === record.cluster)
        if (cluster) targets.push({env: record.env, namespace: record.namespace, cluster})
      }
    } catch (error) {
      warnings.push(`Could not look for preview environments: ${redact(error instanceof Error ? error.message : String(error))}`)
    }
  }
  return {targets, warnings}
}

/**
 * The idp grants on one connected cluster, with one LIST of RoleBindings across its namespaces
 * (`idp status`, which looks at every environment at once): of `service`, or of every service.
 * `namespaces` keeps only those in the environments looked at.
 */
export async function readClusterGrants(connection: ClusterConnection, options: {service?: string; namespaces?: ReadonlySet<string>; now: Date; signal?: AbortSignal}): Promise<GrantRecord[]> {
  const what = `list RoleBindings on cluster "${connection.target.alias}"`
  const call = options.signal ? connection.clients.withSignal(options.signal) : undefined
  let list
  try {
    list = await connection.clients.rbac.listRoleBindingForAllNamespaces({labelSelector: accessSelector(options.service ? {service: options.service} : {})}, call)
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    throw kubeError(error, what)
  }
  const grants = list.items.flatMap((item) => {
    if (options.namespaces && !options.namespaces.has(item.metadata?.namespace ?? '')) return []
    const record = parseGrant(item, connection.target.alias, options.now)
    return record ? [record] : []
  })
  return grants.sort(compareGrants)
}

export interface ListGrantsResult {
  grants: GrantRecord[]
  warnings: string[]
  connections: Map<string, ClusterConnection>
}

/** The idp grants of `service` in each target namespace; one connection per cluster. */
export async function listGrants(targets: EnvTarget[], options: {service: string; stateDir: string; now?: Date; processEnv?: NodeJS.ProcessEnv}): Promise<ListGrantsResult> {
  const now = options.now ?? new Date()
  const byCluster = new Map<string, EnvTarget[]>()
  for (const target of targets) byCluster.set(target.cluster.alias, [...(byCluster.get(target.cluster.alias) ?? []), target])
  const connections = new Map<string, ClusterConnection>()
  const grants: GrantRecord[] = []
  const warnings: string[] = []
  const failures: unknown[] = []
  await Promise.all(
    [...byCluster.values()].map(async (group) => {
      const cluster = group[0]!.cluster
      try {
        const connection = await connectCluster(cluster, {stateDir: options.stateDir, env: options.processEnv})
        connections.set(cluster.alias, connection)
        for (const target of group) {
          const what = `list RoleBindings in namespace ${target.namespace} on cluster "${cluster.alias}"`
          try {
            const list = await connection.clients.rbac.listNamespacedRoleBinding({namespace: target.namespace, labelSelector: accessSelector({service: options.service, env: target.env})})
            for (const item of list.items) {
              const record = parseGrant(item, cluster.alias, now)
              if (record) grants.push(record)
            }
          } catch (error) {
            if (!isNotFound(error)) throw kubeError(error, what)
          }
        }
      } catch (error) {
        failures.push(error)
        warnings.push(`Skipped cluster "${cluster.alias}": ${redact(error instanceof Error ? error.message : String(error))}`)
      }
    }),
  )
  if (byCluster.size > 0 && failures.length === byCluster.size) {
    const first = failures[0]
    throw first instanceof IdpError ? first : kubeError(first, 'list grants')
  }
  grants.sort(compareGrants)
  return {grants, warnings, connections}
}

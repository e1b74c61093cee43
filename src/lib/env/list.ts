/**
 * `idp env list`: the environments on every configured cluster, read from the labels idp put on
 * their namespaces (one LIST per cluster, concurrently), so every machine sees the same. Also the
 * listing `env status`, `env gc` and the access commands start from.
 */
import type {Human, Service} from '../cli/deps.js'
import {IdpError, RemoteError} from '../cli/errors.js'
import {redact} from '../cli/redact.js'
import {deadline} from '../cli/sleep.js'
import {loadConfig} from '../config/load.js'
import {kubeError} from '../kube/client.js'
import {type ClusterConnection, type ClusterTarget, configuredClusters, connectCluster} from './cluster.js'
import {renderEnvTable} from './format.js'
import {envSelector, type EnvRecord, parseEnvRecord} from './labels.js'

export interface EnvListRequest {
  dir: string
  /** Every service's environments, not only this repository's. */
  allServices: boolean
  /** Only this cluster alias. */
  cluster?: string
}

export interface EnvListResult {
  /** The service listed, or null with --all-services. */
  service: string | null
  environments: EnvRecord[]
  /** Per configured cluster: read or not, and why not. */
  clusters: ClusterListing[]
  /** The same lines as the envelope's warnings (clusters that could not be read). */
  warnings: string[]
}

export const envList: Service<EnvListRequest, EnvListResult> = async (request, deps) => {
  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const targets = configuredClusters(loaded, request.cluster)
  const service = request.allServices ? undefined : loaded.config.service.name
  const listing = await listEnvironments({clusters: targets, stateDir: deps.stateDir, service, now: deps.now(), processEnv: deps.env, signal: deps.signal})
  for (const warning of listing.warnings) deps.out.warn(warning)
  return {service: service ?? null, environments: listing.environments, clusters: listing.clusters, warnings: listing.warnings}
}

export const renderEnvList: Human<EnvListResult> = (result, view) => {
  const scope = result.service ? `service ${result.service}` : 'any service'
  const read = result.clusters.filter((c) => c.ok).map((c) => c.cluster)
  if (result.environments.length === 0) return `No environments of ${scope} on cluster${read.length === 1 ? '' : 's'} ${read.join(', ') || '(none configured)'}.`
  return renderEnvTable(result.environments, view.now)
}

export interface ClusterListing {
  cluster: string
  ok: boolean
  count: number
  /** Why the cluster could not be read (already redacted). */
  error?: string
}

export interface ListEnvironmentsOptions {
  clusters: ClusterTarget[]
  stateDir: string
  /** Only this service's environments; absent: every idp-managed environment. */
  service?: string
  env?: string
  now?: Date
  processEnv?: NodeJS.ProcessEnv
  /** Per-cluster time limit for connecting and listing; default 10 s. */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface ListEnvironmentsResult {
  environments: EnvRecord[]
  /** One line per cluster that could not be read. */
  warnings: string[]
  clusters: ClusterListing[]
  /** The connection of each cluster that answered (for callers that go on to act, like gc/status). */
  connections: Map<string, ClusterConnection>
}

/** Sort for stable output: cluster, service, env. */
export function compareRecords(a: EnvRecord, b: EnvRecord): number {
  return a.cluster.localeCompare(b.cluster) || a.service.localeCompare(b.service) || a.env.localeCompare(b.env, undefined, {numeric: true})
}

/**
 * The environment records on one connected cluster: one LIST of namespaces with `selector`, under a
 * time limit (a RemoteError saying the cluster did not answer) and the caller's signal. Also what
 * `idp status` reads per cluster, beside its other list calls.
 */
export async function readEnvironments(connection: ClusterConnection, options: {selector: string; now: Date; timeoutMs?: number; signal?: AbortSignal}): Promise<EnvRecord[]> {
  const {target} = connection
  const limit = deadline(options.timeoutMs ?? 10_000, options.signal)
  const what = `list environments on cluster "${target.alias}" (context ${target.context})`
  let list
  try {
    list = await connection.clients.core.listNamespace({labelSelector: options.selector}, connection.clients.withSignal(limit.signal))
  } catch (error) {
    if (limit.expired()) {
      throw new RemoteError(`Could not reach Kubernetes to ${what}: no answer from ${connection.clients.server} within ${limit.seconds} s.`, {
        hint: 'Check your network/VPN and the context in .idp.yml; `idp doctor` checks every configured context.',
      })
    }
    if (options.signal?.aborted) throw options.signal.reason
    throw kubeError(error, what)
  }
  return list.items.flatMap((ns) => {
    const record = parseEnvRecord(ns, target.alias, options.now)
    return record ? [record] : []
  })
}

/**
 * Every environment record on every given cluster, read concurrently: one LIST of namespaces with
 * the managed-by/service label selector per cluster. A cluster that cannot be read becomes a
 * warning; only when every cluster fails is it an error (the first cluster's), since a partial
 * list is still useful and a full failure is not a list at all.
 */
export async function listEnvironments(options: ListEnvironmentsOptions): Promise<ListEnvironmentsResult> {
  const now = options.now ?? new Date()
  const selector = envSelector({service: options.service, env: options.env})
  const timeoutMs = options.timeoutMs ?? 10_000
  const outcomes = await Promise.all(
    options.clusters.map(async (target) => {
      try {
        const connection = await connectCluster(target, {stateDir: options.stateDir, env: options.processEnv})
        const records = await readEnvironments(connection, {selector, now, timeoutMs, ...(options.signal ? {signal: options.signal} : {})})
        return {target, connection, records}
      } catch (error) {
        return {target, error}
      }
    }),
  )
  const environments: EnvRecord[] = []
  const warnings: string[] = []
  const clusters: ClusterListing[] = []
  const connections = new Map<string, ClusterConnection>()
  for (const outcome of outcomes) {
    if ('error' in outcome) {
      const message = redact(outcome.error instanceof Error ? outcome.error.message : String(outcome.error))
      clusters.push({cluster: outcome.target.alias, ok: false, count: 0, error: message})
      warnings.push(`Skipped cluster "${outcome.target.alias}": ${message}`)
    } else {
      environments.push(...outcome.records)
      connections.set(outcome.target.alias, outcome.connection)
      clusters.push({cluster: outcome.target.alias, ok: true, count: outcome.records.length})
    }
  }
  const failures = outcomes.filter((o): o is {target: ClusterTarget; error: unknown} => 'error' in o)
  if (options.clusters.length > 0 && failures.length === options.clusters.length) {
    const first = failures[0]!.error
    if (options.signal?.aborted) throw first
    const error = first instanceof IdpError ? first : kubeError(first, `list environments on cluster "${failures[0]!.target.alias}"`)
    if (failures.length > 1) error.details = {...error.details, clusters}
    throw error
  }
  environments.sort(compareRecords)
  return {environments, warnings, clusters, connections}
}

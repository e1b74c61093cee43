/**
 * What `idp status` reads from one cluster, with one LIST per kind, all at once: the environments'
 * namespaces (env list's reading), idp's RoleBindings (access list's), helm's release Secrets and
 * the Deployments, and idp's Argo CD Applications when asked. Pods are listed (once) only when a
 * Deployment of an environment is not ready, to say why. A cluster whose namespaces cannot be read
 * is "not reachable"; a kind that cannot be read is a warning and the rest is still shown.
 */
import {redact} from '../cli/redact.js'
import {readClusterGrants} from '../access/list.js'
import type {GrantRecord} from '../access/bindings.js'
import {type HelmReleaseInfo, helmReleaseOfSecret, type DeploymentLike, type PodLike} from '../deploy/status.js'
import type {ArgoApp} from '../deploy/outcome.js'
import {type ClusterConnection, type ClusterTarget, connectCluster} from '../env/cluster.js'
import {envSelector, type EnvRecord, LABELS, MANAGED_BY_VALUE} from '../env/labels.js'
import {readEnvironments} from '../env/list.js'
import {kubeError} from '../kube/client.js'

/** helm's storage labels: the release records that are current (not superseded ones). */
export const HELM_RELEASE_SELECTOR = 'owner=helm,status in (deployed,failed,pending-install,pending-upgrade,pending-rollback,uninstalling)'

export interface ClusterReading {
  target: ClusterTarget
  /** The namespaces could be read. */
  ok: boolean
  /** Why not (redacted). */
  error?: string
  records: EnvRecord[]
  grants: GrantRecord[]
  /** The newest current record of each release. */
  releases: HelmReleaseInfo[]
  deployments: DeploymentLike[]
  pods: PodLike[]
  apps: ArgoApp[]
  /** Kinds that could not be read on a reachable cluster. */
  warnings: string[]
}

export interface ReadClusterOptions {
  stateDir: string
  processEnv?: NodeJS.ProcessEnv
  /** Only this service's environments and grants; absent: every service's. */
  service?: string
  now: Date
  /** List idp's Argo CD Applications too. */
  argocd: boolean
  timeoutMs?: number
  signal?: AbortSignal
}

const message = (error: unknown) => redact(error instanceof Error ? error.message : String(error))

export async function readCluster(target: ClusterTarget, options: ReadClusterOptions): Promise<ClusterReading> {
  const reading: ClusterReading = {target, ok: false, records: [], grants: [], releases: [], deployments: [], pods: [], apps: [], warnings: []}
  let connection: ClusterConnection
  try {
    connection = await connectCluster(target, {stateDir: options.stateDir, ...(options.processEnv ? {env: options.processEnv} : {})})
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    return {...reading, error: message(error)}
  }
  const timeoutMs = options.timeoutMs ?? 10_000
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
  const call = connection.clients.withSignal(signal)
  const alias = target.alias
  const listed = <T>(what: string, run: () => Promise<T>): Promise<T> =>
    run().catch((error: unknown) => {
      if (options.signal?.aborted) throw options.signal.reason
      throw timeout.aborted ? kubeError(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`), `${what} on cluster "${alias}"`) : kubeError(error, `${what} on cluster "${alias}"`)
    })
  const [records, grants, secrets, deployments, apps] = await Promise.allSettled([
    readEnvironments(connection, {selector: envSelector(options.service ? {service: options.service} : {}), now: options.now, timeoutMs, ...(options.signal ? {signal: options.signal} : {})}),
    readClusterGrants(connection, {...(options.service ? {service: options.service} : {}), now: options.now, signal}),
    listed('list helm releases', () => connection.clients.core.listSecretForAllNamespaces({labelSelector: HELM_RELEASE_SELECTOR}, call)),
    listed('list Deployments', () => connection.clients.apps.listDeploymentForAllNamespaces({}, call)),
    options.argocd ? listApplications(connection, signal, alias) : Promise.resolve([]),
  ])
  if (records.status === 'rejected') {
    if (options.signal?.aborted) throw options.signal.reason
    return {...reading, error: message(records.reason)}
  }
  reading.ok = true
  reading.records = records.value
  if (grants.status === 'fulfilled') reading.grants = grants.value
  else reading.warnings.push(message(grants.reason))
  if (secrets.status === 'fulfilled') reading.releases = latestReleases(await Promise.all(secrets.value.items.map((s) => helmReleaseOfSecret(s))))
  else reading.warnings.push(message(secrets.reason))
  if (deployments.status === 'fulfilled') reading.deployments = deployments.value.items as DeploymentLike[]
  else reading.warnings.push(message(deployments.reason))
  if (apps.status === 'fulfilled') reading.apps = apps.value
  else reading.warnings.push(message(apps.reason))
  // Why a Deployment of an environment is not ready is in its pods: one more list, only then.
  const namespaces = new Set(reading.records.map((r) => r.namespace))
  const notReady = reading.deployments.some((d) => namespaces.has(d.metadata?.namespace ?? '') && (d.status?.readyReplicas ?? 0) < (d.spec?.replicas ?? 1))
  if (notReady) {
    try {
      reading.pods = (await listed('list Pods', () => connection.clients.core.listPodForAllNamespaces({}, call))).items as PodLike[]
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason
      reading.warnings.push(message(error))
    }
  }
  return reading
}

/** idp's Applications on a cluster (labelled managed-by=idp), in any namespace; none when Argo CD's CRD is not installed. */
async function listApplications(connection: ClusterConnection, signal: AbortSignal, alias: string): Promise<ArgoApp[]> {
  try {
    // The generic object API takes no per-call signal: the time limit and Ctrl-C end the wait instead.
    const listing = connection.clients.objects.list('argoproj.io/v1alpha1', 'Application', undefined, undefined, undefined, undefined, undefined, `${LABELS.managedBy}=${MANAGED_BY_VALUE}`)
    const stopped = new Promise<never>((_resolve, reject) => {
      if (signal.aborted) reject(signal.reason as Error)
      signal.addEventListener('abort', () => reject(signal.reason as Error), {once: true})
    })
    const list = (await Promise.race([listing, stopped])) as {items?: ArgoApp[]}
    return list.items ?? []
  } catch (error) {
    if (signal.aborted) throw error
    // Discovery without the argoproj.io group: Argo CD is not installed there, so nothing is delivered by it.
    if (/Unrecognized API version and kind|404|not found/iu.test(error instanceof Error ? error.message : String(error))) return []
    throw kubeError(error, `list Argo CD Applications on cluster "${alias}"`)
  }
}

/** The newest record of each release (namespace, name). */
function latestReleases(records: Array<HelmReleaseInfo | undefined>): HelmReleaseInfo[] {
  const newest = new Map<string, HelmReleaseInfo>()
  for (const record of records) {
    if (!record) continue
    const key = `${record.namespace}/${record.name}`
    const seen = newest.get(key)
    if (!seen || seen.revision < record.revision) newest.set(key, record)
  }
  return [...newest.values()]
}

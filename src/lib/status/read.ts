/**
 * What `idp status` reads from one cluster, with one LIST per kind, all at once: the environments'
 * namespaces (env list's reading), idp's RoleBindings (access list's), helm's release Secrets of
 * idp's releases and the Deployments, and idp's Argo CD Applications when asked. Pods are listed
 * (once) only when a Deployment of an environment is not ready, to say why. A cluster whose
 * namespaces cannot be read is "not reachable"; a kind that cannot be read is a warning and the
 * rest is still shown.
 *
 * A vcluster preview's release and Deployments live inside its vcluster: as soon as the namespaces
 * are read, each vcluster is opened (the kubeconfig env up kept here, else `vcluster connect
 * --print`) and read the same way in its namespace `default`: up to VCLUSTER_READS at a time over
 * every cluster, VCLUSTER_CONNECTS `vcluster connect` processes at a time, each under its own time
 * limit; one that cannot be read is a warning on that environment.
 */
import {existsSync} from 'node:fs'

import {redact} from '../cli/redact.js'
import {deadline} from '../cli/sleep.js'
import {readClusterGrants} from '../access/list.js'
import type {GrantRecord} from '../access/bindings.js'
import {type HelmReleaseInfo, helmReleaseOfSecret, type DeploymentLike, type PodLike} from '../deploy/status.js'
import type {ArgoApp} from '../deploy/outcome.js'
import {type ClusterConnection, type ClusterTarget, connectCluster} from '../env/cluster.js'
import {envSelector, type EnvRecord, LABELS, MANAGED_BY_VALUE} from '../env/labels.js'
import {readEnvironments} from '../env/list.js'
import {envKubeconfigPath} from '../env/paths.js'
import {envNames} from '../env/plan-up.js'
import type {InsideVcluster} from '../env/vcluster-kubeconfig.js'
import {kubeError} from '../kube/client.js'
import type {ToolRunner} from '../tools/types.js'

/**
 * The label selector of helm's release Secrets (helm 3 and 4 label each owner=helm, name=<release>,
 * status=<status>, version=<revision>): the records that are current, not superseded ones, and
 * with `releases` only those releases (idp names a release after its service), so what is read
 * follows idp's releases, not every chart installed on the cluster.
 */
export function helmReleaseSelector(releases?: readonly string[]): string {
  const names = [...new Set(releases ?? [])].sort()
  const name = names.length === 0 ? [] : names.length === 1 ? [`name=${names[0]}`] : [`name in (${names.join(',')})`]
  return ['owner=helm', ...name, 'status in (deployed,failed,pending-install,pending-upgrade,pending-rollback,uninstalling)'].join(',')
}

/**
 * Vcluster previews read at the same time over every cluster of one `idp status` (each is a client
 * and connection of its own), and of those, `vcluster connect --print` processes running at once
 * (where env up did not run here): the processes are what costs this machine, the reads are waits.
 */
export const VCLUSTER_READS = 32
export const VCLUSTER_CONNECTS = 8

/** What was read inside one vcluster preview (namespace `default` there). */
export interface VclusterReading {
  ok: boolean
  /** Why it could not be read (redacted). */
  error?: string
  releases: HelmReleaseInfo[]
  deployments: DeploymentLike[]
  pods: PodLike[]
}

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
  /** Inside each vcluster preview, by its host namespace. */
  vclusters: Map<string, VclusterReading>
  /** Kinds that could not be read on a reachable cluster. */
  warnings: string[]
}

export interface ReadClusterOptions {
  stateDir: string
  processEnv?: NodeJS.ProcessEnv
  /** Only this service's environments and grants; absent: every service's. */
  service?: string
  now: Date
  /** List idp's Argo CD Applications too (as resources on the cluster: argocd --core's way). */
  argocd: boolean
  /** Read inside the vcluster previews: the tools to connect, the slots shared by every cluster (reads, and connect processes), vcluster.server per environment. */
  vclusters?: {runner: ToolRunner; reads: Slots; connects: Slots; server?: (record: EnvRecord) => string | undefined; pool?: VclusterPool}
  timeoutMs?: number
  signal?: AbortSignal
}

/**
 * The vclusters opened by earlier rounds of `idp status --watch`, by cluster and namespace: a
 * connection that read well is used again, so a watch runs `vcluster connect` once per vcluster,
 * not once per round. The owner closes every entry when it is done (their temporary kubeconfigs
 * go with them); one that fails, or whose environment is gone, is closed at once.
 */
export type VclusterPool = Map<string, {connection: ClusterConnection; close: () => Promise<void>}>

/** Close and forget every pooled vcluster. */
export async function closeVclusterPool(pool: VclusterPool): Promise<void> {
  const entries = [...pool.values()]
  pool.clear()
  await Promise.all(entries.map((entry) => entry.close()))
}

const message = (error: unknown) => redact(error instanceof Error ? error.message : String(error))

export async function readCluster(target: ClusterTarget, options: ReadClusterOptions): Promise<ClusterReading> {
  const reading: ClusterReading = {target, ok: false, records: [], grants: [], releases: [], deployments: [], pods: [], apps: [], vclusters: new Map(), warnings: []}
  let connection: ClusterConnection
  try {
    connection = await connectCluster(target, {stateDir: options.stateDir, ...(options.processEnv ? {env: options.processEnv} : {})})
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    return {...reading, error: message(error)}
  }
  const timeoutMs = options.timeoutMs ?? 10_000
  const limit = deadline(timeoutMs, options.signal)
  const alias = target.alias
  const records = readEnvironments(connection, {selector: envSelector(options.service ? {service: options.service} : {}), now: options.now, timeoutMs, ...(options.signal ? {signal: options.signal} : {})})
  // The vcluster previews are known once the namespaces are: read inside them while the rest is listed.
  const inside = options.vclusters ? records.then((found) => readVclusters(found, connection, options), () => new Map<string, VclusterReading>()) : Promise.resolve(new Map<string, VclusterReading>())
  const [recordsRead, grants, secrets, deployments, apps, vclusters] = await Promise.allSettled([
    records,
    readClusterGrants(connection, {...(options.service ? {service: options.service} : {}), now: options.now, signal: limit.signal}),
    listed(limit, options.signal, `list helm releases on cluster "${alias}"`, () => connection.clients.core.listSecretForAllNamespaces({labelSelector: helmReleaseSelector(options.service ? [envNames({service: options.service, name: ''}).release] : [])}, connection.clients.withSignal(limit.signal))),
    listed(limit, options.signal, `list Deployments on cluster "${alias}"`, () => connection.clients.apps.listDeploymentForAllNamespaces({}, connection.clients.withSignal(limit.signal))),
    options.argocd ? listApplications(connection, limit.signal, alias) : Promise.resolve([]),
    inside,
  ])
  if (recordsRead.status === 'rejected') {
    if (options.signal?.aborted) throw options.signal.reason
    return {...reading, error: message(recordsRead.reason)}
  }
  if (vclusters.status === 'rejected') throw vclusters.reason // only Ctrl-C: each vcluster's failure is its own reading
  reading.ok = true
  reading.records = recordsRead.value
  reading.vclusters = vclusters.value
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
  if (reading.deployments.some((d) => namespaces.has(d.metadata?.namespace ?? '') && notReady(d))) {
    try {
      reading.pods = (await listed(limit, options.signal, `list Pods on cluster "${alias}"`, () => connection.clients.core.listPodForAllNamespaces({}, connection.clients.withSignal(limit.signal)))).items as PodLike[]
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason
      reading.warnings.push(message(error))
    }
  }
  return reading
}

const notReady = (d: DeploymentLike) => (d.status?.readyReplicas ?? 0) < (d.spec?.replicas ?? 1)

/** A list call under a time limit: Ctrl-C goes through as it is, anything else is a RemoteError saying what could not be read. */
function listed<T>(limit: ReturnType<typeof deadline>, signal: AbortSignal | undefined, what: string, run: () => Promise<T>): Promise<T> {
  return run().catch((error: unknown) => {
    if (signal?.aborted) throw signal.reason
    throw kubeError(limit.expired() ? new Error(`no answer within ${limit.seconds} s`) : error, what)
  })
}

/** A cap on how many of something run at once: `run` waits for a free slot. */
export interface Slots {
  run<T>(task: () => Promise<T>): Promise<T>
}

export function slots(size: number): Slots {
  let free = size
  const waiting: Array<() => void> = []
  return {
    async run(task) {
      if (free > 0) free--
      else await new Promise<void>((resolve) => waiting.push(resolve))
      try {
        return await task()
      } finally {
        const next = waiting.shift()
        if (next) next()
        else free++
      }
    },
  }
}

/** Every vcluster preview among `records`, read inside, each when a slot is free. */
async function readVclusters(records: EnvRecord[], host: ClusterConnection, options: ReadClusterOptions): Promise<Map<string, VclusterReading>> {
  const {runner, reads, connects, server} = options.vclusters!
  const previews = records.filter((r) => r.driver === 'vcluster')
  // Every `vcluster connect` waits for a process slot; the time limit of each starts with its process.
  const connecting: ToolRunner = {resolve: (tool) => runner.resolve(tool), require: (tool) => runner.require(tool), removedEnv: (env) => runner.removedEnv(env), run: (tool, argv, runOptions) => connects.run(() => runner.run(tool, argv, runOptions))}
  // Pooled vclusters of this cluster whose environment is gone are closed now, not at the end of the watch.
  if (options.vclusters!.pool) {
    const pool = options.vclusters!.pool
    const current = new Set(previews.map((record) => poolKey(host, record)))
    const gone = [...pool.keys()].filter((key) => key.startsWith(`${host.target.alias}\0`) && !current.has(key))
    await Promise.all(gone.map(async (key) => {
      const entry = pool.get(key)
      pool.delete(key)
      await entry?.close()
    }))
  }
  const read = await Promise.all(
    previews.map((record) =>
      reads.run(async () => {
        options.signal?.throwIfAborted()
        const kept = envKubeconfigPath(options.stateDir, record.service, record.env)
        const via: InsideVcluster = {...(existsSync(kept) ? {kept} : {}), ...(server?.(record) ? {server: server(record)} : {}), env: options.processEnv ?? process.env}
        return [record.namespace, await readVcluster(record, host, connecting, via, options)] as const
      }),
    ),
  )
  return new Map(read)
}

const poolKey = (host: ClusterConnection, record: EnvRecord) => `${host.target.alias}\0${record.namespace}`

/**
 * Inside one vcluster: its connection (`vcluster connect` under the time limit, from its start),
 * then helm's release Secrets of the service and the Deployments in `default` (Pods only when one
 * is not ready) under the same limit again; the temporary kubeconfig is removed whatever happens.
 * Never throws but for Ctrl-C.
 */
async function readVcluster(record: EnvRecord, host: ClusterConnection, runner: ToolRunner, via: InsideVcluster, options: ReadClusterOptions): Promise<VclusterReading> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const where = `inside the vcluster of ${record.env} on cluster "${record.cluster}"`
  const empty: VclusterReading = {ok: false, releases: [], deployments: [], pods: []}
  const pool = options.vclusters?.pool
  const key = poolKey(host, record)
  let opened: Awaited<ReturnType<typeof import('../env/vcluster-kubeconfig.js').openVcluster>> | undefined
  let limit: ReturnType<typeof deadline> | undefined
  try {
    opened = pool?.get(key)
    pool?.delete(key)
    if (!opened) {
      if (!via.kept && (await runner.resolve('vcluster')).status === 'missing') return {...empty, error: 'vcluster is not installed (and env up did not run on this machine): the vcluster cannot be read'}
      const {openVcluster} = await import('../env/vcluster-kubeconfig.js')
      opened = await openVcluster(record, host, runner, via, {...(options.signal ? {signal: options.signal} : {}), timeoutMs})
    }
    limit = deadline(timeoutMs, options.signal)
    const {clients} = opened.connection
    const call = clients.withSignal(limit.signal)
    const namespace = 'default'
    const [secrets, deployments] = await Promise.all([
      listed(limit, options.signal, `list helm releases ${where}`, () => clients.core.listNamespacedSecret({namespace, labelSelector: helmReleaseSelector([envNames({service: record.service, name: record.env}).release])}, call)),
      listed(limit, options.signal, `list Deployments ${where}`, () => clients.apps.listNamespacedDeployment({namespace}, call)),
    ])
    const items = deployments.items as DeploymentLike[]
    const pods = items.some(notReady) ? ((await listed(limit, options.signal, `list Pods ${where}`, () => clients.core.listNamespacedPod({namespace}, call))).items as PodLike[]) : []
    const reading: VclusterReading = {ok: true, releases: latestReleases(await Promise.all(secrets.items.map((s) => helmReleaseOfSecret(s)))), deployments: items, pods}
    // Read well: kept for the next round of a watch (then not closed here).
    if (pool) {
      pool.set(key, opened)
      opened = undefined
    }
    return reading
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    return {...empty, error: limit?.expired() ? `no answer within ${limit.seconds} s` : message(error).split('\n')[0]!}
  } finally {
    await opened?.close()
  }
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

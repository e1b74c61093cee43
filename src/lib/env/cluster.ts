/**
 * One way to reach a configured host cluster: copy its context into idp's private kubeconfig under
 * the state dir and build the clients on that file. `env up`/`down` (through inspectHost) and
 * `env list`/`status`/`gc` (through listEnvironments) all connect here, so the user's kubeconfig
 * is only ever read and no current context is ever consulted.
 */
import os from 'node:os'

import type {V1Namespace} from '@kubernetes/client-node'

import {cacheKey, defineCache} from '../cli/cache.js'
import {PrerequisiteError, UsageError} from '../cli/errors.js'
import {kubeconfigFile} from '../config/environments.js'
import type {IdpConfig} from '../config/schema.js'
import {createKubeClients, isNotFound, kubeError, type KubeClients} from '../kube/client.js'
import {type PrivateKubeconfig, writePrivateKubeconfig} from '../kube/kubeconfig.js'
import {checkReachable, type ReachResult} from '../kube/reach.js'
import {clusterKubeconfigPath} from './paths.js'

/** A configured cluster, as `.idp.yml` names it. */
export interface ClusterTarget {
  alias: string
  context: string
  /** A kubeconfig file holding the context; default KUBECONFIG / ~/.kube/config. */
  kubeconfig?: string
}

/** The clusters of a config, optionally just one alias (a UsageError-free filter: unknown → empty). */
export function clusterTargets(config: Pick<IdpConfig, 'clusters'>, only?: string): ClusterTarget[] {
  return Object.entries(config.clusters ?? {})
    .filter(([alias]) => only === undefined || alias === only)
    .map(([alias, cluster]) => ({alias, context: cluster.context, ...(cluster.kubeconfig ? {kubeconfig: cluster.kubeconfig} : {})}))
}

export interface ClusterConnection {
  target: ClusterTarget
  /** The private kubeconfig (0600) idp wrote for this cluster. */
  kubeconfig: string
  clients: KubeClients
}

export interface ConnectOptions {
  stateDir: string
  env?: NodeJS.ProcessEnv
  /**
   * GET /version first and fail with a PrerequisiteError naming the cluster: for commands about to
   * change things, where "not reachable" should read as a setup problem, not a failed API call.
   */
  requireReachable?: boolean
}

export async function connectCluster(target: ClusterTarget, options: ConnectOptions): Promise<ClusterConnection> {
  const file = clusterKubeconfigPath(options.stateDir, target.alias)
  const copy = await writePrivateKubeconfig({context: target.context, kubeconfigPath: target.kubeconfig, file, env: options.env})
  // The reachability check waits on the network while the clients are set up (CPU): side by side.
  const reached = options.requireReachable ? requireReachable(target, copy) : undefined
  reached?.catch(() => {})
  const clients = createKubeClients(file, options.env)
  clients.catch(() => {})
  await reached
  return {target, kubeconfig: file, clients: await clients}
}

/**
 * What this process's reachability checks said, per private kubeconfig and its content. The
 * `env.preflight` step runs right after `env up`/`down` checked the same cluster through the same
 * copy: the same text a moment ago (same server, same credentials) is not checked a second time.
 */
const reachedCopies = defineCache<ReachResult>({version: 1}).memo(60_000)

/**
 * Copy the cluster's context into the private kubeconfig `file` (0600) and, with requireReachable,
 * check that its API server answers. The `env.preflight` step, which knows only the context, uses
 * this as well, so both say the same thing when a cluster is down.
 */
export async function writeHostKubeconfig(
  target: Omit<ClusterTarget, 'alias'> & {alias?: string},
  file: string,
  options: Omit<ConnectOptions, 'stateDir'> = {},
): Promise<ReachResult | undefined> {
  const copy = await writePrivateKubeconfig({context: target.context, kubeconfigPath: target.kubeconfig, file, env: options.env})
  if (!options.requireReachable) return undefined
  return reachedCopies.get(copy.file, cacheKey(copy.sha256)) ?? requireReachable(target, copy)
}

/** GET /version through the private kubeconfig; a PrerequisiteError naming the cluster when it does not answer. */
async function requireReachable(target: Omit<ClusterTarget, 'alias'> & {alias?: string}, copy: PrivateKubeconfig): Promise<ReachResult> {
  const reach = await checkReachable({file: copy.file, context: target.context})
  if (!reach.ok) {
    const what = target.alias ? `Cluster "${target.alias}" (context ${target.context})` : `Cluster context "${target.context}"`
    throw new PrerequisiteError(`${what} is not reachable at ${reach.server || 'its server'}: ${reach.error ?? `HTTP ${reach.status}`}.`, {
      hint: 'Check that the cluster runs and that clusters.<alias>.context in .idp.yml names the right context; `idp doctor` checks every configured context.',
    })
  }
  reachedCopies.set(copy.file, cacheKey(copy.sha256), reach)
  return reach
}

/** The namespace, or undefined when there is none; any other failure is a RemoteError. */
export async function findNamespace(core: KubeClients['core'], name: string, where = ''): Promise<V1Namespace | undefined> {
  try {
    return await core.readNamespace({name})
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw kubeError(error, `read Namespace ${name}${where}`)
  }
}

/**
 * The configured clusters to read, narrowed by `--cluster`: an unknown alias is a UsageError
 * naming the configured ones, before anything is contacted.
 */
export function selectClusters(config: Pick<IdpConfig, 'clusters'>, only: string | undefined): ClusterTarget[] {
  const all = clusterTargets(config)
  if (only === undefined) return all
  const picked = all.filter((target) => target.alias === only)
  if (picked.length === 0) {
    const aliases = all.map((target) => target.alias)
    throw new UsageError(`Unknown cluster "${only}".${aliases.length > 0 ? ` Configured: ${aliases.join(', ')}.` : ''}`, {
      hint: aliases.length > 0 ? 'Pass --cluster with an alias from the clusters: section of .idp.yml.' : 'Add a clusters: section to .idp.yml (alias: {context: ...}).',
    })
  }
  return picked
}

/** The clusters `env list`/`status`/`gc` read: selected by `--cluster`, kubeconfig paths absolute. */
export function configuredClusters(loaded: {config: Pick<IdpConfig, 'clusters'>; root: string}, only: string | undefined): ClusterTarget[] {
  return absoluteTargets(selectClusters(loaded.config, only), loaded.root, os.homedir())
}

/** Config-relative kubeconfig paths (and ~) made absolute, as resolveEnvironment does. */
function absoluteTargets(targets: ClusterTarget[], root: string, home: string): ClusterTarget[] {
  return targets.map((target) => (target.kubeconfig ? {...target, kubeconfig: kubeconfigFile(target.kubeconfig, root, home)} : target))
}

/**
 * One way to reach a configured host cluster: copy its context into idp's private kubeconfig under
 * the state dir and build the clients on that file. `env up`/`down` (through inspectHost) and
 * `env list`/`status`/`gc` (through listEnvironments) all connect here, so the user's kubeconfig
 * is only ever read and no current context is ever consulted.
 */
import path from 'node:path'

import {PrerequisiteError, UsageError} from '../cli/errors.js'
import type {IdpConfig} from '../config/schema.js'
import {createKubeClients, type KubeClients} from '../kube/client.js'
import {writePrivateKubeconfig} from '../kube/kubeconfig.js'
import {checkReachable} from '../kube/reach.js'
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
  await writePrivateKubeconfig({context: target.context, kubeconfigPath: target.kubeconfig, file, env: options.env})
  if (options.requireReachable) {
    const reach = await checkReachable({file, context: target.context})
    if (!reach.ok) {
      throw new PrerequisiteError(`Cluster "${target.alias}" (context ${target.context}) is not reachable at ${reach.server || 'its server'}: ${reach.error ?? `HTTP ${reach.status}`}.`, {
        hint: 'Check that the cluster runs and that clusters.<alias>.context in .idp.yml names the right context; `idp doctor` checks every configured context.',
      })
    }
  }
  return {target, kubeconfig: file, clients: await createKubeClients(file)}
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

/** Config-relative kubeconfig paths (and ~) made absolute, as resolveEnvironment does. */
export function absoluteTargets(targets: ClusterTarget[], root: string, home: string): ClusterTarget[] {
  return targets.map((target) => {
    if (!target.kubeconfig) return target
    const file = target.kubeconfig === '~' || target.kubeconfig.startsWith('~/') ? path.join(home, target.kubeconfig.slice(1)) : path.resolve(root, target.kubeconfig)
    return {...target, kubeconfig: file}
  })
}

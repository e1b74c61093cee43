/**
 * The cluster side of the access commands: connect to an environment's cluster through idp's
 * private kubeconfig (env/cluster.ts) and make sure the environment's namespace is there.
 */
import {UsageError} from '../cli/errors.js'
import {type ClusterConnection, connectCluster} from '../env/cluster.js'
import {isNotFound, kubeError} from '../kube/client.js'
import type {EnvTarget} from './list.js'

export async function connectEnv(target: EnvTarget, stateDir: string, env?: NodeJS.ProcessEnv): Promise<ClusterConnection> {
  const connection = await connectCluster(target.cluster, {stateDir, requireReachable: true, ...(env ? {env} : {})})
  try {
    await connection.clients.core.readNamespace({name: target.namespace})
  } catch (error) {
    if (isNotFound(error)) {
      throw new UsageError(`Environment ${target.env} has no namespace ${target.namespace} on cluster "${target.cluster.alias}".`, {
        hint: `Bring the environment up first (\`idp env up ${target.env}\`), or check environments.<name>.namespace in .idp.yml.`,
      })
    }
    throw kubeError(error, `read Namespace ${target.namespace} on cluster "${target.cluster.alias}"`)
  }
  return connection
}

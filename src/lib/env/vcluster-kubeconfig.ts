/**
 * The kubeconfig of an environment's vcluster, as `vcluster connect --print` prints it: checked
 * (a kubeconfig with clusters) and its credentials registered as secrets before anything else
 * sees the text. Used by env up (written to the environment's private kubeconfig), and by env
 * status and idp status to read inside the vcluster (`openVcluster`).
 */
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {RemoteError} from '../cli/errors.js'
import {resolveEnvironment} from '../config/environments.js'
import type {IdpConfig} from '../config/schema.js'
import {writePrivateFile} from '../cli/paths.js'
import {registerUserSecrets} from '../kube/kubeconfig.js'
import {shellQuote} from '../plan/format.js'
import {flagValue} from '../tools/hints.js'
import type {ToolName, ToolRunner} from '../tools/types.js'
import {vclusterConnectArgs} from '../tools/vcluster.js'
import type {ClusterConnection} from './cluster.js'
import type {EnvRecord} from './labels.js'
import {envNames} from './plan-up.js'

export async function vclusterKubeconfigText(runner: ToolRunner, connect: {tool: ToolName; argv: readonly string[]; kubeconfig: string}, options: {signal?: AbortSignal | undefined; timeoutMs: number}): Promise<string> {
  const {stdout} = await runner.run(connect.tool, connect.argv, {kubeconfig: connect.kubeconfig, rawStdout: true, signal: options.signal, timeoutMs: options.timeoutMs})
  const {parse} = await import('../cli/yaml.js')
  let doc: {users?: Array<{user?: Record<string, unknown>}>; clusters?: unknown[]}
  try {
    doc = parse(stdout) as typeof doc
  } catch {
    throw new RemoteError('`vcluster connect --print` did not print a kubeconfig.', {hint: 'Run the command by hand to see what it printed; check the vcluster pods in the namespace.'})
  }
  if (!doc || !Array.isArray(doc.clusters) || doc.clusters.length === 0) {
    throw new RemoteError('`vcluster connect --print` printed a kubeconfig without clusters.', {hint: `Check that the vcluster is running: \`KUBECONFIG=${shellQuote([connect.kubeconfig])} vcluster list --namespace ${shellQuote([flagValue(connect.argv, '--namespace', '-n') ?? ''])}\`.`})
  }
  for (const user of doc.users ?? []) if (user.user) registerUserSecrets(user.user)
  return stdout
}

/** How to read inside a vcluster environment: the private kubeconfig env up kept here, else `vcluster connect --print`. */
export interface InsideVcluster {
  kept?: string
  /** vcluster.server of the environment's settings (the exposed endpoint), when known. */
  server?: string
  env: NodeJS.ProcessEnv
}

/**
 * A connection inside an environment's vcluster (its release and Deployments live there, in
 * namespace `default`): through the kubeconfig env up kept on this machine, else one `vcluster
 * connect --print` written to a private temporary file. `close` removes that file; it is removed
 * here already when the client cannot be made, so a caller only has to call `close` on success.
 */
export async function openVcluster(record: Pick<EnvRecord, 'service' | 'env' | 'namespace'>, host: ClusterConnection, runner: ToolRunner, inside: InsideVcluster, options: {signal?: AbortSignal; timeoutMs: number}): Promise<{connection: ClusterConnection; close: () => Promise<void>}> {
  const {createKubeClients} = await import('../kube/client.js')
  if (inside.kept) return {connection: {target: host.target, kubeconfig: inside.kept, clients: await createKubeClients(inside.kept, inside.env)}, close: async () => {}}
  const text = await vclusterKubeconfigText(runner, {tool: 'vcluster', argv: vclusterConnectArgs({name: envNames({service: record.service, name: record.env}).vcluster, namespace: record.namespace, server: inside.server}), kubeconfig: host.kubeconfig}, options)
  const dir = await mkdtemp(path.join(os.tmpdir(), 'idp-vcluster-'))
  const close = () => rm(dir, {recursive: true, force: true})
  try {
    const file = path.join(dir, 'kubeconfig')
    await writePrivateFile(file, text)
    return {connection: {target: host.target, kubeconfig: file, clients: await createKubeClients(file, inside.env)}, close}
  } catch (error) {
    await close()
    throw error
  }
}

/** vcluster.server of an environment's settings (the endpoint `vcluster connect --server` needs), when .idp.yml defines it. */
export function vclusterServer(config: IdpConfig, name: string, root: string): string | undefined {
  try {
    return resolveEnvironment(config, name, {root}).vcluster?.server
  } catch {
    return undefined
  }
}

/**
 * The kubeconfig of an environment's vcluster, as `vcluster connect --print` prints it: checked
 * (a kubeconfig with clusters) and its credentials registered as secrets before anything else
 * sees the text. Used by env up (written to the environment's private kubeconfig) and env status
 * (to read inside the vcluster).
 */
import {RemoteError} from '../cli/errors.js'
import {registerUserSecrets} from '../kube/kubeconfig.js'
import {shellQuote} from '../plan/format.js'
import {flagValue} from '../tools/hints.js'
import type {ToolName, ToolRunner} from '../tools/types.js'

export async function vclusterKubeconfigText(runner: ToolRunner, connect: {tool: ToolName; argv: readonly string[]; kubeconfig: string}, options: {signal?: AbortSignal; timeoutMs: number}): Promise<string> {
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

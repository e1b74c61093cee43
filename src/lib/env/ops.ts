/**
 * The API and local operations of the env plans (`env up`, `env down`, `env gc`; `deploy` reuses
 * the preflight, lock and kubeconfig ones): what each planner writes as params and what its
 * handler in handlers.ts returns. See OpRegistry in plan/types.ts.
 */
import type {OpSpec, ToolAction} from '../plan/types.js'
import type {ToolName} from '../tools/types.js'
import type {LockResult} from './lock.js'

/** A Secret in a plan: where its data comes from, never the data. */
export interface SecretStepRef {
  name: string
  /** `<mount>/<path>` in Vault. */
  source: string
  /** The version read (a real run); absent in a dry run. */
  version?: number
  /** The keys: configured, or those read; absent: every key at the path (a dry run). */
  keys?: string[]
}

export interface EnvOps {
  'env.preflight': OpSpec<
    {context: string; kubeconfigPath?: string; hostKubeconfig: string; tools: ToolName[]; versions?: Partial<Record<ToolName, string>>},
    {server: string; version?: string; tools: Record<string, string | undefined>}
  >
  'env.lock': OpSpec<{kubeconfig: string; namespace: string; name: string; holder: string; leaseSeconds: number; labels?: Record<string, string>}, LockResult>
  'env.unlock': OpSpec<{kubeconfig: string; namespace: string; name: string; holder: string}, {released: boolean}>
  'kube.ensureNamespace': OpSpec<{kubeconfig: string; name: string; service: string; env: string; labels: Record<string, string>; annotations: Record<string, string>}, {created: boolean}>
  'kube.ensureStateNamespace': OpSpec<
    {kubeconfig: string; namespace: string; explicit: boolean; migrate: Array<{workspace: string; file: string; secret: string}>},
    {created: boolean}
  >
  /** After the environment's workspace is deleted: the empty state of `default` (made by every init) goes with the service's last workspace. */
  'kube.removeIdleDefaultState': OpSpec<{kubeconfig: string; namespace: string; suffix: string; secret: string}, {removed: boolean; reason?: string}>
  'kube.deleteNamespace': OpSpec<{kubeconfig: string; name: string; service: string; env: string}, {deleted: boolean; reason?: string}>
  'env.writeNamespaceKubeconfig': OpSpec<{hostKubeconfig: string; namespace: string; file: string}, {file: string}>
  'env.writeVclusterKubeconfig': OpSpec<{tool: ToolName; argv: string[]; kubeconfig: string; file: string}, {file: string}>
  'env.terraformApply': OpSpec<{apply: ToolAction; outputs: ToolAction; file: string}, {file: string; outputs: string[]; sensitive: string[]; outputCommand: boolean}>
  'env.writeTfVars': OpSpec<{file: string; vars: Record<string, string | number | boolean>}, {file: string; variables: string[]}>
  'env.removeFiles': OpSpec<{files: string[]}, {removed: string[]}>
  /** Write the environment's Secrets from Vault: params are references; the values come from memory (SecretValues), read before the plan ran. */
  'kube.applySecrets': OpSpec<
    {kubeconfig: string; namespace: string; service: string; env: string; secrets: SecretStepRef[]; prune: boolean},
    {applied: string[]; created: string[]; pruned: string[]}
  >
  'kube.deleteSecrets': OpSpec<{kubeconfig: string; namespace: string; service: string; env: string}, {deleted: string[]}>
  'kube.restartDeployments': OpSpec<{kubeconfig: string; namespace: string; deployments: string[]}, {restarted: string[]; at: string}>
  'env.recordResult': OpSpec<{kubeconfig: string; namespace: string; service: string; env: string; status: string; url?: string}, {status: string}>
  'github.prComment': OpSpec<
    {owner: string; repo: string; number: number; marker: string; env: string; status: string; url?: string; expiresAt?: string; sha?: string},
    {url: string; created: boolean}
  >
}

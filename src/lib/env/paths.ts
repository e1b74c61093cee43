import path from 'node:path'

import {idpPluginCacheFor} from '../tools/terraform-plugin-cache.js'

/**
 * Where idp keeps an environment's local files: `env up`/`down`/`gc` write them (the planners
 * name them in steps), `env kubeconfig`/`status` read them. Local state only helps; the cluster's
 * labels are the truth.
 */
export interface EnvStatePaths {
  /** The environment's state directory (0700); the apply journals live here too. */
  dir: string
  /** The private host-cluster kubeconfig (one context), shared by every environment on that cluster. */
  hostKubeconfig: string
  /** The environment's private kubeconfig (0600): the vcluster's, or the host's narrowed to the namespace. */
  kubeconfig: string
  /** Terraform outputs as helm values (`infra:` key), 0600. */
  tfValues: string
  /**
   * The module's variables as a JSON var file (0600): JSON keeps each value's type, where `-var
   * k=v` is read as an expression for any variable not typed string (`pr-7` is then "pr minus 7").
   */
  tfVars: string
  /** A saved terraform plan, written by idp before `env up` ran one `terraform apply`: `env down` removes it. */
  tfPlan: string
  /** TF_DATA_DIR: per environment, so two environments of one module never share `.terraform`. */
  tfData: string
  /**
   * TF_PLUGIN_CACHE_DIR idp gives terraform: its shared provider cache (tools/terraform-plugin-cache.ts),
   * so the environments' data dirs link to one copy of each provider. Absent when the user has a
   * plugin cache of their own (or turned it off): terraform then runs with theirs. Set by the
   * services (withPluginCache), which read the user's settings; not a state file, never removed.
   */
  tfPluginCache?: string
}

/** The record each command keeps of its last run of an environment, in the environment's state dir (plan/journal.ts). */
export const JOURNALS = {'env up': 'journal', 'env down': 'journal-down', deploy: 'deploy', 'deploy rollback': 'deploy-rollback', 'secrets sync': 'journal-secrets'} as const

function envDir(stateDir: string, service: string, env: string): string {
  return path.join(stateDir, 'envs', service, env)
}

export function envStatePaths(stateDir: string, service: string, env: string, clusterAlias: string): EnvStatePaths {
  const dir = envDir(stateDir, service, env)
  return {
    dir,
    hostKubeconfig: clusterKubeconfigPath(stateDir, clusterAlias),
    kubeconfig: envKubeconfigPath(stateDir, service, env),
    tfValues: path.join(dir, 'tf-values.yaml'),
    tfVars: path.join(dir, 'terraform.tfvars.json'),
    tfPlan: path.join(dir, 'tfplan'),
    tfData: path.join(dir, 'terraform'),
  }
}

/** The environment's state directory alone, for readers that do not know its cluster (`env status`). */
export function envStateDir(stateDir: string, service: string, env: string): string {
  return envDir(stateDir, service, env)
}

/** The environment's private kubeconfig alone, for readers that do not know its cluster (`env kubeconfig`). */
export function envKubeconfigPath(stateDir: string, service: string, env: string): string {
  return path.join(envDir(stateDir, service, env), 'kubeconfig')
}

/** The private host-cluster kubeconfig idp writes per cluster alias. */
export function clusterKubeconfigPath(stateDir: string, clusterAlias: string): string {
  return path.join(stateDir, 'clusters', clusterAlias, 'kubeconfig')
}

/** An environment's paths with the plugin cache idp gives its terraform, when the user has none (idpPluginCacheFor). */
export async function withPluginCache(paths: EnvStatePaths, env: NodeJS.ProcessEnv, terraform: boolean): Promise<EnvStatePaths> {
  const dir = terraform ? await idpPluginCacheFor(env) : undefined
  return dir ? {...paths, tfPluginCache: dir} : paths
}

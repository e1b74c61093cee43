import path from 'node:path'

import {stateDir as defaultStateDir} from '../cli/paths.js'

/**
 * Where idp keeps an environment's local files, shared by `env up`/`down` (which write them)
 * and `env kubeconfig`/`status` (which read them). Local state only helps; the cluster's
 * labels are the truth.
 */
export interface EnvStatePaths {
  dir: string
  /** The private kubeconfig (0600) for the environment: a vcluster's, or the host context's narrowed to the namespace. */
  kubeconfig: string
  /** Terraform variables file written for the environment. */
  tfValues: string
  /** The apply journal of the last up/down. */
  journal: string
}

export function envStatePaths(stateDir: string, service: string, env: string): EnvStatePaths {
  const dir = path.join(stateDir, 'envs', service, env)
  return {
    dir,
    kubeconfig: path.join(dir, 'kubeconfig'),
    tfValues: path.join(dir, 'terraform.tfvars.json'),
    journal: path.join(dir, 'journal.json'),
  }
}

/** The private host-cluster kubeconfig idp writes per cluster alias (read side: list, gc, status). */
export function clusterKubeconfigPath(stateDir: string, clusterAlias: string): string {
  return path.join(stateDir, 'clusters', clusterAlias, 'kubeconfig')
}

/** The same, from the environment (XDG_STATE_HOME, HOME). */
export function defaultEnvStatePaths(service: string, env: string, processEnv: NodeJS.ProcessEnv = process.env): EnvStatePaths {
  return envStatePaths(defaultStateDir(processEnv), service, env)
}

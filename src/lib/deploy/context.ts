/**
 * The facts `idp deploy` gathers before planning (settings checked against the environment, the
 * Argo CD connection), so the planner stays pure and bad input fails before any
 * side effect.
 */
import {ConfigError, UsageError} from '../cli/errors.js'
import type {ResolvedEnvironment} from '../config/environments.js'
import type {IdpConfig} from '../config/schema.js'
import type {ArgocdConnection, DeployStrategy} from './plan.js'

/** The strategy and its settings, or a ConfigError/UsageError saying what is missing. */
export function deploySettings(config: IdpConfig, env: ResolvedEnvironment): {strategy: DeployStrategy; argocd?: NonNullable<IdpConfig['deploy']['argocd']>} {
  const strategy = config.deploy.strategy
  if (env.driver === 'vcluster') {
    throw new UsageError(`Environment ${env.name} uses the vcluster driver: it is a preview environment, deployed by \`idp env up\`.`, {
      hint: `Run \`idp env up ${env.name}\` to update it; \`idp deploy\` ships to namespace-driver environments such as staging or production.`,
    })
  }
  if (strategy === 'argocd') {
    if (!config.deploy.argocd) {
      throw new ConfigError('deploy.strategy is argocd but deploy.argocd is missing.', [{path: 'deploy.argocd', message: 'required with strategy argocd', expected: '{repoURL, path, ...}'}], {
        hint: 'Add deploy.argocd: {repoURL: ..., path: ...} to .idp.yml (see .idp.yml.example), or set deploy.strategy: helm.',
      })
    }
    return {strategy, argocd: config.deploy.argocd}
  }
  if (!env.helm) {
    throw new ConfigError(`deploy.strategy is helm but environment ${env.name} (${env.key}) has no helm chart.`, [{path: `environments.${env.key}.helm`, message: 'required with deploy.strategy helm', expected: '{chart: ./chart}'}], {
      hint: `Add environments.${env.key}.helm: {chart: ...} to .idp.yml, or deploy through Argo CD (deploy.strategy: argocd).`,
    })
  }
  return {strategy}
}

/**
 * Argo CD's API server when ARGOCD_SERVER names one (the argocd CLI's own variable; its token comes
 * from ARGOCD_AUTH_TOKEN, which argocd reads itself, so it never appears in argv); otherwise
 * `--core`, straight to the cluster with idp's private kubeconfig.
 */
export function argocdConnection(env: NodeJS.ProcessEnv = process.env): ArgocdConnection {
  const server = env.ARGOCD_SERVER?.trim()
  return server ? {mode: 'server', server} : {mode: 'core'}
}


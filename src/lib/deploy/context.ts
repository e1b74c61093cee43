/**
 * The facts `idp deploy` gathers before planning (settings checked against the environment, the
 * Argo CD connection), so the planner stays pure and bad input fails before any
 * side effect.
 */
import {type Deps, idpCommandOf} from '../cli/deps.js'
import {CancelledError, ConfigError, UsageError} from '../cli/errors.js'
import {assertDnsLabel} from '../cli/names.js'
import {resolveEnvironment, type ResolvedEnvironment} from '../config/environments.js'
import {type LoadedConfig, loadConfig} from '../config/load.js'
import type {IdpConfig} from '../config/schema.js'
import * as context from '../env/context.js'
import {envStatePaths} from '../env/paths.js'
import {type ArgocdConnection, type DeployPaths, deployPaths, type DeployStrategy, type DeployTarget} from './plan.js'

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
        hint: 'Add deploy.argocd: {repoURL: ..., path: ...} to .idp.yml (`idp config example` shows it), or set deploy.strategy: helm.',
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


/** What every `idp deploy` path works from: the config, the environment and how it is delivered. */
/** The target of a plan's metadata (or any superset of it), with only the fields that are set. */
export function deployTarget(about: DeployTarget): DeployTarget {
  return {
    env: about.env,
    service: about.service,
    strategy: about.strategy,
    cluster: about.cluster,
    namespace: about.namespace,
    ...(about.app ? {app: about.app, appNamespace: about.appNamespace} : {}),
    ...(about.release ? {release: about.release} : {}),
  }
}

/** The target as configuration names it, before the Application or release is read. */
export function configuredTarget(de: DeployEnvironment): DeployTarget {
  return {env: de.env.name, service: de.env.service, strategy: de.settings.strategy, cluster: de.env.cluster.alias, namespace: de.env.namespace}
}

export interface DeployEnvironment {
  loaded: LoadedConfig
  config: IdpConfig
  env: ResolvedEnvironment
  settings: ReturnType<typeof deploySettings>
  git: context.GitFacts
}

/** Load `.idp.yml`, resolve the environment (with the commit and branch) and its deploy settings. */
export async function loadDeployEnvironment(dir: string, name: string, deps: Pick<Deps, 'runner' | 'env'>): Promise<DeployEnvironment> {
  const loaded = await loadConfig({dir, required: true, env: deps.env})
  const git = await context.gitFacts(deps.runner, dir, deps.env)
  const env = resolveEnvironment(loaded.config, name, {root: loaded.root, vars: context.templateVars({sha: git.sha, branch: git.branch})})
  return {loaded, config: loaded.config, env, settings: deploySettings(loaded.config, env), git}
}

/** The sub-commands of `idp deploy`: a word oclif reads as one of them never reaches `idp deploy ENV`. */
export const DEPLOY_VERBS = ['status', 'history', 'rollback'] as const

/**
 * ENV of `idp deploy status|history|rollback ENV`, a usage error when it is missing. An environment
 * named like the sub-command (`idp deploy status` runs the status command) is named with the way
 * to deploy to it: `idp deploy -- status`.
 */
export async function requireDeployEnv(value: string | undefined, verb: (typeof DEPLOY_VERBS)[number], request: {dir: string}, deps: Pick<Deps, 'env' | 'bin'>): Promise<string> {
  if (value !== undefined && value !== '') return assertDnsLabel(value, 'environment name')
  let configured: string[] = []
  try {
    configured = Object.keys((await loadConfig({dir: request.dir, required: true, env: deps.env})).config.environments ?? {})
  } catch {
    // The missing argument is the error to report; a broken config shows up on the next run.
  }
  const usage = `\`${idpCommandOf(deps, request.dir, ['deploy', verb, 'ENV'])}\``
  if (configured.includes(verb)) {
    throw new UsageError(`\`idp deploy ${verb}\` is the ${verb} command: it needs an environment, even though one of yours is named "${verb}".`, {
      // Flags before the --: after it, every word is an argument.
      hint: `To deploy to the environment named ${verb}, put -- before it: \`${idpCommandOf(deps, request.dir, ['deploy'])} -- ${verb}\`; for its ${verb}: \`${idpCommandOf(deps, request.dir, ['deploy', verb, verb])}\`.`,
    })
  }
  throw new UsageError(`Missing the environment: ${usage}.`, {hint: configured.length > 0 ? `Configured environments: ${configured.join(', ')}.` : 'Name an environment of .idp.yml.'})
}

/**
 * The one rule for changing a protected environment (deploy, rollback): --yes, or a confirmation
 * on a terminal; without a terminal a usage error naming --yes; a "no" cancels with nothing changed.
 */
export async function confirmProtected(env: ResolvedEnvironment, request: {yes: boolean; dryRun: boolean}, deps: Pick<Deps, 'prompter'>, action: {gerund: string; verb: string; noun: string; question: string}): Promise<void> {
  if (!env.protected || request.yes || request.dryRun) return
  if (!deps.prompter) {
    throw new UsageError(`Environment ${env.name} is protected: ${action.gerund} it needs confirmation.`, {hint: `Pass --yes (or set IDP_YES=true) to ${action.verb} ${env.name} without a prompt.`})
  }
  const ok = await deps.prompter.confirm({message: `${action.question} (namespace ${env.namespace} on ${env.cluster.alias})?`, default: false})
  if (!ok) throw new CancelledError(`${action.noun} ${env.name} cancelled: not confirmed.`, {hint: 'Nothing was changed.'})
}

/**
 * Reach the environment's cluster for reading (status, history, a rollback's checks): the private
 * host kubeconfig (checked reachable) and, for `argocd --core`, the copy namespaced to Argo CD's.
 */
export async function connectForReading(de: DeployEnvironment, deps: Pick<Deps, 'env' | 'stateDir'>): Promise<{paths: DeployPaths; connection: ArgocdConnection}> {
  const envPaths = envStatePaths(deps.stateDir, de.env.service, de.env.name, de.env.cluster.alias)
  const paths = deployPaths(envPaths.dir, envPaths.hostKubeconfig)
  const connection = argocdConnection(deps.env)
  const [{writeHostKubeconfig}, {writeNamespaceKubeconfig}] = await Promise.all([import('../env/cluster.js'), import('../env/handlers.js')])
  if (de.settings.strategy === 'helm' || connection.mode === 'core') {
    await writeHostKubeconfig({context: de.env.cluster.context, ...(de.env.cluster.kubeconfig ? {kubeconfig: de.env.cluster.kubeconfig} : {}), alias: de.env.cluster.alias}, paths.hostKubeconfig, {requireReachable: true, env: deps.env})
  }
  if (de.settings.strategy === 'argocd' && connection.mode === 'core') await writeNamespaceKubeconfig({hostKubeconfig: paths.hostKubeconfig, namespace: de.settings.argocd!.namespace, file: paths.argocdKubeconfig})
  return {paths, connection}
}

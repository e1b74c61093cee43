/**
 * The plan of `idp deploy` (docs/architecture.md): a pure function of the resolved environment, the
 * deploy settings and facts gathered beforehand (helm major, paths, Argo CD connection), so
 * `--dry-run` prints exactly what a deploy runs and unit tests need no cluster.
 *
 * Deploying is not undone by deletion: a failed deploy of a running service must leave it running
 * (helm rolls itself back with --rollback-on-failure/--atomic; an Argo CD Application keeps its
 * last synced state and history for `argocd app rollback`). So no step carries an undo.
 */
import path from 'node:path'

import type {ResolvedEnvironment} from '../config/environments.js'
import type {ArgocdConfig} from '../config/schema.js'
import {ENV_STEP, envNames, lockStep, preflightStep, unlockAction} from '../env/plan-up.js'
import {LABELS, MANAGED_BY_VALUE, sanitizeLabelValue} from '../env/labels.js'
import {argocdAppCreateArgs, argocdAppGetArgs, argocdAppRollbackArgs, argocdAppSyncArgs, type ArgocdGlobals} from '../tools/argocd.js'
import {helmRollbackArgs, helmUpgradeInstallArgs, type HelmMajor} from '../tools/helm.js'
import {shellQuote} from '../plan/format.js'
import type {OpSpec, Plan, PlanStep, ToolAction} from '../plan/types.js'
import {PLAN_VERSION} from '../plan/types.js'
import type {ToolName} from '../tools/types.js'

/** The local operation of a deploy plan (handlers.ts); the env ones do the preflight, lock and kubeconfig. */
export interface DeployOps {
  'deploy.checkApplication': OpSpec<{tool: ToolName; argv: string[]; kubeconfig?: string; name: string; service: string; env: string}, {exists: boolean}>
  /**
   * Wait until the Application is healthy (and synced, with `sync`) and its operation has run, by
   * reading it (`argv`: `argocd app get -o json`) every `pollMs`: read first, so an Application
   * that is already there returns at once (`argocd app wait` would hang, argo-cd#12211); a
   * Degraded that lasts less than `graceMs` is part of a rollout (argo-cd#25570).
   */
  'deploy.waitApplication': OpSpec<ApplicationWait, ApplicationState>
}

export interface ApplicationWait {
  tool: ToolName
  argv: string[]
  kubeconfig?: string
  name: string
  timeoutMs: number
  graceMs: number
  pollMs: number
  /** Also wait for Synced (a deploy; a rollback leaves the Application OutOfSync with git by design). */
  sync: boolean
  /** For the error's hint: how to roll back, and how to look at the Application, by hand. */
  rollback: string
  inspect: string
}

/** The Application's state when the wait ended. */
export interface ApplicationState {
  health?: string
  sync?: string
  revision?: string
  operation?: string
}

/** The ids of a deploy plan's steps (preflight, lock and unlock are the env plans'). */
export const DEPLOY_STEP = {
  kubeconfig: 'kubeconfig',
  rollback: 'rollback',
  check: 'check',
  app: 'app',
  sync: 'sync',
  wait: 'wait',
  helm: 'helm',
} as const

export type DeployStrategy = 'argocd' | 'helm'

/** How idp reaches Argo CD: through its API server (ARGOCD_SERVER), or `--core` with the cluster's kubeconfig. */
export type ArgocdConnection = {mode: 'server'; server: string} | {mode: 'core'}

export interface DeployPaths {
  /** The private host-cluster kubeconfig (one context), written by the preflight step. */
  hostKubeconfig: string
  /** The host kubeconfig with its context namespace set to Argo CD's (what `argocd --core` reads). */
  argocdKubeconfig: string
}

/** Where deploy keeps its private files: next to the environment's state (envStatePaths dir). */
export function deployPaths(envDir: string, hostKubeconfig: string): DeployPaths {
  return {hostKubeconfig, argocdKubeconfig: path.join(envDir, 'argocd-kubeconfig')}
}

export interface DeployOptions {
  env: ResolvedEnvironment
  /** How long a Degraded Application is taken for part of the rollout before the deploy fails. */
  graceMs: number
  strategy: DeployStrategy
  /** Required with strategy argocd. */
  argocd?: ArgocdConfig
  /** --revision: overrides deploy.argocd.targetRevision. */
  revision?: string
  imageTag?: string
  /**
   * image.repository of .idp.yml: set with the tag (as env up does), so the image that runs is the
   * one whose existence was checked, not whatever repository the chart's own values name.
   */
  imageRepository?: string
  /** How long the deploy may wait for health. */
  timeoutMs: number
  /** Directory of .idp.yml, assumed to be the repository root Argo CD syncs (values files become relative to argocd.path). */
  root: string
}

export interface DeployFacts {
  helmMajor: HelmMajor
  argocd: ArgocdConnection
  paths: DeployPaths
  /** Tool versions found, for the preflight step. */
  tools?: Partial<Record<'argocd' | 'helm', string>>
  /** Who runs this deploy: a helm deploy holds the environment's Lease (the one `env up` takes) while it runs. */
  holder?: string
}

/** Where a deploy golden path acts: what every deploy result (deploy, status, history, rollback) starts with. */
export interface DeployTarget {
  env: string
  service: string
  strategy: DeployStrategy
  cluster: string
  namespace: string
  /** argocd: the Application name. */
  app?: string
  appNamespace?: string
  /** helm: the release name. */
  release?: string
}

/** What a deploy plan is about: the `metadata` of its Plan, and the core of `deploy`'s result. */
export interface DeployMetadata extends DeployTarget {
  /** The git revision Argo CD syncs (argocd), absent for helm. */
  targetRevision?: string
  imageTag?: string
  /** The argv (after `argocd`) of `argocd app get NAME -o json` with the same connection: evidence and status. */
  appGetArgv?: string[]
  /** The kubeconfig argocd steps get (core mode). */
  kubeconfig?: string
  /** How to roll back by hand (shown on failure). */
  rollback: string
  /** argocd: how to look at the Application by hand, through the same connection. */
  inspect?: string
}

/** The Argo CD Application of a service's environment. */
export function deployAppName(env: Pick<ResolvedEnvironment, 'service' | 'name'>): string {
  return `${env.service}-${env.name}`
}

/** A Go duration helm accepts, in whole seconds. */
export function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}


/**
 * Argo CD reads values files from the repository, relative to the Application's path; .idp.yml
 * names them relative to itself (resolveEnvironment made them absolute under root).
 */
export function argocdValuesFiles(values: readonly string[], root: string, appPath: string): string[] {
  return values.map((file) => path.posix.relative(appPath.replace(/^\.?\/+|\/+$/gu, '') || '.', path.relative(root, file).split(path.sep).join('/')))
}

/** The global flags of a connection, for printed commands. */
export function argocdGlobalArgs(globals: ArgocdGlobals): string[] {
  return [...(globals.core ? ['--core'] : []), ...(globals.server ? ['--server', globals.server] : []), ...(globals.grpcWeb ? ['--grpc-web'] : [])]
}

export function argocdGlobals(connection: ArgocdConnection): ArgocdGlobals {
  // grpc-web: Argo CD servers behind ingresses and load balancers that do not pass HTTP/2 still answer.
  return connection.mode === 'core' ? {core: true} : {server: connection.server, grpcWeb: true}
}

/** `argocd` argv with extra flags after the positional arguments (cobra takes flags anywhere). */
function withFlags(argv: string[], at: number, flags: string[]): string[] {
  return [...argv.slice(0, at), ...flags, ...argv.slice(at)]
}

/** How idp reaches one Application: its name, namespace and connection, for argv and printed commands. */
export interface ArgocdTarget {
  name: string
  appNamespace: string
  globals: ArgocdGlobals
  /** core mode: the kubeconfig argocd gets (the host's, namespaced to Argo CD's namespace). */
  kubeconfig?: string
  /** `app get NAME -o json` with the connection. */
  appGetArgv: string[]
}

export function argocdTarget(env: Pick<ResolvedEnvironment, 'service' | 'name'>, argocd: Pick<ArgocdConfig, 'namespace'>, connection: ArgocdConnection, paths: DeployPaths): ArgocdTarget {
  const name = deployAppName(env)
  const globals = argocdGlobals(connection)
  return {name, appNamespace: argocd.namespace, globals, ...(connection.mode === 'core' ? {kubeconfig: paths.argocdKubeconfig} : {}), appGetArgv: argocdAppGetArgs({name, appNamespace: argocd.namespace, globals})}
}

/** An argocd command to print, reaching the Application through the connection idp used. */
export function argocdCommand(target: Pick<ArgocdTarget, 'kubeconfig'>, argv: string[]): string {
  return `${target.kubeconfig ? `KUBECONFIG=${shellQuote([target.kubeconfig])} ` : ''}${shellQuote(['argocd', ...argv])}`
}

/** A helm command to print, through the host kubeconfig idp used. */
export function helmCommand(kubeconfig: string, argv: string[]): string {
  return `KUBECONFIG=${shellQuote([kubeconfig])} ${shellQuote(['helm', ...argv])}`
}

/** Poll often enough for short timeouts, at most every 2s. */
export function pollInterval(timeoutMs: number): number {
  return Math.min(2000, Math.max(250, Math.round(timeoutMs / 10)))
}

/** The wait step of a deploy or a rollback through Argo CD (the shared wait, see deploy.waitApplication). */
export function waitStep(target: ArgocdTarget, o: {timeoutMs: number; graceMs: number; sync: boolean; rollback: string; dependsOn: string[]}): PlanStep {
  const params: ApplicationWait = {
    tool: 'argocd',
    argv: target.appGetArgv,
    ...(target.kubeconfig ? {kubeconfig: target.kubeconfig} : {}),
    name: target.name,
    timeoutMs: o.timeoutMs,
    graceMs: o.graceMs,
    pollMs: pollInterval(o.timeoutMs),
    sync: o.sync,
    rollback: o.rollback,
    inspect: argocdCommand(target, target.appGetArgv),
  }
  return {
    id: DEPLOY_STEP.wait,
    title: `Wait up to ${seconds(o.timeoutMs)}s for ${target.name} to be ${o.sync ? 'synced and healthy' : 'healthy'}`,
    action: {
      kind: 'local',
      op: 'deploy.waitApplication',
      summary: `argocd ${target.appGetArgv.join(' ')} now and every ${params.pollMs / 1000}s until the operation has run and the Application is ${o.sync ? 'Synced and Healthy' : 'Healthy'}; a Degraded lasting ${seconds(o.graceMs)}s fails it`,
      params,
    },
    dependsOn: o.dependsOn,
  }
}

export function planDeploy(options: DeployOptions, facts: DeployFacts): Plan<DeployMetadata> {
  return options.strategy === 'argocd' ? planArgocd(options, facts) : planHelm(options, facts)
}

function helmSet(env: ResolvedEnvironment, imageTag: string | undefined, imageRepository: string | undefined): Record<string, string | number | boolean> {
  const set: Record<string, string | number | boolean> = {...env.helm?.set}
  if (imageTag && imageRepository) set['image.repository'] = imageRepository
  if (imageTag) set['image.tag'] = imageTag
  return set
}

function planArgocd(options: DeployOptions, facts: DeployFacts): Plan<DeployMetadata> {
  const {env} = options
  const argocd = options.argocd!
  const name = deployAppName(env)
  const appNamespace = argocd.namespace
  const globals = argocdGlobals(facts.argocd)
  const core = facts.argocd.mode === 'core'
  const kubeconfig = core ? facts.paths.argocdKubeconfig : undefined
  const targetRevision = options.revision ?? argocd.targetRevision
  const tool = (argv: string[], timeoutMs?: number): ToolAction => ({kind: 'tool', tool: 'argocd', argv, ...(kubeconfig ? {kubeconfig} : {}), ...(timeoutMs ? {timeoutMs} : {})})
  const steps: PlanStep[] = []
  if (core) {
    // --core talks to the cluster as the kubeconfig's user and finds Argo CD in the context's namespace.
    steps.push(preflightStep(env, facts.paths.hostKubeconfig, ['argocd'], facts.tools))
    steps.push({
      id: DEPLOY_STEP.kubeconfig,
      title: `Private kubeconfig for Argo CD in ${appNamespace} on ${env.cluster.alias}`,
      action: {
        kind: 'local',
        op: 'env.writeNamespaceKubeconfig',
        summary: `copy ${facts.paths.hostKubeconfig} with the context namespace set to ${appNamespace} into ${facts.paths.argocdKubeconfig} (0600)`,
        params: {hostKubeconfig: facts.paths.hostKubeconfig, namespace: appNamespace, file: facts.paths.argocdKubeconfig},
      },
      dependsOn: [ENV_STEP.preflight],
    })
  }
  const create = argocdAppCreateArgs({
    name,
    project: argocd.project,
    repo: argocd.repoURL,
    path: argocd.path,
    revision: targetRevision,
    destServer: argocd.server,
    destNamespace: env.namespace,
    appNamespace,
    valuesFiles: argocdValuesFiles(env.helm?.values ?? [], options.root, argocd.path),
    helmSet: helmSet(env, options.imageTag, options.imageRepository),
    labels: {[LABELS.managedBy]: MANAGED_BY_VALUE, [LABELS.service]: env.service, [LABELS.env]: env.name, ...(env.team ? {[LABELS.team]: sanitizeLabelValue(env.team)} : {})},
    createNamespace: true,
    globals,
  })
  const appGetArgv = argocdAppGetArgs({name, appNamespace, globals})
  steps.push({
    id: DEPLOY_STEP.check,
    title: `Check that ${appNamespace}/${name} is new or idp's own`,
    action: {
      kind: 'local',
      op: 'deploy.checkApplication',
      summary: `argocd ${appGetArgv.join(' ')}: refuse an existing Application without ${LABELS.managedBy}=${MANAGED_BY_VALUE}, ${LABELS.service}=${env.service}, ${LABELS.env}=${env.name}`,
      params: {tool: 'argocd', argv: appGetArgv, ...(kubeconfig ? {kubeconfig} : {}), name, service: env.service, env: env.name},
    },
    dependsOn: core ? [DEPLOY_STEP.kubeconfig] : [],
  })
  steps.push({
    id: DEPLOY_STEP.app,
    title: `Argo CD Application ${appNamespace}/${name} (${argocd.repoURL} ${argocd.path}@${targetRevision})`,
    action: tool(create, 120_000),
    dependsOn: [DEPLOY_STEP.check],
  })
  // --async: the one wait below, bounded by --timeout, is the only place the deploy blocks.
  steps.push({id: DEPLOY_STEP.sync, title: `Sync ${name}`, action: tool(withFlags(argocdAppSyncArgs({name, appNamespace, globals}), 3, ['--async']), 120_000), dependsOn: [DEPLOY_STEP.app]})
  const target = argocdTarget(env, argocd, facts.argocd, facts.paths)
  const rollback = argocdCommand(target, ['app', 'rollback', name, '--app-namespace', appNamespace, ...argocdGlobalArgs(globals)])
  // The operation must have run: until the requested sync has, the old Synced/Healthy status would satisfy the wait.
  steps.push(waitStep(target, {timeoutMs: options.timeoutMs, graceMs: options.graceMs, sync: true, rollback, dependsOn: [DEPLOY_STEP.sync]}))
  const about: DeployMetadata = {
    env: env.name,
    service: env.service,
    strategy: 'argocd',
    cluster: env.cluster.alias,
    namespace: env.namespace,
    app: name,
    appNamespace,
    targetRevision,
    ...(options.imageTag ? {imageTag: options.imageTag} : {}),
    appGetArgv,
    ...(kubeconfig ? {kubeconfig} : {}),
    rollback,
    inspect: argocdCommand(target, appGetArgv),
  }
  return {
    version: PLAN_VERSION,
    kind: 'deploy',
    summary: `Deploy ${env.service} to ${env.name} through Argo CD (Application ${appNamespace}/${name} → namespace ${env.namespace} on ${env.cluster.alias}, revision ${targetRevision})`,
    steps,
    metadata: about,
  }
}

function planHelm(options: DeployOptions, facts: DeployFacts): Plan<DeployMetadata> {
  const {env} = options
  const release = env.service
  const host = facts.paths.hostKubeconfig
  const steps: PlanStep[] = [preflightStep(env, host, ['helm'], facts.tools)]
  const argv = helmUpgradeInstallArgs({
    release,
    chart: env.helm!.chart,
    namespace: env.namespace,
    createNamespace: true,
    values: env.helm!.values,
    set: helmSet(env, options.imageTag, options.imageRepository),
    wait: true,
    timeout: `${seconds(options.timeoutMs)}s`,
    rollbackOnFailure: true,
    major: facts.helmMajor,
  })
  // Two helm upgrades of one release at once fail in helm ("another operation is in progress");
  // the environment's Lease makes the second deploy (or env up) fail fast with who holds it.
  if (facts.holder) steps.push(lockStep(env, host, facts.holder, options.timeoutMs))
  steps.push({
    id: DEPLOY_STEP.helm,
    title: `helm upgrade --install ${release} (${env.helm!.chart}) into ${env.namespace}`,
    action: {kind: 'tool', tool: 'helm', argv, kubeconfig: host, timeoutMs: options.timeoutMs + 60_000},
    dependsOn: [facts.holder ? ENV_STEP.lock : ENV_STEP.preflight],
  })
  if (facts.holder) steps.push({id: ENV_STEP.unlock, title: `Release the lock of ${env.name}`, action: unlockAction(host, envNames(env).lease, facts.holder), dependsOn: [DEPLOY_STEP.helm]})
  const about: DeployMetadata = {
    env: env.name,
    service: env.service,
    strategy: 'helm',
    cluster: env.cluster.alias,
    namespace: env.namespace,
    release,
    ...(options.imageTag ? {imageTag: options.imageTag} : {}),
    kubeconfig: host,
    rollback: helmCommand(host, helmRollbackArgs({release, namespace: env.namespace})),
  }
  return {
    version: PLAN_VERSION,
    kind: 'deploy',
    summary: `Deploy ${env.service} to ${env.name} with helm (release ${release} in namespace ${env.namespace} on ${env.cluster.alias})`,
    steps,
    metadata: about,
  }
}

export interface RollbackOptions {
  env: ResolvedEnvironment
  strategy: DeployStrategy
  argocd?: ArgocdConfig
  /** argocd: the history id to roll back to; helm: the release revision. */
  to: number
  /** The revision running now (argocd: history id; helm: release revision), for the summary. */
  from?: number
  timeoutMs: number
  graceMs: number
}

/** What a rollback plan is about: its `metadata`, and the core of `deploy rollback`'s result. */
export interface RollbackMetadata extends DeployTarget {
  to: number
  from?: number
  kubeconfig?: string
  /** argocd: how to look at the Application by hand, through the same connection. */
  inspect?: string
}

/**
 * The plan of `idp deploy rollback`: Argo CD's own rollback (`argocd app rollback NAME ID`, which
 * waits for its sync operation), then the shared wait for health; or `helm rollback REL REV
 * --wait` under the environment's lock, like a helm deploy. Not undone either: a failed rollback
 * leaves the history to roll forward or back again.
 */
export function planRollback(options: RollbackOptions, facts: DeployFacts): Plan<RollbackMetadata> {
  const {env} = options
  const base = {env: env.name, service: env.service, strategy: options.strategy, cluster: env.cluster.alias, namespace: env.namespace, to: options.to, ...(options.from === undefined ? {} : {from: options.from})}
  const steps: PlanStep[] = []
  if (options.strategy === 'argocd') {
    const argocd = options.argocd!
    const target = argocdTarget(env, argocd, facts.argocd, facts.paths)
    const core = facts.argocd.mode === 'core'
    if (core) {
      steps.push(preflightStep(env, facts.paths.hostKubeconfig, ['argocd'], facts.tools))
      steps.push({
        id: DEPLOY_STEP.kubeconfig,
        title: `Private kubeconfig for Argo CD in ${target.appNamespace} on ${env.cluster.alias}`,
        action: {
          kind: 'local',
          op: 'env.writeNamespaceKubeconfig',
          summary: `copy ${facts.paths.hostKubeconfig} with the context namespace set to ${target.appNamespace} into ${facts.paths.argocdKubeconfig} (0600)`,
          params: {hostKubeconfig: facts.paths.hostKubeconfig, namespace: target.appNamespace, file: facts.paths.argocdKubeconfig},
        },
        dependsOn: [ENV_STEP.preflight],
      })
    }
    const argv = argocdAppRollbackArgs({name: target.name, id: options.to, timeoutSeconds: seconds(options.timeoutMs), appNamespace: target.appNamespace, globals: target.globals})
    steps.push({
      id: DEPLOY_STEP.rollback,
      title: `Roll ${target.name} back to history id ${options.to}`,
      action: {kind: 'tool', tool: 'argocd', argv, ...(target.kubeconfig ? {kubeconfig: target.kubeconfig} : {}), timeoutMs: options.timeoutMs + 60_000},
      dependsOn: core ? [DEPLOY_STEP.kubeconfig] : [],
    })
    steps.push(waitStep(target, {timeoutMs: options.timeoutMs, graceMs: options.graceMs, sync: false, rollback: argocdCommand(target, argv), dependsOn: [DEPLOY_STEP.rollback]}))
    return {
      version: PLAN_VERSION,
      kind: 'deploy-rollback',
      summary: `Roll ${env.service} in ${env.name} back through Argo CD (Application ${target.appNamespace}/${target.name} to history id ${options.to}${options.from === undefined ? '' : `, from ${options.from}`})`,
      steps,
      metadata: {...base, app: target.name, appNamespace: target.appNamespace, ...(target.kubeconfig ? {kubeconfig: target.kubeconfig} : {}), inspect: argocdCommand(target, target.appGetArgv)},
    }
  }
  const release = env.service
  const host = facts.paths.hostKubeconfig
  steps.push(preflightStep(env, host, ['helm'], facts.tools))
  if (facts.holder) steps.push(lockStep(env, host, facts.holder, options.timeoutMs))
  steps.push({
    id: DEPLOY_STEP.helm,
    title: `helm rollback ${release} to revision ${options.to} in ${env.namespace}`,
    action: {kind: 'tool', tool: 'helm', argv: helmRollbackArgs({release, namespace: env.namespace, revision: options.to, wait: true, timeout: `${seconds(options.timeoutMs)}s`}), kubeconfig: host, timeoutMs: options.timeoutMs + 60_000},
    dependsOn: [facts.holder ? ENV_STEP.lock : ENV_STEP.preflight],
  })
  if (facts.holder) steps.push({id: ENV_STEP.unlock, title: `Release the lock of ${env.name}`, action: unlockAction(host, envNames(env).lease, facts.holder), dependsOn: [DEPLOY_STEP.helm]})
  return {
    version: PLAN_VERSION,
    kind: 'deploy-rollback',
    summary: `Roll ${env.service} in ${env.name} back with helm (release ${release} in namespace ${env.namespace} to revision ${options.to}${options.from === undefined ? '' : `, from ${options.from}`})`,
    steps,
    metadata: {...base, release, kubeconfig: host},
  }
}

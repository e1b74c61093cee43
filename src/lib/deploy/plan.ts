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
import {LABELS, MANAGED_BY_VALUE} from '../env/labels.js'
import {argocdAppCreateArgs, argocdAppGetArgs, argocdAppSyncArgs, argocdAppWaitArgs, type ArgocdGlobals} from '../tools/argocd.js'
import {helmRollbackArgs, helmUpgradeInstallArgs, type HelmMajor} from '../tools/helm.js'
import {shellQuote} from '../plan/format.js'
import type {OpSpec, Plan, PlanStep, ToolAction} from '../plan/types.js'
import {PLAN_VERSION} from '../plan/types.js'
import type {ToolName} from '../tools/types.js'

/** The local operation of a deploy plan (handlers.ts); the env ones do the preflight, lock and kubeconfig. */
export interface DeployOps {
  'deploy.checkApplication': OpSpec<{tool: ToolName; argv: string[]; kubeconfig?: string; name: string; service: string; env: string}, {exists: boolean}>
}

/** The ids of a deploy plan's steps (preflight, lock and unlock are the env plans'). */
export const DEPLOY_STEP = {
  kubeconfig: 'kubeconfig',
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
  strategy: DeployStrategy
  /** Required with strategy argocd. */
  argocd?: ArgocdConfig
  /** --revision: overrides deploy.argocd.targetRevision. */
  revision?: string
  imageTag?: string
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

/** What a deploy plan is about: the `metadata` of its Plan, and the core of `deploy`'s result. */
export interface DeployMetadata {
  env: string
  service: string
  strategy: DeployStrategy
  cluster: string
  namespace: string
  /** argocd: the Application name. */
  app?: string
  /** argocd: the namespace the Application lives in (Argo CD's). */
  appNamespace?: string
  /** helm: the release name. */
  release?: string
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

export function argocdGlobals(connection: ArgocdConnection): ArgocdGlobals {
  // grpc-web: Argo CD servers behind ingresses and load balancers that do not pass HTTP/2 still answer.
  return connection.mode === 'core' ? {core: true} : {server: connection.server, grpcWeb: true}
}

/** `argocd` argv with extra flags after the positional arguments (cobra takes flags anywhere). */
function withFlags(argv: string[], at: number, flags: string[]): string[] {
  return [...argv.slice(0, at), ...flags, ...argv.slice(at)]
}

export function planDeploy(options: DeployOptions, facts: DeployFacts): Plan<DeployMetadata> {
  return options.strategy === 'argocd' ? planArgocd(options, facts) : planHelm(options, facts)
}

function helmSet(env: ResolvedEnvironment, imageTag: string | undefined): Record<string, string | number | boolean> {
  const set: Record<string, string | number | boolean> = {...env.helm?.set}
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
  const timeoutS = seconds(options.timeoutMs)
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
    helmSet: helmSet(env, options.imageTag),
    labels: {[LABELS.managedBy]: MANAGED_BY_VALUE, [LABELS.service]: env.service, [LABELS.env]: env.name},
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
  steps.push({
    id: DEPLOY_STEP.wait,
    title: `Wait up to ${timeoutS}s for ${name} to be synced and healthy`,
    // --operation: until the requested sync has run, the old Synced/Healthy status would satisfy the wait.
    action: tool(withFlags(argocdAppWaitArgs({name, timeoutSeconds: timeoutS, appNamespace, globals}), 3, ['--operation', '--output', 'json']), options.timeoutMs + 60_000),
    dependsOn: [DEPLOY_STEP.sync],
  })
  const connection = core ? `KUBECONFIG=${shellQuote([kubeconfig!])} ` : ''
  const globalFlags = core ? '--core' : `--server ${shellQuote([facts.argocd.mode === 'server' ? facts.argocd.server : ''])} --grpc-web`
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
    rollback: `${connection}argocd app rollback ${name} --app-namespace ${shellQuote([appNamespace])} ${globalFlags}`,
    inspect: `${connection}${shellQuote(['argocd', ...appGetArgv])}`,
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
    set: helmSet(env, options.imageTag),
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
    rollback: `KUBECONFIG=${shellQuote([host])} ${shellQuote(['helm', ...helmRollbackArgs({release, namespace: env.namespace})])}`,
  }
  return {
    version: PLAN_VERSION,
    kind: 'deploy',
    summary: `Deploy ${env.service} to ${env.name} with helm (release ${release} in namespace ${env.namespace} on ${env.cluster.alias})`,
    steps,
    metadata: about,
  }
}

/**
 * The plan of `idp env up` (docs/architecture.md): a pure function of the resolved environment and
 * facts gathered beforehand (helm major, paths, owner, sha, the clock), so `--dry-run` prints
 * exactly what `up` runs and unit tests need no cluster.
 */
import type {ResolvedEnvironment} from '../config/environments.js'
import {helmUninstallArgs, helmUpgradeInstallArgs, type HelmMajor} from '../tools/helm.js'
import {terraformApplyArgs, terraformDestroyArgs, terraformInitArgs, terraformOutputArgs, terraformWorkspaceDeleteArgs} from '../tools/terraform.js'
import {vclusterConnectArgs, vclusterCreateArgs, vclusterDeleteArgs} from '../tools/vcluster.js'
import type {ToolName} from '../tools/types.js'
import {commandLine} from '../plan/format.js'
import type {Action, OpParams, Plan, PlanStep, ToolAction} from '../plan/types.js'
import {PLAN_VERSION} from '../plan/types.js'
import {envMetadata} from './labels.js'
import type {EnvStatePaths} from './paths.js'
import type {SecretStepRef} from './ops.js'
import type {SecretReadFact} from '../vault/secrets.js'
import {kubernetesBackendConfig, type TerraformState} from './tf-state.js'

/** The ids of the env plans' steps (up, down; deploy shares preflight, lock, kubeconfig and unlock). */
export const ENV_STEP = {
  preflight: 'preflight',
  lock: 'lock',
  namespace: 'namespace',
  vclusterCreate: 'vcluster-create',
  kubeconfig: 'kubeconfig',
  terraformVars: 'terraform-vars',
  terraformState: 'terraform-state',
  terraformInit: 'terraform-init',
  terraformApply: 'terraform-apply',
  secrets: 'secrets',
  helm: 'helm',
  record: 'record',
  unlock: 'unlock',
  prComment: 'pr-comment',
  helmUninstall: 'helm-uninstall',
  vclusterDelete: 'vcluster-delete',
  terraformDestroy: 'terraform-destroy',
  terraformWorkspaceDelete: 'terraform-workspace-delete',
  terraformDefaultState: 'terraform-default-state',
  namespaceDelete: 'namespace-delete',
  secretsDelete: 'secrets-delete',
  restart: 'restart',
  localFiles: 'local-files',
} as const

/** Where the Lease that serialises `up`/`down` of one environment lives on the host cluster. */
export const LOCK_NAMESPACE = 'default'
/** How long terraform waits for its state lock before failing. */
export const TERRAFORM_LOCK_TIMEOUT = '5m'
/** The marker of the sticky pull-request comment. */
export const PR_COMMENT_MARKER = 'idp-env'

export interface PrTarget {
  owner: string
  repo: string
  number: number
}

export interface EnvUpFacts {
  helmMajor: HelmMajor
  /** Who asked (git config user.email, CI actor, $USER). */
  owner: string
  /** Lock holder identity: owner, host and pid. */
  holder: string
  sha?: string
  pr?: number
  now: Date
  paths: EnvStatePaths
  /** What the host already has: an environment of ours (update in place) or nothing; undefined when not looked (dry run). */
  existing?: 'ours' | 'none'
  /** Tool versions found, for the preflight step. */
  tools?: Partial<Record<ToolName, string>>
  /** What was read from Vault (names, paths, versions, key names); undefined when not read (dry run). */
  secrets?: SecretReadFact[]
  /** Where the Terraform state lives (tf-state.ts); undefined: as the module has it, with no backend configuration from idp. */
  terraformState?: TerraformState
}

/** What an up plan is about: the `metadata` of its Plan, and the core of `env up`'s result. */
export interface EnvUpMetadata {
  env: string
  service: string
  namespace: string
  cluster: string
  driver: 'vcluster' | 'namespace'
  url?: string
  kubeconfig: string
  expiresAt?: string
  /** The environment was already ours: the plan updates it in place. */
  update: boolean
}

export interface EnvUpOptions {
  env: ResolvedEnvironment
  imageTag?: string
  /**
   * image.repository of .idp.yml: given to helm with the tag, so the image that runs is the one
   * whose existence was checked (not whatever repository the chart's own values name).
   */
  imageRepository?: string
  /** Overrides the configured ttl. */
  ttlMs?: number
  /** helm --wait timeout (and the base of other timeouts). */
  timeoutMs: number
  /** Keep a sticky comment on this pull request. */
  prComment?: PrTarget
}

/** The name of the Lease and of the helm release and vcluster an environment uses. */
export function envNames(env: Pick<ResolvedEnvironment, 'service' | 'name'>): {lease: string; release: string; vcluster: string} {
  return {lease: `idp-${env.service}-${env.name}`.slice(0, 253), release: env.service, vcluster: env.name}
}

/**
 * Where the release goes: the environment's namespace on the host, or `default` inside a vcluster
 * (the vcluster is the isolation, and its kubeconfig's default namespace then shows the app).
 */
export function envReleaseNamespace(env: Pick<ResolvedEnvironment, 'driver' | 'namespace'>): string {
  return env.driver === 'vcluster' ? 'default' : env.namespace
}

/** A Go duration helm accepts. */
export function goDuration(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))}s`
}

/** Insert `-lock-timeout` right after the terraform subcommand (flags must precede a plan file). */
function withLockTimeout(argv: string[], subcommand: string): string[] {
  const at = argv.indexOf(subcommand)
  return [...argv.slice(0, at + 1), `-lock-timeout=${TERRAFORM_LOCK_TIMEOUT}`, ...argv.slice(at + 1)]
}


/**
 * The terraform actions shared by up and down: same cwd and TF_DATA_DIR, and the environment's
 * workspace as TF_WORKSPACE, which `terraform init` creates when it is missing. So no `workspace
 * select` step runs, and an environment whose workspace an older idp selected with that command
 * (the `environment` file in TF_DATA_DIR) resolves to the same workspace.
 */
export function terraformAction(env: ResolvedEnvironment, paths: TerraformPaths, argv: string[], timeoutMs?: number, workspace = env.terraform!.workspace): ToolAction {
  // The plugin cache goes on every terraform command, not init alone, so a printed command (a
  // hint saying to run `terraform init`, a clean-up) reaches the same providers idp's did.
  const cache: Record<string, string> = paths.tfPluginCache ? {TF_PLUGIN_CACHE_DIR: paths.tfPluginCache} : {}
  return {kind: 'tool', tool: 'terraform', argv, cwd: env.terraform!.dir, env: {TF_DATA_DIR: paths.tfData, TF_WORKSPACE: workspace, ...cache}, ...(timeoutMs === undefined ? {} : {timeoutMs})}
}

/** What every terraform action of an environment runs with: its data dir, and idp's plugin cache when it gives one. */
export type TerraformPaths = Pick<EnvStatePaths, 'tfData' | 'tfPluginCache'>

/** Terraform refuses to delete the workspace it is in, so this runs from `default`. */
export function terraformDeleteWorkspaceAction(env: ResolvedEnvironment, paths: TerraformPaths): ToolAction {
  return terraformAction(env, paths, terraformWorkspaceDeleteArgs({workspace: env.terraform!.workspace}), undefined, 'default')
}

export function terraformDestroyAction(env: ResolvedEnvironment, paths: TerraformPaths & Pick<EnvStatePaths, 'tfVars'>, timeoutMs?: number): ToolAction {
  return terraformAction(env, paths, withLockTimeout(terraformDestroyArgs({varFiles: [paths.tfVars]}), 'destroy'), timeoutMs)
}

/**
 * `terraform init` of the environment: with the kubernetes backend idp configures, its
 * -backend-config (the private host kubeconfig's path and context: no credential in argv) and
 * -reconfigure, since idp's settings, not the data dir, say where the state is; or, when the
 * module directory holds local state left by an older idp, -migrate-state -force-copy, so
 * Terraform moves it into the cluster (checked beforehand: none of it is there yet).
 */
export function terraformInitAction(env: ResolvedEnvironment, paths: TerraformPaths & Pick<EnvStatePaths, 'hostKubeconfig'>, state: TerraformState | undefined, timeoutMs?: number): ToolAction {
  if (state === undefined || state.backend === 'local') return terraformAction(env, paths, terraformInitArgs(), timeoutMs)
  // A backend that lists its workspaces (kubernetes, s3, ...) makes init refuse a TF_WORKSPACE it
  // does not have yet once it has two or more: init runs in `default`, which always exists, and
  // the environment's workspace is made by the first command that writes its state (apply, or
  // an empty destroy).
  if (state.backend === 'module') return terraformAction(env, paths, terraformInitArgs(), timeoutMs, 'default')
  const backendConfig = kubernetesBackendConfig(state, paths.hostKubeconfig, env.cluster.context)
  return terraformAction(env, paths, terraformInitArgs({backendConfig, ...(state.migrate.length > 0 ? {migrateState: true} : {reconfigure: true})}), timeoutMs, 'default')
}

/** The step that makes sure the state namespace exists before `terraform init` (kubernetes backend only); never undone: it is shared. */
export function terraformStateStep(env: ResolvedEnvironment, hostKubeconfig: string, state: Extract<TerraformState, {backend: 'kubernetes'}>, dependsOn: string[]): PlanStep {
  const moves = state.migrate.length > 0 ? `; local state of ${state.migrate.map((m) => m.workspace).join(', ')} moves in only if the cluster has none of it` : ''
  return {
    id: ENV_STEP.terraformState,
    title: `Terraform state in namespace ${state.namespace} on ${env.cluster.alias} (Secret ${state.secret})`,
    action: {
      kind: 'api',
      target: 'kubernetes',
      op: 'kube.ensureStateNamespace',
      summary: `create Namespace ${state.namespace} (managed-by=idp) if missing${state.explicitNamespace ? '' : '; refuse one idp did not create'}${moves}`,
      params: {kubeconfig: hostKubeconfig, namespace: state.namespace, explicit: state.explicitNamespace, migrate: state.migrate},
    },
    dependsOn,
  }
}

/** The step that writes the module's variables (paths.tfVars) for the terraform steps after it. */
export function terraformVarsStep(env: ResolvedEnvironment, paths: Pick<EnvStatePaths, 'tfVars'>, dependsOn: string[], undo: boolean): PlanStep {
  const vars = env.terraform!.vars
  return {
    id: ENV_STEP.terraformVars,
    title: `Terraform variables of ${env.name}`,
    action: {
      kind: 'local',
      op: 'env.writeTfVars',
      summary: `${Object.keys(vars).sort().map((key) => `${key}=${JSON.stringify(vars[key])}`).join(', ') || 'no variables'} > ${paths.tfVars} (0600, JSON)`,
      params: {file: paths.tfVars, vars},
    },
    dependsOn,
    ...(undo ? {undo: [removeFilesAction([paths.tfVars])]} : {}),
  }
}

export function planEnvUp(options: EnvUpOptions, facts: EnvUpFacts): Plan<EnvUpMetadata> {
  const {env, timeoutMs} = options
  const {paths} = facts
  const names = envNames(env)
  const fresh = facts.existing !== 'ours'
  const ttlMs = options.ttlMs ?? env.ttlMs
  const expiresAt = ttlMs === undefined ? undefined : new Date(facts.now.getTime() + ttlMs).toISOString()
  const metadata = envMetadata({
    service: env.service,
    env: env.name,
    owner: facts.owner,
    ...(env.team ? {team: env.team} : {}),
    expiresAt,
    sha: facts.sha,
    pr: facts.pr,
    driver: env.driver,
    cluster: env.cluster.alias,
    url: env.url,
    status: 'deploying',
    createdAt: facts.now,
  })
  const host = paths.hostKubeconfig
  const steps: PlanStep[] = []
  // Undo only what this run may have created: a failed update of a working environment must not tear it down.
  const undoIfFresh = (actions: Action[]) => (fresh ? {undo: actions} : {})

  const tools: ToolName[] = ['helm', ...(env.terraform ? (['terraform'] as const) : []), ...(env.driver === 'vcluster' ? (['vcluster'] as const) : [])]
  steps.push(preflightStep(env, host, tools, facts.tools), lockStep(env, host, facts.holder, timeoutMs, {...metadata.labels}))

  steps.push({
    id: ENV_STEP.namespace,
    title: `Namespace ${env.namespace} on ${env.cluster.alias}`,
    action: {
      kind: 'api',
      target: 'kubernetes',
      op: 'kube.ensureNamespace',
      summary: `create or update Namespace ${env.namespace} (labels ${Object.entries(metadata.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}; expires ${expiresAt ?? 'never'}); refuse one idp does not own`,
      params: {kubeconfig: host, name: env.namespace, service: env.service, env: env.name, labels: metadata.labels, annotations: metadata.annotations},
    },
    dependsOn: [ENV_STEP.lock],
    ...undoIfFresh([deleteNamespaceAction(host, env)]),
  })

  let kubeconfigStep: string
  if (env.driver === 'vcluster') {
    const createArgs = vclusterCreateArgs({name: names.vcluster, namespace: env.namespace, values: env.vcluster?.values, chartVersion: env.vcluster?.chartVersion, upgrade: true})
    steps.push({
      id: ENV_STEP.vclusterCreate,
      title: `vcluster ${names.vcluster} in ${env.namespace}`,
      action: {kind: 'tool', tool: 'vcluster', argv: createArgs, kubeconfig: host, timeoutMs},
      dependsOn: [ENV_STEP.namespace],
      ...undoIfFresh([{kind: 'tool', tool: 'vcluster', argv: vclusterDeleteArgs({name: names.vcluster, namespace: env.namespace}), kubeconfig: host, timeoutMs}]),
    })
    const connectArgs = vclusterConnectArgs({name: names.vcluster, namespace: env.namespace, server: env.vcluster?.server})
    steps.push({
      id: ENV_STEP.kubeconfig,
      title: `Private kubeconfig of vcluster ${names.vcluster}`,
      action: {
        kind: 'local',
        op: 'env.writeVclusterKubeconfig',
        summary: `vcluster ${connectArgs.join(' ')} > ${paths.kubeconfig} (0600)`,
        params: {tool: 'vcluster', argv: connectArgs, kubeconfig: host, file: paths.kubeconfig},
      },
      dependsOn: [ENV_STEP.vclusterCreate],
      ...undoIfFresh([removeFilesAction([paths.kubeconfig])]),
    })
    kubeconfigStep = ENV_STEP.kubeconfig
  } else {
    steps.push({
      id: ENV_STEP.kubeconfig,
      title: `Private kubeconfig for namespace ${env.namespace}`,
      action: {
        kind: 'local',
        op: 'env.writeNamespaceKubeconfig',
        summary: `copy ${host} with the context namespace set to ${env.namespace} into ${paths.kubeconfig} (0600)`,
        params: {hostKubeconfig: host, namespace: env.namespace, file: paths.kubeconfig},
      },
      dependsOn: [ENV_STEP.namespace],
      ...undoIfFresh([removeFilesAction([paths.kubeconfig])]),
    })
    kubeconfigStep = ENV_STEP.kubeconfig
  }

  const helmDeps = [kubeconfigStep]
  if (env.secrets) {
    steps.push(secretsStep(env, paths.kubeconfig, facts.secrets, [kubeconfigStep], fresh))
    helmDeps.push(ENV_STEP.secrets)
  }
  if (env.terraform) {
    const tf = env.terraform
    steps.push(terraformVarsStep(env, paths, [ENV_STEP.namespace], fresh))
    const state = facts.terraformState
    if (state?.backend === 'kubernetes') steps.push(terraformStateStep(env, host, state, [ENV_STEP.terraformVars]))
    steps.push({
      id: ENV_STEP.terraformInit,
      title: `terraform init (${tf.dir}, workspace ${tf.workspace}${state?.backend === 'kubernetes' ? `, state in Secret ${state.namespace}/${state.secret}` : ''})`,
      action: terraformInitAction(env, paths, state, timeoutMs),
      // After the namespace, not beside it: if the namespace step fails, no workspace was made to
      // undo, and undo (reverse completion order) destroys the Terraform resources before it
      // deletes the namespace they may live in.
      dependsOn: [state?.backend === 'kubernetes' ? ENV_STEP.terraformState : ENV_STEP.terraformVars],
      // Undone here rather than with apply: an apply that failed half-way left resources in the
      // workspace, and a workspace that is not empty cannot be deleted.
      // Then the data dir init made (TF_DATA_DIR: modules, provider links), as env down removes it.
      ...undoIfFresh([terraformDestroyAction(env, paths, timeoutMs), terraformDeleteWorkspaceAction(env, paths), removeFilesAction([paths.tfData])]),
    })
    // One `terraform apply`: nobody reviews a plan between the two in `env up`, and a saved plan
    // would be a second terraform start (providers, backend, state lock) and a file holding
    // sensitive values. apply -json reports the outputs when it ends, except the values of
    // sensitive ones; `terraform output` runs after it only when there are such.
    const apply = terraformAction(env, paths, withLockTimeout(terraformApplyArgs({varFiles: [paths.tfVars], json: true}), 'apply'), timeoutMs)
    const outputs = terraformAction(env, paths, terraformOutputArgs())
    steps.push({
      id: ENV_STEP.terraformApply,
      title: `terraform apply (workspace ${tf.workspace}), outputs as helm values`,
      action: {
        kind: 'local',
        op: 'env.terraformApply',
        summary: `${commandLine(apply)}; the outputs > ${paths.tfValues} as {infra: {...}} (0600); only if an output is sensitive: ${commandLine(outputs)} (values never printed)`,
        params: {apply, outputs, file: paths.tfValues},
      },
      dependsOn: [ENV_STEP.terraformInit],
      ...undoIfFresh([removeFilesAction([paths.tfValues])]),
    })
    helmDeps.push(ENV_STEP.terraformApply)
  }

  if (env.helm) {
    const releaseNamespace = envReleaseNamespace(env)
    const set: Record<string, string | number | boolean> = {...env.helm.set}
    if (options.imageTag && options.imageRepository) set['image.repository'] = options.imageRepository
    if (options.imageTag) set['image.tag'] = options.imageTag
    // The chart reads the Secrets by name (the bundled charts: envFrom of each name in `secrets`).
    env.secrets?.items.forEach((item, i) => (set[`secrets[${i}]`] = item.name))
    const values = [...env.helm.values, ...(env.terraform ? [paths.tfValues] : [])]
    steps.push({
      id: ENV_STEP.helm,
      title: `helm upgrade --install ${names.release} (${env.helm.chart})`,
      action: {
        kind: 'tool',
        tool: 'helm',
        argv: helmUpgradeInstallArgs({
          release: names.release,
          chart: env.helm.chart,
          namespace: releaseNamespace,
          values,
          set,
          wait: true,
          timeout: goDuration(timeoutMs),
          rollbackOnFailure: true,
          major: facts.helmMajor,
        }),
        kubeconfig: paths.kubeconfig,
        // helm enforces --timeout itself; ours only stops a helm that hangs past it.
        timeoutMs: timeoutMs + 60_000,
      },
      dependsOn: helmDeps,
      ...undoIfFresh([{kind: 'tool', tool: 'helm', argv: helmUninstallArgs({release: names.release, namespace: releaseNamespace, ignoreNotFound: true}), kubeconfig: paths.kubeconfig}]),
    })
  }

  steps.push({
    id: ENV_STEP.record,
    title: `Mark ${env.name} ready`,
    action: {
      kind: 'api',
      target: 'kubernetes',
      op: 'env.recordResult',
      summary: `annotate Namespace ${env.namespace} with status=ready${env.url ? ` and url=${env.url}` : ''}`,
      params: {kubeconfig: host, namespace: env.namespace, service: env.service, env: env.name, status: 'ready', ...(env.url ? {url: env.url} : {})},
    },
    dependsOn: env.helm ? [ENV_STEP.helm] : helmDeps,
  })

  steps.push({
    id: ENV_STEP.unlock,
    title: `Release the lock of ${env.name}`,
    action: unlockAction(host, names.lease, facts.holder),
    dependsOn: [ENV_STEP.record],
  })

  if (options.prComment) {
    steps.push(
      prCommentStep(options.prComment, `create or edit the sticky comment (marker ${PR_COMMENT_MARKER}) with the URL, status, expiry and teardown command`, {
        env: env.name,
        status: 'ready',
        ...(facts.sha ? {sha: facts.sha} : {}),
        ...(env.url ? {url: env.url} : {}),
        ...(expiresAt ? {expiresAt} : {}),
      }),
    )
  }

  const about: EnvUpMetadata = {
    env: env.name,
    service: env.service,
    namespace: env.namespace,
    cluster: env.cluster.alias,
    driver: env.driver,
    ...(env.url ? {url: env.url} : {}),
    kubeconfig: paths.kubeconfig,
    ...(expiresAt ? {expiresAt} : {}),
    update: facts.existing === 'ours',
  }
  return {
    version: PLAN_VERSION,
    kind: 'env.up',
    summary: `Bring up environment ${env.name} of ${env.service} on cluster ${env.cluster.alias} (${env.driver} driver, namespace ${env.namespace})`,
    steps,
    metadata: about,
  }
}

/** The references a secrets step carries: the read facts when there are (a real run), else the configuration. */
export function secretStepRefs(env: ResolvedEnvironment, read?: SecretReadFact[]): SecretStepRef[] {
  const mount = env.secrets!.vault.mount
  return env.secrets!.items.map((item) => {
    const fact = read?.find((entry) => entry.name === item.name)
    const keys = fact?.keys ?? item.keys
    return {name: item.name, source: `${mount}/${item.path}`, ...(fact ? {version: fact.version} : item.version === undefined ? {} : {version: item.version}), ...(keys ? {keys} : {})}
  })
}

/** `name ← mount/path vN [keys]` for summaries: paths and key names, never a value. */
export function describeSecretRefs(refs: SecretStepRef[]): string {
  return refs.map((ref) => `${ref.name} ← ${ref.source}${ref.version === undefined ? '' : ` v${ref.version}`} [${ref.keys ? ref.keys.join(', ') : 'every key'}]`).join('; ')
}

/** Write the environment's Secrets from Vault where the release goes (the namespace, or inside the vcluster). */
export function secretsStep(env: ResolvedEnvironment, kubeconfig: string, read: SecretReadFact[] | undefined, dependsOn: string[], undo: boolean): PlanStep {
  const namespace = envReleaseNamespace(env)
  const refs = secretStepRefs(env, read)
  const where = env.driver === 'vcluster' ? `namespace ${namespace} of vcluster ${envNames(env).vcluster}` : `namespace ${namespace}`
  return {
    id: ENV_STEP.secrets,
    title: `Secrets ${refs.map((ref) => ref.name).join(', ')} from Vault`,
    action: {
      kind: 'api',
      target: 'kubernetes',
      op: 'kube.applySecrets',
      summary: `server-side apply Secret${refs.length === 1 ? '' : 's'} in ${where} from Vault (values read before any change, held in memory only): ${describeSecretRefs(refs)}; remove idp's Secrets of ${env.name} no mapping names`,
      params: {kubeconfig, namespace, service: env.service, env: env.name, secrets: refs, prune: true},
    },
    dependsOn,
    ...(undo ? {undo: [deleteSecretsAction(kubeconfig, namespace, env)]} : {}),
  }
}

export function deleteSecretsAction(kubeconfig: string, namespace: string, env: Pick<ResolvedEnvironment, 'service' | 'name'>): Action {
  return {
    kind: 'api',
    target: 'kubernetes',
    op: 'kube.deleteSecrets',
    summary: `delete the Secrets in ${namespace} labelled managed-by=idp, service=${env.service}, env=${env.name}, secret-source=vault`,
    params: {kubeconfig, namespace, service: env.service, env: env.name},
  }
}

// The steps below open and close both plans (up, and down for env down and gc), so the two say the same thing.

export function preflightStep(env: ResolvedEnvironment, hostKubeconfig: string, tools: ToolName[], versions?: Partial<Record<ToolName, string>>): PlanStep {
  return {
    id: ENV_STEP.preflight,
    title: `Check tools and reach cluster ${env.cluster.alias} (context ${env.cluster.context})`,
    action: {
      kind: 'local',
      op: 'env.preflight',
      summary: `${tools.length > 0 ? `${tools.join(', ')} present and recent enough; ` : ''}context ${env.cluster.context} copied to ${hostKubeconfig} and reachable`,
      params: {context: env.cluster.context, ...(env.cluster.kubeconfig ? {kubeconfigPath: env.cluster.kubeconfig} : {}), hostKubeconfig, tools, ...(versions ? {versions} : {})},
    },
    dependsOn: [],
  }
}

/** The Lease lock: held for twice the step timeout plus ten minutes, so a crashed run's lock expires on its own. */
export function lockStep(env: ResolvedEnvironment, hostKubeconfig: string, holder: string, timeoutMs: number, labels?: Record<string, string>): PlanStep {
  const {lease} = envNames(env)
  const leaseSeconds = Math.ceil(timeoutMs / 1000) * 2 + 600
  return {
    id: ENV_STEP.lock,
    title: `Lock environment ${env.name} (Lease ${LOCK_NAMESPACE}/${lease})`,
    action: {
      kind: 'api',
      target: 'kubernetes',
      op: 'env.lock',
      summary: `create or take over Lease ${LOCK_NAMESPACE}/${lease} for ${leaseSeconds}s as ${holder}; fail if another run holds it`,
      params: {kubeconfig: hostKubeconfig, namespace: LOCK_NAMESPACE, name: lease, holder, leaseSeconds, ...(labels ? {labels} : {})},
    },
    dependsOn: [ENV_STEP.preflight],
    undo: [unlockAction(hostKubeconfig, lease, holder)],
  }
}

/** The sticky pull-request comment, after the lock is released; optional, so a GitHub hiccup fails nothing. */
export function prCommentStep(pr: PrTarget, summary: string, params: Omit<OpParams<'github.prComment'>, 'owner' | 'repo' | 'number' | 'marker'>): PlanStep {
  return {
    id: ENV_STEP.prComment,
    title: `Comment on ${pr.owner}/${pr.repo}#${pr.number}`,
    action: {
      kind: 'api',
      target: 'github',
      op: 'github.prComment',
      summary,
      params: {owner: pr.owner, repo: pr.repo, number: pr.number, marker: PR_COMMENT_MARKER, ...params},
    },
    dependsOn: [ENV_STEP.unlock],
    optional: true,
  }
}

/** The Lease an environment's runs hold, as the unlock step names it. */
export function lockOf(env: Pick<ResolvedEnvironment, 'service' | 'name'>, kubeconfig: string, holder: string): OpParams<'env.unlock'> {
  return {kubeconfig, namespace: LOCK_NAMESPACE, name: envNames(env).lease, holder}
}

export function unlockAction(kubeconfig: string, lease: string, holder: string): Action {
  return {
    kind: 'api',
    target: 'kubernetes',
    op: 'env.unlock',
    summary: `delete Lease ${LOCK_NAMESPACE}/${lease} if ${holder} holds it`,
    params: {kubeconfig, namespace: LOCK_NAMESPACE, name: lease, holder},
  }
}

export function deleteNamespaceAction(kubeconfig: string, env: Pick<ResolvedEnvironment, 'namespace' | 'service' | 'name'>): Action {
  return {
    kind: 'api',
    target: 'kubernetes',
    op: 'kube.deleteNamespace',
    summary: `delete Namespace ${env.namespace} if it carries managed-by=idp, service=${env.service}, env=${env.name}`,
    params: {kubeconfig, name: env.namespace, service: env.service, env: env.name},
  }
}

export function removeFilesAction(files: string[]): Action {
  return {kind: 'local', op: 'env.removeFiles', summary: `remove ${files.join(', ')}`, params: {files}}
}

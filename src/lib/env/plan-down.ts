/**
 * The plan of `idp env down` (and of `idp env gc` for each expired environment): a pure function
 * of the resolved environment and what the host cluster holds. Only what idp labelled as its own
 * is deleted; every step tolerates "already gone", so running it twice succeeds.
 */
import type {ResolvedEnvironment} from '../config/environments.js'
import {helmUninstallArgs} from '../tools/helm.js'
import type {ToolName} from '../tools/types.js'
import {vclusterDeleteArgs} from '../tools/vcluster.js'
import type {Plan, PlanStep} from '../plan/types.js'
import {PLAN_VERSION} from '../plan/types.js'
import type {EnvStatePaths} from './paths.js'
import {stateSecretName, type TerraformState} from './tf-state.js'
import {
  deleteNamespaceAction,
  deleteSecretsAction,
  ENV_STEP,
  envNames,
  lockStep,
  prCommentStep,
  preflightStep,
  PR_COMMENT_MARKER,
  type PrTarget,
  removeFilesAction,
  terraformDeleteWorkspaceAction,
  terraformDestroyAction,
  terraformInitAction,
  terraformStateStep,
  terraformVarsStep,
  unlockAction,
} from './plan-up.js'

/**
 * What the host cluster holds for the environment: `ours` (a namespace with managed-by=idp and
 * this service/env labels), `absent` (no namespace: already gone), `foreign` (a namespace of that
 * name that idp does not own: nothing is touched).
 */
export type EnvFound = 'ours' | 'absent' | 'foreign'

export interface EnvDownOptions {
  env: ResolvedEnvironment
  found: EnvFound
  /** The driver recorded on the namespace (idp.dev/driver); wins over the config, which may have changed since `up`. */
  driver?: 'vcluster' | 'namespace'
  timeoutMs: number
  prComment?: PrTarget
}

/** What a down plan is about. */
export interface EnvDownMetadata {
  env: string
  service: string
  namespace: string
  cluster: string
  driver: 'vcluster' | 'namespace'
  found: EnvFound
}

export interface EnvDownFacts {
  holder: string
  paths: EnvStatePaths
  /** Where the Terraform state lives (tf-state.ts); undefined: as the module has it. */
  terraformState?: TerraformState
}

export function planEnvDown(options: EnvDownOptions, facts: EnvDownFacts): Plan<EnvDownMetadata> {
  const {env, found, timeoutMs} = options
  const {paths} = facts
  const host = paths.hostKubeconfig
  const driver = options.driver ?? env.driver
  const names = envNames(env)
  const ours = found === 'ours'
  const steps: PlanStep[] = []

  const tools: ToolName[] = []
  if (ours && driver === 'namespace' && env.helm) tools.push('helm')
  if (ours && driver === 'vcluster') tools.push('vcluster')
  if (ours && env.terraform) tools.push('terraform')
  steps.push(preflightStep(env, host, tools))

  const summary = `Tear down environment ${env.name} of ${env.service} on cluster ${env.cluster.alias} (namespace ${env.namespace})`
  const metadata: EnvDownMetadata = {env: env.name, service: env.service, namespace: env.namespace, cluster: env.cluster.alias, driver, found}
  if (found === 'foreign') return {version: PLAN_VERSION, kind: 'env.down', summary, steps, metadata}

  steps.push(lockStep(env, host, facts.holder, timeoutMs))

  const beforeNamespace: string[] = []
  if (ours && driver === 'namespace' && env.helm) {
    steps.push({
      id: ENV_STEP.helmUninstall,
      title: `helm uninstall ${names.release}`,
      action: {kind: 'tool', tool: 'helm', argv: helmUninstallArgs({release: names.release, namespace: env.namespace, ignoreNotFound: true}), kubeconfig: host, timeoutMs},
      dependsOn: [ENV_STEP.lock],
    })
    beforeNamespace.push(ENV_STEP.helmUninstall)
  }
  // Inside a vcluster the Secrets go with it; in a namespace they are deleted by name of their labels, before the namespace.
  if (ours && driver === 'namespace' && env.secrets) {
    steps.push({
      id: ENV_STEP.secretsDelete,
      title: `Delete the Secrets from Vault in ${env.namespace}`,
      action: deleteSecretsAction(host, env.namespace, env),
      dependsOn: beforeNamespace.length > 0 ? [...beforeNamespace] : [ENV_STEP.lock],
    })
    beforeNamespace.push(ENV_STEP.secretsDelete)
  }
  if (ours && driver === 'vcluster') {
    // Deleting the vcluster removes everything inside it, the helm release included.
    steps.push({
      id: ENV_STEP.vclusterDelete,
      title: `vcluster delete ${names.vcluster}`,
      action: {kind: 'tool', tool: 'vcluster', argv: vclusterDeleteArgs({name: names.vcluster, namespace: env.namespace}), kubeconfig: host, timeoutMs},
      dependsOn: [ENV_STEP.lock],
    })
    beforeNamespace.push(ENV_STEP.vclusterDelete)
  }

  const beforeCleanup = [...beforeNamespace]
  // Only infra idp recorded as its own: the namespace is that record. Without it, a workspace of
  // the same name may be someone's hand-made one (envDown says how to destroy it if it is idp's).
  if (ours && env.terraform) {
    const tf = env.terraform
    const state = facts.terraformState
    const kube = state?.backend === 'kubernetes' ? state : undefined
    steps.push(terraformVarsStep(env, paths, [ENV_STEP.lock], false))
    if (kube) steps.push(terraformStateStep(env, host, kube, [ENV_STEP.terraformVars]))
    steps.push(
      // init creates the workspace (TF_WORKSPACE) when it is already gone, so the destroy is empty and down still ends cleanly.
      {
        id: ENV_STEP.terraformInit,
        title: `terraform init (${tf.dir}, workspace ${tf.workspace}${kube ? `, state in Secret ${kube.namespace}/${kube.secret}` : ''})`,
        action: terraformInitAction(env, paths, state, timeoutMs),
        dependsOn: [kube ? ENV_STEP.terraformState : ENV_STEP.terraformVars],
      },
      {id: ENV_STEP.terraformDestroy, title: `terraform destroy (workspace ${tf.workspace})`, action: terraformDestroyAction(env, paths, timeoutMs), dependsOn: [ENV_STEP.terraformInit]},
      {id: ENV_STEP.terraformWorkspaceDelete, title: `terraform workspace delete ${tf.workspace}`, action: terraformDeleteWorkspaceAction(env, paths), dependsOn: [ENV_STEP.terraformDestroy]},
    )
    beforeCleanup.push(ENV_STEP.terraformWorkspaceDelete)
    if (kube) {
      const secret = stateSecretName('default', env.service)
      steps.push({
        id: ENV_STEP.terraformDefaultState,
        title: `Remove the empty state of workspace default (Secret ${kube.namespace}/${secret}) if no other workspace of ${env.service} is left`,
        action: {
          kind: 'api',
          target: 'kubernetes',
          op: 'kube.removeIdleDefaultState',
          summary: `delete Secret ${kube.namespace}/${secret} and Lease lock-${secret} when they hold no resources, no lock, and no other tfstate Secret has suffix ${kube.suffix}`,
          params: {kubeconfig: host, namespace: kube.namespace, suffix: kube.suffix, secret},
        },
        dependsOn: [ENV_STEP.terraformWorkspaceDelete],
      })
      beforeCleanup.push(ENV_STEP.terraformDefaultState)
    }
  }

  if (ours) {
    steps.push({
      id: ENV_STEP.namespaceDelete,
      title: `Delete namespace ${env.namespace}`,
      action: deleteNamespaceAction(host, env),
      dependsOn: beforeNamespace.length > 0 ? beforeNamespace : [ENV_STEP.lock],
    })
    beforeCleanup.push(ENV_STEP.namespaceDelete)
  }

  steps.push({
    id: ENV_STEP.localFiles,
    title: 'Remove local files of the environment',
    // Terraform's data dir too (modules, provider links, the selected workspace): the workspace is gone.
    action: removeFilesAction([paths.kubeconfig, paths.tfValues, paths.tfVars, paths.tfPlan, paths.tfData]),
    dependsOn: beforeCleanup.length > 0 ? beforeCleanup : [ENV_STEP.lock],
  })
  steps.push({id: ENV_STEP.unlock, title: `Release the lock of ${env.name}`, action: unlockAction(host, names.lease, facts.holder), dependsOn: [ENV_STEP.localFiles]})

  if (options.prComment) {
    steps.push(prCommentStep(options.prComment, `edit the sticky comment (marker ${PR_COMMENT_MARKER}): environment torn down`, {env: env.name, status: 'deleted'}))
  }
  return {version: PLAN_VERSION, kind: 'env.down', summary, steps, metadata}
}

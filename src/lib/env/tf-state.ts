/**
 * Where an environment's Terraform state lives (docs/environments.md, "Terraform state"):
 *
 * - `kubernetes`: the module declares the partial `terraform { backend "kubernetes" {} }` and idp
 *   fills it in at `terraform init` (-backend-config: the private host kubeconfig's path and
 *   context, the state namespace, secret_suffix). The state is a Secret
 *   `tfstate-<workspace>-idp-<service>` in that namespace on the environment's host cluster, locked
 *   through the Lease `lock-tfstate-<workspace>-idp-<service>`; `env down`/`env gc` from any machine that
 *   reaches the cluster find it.
 * - `module`: the module declares a backend of its own (s3, gcs, remote, cloud, an explicit
 *   local, or a kubernetes block with settings): idp passes no backend configuration.
 * - `local`: no backend block, so Terraform's local backend (`<dir>/terraform.tfstate.d/<workspace>`
 *   in the checkout): refused in CI (the state would leave with the runner), a warning elsewhere.
 *
 * Local state that an older idp left in the module directory is moved into the cluster by
 * Terraform itself (`terraform init -migrate-state -force-copy`), once, when idp first runs the
 * module with the kubernetes backend; idp first checks that none of those workspaces already
 * has state in the cluster, so the copy never overwrites anything.
 */
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {gunzipSync} from 'node:zlib'

import type {CoordinationV1Api, CoreV1Api} from '@kubernetes/client-node'

import {PrerequisiteError} from '../cli/errors.js'
import type {ResolvedEnvironment} from '../config/environments.js'
import {DEFAULT_STATE_NAMESPACE, TERRAFORM_STATE_SUFFIX} from '../config/terraform-state.js'
import {kubectlCommand, shellQuote} from '../plan/format.js'
import {declaredBackend} from '../tools/terraform-backend.js'

export type TerraformState =
  | {
      backend: 'kubernetes'
      namespace: string
      /** The namespace was named in .idp.yml (terraform.stateNamespace): used even if idp did not create it. */
      explicitNamespace: boolean
      /** secret_suffix of the backend: idp-<service>, so two services never share a state Secret, whatever their workspace names. */
      suffix: string
      /** The Secret that holds this environment's state, and the Lease that locks it. */
      secret: string
      lease: string
      /** Workspaces with local state in the module directory that this init moves into the cluster (their Secrets). */
      migrate: Array<{workspace: string; file: string; secret: string}>
    }
  | {backend: 'module'; type: string; file: string}
  | {backend: 'local'; dir: string}

/**
 * secret_suffix of a service's state: every service shares the state namespace, and workspace
 * names are a template (`{{env}}` alone is allowed), so the service is in every state Secret's name.
 */
export function stateSuffix(service: string): string {
  return `${TERRAFORM_STATE_SUFFIX}-${service}`
}

/** The Secret the kubernetes backend keeps a workspace's state in (its Lease is `lock-` and this). */
export function stateSecretName(workspace: string, service: string): string {
  return `tfstate-${workspace}-${stateSuffix(service)}`
}

/**
 * Terraform's State.Empty(): no resources and no outputs. A file idp cannot read counts as
 * empty; terraform, which reads it at init, then says what is wrong with it.
 */
async function hasState(file: string): Promise<boolean> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return false
  }
  try {
    const doc = JSON.parse(text) as {resources?: unknown[]; outputs?: Record<string, unknown>}
    return (doc?.resources?.length ?? 0) > 0 || Object.keys(doc?.outputs ?? {}).length > 0
  } catch {
    return false
  }
}

/** Workspaces with local state in a module directory (the local backend's layout). */
async function localStates(dir: string): Promise<Array<{workspace: string; file: string}>> {
  const found: Array<{workspace: string; file: string}> = []
  const direct = path.join(dir, 'terraform.tfstate')
  if (await hasState(direct)) found.push({workspace: 'default', file: direct})
  let names: string[] = []
  try {
    names = (await readdir(path.join(dir, 'terraform.tfstate.d'), {withFileTypes: true})).filter((e) => e.isDirectory()).map((e) => e.name)
  } catch {
    // No workspaces of the local backend.
  }
  for (const workspace of names.sort()) {
    const file = path.join(dir, 'terraform.tfstate.d', workspace, 'terraform.tfstate')
    if (await hasState(file)) found.push({workspace, file})
  }
  return found
}

/** Where the environment's Terraform state lives; reads the module's files only. */
export async function terraformStateOf(env: ResolvedEnvironment): Promise<TerraformState> {
  const tf = env.terraform!
  let declared
  try {
    declared = await declaredBackend(tf.dir)
  } catch (error) {
    throw new PrerequisiteError(`Cannot read the Terraform module ${tf.dir}: ${(error as Error).message}`, {hint: `Check terraform.dir of ${env.key} in .idp.yml.`})
  }
  if (!declared) return {backend: 'local', dir: tf.dir}
  if (declared.type !== 'kubernetes' || !declared.empty) return {backend: 'module', type: declared.type, file: declared.file}
  const migrate = (await localStates(tf.dir)).map((local) => ({...local, secret: stateSecretName(local.workspace, env.service)}))
  const secret = stateSecretName(tf.workspace, env.service)
  return {
    backend: 'kubernetes',
    suffix: stateSuffix(env.service),
    namespace: tf.stateNamespace ?? DEFAULT_STATE_NAMESPACE,
    explicitNamespace: tf.stateNamespace !== undefined,
    secret,
    lease: `lock-${secret}`,
    migrate,
  }
}

/** `-backend-config` of the kubernetes backend: where the cluster is (a kubeconfig path, no credential) and where the state goes. */
export function kubernetesBackendConfig(state: Extract<TerraformState, {backend: 'kubernetes'}>, hostKubeconfig: string, context: string): Record<string, string> {
  return {config_path: hostKubeconfig, config_context: context, namespace: state.namespace, secret_suffix: state.suffix}
}

/** Why a module without a backend block is refused in CI, and what to do: the error's message and hint. */
export function localStateProblem(env: ResolvedEnvironment): {message: string; hint: string} {
  const tf = env.terraform!
  return {
    message: `Terraform module ${tf.dir} declares no backend, so its state would stay in ${path.join(tf.dir, 'terraform.tfstate.d', tf.workspace)} on this machine: in CI it is lost with the runner, and \`env down\` in a later job could not destroy what this run creates.`,
    hint: `Declare \`terraform { backend "kubernetes" {} }\` in the module (e.g. ${path.join(tf.dir, 'versions.tf')}): idp then keeps the state in Secret ${stateSecretName(tf.workspace, env.service)} on cluster ${env.cluster.alias} (namespace ${tf.stateNamespace ?? DEFAULT_STATE_NAMESPACE}). Or declare a remote backend of your own (s3, gcs, ...).`,
  }
}

/** Outside CI a module without a backend block keeps working, with this said each time. */
export function localStateWarning(env: ResolvedEnvironment): string {
  const tf = env.terraform!
  return `Terraform state of ${env.name} stays on this machine (${path.join(tf.dir, 'terraform.tfstate.d', tf.workspace)}: the module declares no backend), so \`env down\` from another machine or CI will not find it. Declare \`terraform { backend "kubernetes" {} }\` in the module to keep it on cluster ${env.cluster.alias}.`
}

/** `env down`/`gc` in CI of a module without a backend block: what may be left behind. */
export function localStateDownWarning(env: ResolvedEnvironment): string {
  const tf = env.terraform!
  return `Terraform module ${tf.dir} declares no backend: the state of ${env.name} is local to the machine that brought it up (${path.join(tf.dir, 'terraform.tfstate.d', tf.workspace)}). If that was another machine or CI job, its Terraform resources are not destroyed here. ${localStateProblem(env).hint}`
}

const MANAGED_BY = 'app.kubernetes.io/managed-by'

const kubectl = kubectlCommand

/**
 * Read-only checks of the state namespace before anything changes: a namespace idp did not create
 * is refused unless .idp.yml names it, and local state is moved in only where the cluster has none
 * for that workspace. `absent`: ensureStateNamespace creates it.
 */
export async function checkStateNamespace(
  core: CoreV1Api,
  state: Extract<TerraformState, {backend: 'kubernetes'}>,
  kubeconfig: string,
  where: string,
): Promise<'ours' | 'absent' | 'named'> {
  const {isNotFound, kubeError} = await import('../kube/client.js')
  let found: 'ours' | 'absent' | 'named' = 'absent'
  try {
    const ns = await core.readNamespace({name: state.namespace})
    if (ns.metadata?.labels?.[MANAGED_BY] === 'idp') found = 'ours'
    else if (state.explicitNamespace) found = 'named'
    else {
      throw new PrerequisiteError(`Namespace ${state.namespace} on ${where} exists and was not created by idp (it lacks ${MANAGED_BY}=idp): idp will not keep Terraform state in it.`, {
        hint: `Name it in .idp.yml (terraform.stateNamespace: ${state.namespace}) if it is meant for idp's Terraform state, or set terraform.stateNamespace to another namespace idp may create.`,
      })
    }
  } catch (error) {
    if (error instanceof PrerequisiteError) throw error
    if (!isNotFound(error)) throw kubeError(error, `read Namespace ${state.namespace}`)
  }
  if (found === 'absent') return found
  for (const local of state.migrate) {
    let exists = true
    try {
      await core.readNamespacedSecret({name: local.secret, namespace: state.namespace})
    } catch (error) {
      if (!isNotFound(error)) throw kubeError(error, `read Secret ${state.namespace}/${local.secret}`)
      exists = false
    }
    if (exists) {
      throw new PrerequisiteError(
        `Terraform workspace ${local.workspace} has state both in ${local.file} (local, left by an older idp) and in Secret ${state.namespace}/${local.secret} on ${where}; idp moves local state into the cluster only where the cluster has none, and will not choose between them.`,
        {
          hint: `Keep the cluster's: move the local file away (\`${shellQuote(['mv', local.file, `${local.file}.old`])}\`). Keep the local one: delete the Secret (\`${kubectl(kubeconfig, ['delete', 'secret', local.secret, '--namespace', state.namespace])}\`). Then run the command again.`,
        },
      )
    }
  }
  return found
}

/** Create the state namespace when missing (labelled as idp's); refuse one idp did not create unless named in .idp.yml. */
export async function ensureStateNamespace(
  core: CoreV1Api,
  params: {namespace: string; explicit: boolean; migrate: Array<{workspace: string; file: string; secret: string}>; kubeconfig: string},
): Promise<{created: boolean}> {
  const state = {backend: 'kubernetes' as const, namespace: params.namespace, explicitNamespace: params.explicit, suffix: '', secret: '', lease: '', migrate: params.migrate}
  const found = await checkStateNamespace(core, state, params.kubeconfig, 'the cluster')
  if (found !== 'absent') return {created: false}
  const {isConflict, kubeError} = await import('../kube/client.js')
  try {
    await core.createNamespace({body: {apiVersion: 'v1', kind: 'Namespace', metadata: {name: params.namespace, labels: {[MANAGED_BY]: 'idp', 'idp.dev/purpose': 'terraform-state'}}}})
  } catch (error) {
    // Another run made it between the read and the create (409 AlreadyExists): check it again.
    if (!isConflict(error)) throw kubeError(error, `create Namespace ${params.namespace}`)
    await checkStateNamespace(core, state, params.kubeconfig, 'the cluster')
    return {created: false}
  }
  return {created: true}
}

/**
 * Every `terraform init` with the kubernetes backend makes the state of workspace `default` (an
 * empty Secret idp never writes to). When `env down` has deleted the last other workspace of the
 * service, that Secret and its Lease go too, so nothing of the service's state is left behind. It
 * stays when another workspace of the service is there (the backend's labels say whose), when it
 * holds resources or outputs (someone used `default` by hand), or while its Lease is held; a
 * resourceVersion precondition keeps a write that came in between. A later init makes it again.
 */
export async function removeIdleDefaultState(
  core: CoreV1Api,
  coordination: CoordinationV1Api,
  params: {namespace: string; suffix: string; secret: string},
): Promise<{removed: boolean; reason?: string}> {
  const {isNotFound, isConflict, kubeCall, kubeError} = await import('../kube/client.js')
  const {namespace, suffix, secret: name} = params
  const secrets = await kubeCall(`list Secrets in ${namespace}`, () => core.listNamespacedSecret({namespace, labelSelector: `tfstate=true,tfstateSecretSuffix=${suffix}`}))
  const others = secrets.items.filter((s) => s.metadata?.labels?.tfstateWorkspace !== 'default').map((s) => s.metadata?.labels?.tfstateWorkspace)
  if (others.length > 0) return {removed: false, reason: `workspace ${[...new Set(others)].join(', ')} of the service still has state`}
  const secret = secrets.items.find((s) => s.metadata?.name === name)
  if (!secret) return {removed: false, reason: 'already gone'}
  if (!emptyState(secret.data?.tfstate)) return {removed: false, reason: 'workspace default holds resources or outputs; left alone'}
  const leaseName = `lock-${name}`
  let lease
  try {
    lease = await coordination.readNamespacedLease({name: leaseName, namespace})
  } catch (error) {
    if (!isNotFound(error)) throw kubeError(error, `read Lease ${namespace}/${leaseName}`)
  }
  if (lease?.spec?.holderIdentity) return {removed: false, reason: 'its lock is held'}
  try {
    await core.deleteNamespacedSecret({name, namespace, body: {preconditions: {resourceVersion: secret.metadata?.resourceVersion}}})
  } catch (error) {
    if (isNotFound(error)) return {removed: false, reason: 'already gone'}
    if (isConflict(error)) return {removed: false, reason: 'written meanwhile; left alone'}
    throw kubeError(error, `delete Secret ${namespace}/${name}`)
  }
  if (lease) {
    try {
      await coordination.deleteNamespacedLease({name: leaseName, namespace, body: {preconditions: {resourceVersion: lease.metadata?.resourceVersion}}})
    } catch (error) {
      if (!isNotFound(error) && !isConflict(error)) throw kubeError(error, `delete Lease ${namespace}/${leaseName}`)
    }
  }
  return {removed: true}
}

/** Whether a state Secret's `tfstate` (base64 of gzipped JSON, as the backend writes it) has no resources and no outputs. */
function emptyState(data: string | undefined): boolean {
  if (!data) return true
  try {
    const state = JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as {resources?: unknown[]; outputs?: Record<string, unknown>}
    return (state.resources ?? []).length === 0 && Object.keys(state.outputs ?? {}).length === 0
  } catch {
    return false
  }
}

/**
 * `idp secrets diff ENV` and `idp secrets sync ENV`: compare an environment's Secrets with Vault by
 * key (names only, never a value), and write what changed without a helm upgrade, restarting the
 * Deployments that read a changed Secret with `--restart` (as `kubectl rollout restart` does).
 * Both read Vault and the cluster first; sync then runs a plan (lock, apply, restart, unlock) through
 * the executor, journaled like env up, whose params are references only.
 */
import type {Deps, Human, Service} from '../cli/deps.js'
import {PrerequisiteError, UsageError} from '../cli/errors.js'
import {idpCommand, idpCommandOf} from '../cli/deps.js'
import {assertDnsLabel} from '../cli/names.js'
import {resolveEnvironment, type ResolvedEnvironment} from '../config/environments.js'
import {loadConfig} from '../config/load.js'
import * as context from '../env/context.js'
import {envStatePaths, JOURNALS} from '../env/paths.js'
import {ENV_STEP, envNames, envReleaseNamespace, lockStep, preflightStep, secretsStep, unlockAction} from '../env/plan-up.js'
import {dryRunText, type JsonPlan, planForJson} from '../plan/format.js'
import {PLAN_VERSION, type Plan, type PlanStep, type StepRecord} from '../plan/types.js'
import type {SecretChange} from './kube.js'
import {readSecretsOf} from './read.js'

export interface SecretsRequest {
  dir: string
  env?: string
  pr?: string
}

export interface SecretsSyncRequest extends SecretsRequest {
  restart: boolean
  dryRun: boolean
  keepOnFailure: boolean
}

export interface SecretsDiffResult {
  env: string
  service: string
  cluster: string
  /** Where the Secrets live: the environment's namespace, or `default` inside its vcluster. */
  namespace: string
  driver: 'namespace' | 'vcluster'
  changes: SecretChange[]
  /** Every Secret matches Vault. */
  inSync: boolean
}

export interface SecretsSyncMetadata {
  env: string
  service: string
  namespace: string
  changed: string[]
  restart: string[]
}

export interface SecretsSyncResult extends SecretsDiffResult {
  dryRun: boolean
  /** The Deployments restarted (or, in a dry run, that would be). */
  restarted: string[]
  plan: JsonPlan<SecretsSyncMetadata>
  steps?: StepRecord[]
}

interface Compared {
  env: ResolvedEnvironment
  diff: SecretsDiffResult
  kubeconfig: string
  read: Awaited<ReturnType<typeof readSecretsOf>>
  paths: ReturnType<typeof envStatePaths>
  holder: string
}

/** Find the environment, read Vault (before any change) and the live Secrets, and compare. */
async function compare(request: SecretsRequest, deps: Deps): Promise<Compared> {
  if (request.env !== undefined) assertDnsLabel(request.env, 'environment name')
  const pr = context.parsePr(request.pr)
  if (request.env === undefined && pr === undefined) throw new UsageError('Missing environment name.', {hint: `Pass ENV (e.g. \`${deps.bin} secrets diff pr-42\`) or --pr N.`})
  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const name = context.defaultEnvName({env: request.env, pr})
  const git = await context.gitFacts(deps.runner, request.dir, deps.env)
  const env = resolveEnvironment(loaded.config, name, {root: loaded.root, vars: context.templateVars({pr, sha: git.sha ?? 'unknown', branch: git.branch ?? 'unknown'})})
  if (!env.secrets) {
    throw new UsageError(`Environment ${name} has no secrets in .idp.yml (secrets.env matches no key for it).`, {hint: 'Map Kubernetes Secret names to Vault paths under secrets.env in .idp.yml; docs/secrets.md shows how.'})
  }
  const host = await context.inspectHost(env, deps.stateDir, deps.env)
  if (host.found !== 'ours') {
    throw new PrerequisiteError(
      host.found === 'absent' ? `Environment ${name} is not up: no namespace ${env.namespace} on ${env.cluster.alias}.` : `Namespace ${env.namespace} on ${env.cluster.alias} is not idp's environment ${env.service}/${name}.`,
      {hint: host.found === 'absent' ? `Bring it up with \`${idpCommandOf(deps, request.dir, ['env', 'up', name])}\`; it writes the Secrets.` : 'idp only writes Secrets into environments it created.'},
    )
  }
  const driver = host.driver ?? env.driver
  const placed = {...env, driver}
  const paths = envStatePaths(deps.stateDir, env.service, env.name, env.cluster.alias)
  // In a namespace the host's connection reaches the Secrets; inside a vcluster, the environment's own kubeconfig.
  const kubeconfig = driver === 'vcluster' ? paths.kubeconfig : paths.hostKubeconfig
  if (driver === 'vcluster') {
    const {existsSync} = await import('node:fs')
    if (!existsSync(kubeconfig)) {
      throw new PrerequisiteError(`No kubeconfig of vcluster ${envNames(env).vcluster} on this machine (${kubeconfig}).`, {
        hint: `Write it with \`${idpCommandOf(deps, request.dir, ['env', 'kubeconfig', name])}\`, or run \`${idpCommandOf(deps, request.dir, ['env', 'up', name])}\` here.`,
      })
    }
  }
  const read = await readSecretsOf(env.secrets, deps)
  const [{kubeClientCache}, {listOurSecrets, secretChanges}] = await Promise.all([import('../kube/client.js'), import('./kube.js')])
  const clients = await kubeClientCache()(kubeconfig)
  const namespace = envReleaseNamespace(placed)
  const live = await listOurSecrets(clients, namespace, {service: env.service, env: env.name})
  const values = read.values.names().map((secret) => read.values.get(secret)!)
  const changes = secretChanges(values, live)
  return {
    env: placed,
    kubeconfig,
    read,
    paths,
    holder: context.lockHolder(git.owner),
    diff: {env: env.name, service: env.service, cluster: env.cluster.alias, namespace, driver, changes, inSync: changes.every((change) => change.action === 'unchanged')},
  }
}

export const secretsDiff: Service<SecretsRequest, SecretsDiffResult> = async (request, deps) => (await compare(request, deps)).diff

const SYNC_LOCK_TIMEOUT_MS = 5 * 60_000

export function planSecretsSync(compared: Pick<Compared, 'env' | 'kubeconfig' | 'paths' | 'holder' | 'diff'>, read: Compared['read']['facts'], restart: string[]): Plan<SecretsSyncMetadata> {
  const {env, paths, diff} = compared
  const changed = diff.changes.filter((change) => change.action !== 'unchanged').map((change) => change.name)
  const steps: PlanStep[] = [preflightStep(env, paths.hostKubeconfig, []), lockStep(env, paths.hostKubeconfig, compared.holder, SYNC_LOCK_TIMEOUT_MS)]
  let last: string = ENV_STEP.lock
  if (changed.length > 0) {
    steps.push(secretsStep(env, compared.kubeconfig, read, [ENV_STEP.lock], false))
    last = ENV_STEP.secrets
  }
  if (restart.length > 0) {
    steps.push({
      id: ENV_STEP.restart,
      title: `Restart ${restart.map((name) => `deployment/${name}`).join(', ')}`,
      action: {
        kind: 'api',
        target: 'kubernetes',
        op: 'kube.restartDeployments',
        summary: `as \`kubectl rollout restart\`: set the pod template annotation kubectl.kubernetes.io/restartedAt of ${restart.join(', ')} in ${diff.namespace}`,
        params: {kubeconfig: compared.kubeconfig, namespace: diff.namespace, deployments: restart},
      },
      dependsOn: [last],
    })
    last = ENV_STEP.restart
  }
  steps.push({id: ENV_STEP.unlock, title: `Release the lock of ${env.name}`, action: unlockAction(paths.hostKubeconfig, envNames(env).lease, compared.holder), dependsOn: [last]})
  return {
    version: PLAN_VERSION,
    kind: 'secrets.sync',
    summary: `Sync the Secrets of ${env.name} of ${env.service} from Vault (${changed.length > 0 ? `${changed.join(', ')} changed` : 'nothing changed'}${restart.length > 0 ? `; restart ${restart.join(', ')}` : ''})`,
    steps,
    metadata: {env: env.name, service: env.service, namespace: diff.namespace, changed, restart},
  }
}

export const secretsSync: Service<SecretsSyncRequest, SecretsSyncResult> = async (request, deps) => {
  const compared = await compare(request, deps)
  const {diff} = compared
  const changed = diff.changes.filter((change) => change.action !== 'unchanged').map((change) => change.name)
  let restart: string[] = []
  if (request.restart && changed.length > 0) {
    const [{kubeClientCache}, {deploymentsUsing}] = await Promise.all([import('../kube/client.js'), import('./kube.js')])
    restart = await deploymentsUsing(await kubeClientCache()(compared.kubeconfig), diff.namespace, changed)
  }
  const plan = planSecretsSync(compared, compared.read.facts, restart)
  const base = {...diff, restarted: restart, plan: planForJson(plan, deps.runner)}
  if (request.dryRun) return {...base, dryRun: true}
  const {createEnvHandlers} = await import('../env/handlers.js')
  const applied = await deps.plans.apply(plan, {
    handlers: createEnvHandlers({runner: deps.runner, env: deps.env, bin: deps.bin, now: deps.now, secretValues: compared.read.values}),
    keepOnFailure: request.keepOnFailure,
    journal: {dir: compared.paths.dir, key: JOURNALS['secrets sync']},
  })
  return {...base, dryRun: false, steps: applied.steps}
}

function changeLine(change: SecretChange): string {
  const parts = [change.changed.length > 0 ? `changed ${change.changed.join(', ')}` : '', change.added.length > 0 ? `added ${change.added.join(', ')}` : '', change.removed.length > 0 ? `removed ${change.removed.join(', ')}` : ''].filter(Boolean)
  const source = change.source ? `${change.source} v${change.version}` : 'no mapping in .idp.yml'
  const what = change.action === 'create' ? `missing in the cluster (keys ${change.added.join(', ')})` : change.action === 'remove' ? 'idp\'s Secret no mapping names; sync removes it' : change.action === 'unchanged' ? 'in sync' : parts.join('; ')
  return `  ${change.action === 'unchanged' ? '=' : change.action === 'create' ? '+' : change.action === 'remove' ? '-' : '~'} ${change.name} (${source}): ${what}`
}

function where(result: SecretsDiffResult): string {
  return result.driver === 'vcluster' ? `namespace ${result.namespace} of the vcluster of ${result.env}` : `namespace ${result.namespace}`
}

export const renderSecretsDiff: Human<SecretsDiffResult> = (result, view) => {
  const lines = [`Secrets of ${result.env} (${where(result)} on ${result.cluster}) against Vault, by key (values are never shown):`, ...result.changes.map((change) => changeLine(change))]
  lines.push(result.inSync ? 'Everything is in sync.' : `Write the changes with \`${idpCommand(view, ['secrets', 'sync', result.env])}\` (add --restart to restart the Deployments that read them).`)
  return lines.join('\n')
}

export const renderSecretsSync: Human<SecretsSyncResult> = (result) => {
  if (result.dryRun) return dryRunText(result.plan, result.changes.map((change) => changeLine(change)).concat(''))
  const changed = result.changes.filter((change) => change.action !== 'unchanged')
  if (changed.length === 0) return `✓ The Secrets of ${result.env} already match Vault; nothing was written.`
  const lines = [`✓ Synced the Secrets of ${result.env} from Vault (${where(result)} on ${result.cluster}):`, ...changed.map((change) => changeLine(change))]
  if (result.restarted.length > 0) lines.push(`  Restarted: ${result.restarted.map((name) => `deployment/${name}`).join(', ')}`)
  else if (changed.length > 0) lines.push('  Pods read Secrets as environment variables when they start: restart them (--restart) to use the new values.')
  return lines.join('\n')
}

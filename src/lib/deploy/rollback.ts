/**
 * `idp deploy rollback ENV [--to ID]`: put a previous revision back and wait until it is healthy.
 * Argo CD: `argocd app rollback NAME ID` (Argo CD refuses it while automated sync is on: that is
 * checked first and said with the command that turns it off, before anything changes), then the
 * shared wait. Helm: `helm rollback RELEASE REVISION --wait` under the environment's lock. Without
 * --to, the revision before the current one. Protected environments need a confirmation, by the
 * rule `idp deploy` uses.
 */
import {type Deps, type Human, idpCommandOf, type Service} from '../cli/deps.js'
import {PrerequisiteError, UsageError} from '../cli/errors.js'
import {parseTimeout} from '../config/duration.js'
import * as context from '../env/context.js'
import {LABELS, MANAGED_BY_VALUE} from '../env/labels.js'
import {envStatePaths, JOURNALS} from '../env/paths.js'
import {dryRunText, type JsonPlan, planForJson} from '../plan/format.js'
import {opResult, type StepRecord} from '../plan/types.js'
import {argocdAppSetManualSyncArgs} from '../tools/argocd.js'
import {confirmProtected, connectForReading, deployTarget, loadDeployEnvironment, requireDeployEnv} from './context.js'
import {evidenceOf, parseGrace} from './deploy.js'
import {type ArgoApp, autoSyncEnabled, sourceImageTag} from './outcome.js'
import {argocdCommand, argocdGlobalArgs, argocdTarget, DEPLOY_STEP, type DeployTarget, planRollback, type RollbackMetadata, seconds} from './plan.js'
import {readApplication, readHelmHistory} from './status.js'

export interface DeployRollbackRequest {
  dir: string
  env?: string
  /** The history id (Argo CD) or release revision (helm) to go back to; default the previous one. */
  to?: string
  timeout: string
  degradedGrace: string
  dryRun: boolean
  keepOnFailure: boolean
  yes: boolean
}

export interface DeployRollbackResult extends DeployTarget {
  /** The id/revision running before. */
  from?: number
  /** The id/revision rolled back to. */
  to: number
  /** argocd: the git revision of that entry; helm: the new release revision helm wrote. */
  revision?: string
  imageTag?: string
  health?: string
  sync?: string
  dryRun: boolean
  plan: JsonPlan<RollbackMetadata>
  steps?: StepRecord[]
}

function parseTo(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/u.test(value.trim())) throw new UsageError(`--to ${value} is not a revision number.`, {hint: 'Pass the ID (Argo CD) or REVISION (helm) that `idp deploy history ENV` lists.'})
  return Number(value.trim())
}

/** Roll back only an Application idp created for this service and environment (idp never adopts one). */
function assertOwned(app: ArgoApp, name: string, service: string, env: string): void {
  const labels = app.metadata?.labels ?? {}
  if (labels[LABELS.managedBy] !== MANAGED_BY_VALUE || labels[LABELS.service] !== service || labels[LABELS.env] !== env) {
    throw new UsageError(`Application ${name} exists but was not created by idp for ${service}/${env}: idp does not roll it back.`, {hint: 'Roll it back in Argo CD directly (argocd app rollback), or let idp deploy it first.'})
  }
}

export const deployRollback: Service<DeployRollbackRequest, DeployRollbackResult> = async (request, deps: Deps) => {
  // Bad input fails before anything reads the world, let alone changes it.
  const name = await requireDeployEnv(request.env, 'rollback', request, deps)
  const timeoutMs = parseTimeout(request.timeout)
  const graceMs = parseGrace(request.degradedGrace)
  const requested = parseTo(request.to)
  const de = await loadDeployEnvironment(request.dir, name, deps)
  const {env, settings} = de
  const tools = await context.checkTools(deps.runner, [settings.strategy === 'argocd' ? 'argocd' : 'helm'], {required: true})
  const again = idpCommandOf(deps, request.dir, ['deploy', 'rollback', name, ...(request.to === undefined ? [] : ['--to', request.to])])
  const {paths, connection} = await connectForReading(de, deps)

  // Read what is there and check the rollback can happen, before anything changes.
  let from: number | undefined
  let to: number
  let revision: string | undefined
  let imageTag: string | undefined
  if (settings.strategy === 'argocd') {
    const target = argocdTarget(env, settings.argocd!, connection, paths)
    const app = await readApplication(de, target, deps, request.dir)
    assertOwned(app, target.name, env.service, env.name)
    if (autoSyncEnabled(app)) {
      const off = argocdCommand(target, argocdAppSetManualSyncArgs({name: target.name, appNamespace: target.appNamespace, globals: target.globals}))
      const on = argocdCommand(target, ['app', 'set', target.name, '--sync-policy', 'automated', '--app-namespace', target.appNamespace, ...argocdGlobalArgs(target.globals)])
      throw new PrerequisiteError(`Application ${target.appNamespace}/${target.name} has automated sync on: Argo CD refuses to roll it back (it would sync it straight back to git). Nothing was changed.`, {
        hint: `Turn automated sync off with \`${off}\`, then run \`${again}\` again. Turn it back on (\`${on}\`) once git holds the version you want to run.`,
        details: {app: target.name, autoSync: true},
      })
    }
    const history = app.status?.history ?? []
    from = history.at(-1)?.id
    if (requested === undefined) {
      if (history.length < 2) throw new PrerequisiteError(`Application ${target.name} has ${history.length === 0 ? 'no deployment' : 'only one deployment'} in its history: there is nothing to roll back to.`, {hint: `See \`${idpCommandOf(deps, request.dir, ['deploy', 'history', name])}\`.`})
      to = history.at(-2)!.id
    } else {
      if (!history.some((h) => h.id === requested)) {
        throw new UsageError(`Application ${target.name} has no history id ${requested}.`, {hint: `Its history ids: ${history.map((h) => h.id).join(', ') || 'none'} (see \`${idpCommandOf(deps, request.dir, ['deploy', 'history', name])}\`).`})
      }
      to = requested
    }
    const entry = history.find((h) => h.id === to)
    revision = entry?.revision
    imageTag = sourceImageTag(entry?.source)
  } else {
    const rows = await readHelmHistory(de, paths.hostKubeconfig, deps, request.dir)
    const current = [...rows].reverse().find((r) => r.status === 'deployed') ?? rows.at(-1)!
    from = current.revision
    if (requested === undefined) {
      const previous = [...rows].reverse().find((r) => r.revision < current.revision)
      if (!previous) throw new PrerequisiteError(`Release ${env.service} has only revision ${current.revision}: there is nothing to roll back to.`, {hint: `See \`${idpCommandOf(deps, request.dir, ['deploy', 'history', name])}\`.`})
      to = previous.revision
    } else {
      if (!rows.some((r) => r.revision === requested)) {
        throw new UsageError(`Release ${env.service} has no revision ${requested}.`, {hint: `Its revisions: ${rows.map((r) => r.revision).join(', ')} (see \`${idpCommandOf(deps, request.dir, ['deploy', 'history', name])}\`).`})
      }
      to = requested
    }
  }

  await confirmProtected(env, request, deps, {gerund: 'rolling back', verb: 'roll back', noun: 'Rollback of', question: `Roll ${env.service} in protected environment ${name} back to ${settings.strategy === 'argocd' ? 'history id' : 'revision'} ${to}`})

  const envPaths = envStatePaths(deps.stateDir, env.service, env.name, env.cluster.alias)
  const plan = planRollback(
    {env, strategy: settings.strategy, ...(settings.argocd ? {argocd: settings.argocd} : {}), to, ...(from === undefined ? {} : {from}), timeoutMs, graceMs},
    {helmMajor: tools.helmMajor, argocd: connection, paths, tools: tools.tools, holder: context.lockHolder(de.git.owner)},
  )
  const about = plan.metadata
  const base = {
    ...deployTarget(about),
    ...(from === undefined ? {} : {from}),
    to,
    ...(revision ? {revision} : {}),
    ...(imageTag ? {imageTag} : {}),
    plan: planForJson(plan, deps.runner),
  }
  if (request.dryRun) return {...base, dryRun: true}

  const [{createEnvHandlers}, {withDeployOutcome}, {createDeployHandlers}, {helmNotReady}] = await Promise.all([import('../env/handlers.js'), import('./outcome.js'), import('./handlers.js'), import('./status.js')])
  const runner = withDeployOutcome(deps.runner, {
    timeoutSeconds: seconds(timeoutMs),
    rollback: again,
    ...(about.release ? {notReady: () => helmNotReady(paths.hostKubeconfig, env.namespace, about.release!, deps.env)} : {}),
  })
  const applied = await deps.plans.apply(plan, {
    handlers: {...createEnvHandlers({runner: deps.runner, env: deps.env, now: deps.now}), ...createDeployHandlers({runner: deps.runner})},
    runner,
    keepOnFailure: request.keepOnFailure,
    journal: {dir: envPaths.dir, key: JOURNALS['deploy rollback']},
    collectEvidence: async (step, error) => (step.id === DEPLOY_STEP.wait ? evidenceOf(error) : undefined),
  })
  const waited = opResult(plan, applied, DEPLOY_STEP.wait, 'deploy.waitApplication')
  // helm rollback prints no status: the release's new last revision says what it did.
  const helm = settings.strategy === 'helm' ? (await readHelmHistory(de, paths.hostKubeconfig, deps, request.dir, 1)).at(-1) : undefined
  return {
    ...base,
    ...(helm ? {revision: String(helm.revision)} : {}),
    ...(waited?.health ? {health: waited.health} : helm?.status ? {health: helm.status} : {}),
    ...(waited?.sync ? {sync: waited.sync} : {}),
    dryRun: false,
    steps: applied.steps,
  }
}

export const renderDeployRollback: Human<DeployRollbackResult> = (r) => {
  if (r.dryRun) return dryRunText(r.plan)
  const what = r.strategy === 'argocd' ? `Application ${r.appNamespace}/${r.app}` : `helm release ${r.release}`
  const unit = r.strategy === 'argocd' ? 'history id' : 'revision'
  const lines = [`✓ Rolled ${r.service} in ${r.env} back to ${unit} ${r.to}${r.from === undefined ? '' : ` (was ${r.from})`} (${what} → namespace ${r.namespace} on ${r.cluster})`]
  if (r.revision) lines.push(`  Revision:  ${r.revision}${r.strategy === 'helm' ? ' (new release revision)' : ''}`)
  if (r.imageTag) lines.push(`  Image tag: ${r.imageTag}`)
  lines.push(`  Health:    ${r.health ?? 'unknown'}${r.sync ? ` (${r.sync}${r.sync === 'OutOfSync' ? ': the cluster runs an older revision than git' : ''})` : ''}`)
  return lines.join('\n')
}

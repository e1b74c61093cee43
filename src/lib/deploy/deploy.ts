/**
 * `idp deploy`: deliver the service to an environment through Argo CD or helm and wait until it
 * is healthy. A protected environment needs a confirmation (--yes, or a prompt on a terminal);
 * a failed deploy is not undone (helm rolls its release back, an Application keeps its history).
 */
import type {Deps, Human, Service} from '../cli/deps.js'
import {IdpError, UsageError} from '../cli/errors.js'
import {assertDnsLabel, assertImageTag} from '../cli/names.js'
import {parseTimeout} from '../config/duration.js'
import {expandTemplate} from '../config/template.js'
import * as context from '../env/context.js'
import {envStatePaths, JOURNALS} from '../env/paths.js'
import {dryRunText, type JsonPlan, planForJson} from '../plan/format.js'
import {opResult, type StepRecord} from '../plan/types.js'
import type {ImageCheck} from '../registry/client.js'
import {argocdConnection, confirmProtected, deployTarget, loadDeployEnvironment} from './context.js'
import {DEPLOY_STEP, type DeployMetadata, deployPaths, type DeployTarget, planDeploy, seconds} from './plan.js'

export interface DeployRequest {
  dir: string
  env: string
  /** Git revision Argo CD syncs (Argo CD only). */
  revision?: string
  imageTag?: string
  /** How long to wait for health, e.g. 10m. */
  timeout: string
  dryRun: boolean
  keepOnFailure: boolean
  /** Deploy to a protected environment without asking. */
  yes: boolean
  /** How long a Degraded Application counts as part of the rollout (Argo CD), e.g. 30s. */
  degradedGrace: string
  /** Do not ask the registry whether the image exists (air-gapped clusters). */
  skipImageCheck?: boolean
}

export interface DeployResult extends DeployTarget {
  /** argocd: the git revision synced (or requested, on a dry run); helm: the release revision number. */
  revision?: string
  imageTag?: string
  /** argocd: Healthy, Progressing, Degraded, ...; helm: the release status (deployed). */
  health?: string
  /** argocd: Synced or OutOfSync. */
  sync?: string
  rollback: string
  /** argocd: this run created the Application (false: it updated idp's existing one). */
  created?: boolean
  dryRun: boolean
  plan: JsonPlan<DeployMetadata>
  steps?: StepRecord[]
  /** The image this deploy runs and what its registry said (absent when .idp.yml has no image). */
  image?: ImageCheck
}

export const deploy: Service<DeployRequest, DeployResult> = async (request, deps: Deps) => {
  // Bad input fails before anything reads the world, let alone changes it.
  const name = assertDnsLabel(request.env, 'environment name')
  const timeoutMs = parseTimeout(request.timeout)
  const graceMs = parseGrace(request.degradedGrace)
  if (request.revision !== undefined && request.revision.trim() === '') throw new UsageError('--revision is empty.', {hint: 'Pass a git branch, tag or commit, e.g. --revision v1.4.2.'})
  if (request.imageTag !== undefined) assertImageTag(request.imageTag, '--image-tag')

  const {loaded, config, env, settings, git} = await loadDeployEnvironment(request.dir, name, deps)
  await confirmProtected(env, request, deps, {gerund: 'deploying to', verb: 'deploy to', noun: 'Deploy to', question: `Deploy ${env.service} to protected environment ${name}`})

  const imageTag = request.imageTag ?? (config.image ? assertImageTag(expandTemplate(config.image.tag, {...env.vars}, 'image.tag'), 'image.tag of .idp.yml') : undefined)
  const revision = settings.argocd ? (request.revision ?? expandTemplate(settings.argocd.targetRevision, {...env.vars}, 'deploy.argocd.targetRevision')) : undefined
  if (request.revision !== undefined && !settings.argocd) deps.out.warn('--revision applies to Argo CD deploys only; helm deploys the chart in the working tree.')
  // Is the image there? Asked while the tool probes run; both are reported together, before any change.
  const imageLookup = context.startImageCheck(config, imageTag, {skip: request.skipImageCheck === true, env: deps.env, signal: deps.signal, timeoutMs})
  imageLookup?.catch(() => {})
  const [tools, image] = await Promise.all([context.checkTools(deps.runner, [settings.strategy === 'argocd' ? 'argocd' : 'helm'], {required: !request.dryRun}), imageLookup])
  for (const problem of tools.problems) deps.out.warn(`${problem} (a real run stops here)`)
  if (request.dryRun && image?.problem) deps.out.warn(`${image.problem.message} (a real run stops here)`)
  context.assertPrerequisites([...tools.errors, ...(image?.problem && !request.dryRun ? [image.problem] : [])])

  const envPaths = envStatePaths(deps.stateDir, env.service, env.name, env.cluster.alias)
  const plan = planDeploy(
    {env, strategy: settings.strategy, ...(settings.argocd ? {argocd: settings.argocd} : {}), ...(revision ? {revision} : {}), ...(imageTag ? {imageTag} : {}), ...(imageTag && config.image ? {imageRepository: config.image.repository} : {}), timeoutMs, graceMs, root: loaded.root},
    {helmMajor: tools.helmMajor, argocd: argocdConnection(deps.env), paths: deployPaths(envPaths.dir, envPaths.hostKubeconfig), tools: tools.tools, holder: context.lockHolder(git.owner)},
  )
  const about = plan.metadata
  const base = {
    ...deployTarget(about),
    ...(about.imageTag ? {imageTag: about.imageTag} : {}),
    rollback: about.rollback,
    plan: planForJson(plan, deps.runner),
    ...(image ? {image: image.check} : {}),
  }
  if (request.dryRun) return {...base, ...(about.targetRevision ? {revision: about.targetRevision} : {}), dryRun: true}

  const [{createEnvHandlers, createEvidenceSampler, withHelmEvidence}, {withDeployOutcome}, {createDeployHandlers}, {helmNotReady}] = await Promise.all([import('../env/handlers.js'), import('./outcome.js'), import('./handlers.js'), import('./status.js')])
  const sampler = settings.strategy === 'helm' ? createEvidenceSampler({kubeconfig: envPaths.hostKubeconfig, namespace: env.namespace}) : undefined
  const runner = withDeployOutcome(sampler ? withHelmEvidence(deps.runner, sampler) : deps.runner, {
    timeoutSeconds: seconds(timeoutMs),
    rollback: about.rollback,
    ...(about.release ? {notReady: () => helmNotReady(envPaths.hostKubeconfig, env.namespace, about.release!, deps.env)} : {}),
  })
  try {
    const applied = await deps.plans.apply(plan, {
      handlers: {...createEnvHandlers({runner: deps.runner, env: deps.env, now: deps.now}), ...createDeployHandlers({runner: deps.runner})},
      runner,
      keepOnFailure: request.keepOnFailure,
      journal: {dir: envPaths.dir, key: JOURNALS.deploy},
      collectEvidence: async (step, error) => {
        if (step.id === DEPLOY_STEP.helm && sampler) return sampler.evidence()
        if (step.id === DEPLOY_STEP.wait) return evidenceOf(error)
        return undefined
      },
    })
    const waited = opResult(plan, applied, DEPLOY_STEP.wait, 'deploy.waitApplication')
    const deployed = waited ?? runner.deployed()
    const revisionDeployed = deployed.revision ?? about.targetRevision
    const check = opResult(plan, applied, DEPLOY_STEP.check, 'deploy.checkApplication')
    return {
      ...base,
      ...(check ? {created: !check.exists} : {}),
      ...(revisionDeployed ? {revision: revisionDeployed} : {}),
      ...(deployed.health ? {health: deployed.health} : {}),
      ...(deployed.sync ? {sync: deployed.sync} : {}),
      dryRun: false,
      steps: applied.steps,
    }
  } finally {
    await sampler?.stop()
  }
}

/** The evidence a failed wait carries (the Application's state and unhealthy resources). */
export function evidenceOf(error: unknown): string[] | undefined {
  const evidence = error instanceof IdpError ? error.details?.evidence : undefined
  return Array.isArray(evidence) ? evidence.map(String) : undefined
}

/** --degraded-grace: how long a Degraded Application counts as part of the rollout. */
export function parseGrace(text: string): number {
  try {
    return parseTimeout(text)
  } catch (error) {
    throw new UsageError(`--degraded-grace ${error instanceof Error ? error.message : String(error)}`, {hint: 'Pass a duration such as 30s or 2m (how long a Degraded Application may last during a rollout before it fails).'})
  }
}

export const renderDeploy: Human<DeployResult> = (result) => {
  if (result.dryRun) return dryRunText(result.plan)
  const what = result.strategy === 'argocd' ? `Application ${result.appNamespace}/${result.app}` : `helm release ${result.release}`
  const lines = [`✓ Deployed ${result.service} to ${result.env} (${what}${result.created ? ', created' : ''} → namespace ${result.namespace} on ${result.cluster})`]
  if (result.revision) lines.push(`  Revision:  ${result.revision}`)
  if (result.imageTag) lines.push(`  Image tag: ${result.imageTag}`)
  lines.push(`  Health:    ${result.health ?? 'unknown'}${result.sync ? ` (${result.sync})` : ''}`)
  lines.push(`  Roll back: ${result.rollback}`)
  return lines.join('\n')
}

/**
 * `idp env up`: bring up (or update) an ephemeral preview environment. Reads the config, the
 * commit and who runs it, checks the tools and the host cluster (never adopting a namespace idp
 * did not create), plans (plan-up.ts) and runs the plan or, for a dry run, returns it.
 */
import {PrerequisiteError, UsageError} from '../cli/errors.js'
import {type Human, idpCommandOf, isCi, type Service} from '../cli/deps.js'
import {loadKubeClient} from '../cli/lazy.js'
import {assertDnsLabel, assertImageTag, assertSha} from '../cli/names.js'
import {parseDuration, parseTimeout} from '../config/duration.js'
import {resolveEnvironment} from '../config/environments.js'
import {loadConfig} from '../config/load.js'
import {expandTemplate} from '../config/template.js'
import {dryRunText, type JsonPlan, planForJson, shellQuote} from '../plan/format.js'
import {opResult, type StepRecord} from '../plan/types.js'
import * as context from './context.js'
import {envStatePaths, JOURNALS} from './paths.js'
import {ENV_STEP, type EnvUpMetadata, envReleaseNamespace, lockOf, planEnvUp} from './plan-up.js'
import {postFailureComment, prCommentPoster} from './pr-comment.js'
import {localStateProblem, localStateWarning, terraformStateOf} from './tf-state.js'

export interface EnvUpRequest {
  /** The repository (--dir), absolute. */
  dir: string
  /** ENV; default pr-N with `pr`, else the git branch. */
  env?: string
  /** Pull request number, as given. */
  pr?: string
  sha?: string
  imageTag?: string
  /** Overrides the environment's ttl, e.g. 8h. */
  ttl?: string
  /** How long helm waits (and the limit for other steps), e.g. 10m. */
  timeout: string
  dryRun: boolean
  keepOnFailure: boolean
}

export interface EnvUpResult extends Omit<EnvUpMetadata, 'update'> {
  /** The environment existed and was updated in place. */
  updated: boolean
  teardown: string
  dryRun: boolean
  plan: JsonPlan<EnvUpMetadata>
  steps?: StepRecord[]
  prComment?: string
}

export const envUp: Service<EnvUpRequest, EnvUpResult> = async (request, deps) => {
  // Bad input fails before anything reads the world, let alone changes it.
  if (request.env !== undefined) assertDnsLabel(request.env, 'environment name')
  if (request.sha !== undefined) assertSha(request.sha, '--sha')
  if (request.imageTag !== undefined) assertImageTag(request.imageTag, '--image-tag')
  const pr = context.parsePr(request.pr)
  const ttlMs = request.ttl === undefined ? undefined : parseDuration(request.ttl)
  const timeoutMs = parseTimeout(request.timeout)
  const {dryRun} = request
  // A real run needs the executor and the Kubernetes client: their files are read while the
  // config, git and the tools answer.
  const preload = dryRun ? undefined : Promise.all([import('./handlers.js'), loadKubeClient()])
  preload?.catch(() => {})

  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const {config} = loaded
  const git = await context.gitFacts(deps.runner, request.dir, deps.env, {sha: request.sha})
  const name = context.defaultEnvName({env: request.env, pr, branch: git.branch})
  const sha = request.sha ?? git.sha
  const env = resolveEnvironment(config, name, {root: loaded.root, vars: context.templateVars({pr, sha, branch: git.branch})})
  if (env.protected) {
    throw new UsageError(`Environment ${name} is protected; \`${deps.bin} env up\` manages ephemeral environments only.`, {hint: `Deploy to protected environments with \`${idpCommandOf(deps, request.dir, ['deploy', name])}\`.`})
  }
  // Where the Terraform state goes (the module's files): local state in CI is refused before anything else.
  const terraformState = env.terraform ? await terraformStateOf(env) : undefined
  if (terraformState?.backend === 'local') {
    const problem = localStateProblem(env)
    if (isCi(deps.env) && !dryRun) throw new PrerequisiteError(problem.message, {hint: problem.hint})
    deps.out.warn(isCi(deps.env) ? `${problem.message} (a real run stops here) ${problem.hint}` : localStateWarning(env))
  }
  // The tag helm gets, wherever it came from (a flag, image.tag of .idp.yml filled from GITHUB_SHA...), is checked before any change.
  const imageTag = request.imageTag ?? (config.image ? assertImageTag(expandTemplate(config.image.tag, {...env.vars}, 'image.tag'), 'image.tag of .idp.yml') : undefined)
  if (env.driver === 'vcluster' && !env.vcluster?.server) {
    deps.out.warn(`vcluster.server is not set for ${env.key}: \`vcluster connect --print\` then port-forwards, which works only while it keeps running. Set vcluster.server to where the virtual cluster's API is exposed (ingress or LoadBalancer).`)
  }
  // The cluster is looked at (read-only) while the version probes run; a tool problem is still reported first.
  const hostLookup = dryRun ? undefined : context.inspectHost(env, deps.stateDir, deps.env, terraformState)
  hostLookup?.catch(() => {})
  const tools = await context.checkTools(deps.runner, context.envTools(env), {required: !dryRun})
  for (const problem of tools.problems) deps.out.warn(`${problem} (a real run stops here)`)

  const paths = envStatePaths(deps.stateDir, env.service, env.name, env.cluster.alias)
  let existing: 'ours' | 'none' | undefined
  if (hostLookup) {
    const host = await hostLookup
    if (host.found === 'foreign') {
      throw new UsageError(`Namespace ${env.namespace} already exists on cluster ${env.cluster.alias} and is not an idp environment of ${env.service}/${env.name}.`, {
        hint: 'idp never adopts a namespace it did not create. Change environments.<name>.namespace in .idp.yml, or remove that namespace if it is unused.',
        details: {namespace: env.namespace, labels: host.foreignLabels},
      })
    }
    existing = host.found === 'ours' ? 'ours' : 'none'
  }
  // A PR comment needs a token; without one the step is left out rather than failing.
  const target = context.prTarget(config, pr, deps.env)
  const poster = target ? await prCommentPoster(config, deps.env) : undefined
  const prComment = poster ? target : undefined
  const holder = context.lockHolder(git.owner)
  const plan = planEnvUp(
    {env, imageTag, ttlMs, timeoutMs, ...(prComment ? {prComment} : {})},
    {helmMajor: tools.helmMajor, owner: git.owner, holder, sha, pr: pr ?? (env.vars.pr === undefined ? undefined : Number(env.vars.pr)), now: deps.now(), paths, existing, tools: tools.tools, ...(terraformState ? {terraformState} : {})},
  )
  // The result describes the environment exactly as the plan does.
  const {update, ...about} = plan.metadata
  const base = {...about, updated: update, teardown: idpCommandOf(deps, request.dir, ['env', 'down', env.name]), plan: planForJson(plan)}
  if (dryRun) return {...base, dryRun: true}

  const [{createEnvHandlers, createEvidenceSampler, releaseEnvLock, withHelmEvidence}] = (await preload)!
  const sampler = createEvidenceSampler({kubeconfig: paths.kubeconfig, namespace: envReleaseNamespace(env)})
  const handlers = createEnvHandlers({runner: deps.runner, env: deps.env, github: poster, bin: deps.bin, now: deps.now})
  try {
    const applied = await deps.plans.apply(plan, {
      handlers,
      runner: withHelmEvidence(deps.runner, sampler),
      keepOnFailure: request.keepOnFailure,
      journal: {dir: paths.dir, key: JOURNALS['env up']},
      collectEvidence: async (step) => (step.id === ENV_STEP.helm ? sampler.evidence() : undefined),
    })
    const comment = opResult(plan, applied, ENV_STEP.prComment, 'github.prComment')
    return {...base, dryRun: false, steps: applied.steps, ...(comment ? {prComment: comment.url} : {})}
  } catch (error) {
    // Kept resources belong to the user now; a kept lock would only block the next up or down.
    if (request.keepOnFailure) await releaseEnvLock(lockOf(env, paths.hostKubeconfig, holder)).catch(() => undefined)
    if (prComment && poster) {
      await postFailureComment(poster, prComment, {env: env.name, bin: deps.bin, sha, cancelled: deps.signal.aborted}).catch(() => undefined)
    }
    throw error
  } finally {
    await sampler.stop()
  }
}

export const renderEnvUp: Human<EnvUpResult> = (result) => {
  if (result.dryRun) return dryRunText(result.plan)
  const lines = [`✓ Environment ${result.env} of ${result.service} is ${result.updated ? 'updated' : 'up'} (namespace ${result.namespace} on ${result.cluster}, ${result.driver} driver)`]
  if (result.url) lines.push(`  URL:        ${result.url}`)
  lines.push(`  Kubeconfig: ${result.kubeconfig}   (export KUBECONFIG=${shellQuote([result.kubeconfig])})`)
  lines.push(`  Expires:    ${result.expiresAt ?? 'never'}`)
  if (result.prComment) lines.push(`  PR comment: ${result.prComment}`)
  lines.push(`  Tear down:  ${result.teardown}`)
  return lines.join('\n')
}

/**
 * `idp env up`: bring up (or update) an ephemeral preview environment. Reads the config, the
 * commit and who runs it, checks the tools and the host cluster (never adopting a namespace idp
 * did not create), plans (plan-up.ts) and runs the plan or, for a dry run, returns it.
 */
import {PrerequisiteError, RemoteError, TimeoutError, UsageError} from '../cli/errors.js'
import {type Human, idpCommandOf, isCi, type Service} from '../cli/deps.js'
import {loadKubeClient} from '../cli/lazy.js'
import {assertDnsLabel, assertImageTag, assertSha} from '../cli/names.js'
import {parseDuration, parseTimeout} from '../config/duration.js'
import {resolveEnvironment} from '../config/environments.js'
import {globToRegExp} from '../config/glob.js'
import {loadConfig} from '../config/load.js'
import {expandTemplate} from '../config/template.js'
import {dryRunText, type JsonPlan, planForJson, shellQuote} from '../plan/format.js'
import {opResult, type StepRecord} from '../plan/types.js'
import type {ImageCheck} from '../registry/client.js'
import * as context from './context.js'
import {envStatePaths, JOURNALS, withPluginCache} from './paths.js'
import {ENV_STEP, type EnvUpMetadata, envReleaseNamespace, lockOf, planEnvUp} from './plan-up.js'
import {postFailureComment, prCommentPoster} from './pr-comment.js'
import {readSecretsOf} from '../secrets/read.js'
import type {SecretReadFact} from '../vault/secrets.js'
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
  /** Do not ask the registry whether the image exists (air-gapped clusters). */
  skipImageCheck?: boolean
}

export interface EnvUpResult extends Omit<EnvUpMetadata, 'update'> {
  /** The environment existed and was updated in place. */
  updated: boolean
  teardown: string
  dryRun: boolean
  plan: JsonPlan<EnvUpMetadata>
  steps?: StepRecord[]
  prComment?: string
  /** The image this run deploys and what its registry said (absent when .idp.yml has no image). */
  image?: ImageCheck
  /** The Secrets written from Vault: names, paths, versions and key names (never a value). */
  secrets?: SecretReadFact[]
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
  const previews = Object.keys(config.environments).filter((key) => key.includes('*'))
  const example = (previews[0] ?? 'pr-*').replace(/\*/gu, '1')
  if (request.env === undefined && pr === undefined && !previews.some((key) => globToRegExp(key).test(name))) {
    // The branch name is only a default: on main (or any branch no pattern matches) say what would work.
    throw new UsageError(`The branch "${git.branch}" names no preview environment: without ENV or --pr, env up uses the branch name ("${name}")${previews.length > 0 ? `, and the preview patterns in .idp.yml are ${previews.join(', ')}` : ', and .idp.yml has no preview pattern (a name with *)'}.`, {
      hint: previews.length > 0 ? `Name one: \`${idpCommandOf(deps, request.dir, ['env', 'up', example])}\`, or \`${idpCommandOf(deps, request.dir, ['env', 'up', '--pr', '1'])}\` for pull request 1.` : 'Add a preview pattern such as "pr-*" under environments: in .idp.yml.',
    })
  }
  const env = resolveEnvironment(config, name, {root: loaded.root, vars: context.templateVars({pr, sha, branch: git.branch})})
  if (env.protected) {
    throw new UsageError(`Environment ${name} is protected; \`${deps.bin} env up\` manages ephemeral environments only.`, {hint: `Deploy to protected environments with \`${idpCommandOf(deps, request.dir, ['deploy', name])}\`.`})
  }
  if (!env.pattern) {
    // A fixed environment (staging) is where `deploy` delivers: a preview's helm release, Terraform
    // workspace and expiry there would collide with what Argo CD or deploy manage.
    throw new UsageError(`Environment ${name} is a fixed environment, which \`${deps.bin} deploy\` manages; \`${deps.bin} env up\` creates preview environments, whose names match a pattern (${previews.length > 0 ? previews.join(', ') : 'none in .idp.yml'}).`, {
      hint: `Deploy to it with \`${idpCommandOf(deps, request.dir, ['deploy', name])}\`${previews.length > 0 ? `, or create a preview: \`${idpCommandOf(deps, request.dir, ['env', 'up', example])}\`` : ''}.`,
    })
  }
  // Where the Terraform state goes (the module's files): local state in CI is refused before anything else.
  const terraformState = env.terraform ? await terraformStateOf(env) : undefined
  let stateProblem: PrerequisiteError | undefined
  if (terraformState?.backend === 'local') {
    const problem = localStateProblem(env)
    if (isCi(deps.env) && !dryRun) stateProblem = new PrerequisiteError(problem.message, {hint: problem.hint})
    else deps.out.warn(isCi(deps.env) ? `${problem.message} (a real run stops here) ${problem.hint}` : localStateWarning(env))
  }
  // The tag helm gets, wherever it came from (a flag, image.tag of .idp.yml filled from GITHUB_SHA...), is checked before any change.
  const imageTag = request.imageTag ?? (config.image ? assertImageTag(expandTemplate(config.image.tag, {...env.vars}, 'image.tag'), 'image.tag of .idp.yml') : undefined)
  if (env.driver === 'vcluster' && !env.vcluster?.server) {
    deps.out.warn(`vcluster.server is not set for ${env.key}: \`vcluster connect --print\` then port-forwards, which works only while it keeps running. Set vcluster.server to where the virtual cluster's API is exposed (ingress or LoadBalancer).`)
  }
  // The registry (is the image there?) and the cluster are asked (read-only) while the version
  // probes run; local state in CI, missing tools, a missing image and an unreachable cluster are
  // reported together, before any change.
  const imageLookup = context.startImageCheck(config, imageTag, {skip: request.skipImageCheck === true, env: deps.env, signal: deps.signal, timeoutMs})
  imageLookup?.catch(() => {})
  const hostLookup = dryRun ? undefined : context.inspectHost(env, deps.stateDir, deps.env, terraformState)
  hostLookup?.catch(() => {})
  const [tools, image, hostAnswer] = await Promise.all([
    context.checkTools(deps.runner, context.envTools(env), {required: !dryRun}),
    imageLookup,
    hostLookup?.then(
      (state) => ({state}),
      (error: unknown) => ({error}),
    ),
  ])
  for (const problem of tools.problems) deps.out.warn(`${problem} (a real run stops here)`)
  if (dryRun && image?.problem) deps.out.warn(`${image.problem.message} (a real run stops here)`)
  // Every missing prerequisite at once: tools, the image, and the cluster (context, credentials, reachability).
  const hostProblem = hostAnswer && 'error' in hostAnswer ? hostAnswer.error : undefined
  if (hostProblem !== undefined && !(hostProblem instanceof PrerequisiteError || hostProblem instanceof RemoteError || hostProblem instanceof TimeoutError)) throw hostProblem
  context.assertPrerequisites([...(stateProblem ? [stateProblem] : []), ...tools.errors, ...(image?.problem && !dryRun ? [image.problem] : []), ...(hostProblem ? [hostProblem] : [])])

  const paths = await withPluginCache(envStatePaths(deps.stateDir, env.service, env.name, env.cluster.alias), deps.env, env.terraform !== undefined)
  let existing: 'ours' | 'none' | undefined
  if (hostAnswer && 'state' in hostAnswer) {
    const host = hostAnswer.state
    if (host.found === 'foreign') {
      throw new UsageError(`Namespace ${env.namespace} already exists on cluster ${env.cluster.alias} and is not an idp environment of ${env.service}/${env.name}.`, {
        hint: 'idp never adopts a namespace it did not create. Change environments.<name>.namespace in .idp.yml, or remove that namespace if it is unused.',
        details: {namespace: env.namespace, labels: host.foreignLabels},
      })
    }
    existing = host.found === 'ours' ? 'ours' : 'none'
  }
  // Every secret is read now, before any change: a missing path, key or permission stops here.
  const secretsRead = dryRun || !env.secrets ? undefined : await readSecretsOf(env.secrets, deps)
  // A PR comment needs a token; without one the step is left out rather than failing.
  const target = context.prTarget(config, pr, deps.env)
  const poster = target ? await prCommentPoster(config, deps.env) : undefined
  const prComment = poster ? target : undefined
  const holder = context.lockHolder(git.owner)
  const plan = planEnvUp(
    {env, imageTag, ...(imageTag && config.image ? {imageRepository: config.image.repository} : {}), ttlMs, timeoutMs, ...(prComment ? {prComment} : {})},
    {helmMajor: tools.helmMajor, owner: git.owner, holder, sha, pr: pr ?? (env.vars.pr === undefined ? undefined : Number(env.vars.pr)), now: deps.now(), paths, existing, tools: tools.tools, ...(secretsRead ? {secrets: secretsRead.facts} : {}), ...(terraformState ? {terraformState} : {})},
  )
  // The result describes the environment exactly as the plan does.
  const {update, ...about} = plan.metadata
  const base = {...about, updated: update, teardown: idpCommandOf(deps, request.dir, ['env', 'down', env.name]), plan: planForJson(plan, deps.runner), ...(image ? {image: image.check} : {})}
  if (dryRun) return {...base, dryRun: true}

  const [{createEnvHandlers, createEvidenceSampler, releaseEnvLock, withHelmEvidence}] = (await preload)!
  const sampler = createEvidenceSampler({kubeconfig: paths.kubeconfig, namespace: envReleaseNamespace(env)})
  const handlers = createEnvHandlers({runner: deps.runner, env: deps.env, github: poster, bin: deps.bin, now: deps.now, ...(secretsRead ? {secretValues: secretsRead.values} : {})})
  try {
    const applied = await deps.plans.apply(plan, {
      handlers,
      runner: withHelmEvidence(deps.runner, sampler),
      keepOnFailure: request.keepOnFailure,
      journal: {dir: paths.dir, key: JOURNALS['env up']},
      collectEvidence: async (step) => (step.id === ENV_STEP.helm ? sampler.evidence() : undefined),
    })
    const comment = opResult(plan, applied, ENV_STEP.prComment, 'github.prComment')
    return {...base, dryRun: false, steps: applied.steps, ...(comment ? {prComment: comment.url} : {}), ...(secretsRead ? {secrets: secretsRead.facts} : {})}
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
  if (result.secrets && result.secrets.length > 0) lines.push(`  Secrets:    ${result.secrets.map((secret) => `${secret.name} (${secret.source} v${secret.version})`).join(', ')}`)
  if (result.prComment) lines.push(`  PR comment: ${result.prComment}`)
  lines.push(`  Tear down:  ${result.teardown}`)
  return lines.join('\n')
}

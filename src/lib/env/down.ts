/**
 * `idp env down`: tear down an environment `idp env up` created. Only a namespace idp labelled
 * for this service and environment is touched; a foreign one is left alone with a warning. Every
 * step tolerates "already gone", so running it twice succeeds.
 */
import {type Deps, type Human, isCi, type Service} from '../cli/deps.js'
import {UsageError} from '../cli/errors.js'
import {assertDnsLabel} from '../cli/names.js'
import {writePrivateFile} from '../cli/paths.js'
import {parseTimeout} from '../config/duration.js'
import {resolveEnvironment} from '../config/environments.js'
import {loadConfig} from '../config/load.js'
import {dryRunText, type JsonPlan, planForJson} from '../plan/format.js'
import type {StepRecord} from '../plan/types.js'
import * as context from './context.js'
import {envStatePaths, JOURNALS, withPluginCache} from './paths.js'
import {type EnvDownMetadata, planEnvDown} from './plan-down.js'
import {terraformDeleteWorkspaceAction, terraformDestroyAction, terraformInitAction} from './plan-up.js'
import {commandLine} from '../plan/format.js'
import {localStateDownWarning, terraformStateOf} from './tf-state.js'
import {prCommentPoster} from './pr-comment.js'

export interface EnvDownRequest {
  dir: string
  /** ENV; default pr-N with `pr`. */
  env?: string
  pr?: string
  /** Limit for each teardown step, e.g. 10m. */
  timeout: string
  dryRun: boolean
  keepOnFailure: boolean
}

export interface EnvDownResult {
  env: string
  service: string
  namespace: string
  cluster: string
  /** ours: torn down; absent: already gone; foreign: a namespace idp does not own, left alone; unknown: not looked (dry run). */
  found: 'ours' | 'absent' | 'foreign' | 'unknown'
  alreadyGone: boolean
  dryRun: boolean
  plan: JsonPlan<EnvDownMetadata>
  steps?: StepRecord[]
}

export const envDown: Service<EnvDownRequest, EnvDownResult> = async (request, deps: Deps) => {
  if (request.env !== undefined) assertDnsLabel(request.env, 'environment name')
  const pr = context.parsePr(request.pr)
  if (request.env === undefined && pr === undefined) throw new UsageError('Missing environment name.', {hint: `Pass ENV (e.g. \`${deps.bin} env down pr-42\`) or --pr N.`})
  const timeoutMs = parseTimeout(request.timeout)

  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const {config} = loaded
  const name = context.defaultEnvName({env: request.env, pr})
  // Templates in the settings may use {{sha}}/{{branch}}; down must work from any checkout, so fill them loosely.
  const git = await context.gitFacts(deps.runner, request.dir, deps.env)
  const env = resolveEnvironment(config, name, {root: loaded.root, vars: context.templateVars({pr, sha: git.sha ?? 'unknown', branch: git.branch ?? 'unknown'})})
  if (env.protected) throw new UsageError(`Environment ${name} is protected; idp env down refuses it.`, {hint: 'Remove `protected: true` from .idp.yml first if you really mean to tear it down.'})

  const paths = await withPluginCache(envStatePaths(deps.stateDir, env.service, env.name, env.cluster.alias), deps.env, env.terraform !== undefined)
  const terraformState = env.terraform ? await terraformStateOf(env) : undefined
  if (terraformState?.backend === 'local' && isCi(deps.env)) {
    deps.out.warn(localStateDownWarning(env))
  }
  let found: EnvDownResult['found'] = 'unknown'
  let driver: 'vcluster' | 'namespace' | undefined
  // A dry run does not look at the cluster: it shows the full teardown.
  if (!request.dryRun) {
    const host = await context.inspectHost(env, deps.stateDir, deps.env, terraformState)
    found = host.found
    driver = host.driver
    if (host.found === 'foreign') {
      deps.out.warn(`Namespace ${env.namespace} is not labelled as idp's environment ${env.service}/${env.name} (app.kubernetes.io/managed-by=idp, idp.dev/service, idp.dev/env); nothing was deleted.`)
    }
    if (host.found === 'absent' && env.terraform) {
      // The destroy below reads the variables from this file: written now, so the commands run as printed.
      await writePrivateFile(paths.tfVars, `${JSON.stringify(env.terraform.vars, null, 2)}\n`)
      const destroy = [terraformInitAction(env, paths, terraformState), terraformDestroyAction(env, paths), terraformDeleteWorkspaceAction(env, paths)].map((action) => commandLine(action, deps.runner.removedEnv(action.env)))
      deps.out.warn(
        `No namespace ${env.namespace} on ${env.cluster.alias}: idp has no record that it created ${env.service}/${env.name}, so Terraform workspace ${env.terraform.workspace} was left alone. If it holds this environment's resources, destroy them with:\n${destroy.map((line) => `  ${line}`).join('\n')}`,
      )
    }
  }
  const target = context.prTarget(config, pr, deps.env)
  const poster = target ? await prCommentPoster(config, deps.env) : undefined
  const prComment = poster ? target : undefined
  const plan = planEnvDown({env, found: found === 'unknown' ? 'ours' : found, ...(driver ? {driver} : {}), timeoutMs, ...(prComment ? {prComment} : {})}, {holder: context.lockHolder(git.owner), paths, ...(terraformState ? {terraformState} : {})})
  const base = {env: env.name, service: env.service, namespace: env.namespace, cluster: env.cluster.alias, found, alreadyGone: found === 'absent', plan: planForJson(plan, deps.runner)}
  if (request.dryRun) return {...base, dryRun: true}
  const {createEnvHandlers} = await import('./handlers.js')
  const applied = await deps.plans.apply(plan, {
    handlers: createEnvHandlers({runner: deps.runner, env: deps.env, github: poster, bin: deps.bin, now: deps.now}),
    keepOnFailure: request.keepOnFailure,
    journal: {dir: paths.dir, key: JOURNALS['env down']},
  })
  return {...base, dryRun: false, steps: applied.steps}
}

export const renderEnvDown: Human<EnvDownResult> = (result) => {
  if (result.dryRun) return dryRunText(result.plan)
  if (result.found === 'foreign') return `Nothing deleted: namespace ${result.namespace} on ${result.cluster} is not idp's environment ${result.service}/${result.env}.`
  if (result.found === 'absent') return `✓ Environment ${result.env} of ${result.service} is already gone (no namespace ${result.namespace} on ${result.cluster}); local files and leftovers cleaned up.`
  return `✓ Environment ${result.env} of ${result.service} torn down (namespace ${result.namespace} on ${result.cluster}).`
}

/**
 * `idp doctor`: are the tools, clusters and tokens this repository needs in place? What is
 * required follows from .idp.yml (without one only git is); a failing check carries the next
 * step. Exits 4 when something required is missing, 3 when .idp.yml is invalid.
 */
import os from 'node:os'
import path from 'node:path'

import {type Deps, type Human, idpCommandOf, type Service} from '../cli/deps.js'
import {ConfigError, type IdpError, PrerequisiteError, UsageError} from '../cli/errors.js'
import {assertDnsLabel, assertImageTag} from '../cli/names.js'
import {table} from '../cli/output.js'
import {kubeconfigFile, type ResolvedEnvironment, resolveEnvironment, resolveSecrets} from '../config/environments.js'
import {expandTemplate} from '../config/template.js'
import {envTools, gitFacts, startImageCheck, templateVars} from '../env/context.js'
import {loadConfig} from '../config/load.js'
import {kubectlCommand} from '../plan/format.js'
import type {IdpConfig} from '../config/schema.js'
import type {ToolInfo, ToolName} from '../tools/types.js'

export interface DoctorRequest {
  dir: string
  /** --env: check what this environment needs (its tools, its cluster, its secrets, its image) instead of the whole file. */
  env?: string
}

export interface DoctorCheck {
  name: string
  kind: 'tool' | 'config' | 'context' | 'token' | 'vault' | 'image'
  /** `fail` only for checks the config needs; an unmet optional check is a `warn`. */
  status: 'ok' | 'warn' | 'fail'
  required: boolean
  version?: string
  path?: string
  minimum?: string
  /** One line for people: what was found. */
  detail?: string
  hint?: string
}

export interface DoctorResult {
  checks: DoctorCheck[]
  ok: boolean
  /** The environment checked (--env). */
  env?: string
}

const TOOLS: readonly ToolName[] = ['git', 'helm', 'kubectl', 'terraform', 'vcluster', 'argocd']

/** Why the config needs each tool; absent means optional. */
export function neededTools(config: IdpConfig | undefined): Partial<Record<ToolName, string>> {
  const needed: Partial<Record<ToolName, string>> = {git: 'always'}
  if (!config) return needed
  const environments = Object.values(config.environments ?? {})
  // kubectl is not among them: idp talks to Kubernetes itself; kubectl only runs the commands idp prints.
  if (environments.length > 0) needed.helm = 'environments are defined'
  if (environments.some((env) => env.terraform)) needed.terraform = 'an environment uses terraform'
  if (environments.some((env) => env.driver === 'vcluster')) needed.vcluster = 'an environment uses driver vcluster'
  if (config.deploy?.strategy === 'argocd') needed.argocd = 'deploy.strategy is argocd'
  return needed
}

/** What one environment needs: its tools (a fixed environment's deploy tool too). */
function environmentTools(config: IdpConfig, env: ResolvedEnvironment): Partial<Record<ToolName, string>> {
  const needed: Partial<Record<ToolName, string>> = {git: 'always'}
  for (const tool of envTools(env)) needed[tool] = tool === 'vcluster' ? `${env.name} uses driver vcluster` : `${env.name} uses ${tool}`
  if (!env.pattern) needed[config.deploy?.strategy === 'argocd' ? 'argocd' : 'helm'] = `idp deploy ${env.name} uses it (deploy.strategy ${config.deploy?.strategy ?? 'helm'})`
  return needed
}

export function toolCheck(info: ToolInfo, why: string | undefined): DoctorCheck {
  const required = why !== undefined
  const base = {name: info.tool, kind: 'tool' as const, required, minimum: info.minimum, ...(info.path ? {path: info.path} : {}), ...(info.version ? {version: info.version} : {})}
  const need = required ? `needed: ${why}` : 'optional'
  switch (info.status) {
    case 'ok':
      return {...base, status: 'ok', detail: `${info.version} at ${info.path}`}
    case 'unknown-version':
      return {...base, status: 'warn', detail: `found at ${info.path}, version unreadable (needs ${info.minimum})`, hint: `Check \`${info.tool} version\` by hand. ${info.installHint}`}
    case 'too-old':
      return {...base, status: required ? 'fail' : 'warn', detail: `${info.version} at ${info.path} is too old (needs ${info.minimum}; ${need})`, hint: info.installHint}
    default:
      return {...base, status: required ? 'fail' : 'warn', detail: `not found on PATH (${need})`, hint: info.installHint}
  }
}

export const doctor: Service<DoctorRequest, DoctorResult> = async (request, deps: Deps) => {
  const checks: DoctorCheck[] = []
  let config: IdpConfig | undefined
  let root = request.dir
  let configError: ConfigError | undefined
  try {
    const loaded = await loadConfig({dir: request.dir, env: deps.env})
    if (loaded) {
      config = loaded.config
      root = loaded.root
      checks.push({name: 'config', kind: 'config', status: 'ok', required: true, path: loaded.filepath, detail: `${path.relative(process.cwd(), loaded.filepath) || loaded.filepath} is valid`})
    } else {
      checks.push({name: 'config', kind: 'config', status: 'warn', required: false, detail: `no .idp.yml in ${request.dir} (only git is required)`, hint: `Create one with \`${deps.bin} create\`; every key is explained in \`${deps.bin} config example\`.`})
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    configError = error
    checks.push({name: 'config', kind: 'config', status: 'fail', required: true, detail: error.message.split('\n')[0], hint: error.hint ?? `Run \`${idpCommandOf(deps, request.dir, ['config', 'validate'])}\` to see every problem.`})
  }

  if (request.env !== undefined && !config) {
    if (configError) throw configError
    throw new UsageError(`--env ${request.env} needs an .idp.yml; there is none in ${request.dir}.`, {hint: `Run \`${idpCommandOf(deps, request.dir, ['doctor'])}\` without --env, or create the service with \`${deps.bin} create\`.`})
  }
  // --env: the environment as env up or deploy would resolve it (an unknown name is a usage error before any check).
  let env: ResolvedEnvironment | undefined
  let git: Awaited<ReturnType<typeof gitFacts>> | undefined
  if (config && request.env !== undefined) {
    assertDnsLabel(request.env, 'environment name')
    git = await gitFacts(deps.runner, root, deps.env)
    env = resolveEnvironment(config, request.env, {root, vars: templateVars({sha: git.sha, branch: git.branch})})
  }

  const needed = config && env ? environmentTools(config, env) : neededTools(config)
  const imageLookup = config && env ? imageCheck(config, env, deps) : undefined
  imageLookup?.catch(() => {})
  const infos = await Promise.all(TOOLS.map((tool) => deps.runner.resolve(tool)))
  checks.push(...infos.map((info) => toolCheck(info, needed[info.tool])))
  if (config) checks.push(...(await contextChecks(config, root, deps.env, env?.cluster.alias)))
  if (config?.repo?.provider === 'github') checks.push(githubTokenCheck(deps.env, config.repo.publish === true))
  if (config && vaultPathsToCheck(config, root, env?.name).length > 0) checks.push(...(await vaultChecks(config, root, deps, env?.name)))
  const image = await imageLookup
  if (image) checks.push(image)

  const ok = !checks.some((check) => check.status === 'fail')
  const result: DoctorResult = {checks, ok, ...(env ? {env: env.name} : {})}
  if (ok) return result

  // Failing: the report still matters, so it is shown (stderr in human mode) before the error.
  deps.out.report(renderDoctor(result, {bin: deps.bin, cwd: process.cwd(), now: deps.now(), dir: request.dir})!)
  const failed = checks.filter((check) => check.status === 'fail')
  if (configError) throw new ConfigError(configError.message, configError.problems, {hint: configError.hint, details: {checks, ok}})
  throw new PrerequisiteError(`${failed.length} required check${failed.length === 1 ? '' : 's'} failed: ${failed.map((check) => check.name).join(', ')}.`, {
    hint: failed.length === 1 && failed[0]!.hint ? failed[0]!.hint : `Fix the items marked ✗ above (each has a hint) and run \`${idpCommandOf(deps, request.dir, ['doctor', ...(env ? ['--env', env.name] : [])])}\` again.`,
    details: {checks, ok},
  })
}

/** Is the image the environment would run in its registry? (The tag as env up and deploy compute it.) */
async function imageCheck(config: IdpConfig, env: ResolvedEnvironment, deps: Deps): Promise<DoctorCheck | undefined> {
  if (!config.image) return undefined
  let tag: string
  try {
    tag = assertImageTag(expandTemplate(config.image.tag, {...env.vars}, 'image.tag'), 'image.tag of .idp.yml')
  } catch (error) {
    const problem = error as IdpError
    return {name: 'image', kind: 'image', status: 'fail', required: true, detail: problem.message, ...(problem.hint ? {hint: problem.hint} : {})}
  }
  const outcome = await startImageCheck(config, tag, {skip: false, env: deps.env, signal: deps.signal, timeoutMs: 30_000})
  if (!outcome) return undefined
  const {check, problem} = outcome
  if (!problem) return {name: 'image', kind: 'image', status: 'ok', required: true, detail: `${check.image} exists${check.digest ? ` (${check.digest.slice(0, 19)}…)` : ''}`}
  return {name: 'image', kind: 'image', status: 'fail', required: true, detail: problem.message, ...(problem.hint ? {hint: problem.hint} : {})}
}

async function contextChecks(config: IdpConfig, root: string, env: NodeJS.ProcessEnv, only?: string): Promise<DoctorCheck[]> {
  const used = new Set(only ? [only] : Object.values(config.environments ?? {}).map((e) => e.cluster))
  const [{resolveContext}, {checkReachable, reachTargetOf}] = await Promise.all([import('../kube/kubeconfig.js'), import('../kube/reach.js')])
  return Promise.all(
    Object.entries(config.clusters ?? {})
      .filter(([alias]) => !only || alias === only)
      .map(async ([alias, cluster]): Promise<DoctorCheck> => {
      const required = used.has(alias)
      const name = `context ${cluster.context}`
      const failStatus = required ? 'fail' : 'warn'
      const kubeconfigPath = cluster.kubeconfig ? kubeconfigFile(cluster.kubeconfig, root, env.HOME || os.homedir()) : undefined
      // The hint reaches what doctor reached: the configured kubeconfig, else the one the shell names.
      const kubectl = (...argv: string[]) => kubectlCommand(kubeconfigPath, ['--context', cluster.context, ...argv])
      try {
        const context = await resolveContext({context: cluster.context, kubeconfigPath, env})
        const reach = await checkReachable(await reachTargetOf(context), 5000)
        const where = `cluster ${alias}, ${context.cluster.server}`
        if (reach.ok) return {name, kind: 'context', status: 'ok', required, ...(reach.version ? {version: reach.version} : {}), detail: `reachable (${where}${reach.version ? `, Kubernetes ${reach.version}` : ''})`}
        if (reach.reachable) {
          return {
            name,
            kind: 'context',
            status: 'warn',
            required,
            detail: `answers but ${reach.error} (${where})`,
            hint: context.user.usesPlugin ? `The context uses a credential plugin, which doctor does not run; try \`${kubectl('version')}\`.` : `Check the credentials of this context (\`${kubectl('auth', 'whoami')}\`).`,
          }
        }
        return {name, kind: 'context', status: failStatus, required, detail: `unreachable: ${reach.error} (${where})`, hint: `Start the cluster or fix the context's server, then check with \`${kubectl('version')}\`.`}
      } catch (error) {
        const problem = error as PrerequisiteError
        return {name, kind: 'context', status: failStatus, required, detail: problem.message, ...(problem.hint ? {hint: problem.hint} : {})}
      }
    }),
  )
}

/**
 * The API paths of every configured secret (`<mount>/data/<path>`), placeholders filled with a
 * sample: an environment key's `*` becomes 0 (pr-* → pr-0), {{pr}} 0, {{sha}} 0000000,
 * {{branch}} main. What a path pattern in a Vault policy (`shop/+/db`, `shop/pr-*`) is checked against.
 */
export function vaultPathsToCheck(config: IdpConfig, root: string, only?: string): string[] {
  if (!config.secrets) return []
  const paths = new Set<string>()
  for (const key of only ? [only] : Object.keys(config.secrets.env)) {
    const name = key.replaceAll('*', '0')
    try {
      const resolved = resolveSecrets(config, name, {env: name, service: config.service.name, pr: 0, sha: '0000000', branch: 'main'}, root)
      for (const item of resolved?.items ?? []) paths.add(`${resolved!.vault.mount}/data/${item.path}`)
    } catch {
      // A path that does not expand is config validate's to report.
    }
  }
  return [...paths].sort()
}

/** Vault reachable with a token (found as env up would find it), and the token may read every configured path; never a value. */
async function vaultChecks(config: IdpConfig, root: string, deps: Deps, only?: string): Promise<DoctorCheck[]> {
  const {capabilitiesSelf, revokeToken, vaultTarget, vaultToken} = await import('../vault/client.js')
  const paths = vaultPathsToCheck(config, root, only)
  const sample = resolveSecrets(config, Object.keys(config.secrets!.env)[0]!.replaceAll('*', '0'), {pr: 0, sha: '0000000', branch: 'main', env: 'x'}, root)!
  const fail = (detail: string, hint?: string): DoctorCheck[] => [{name: 'vault', kind: 'vault', status: 'fail', required: true, detail, ...(hint ? {hint} : {})}]
  let target: Awaited<ReturnType<typeof vaultTarget>>
  let token: Awaited<ReturnType<typeof vaultToken>>
  try {
    target = await vaultTarget(sample.vault, deps.env)
    token = await vaultToken(target, sample.vault.auth, {env: deps.env, signal: deps.signal})
  } catch (error) {
    const problem = error as PrerequisiteError
    return fail(problem.message, problem.hint)
  }
  try {
    const caps = await capabilitiesSelf(target, token.token, paths, deps.signal)
    const where = `${target.address}${target.namespace ? ` (namespace ${target.namespace})` : ''}, address from ${target.from.address}`
    const vault: DoctorCheck = {name: 'vault', kind: 'vault', status: 'ok', required: true, detail: `reachable at ${where}; token from ${token.source}`}
    const unreadable = paths.filter((p) => !caps[p]?.some((cap) => cap === 'read' || cap === 'root'))
    const pathsCheck: DoctorCheck =
      unreadable.length === 0
        ? {name: 'vault paths', kind: 'vault', status: 'ok', required: true, detail: `the token may read ${paths.length} configured path${paths.length === 1 ? '' : 's'}`}
        : {
            name: 'vault paths',
            kind: 'vault',
            status: 'fail',
            required: true,
            detail: `no read capability on ${unreadable.map((p) => `${p} (${(caps[p] ?? []).join(', ') || 'none'})`).join(', ')}`,
            hint: `Ask for a policy granting read on ${unreadable.length === 1 ? 'that path' : 'those paths'}; check with \`vault token capabilities ${unreadable[0]}\`.`,
          }
    return [vault, pathsCheck]
  } catch (error) {
    const problem = error as PrerequisiteError
    return fail(problem.message, problem.hint)
  } finally {
    await revokeToken(target, token).catch(() => undefined)
  }
}

export const renderDoctor: Human<DoctorResult> = (result) => {
  const mark = {ok: '✓', warn: '!', fail: '✗'}
  const rows = result.checks.map((check) => [mark[check.status], check.name, check.status, check.detail ?? ''])
  const hints = result.checks.filter((check) => check.status !== 'ok' && check.hint).map((check) => `  ${mark[check.status]} ${check.name}: ${check.hint}`)
  const what = result.env ? `environment ${result.env}` : 'this repository'
  const verdict = result.ok ? `Everything ${what} needs is in place.` : 'Some required checks failed.'
  return [table(['', 'CHECK', 'STATUS', 'DETAIL'], rows), ...(hints.length > 0 ? ['', 'Next steps:', ...hints] : []), '', verdict].join('\n')
}

/** The token's presence and source only; its value is never part of the result. */
export function githubTokenCheck(env: NodeJS.ProcessEnv, publish: boolean): DoctorCheck {
  const source = ['GITHUB_TOKEN', 'GH_TOKEN'].find((name) => env[name])
  if (source) return {name: 'github token', kind: 'token', status: 'ok', required: publish, detail: `set (from ${source})`}
  // Needed only to publish (repo.publish) or to comment on pull requests; without it those are skipped with a warning.
  return {
    name: 'github token',
    kind: 'token',
    status: publish ? 'fail' : 'warn',
    required: publish,
    detail: publish ? 'not set (repo.publish is true)' : 'not set (optional: needed by create --publish and for pull-request comments of env up --pr)',
    hint: 'Export GITHUB_TOKEN (or GH_TOKEN) with a token that can create repositories and pull-request comments, e.g. `export GITHUB_TOKEN=$(gh auth token)`.',
  }
}

/**
 * `idp doctor`: are the tools, clusters and tokens this repository needs in place? What is
 * required follows from .idp.yml (without one only git is); a failing check carries the next
 * step. Exits 4 when something required is missing, 3 when .idp.yml is invalid.
 */
import os from 'node:os'
import path from 'node:path'

import type {Deps, Human, Service} from '../cli/deps.js'
import {ConfigError, PrerequisiteError} from '../cli/errors.js'
import {table} from '../cli/output.js'
import {kubeconfigFile} from '../config/environments.js'
import {loadConfig} from '../config/load.js'
import {shellQuote} from '../plan/format.js'
import type {IdpConfig} from '../config/schema.js'
import type {ToolInfo, ToolName} from '../tools/types.js'

export interface DoctorRequest {
  dir: string
}

export interface DoctorCheck {
  name: string
  kind: 'tool' | 'config' | 'context' | 'token'
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
}

const TOOLS: readonly ToolName[] = ['git', 'helm', 'kubectl', 'terraform', 'vcluster', 'argocd']

/** Why the config needs each tool; absent means optional. */
export function neededTools(config: IdpConfig | undefined): Partial<Record<ToolName, string>> {
  const needed: Partial<Record<ToolName, string>> = {git: 'always'}
  if (!config) return needed
  const environments = Object.values(config.environments ?? {})
  if (environments.length > 0) {
    needed.helm = 'environments are defined'
    needed.kubectl = 'environments are defined'
  }
  if (environments.some((env) => env.terraform)) needed.terraform = 'an environment uses terraform'
  if (environments.some((env) => env.driver === 'vcluster')) needed.vcluster = 'an environment uses driver vcluster'
  if (config.deploy?.strategy === 'argocd') needed.argocd = 'deploy.strategy is argocd'
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
      checks.push({name: 'config', kind: 'config', status: 'warn', required: false, detail: `no .idp.yml in ${request.dir} (only git is required)`, hint: `Create one with \`${deps.bin} create\`, or see .idp.yml.example.`})
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    configError = error
    checks.push({name: 'config', kind: 'config', status: 'fail', required: true, detail: error.message.split('\n')[0], hint: error.hint ?? `Run \`${deps.bin} config validate\` to see every problem.`})
  }

  const needed = neededTools(config)
  const infos = await Promise.all(TOOLS.map((tool) => deps.runner.resolve(tool)))
  checks.push(...infos.map((info) => toolCheck(info, needed[info.tool])))
  if (config) checks.push(...(await contextChecks(config, root, deps.env)))
  if (config?.repo?.provider === 'github') checks.push(githubTokenCheck(deps.env))

  const ok = !checks.some((check) => check.status === 'fail')
  const result: DoctorResult = {checks, ok}
  if (ok) return result

  // Failing: the report still matters, so it is shown (stderr in human mode) before the error.
  deps.out.report(renderDoctor(result, {bin: deps.bin, cwd: process.cwd(), now: deps.now(), dir: request.dir})!)
  const failed = checks.filter((check) => check.status === 'fail')
  if (configError) throw new ConfigError(configError.message, configError.problems, {hint: configError.hint, details: {checks, ok}})
  throw new PrerequisiteError(`${failed.length} required check${failed.length === 1 ? '' : 's'} failed: ${failed.map((check) => check.name).join(', ')}.`, {
    hint: failed.length === 1 && failed[0]!.hint ? failed[0]!.hint : `Fix the items marked ✗ above (each has a hint) and run \`${deps.bin} doctor\` again.`,
    details: {checks, ok},
  })
}

async function contextChecks(config: IdpConfig, root: string, env: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  const used = new Set(Object.values(config.environments ?? {}).map((e) => e.cluster))
  const [{resolveContext}, {checkReachable, reachTargetOf}] = await Promise.all([import('../kube/kubeconfig.js'), import('../kube/reach.js')])
  return Promise.all(
    Object.entries(config.clusters ?? {}).map(async ([alias, cluster]): Promise<DoctorCheck> => {
      const required = used.has(alias)
      const name = `context ${cluster.context}`
      const failStatus = required ? 'fail' : 'warn'
      const kubeconfigPath = cluster.kubeconfig ? kubeconfigFile(cluster.kubeconfig, root, env.HOME || os.homedir()) : undefined
      // The hint reaches what doctor reached: the configured kubeconfig, else the one the shell names.
      const kubectl = (...argv: string[]) => `${kubeconfigPath ? `KUBECONFIG=${shellQuote([kubeconfigPath])} ` : ''}${shellQuote(['kubectl', '--context', cluster.context, ...argv])}`
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

export const renderDoctor: Human<DoctorResult> = (result) => {
  const mark = {ok: '✓', warn: '!', fail: '✗'}
  const rows = result.checks.map((check) => [mark[check.status], check.name, check.status, check.detail ?? ''])
  const hints = result.checks.filter((check) => check.status !== 'ok' && check.hint).map((check) => `  ${mark[check.status]} ${check.name}: ${check.hint}`)
  const verdict = result.ok ? 'Everything this repository needs is in place.' : 'Some required checks failed.'
  return [table(['', 'CHECK', 'STATUS', 'DETAIL'], rows), ...(hints.length > 0 ? ['', 'Next steps:', ...hints] : []), '', verdict].join('\n')
}

/** The token's presence and source only; its value is never part of the result. */
export function githubTokenCheck(env: NodeJS.ProcessEnv): DoctorCheck {
  const source = ['GITHUB_TOKEN', 'GH_TOKEN'].find((name) => env[name])
  if (source) return {name: 'github token', kind: 'token', status: 'ok', required: true, detail: `set (from ${source})`}
  return {
    name: 'github token',
    kind: 'token',
    status: 'fail',
    required: true,
    detail: 'not set (repo.provider is github)',
    hint: 'Export GITHUB_TOKEN (or GH_TOKEN) with a token that can create repositories and pull-request comments, e.g. `export GITHUB_TOKEN=$(gh auth token)`.',
  }
}

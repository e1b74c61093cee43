/**
 * The facts `env up`/`env down` gather before planning: config, the resolved environment, who
 * runs it, the commit, the helm major and the local paths. Everything that reads the world is
 * here, so the planners stay pure. Heavy modules load on demand.
 */
import os from 'node:os'

import {type IdpError, type IdpErrorOptions, PrerequisiteError, type RemoteError, type TimeoutError, toIdpError, UsageError} from '../cli/errors.js'
import {assertDnsLabel} from '../cli/names.js'
import type {ResolvedEnvironment} from '../config/environments.js'
import type {IdpConfig} from '../config/schema.js'
import type {TemplateVars} from '../config/template.js'
import {checkImage, type ImageCheckOutcome} from '../registry/client.js'
import {formatReference, imageToRun} from '../registry/reference.js'
import {type GitHead, readGitHead} from '../tools/git-files.js'
import {gitConfigIdentity} from '../tools/git.js'
import type {HelmMajor} from '../tools/helm.js'
import type {ToolName, ToolRunner} from '../tools/types.js'
import type {PrTarget} from './plan-up.js'
import type {TerraformState} from './tf-state.js'

/** A git branch as a DNS label: lower case, other characters as "-", at most 63. */
export function sanitizeBranch(branch: string): string {
  return branch
    .toLowerCase()
    .replace(/^refs\/heads\//u, '')
    .replace(/[^a-z0-9-]+/gu, '-')
    .replace(/-+/gu, '-')
    .replace(/^-+/u, '')
    .slice(0, 63)
    .replace(/-+$/u, '')
}

/** ENV when given, else `pr-N` from --pr, else the branch; validated as a DNS label before anything runs. */
export function defaultEnvName(input: {env?: string; pr?: number; branch?: string}): string {
  if (input.env) return assertDnsLabel(input.env, 'environment name')
  if (input.pr !== undefined) return `pr-${input.pr}`
  if (input.branch) {
    const name = sanitizeBranch(input.branch)
    if (name) return assertDnsLabel(name, 'environment name (from the git branch)')
  }
  throw new UsageError('Missing environment name.', {hint: 'Pass ENV (e.g. `idp env up pr-42`), or --pr N, or run inside a git checkout on a branch.'})
}

export function parsePr(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  if (!/^[1-9]\d{0,9}$/u.test(value)) throw new UsageError(`Invalid pull request number "${value}".`, {hint: 'Pass --pr with a positive number, e.g. --pr 42.'})
  return Number(value)
}

async function git(runner: ToolRunner, cwd: string, args: string[]): Promise<string | undefined> {
  try {
    const {stdout} = await runner.run('git', args, {cwd, allowedExitCodes: [0, 1, 128]})
    return stdout.trim() || undefined
  } catch {
    return undefined
  }
}

export interface GitFacts {
  branch?: string
  sha?: string
  owner: string
}

/**
 * Branch, commit and who is running, from CI variables first, then git (probed concurrently:
 * each git call is a process start), then the OS user. A known sha (--sha) is not looked up.
 */
export async function gitFacts(runner: ToolRunner, cwd: string, env: NodeJS.ProcessEnv = process.env, known: {sha?: string} = {}): Promise<GitFacts> {
  const read = (args: string[]) => git(runner, cwd, args)
  const needBranch = !(env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME)
  const needSha = !(known.sha || env.GITHUB_SHA)
  // HEAD from the repository's files when they are plain; git itself otherwise.
  const head = needBranch || needSha ? await readGitHead(cwd, env) : undefined
  const fromHead = (pick: (h: Extract<GitHead, {repository: true}>) => string | undefined, args: string[]) =>
    head === undefined ? read(args) : head.repository ? pick(head) : undefined
  const [branch, sha, identity] = await Promise.all([
    env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || fromHead((h) => h.branch, ['rev-parse', '--abbrev-ref', 'HEAD']),
    known.sha || env.GITHUB_SHA || fromHead((h) => h.sha, ['rev-parse', '--verify', '--quiet', 'HEAD']),
    env.GITHUB_ACTOR ? undefined : gitConfigIdentity(runner, cwd),
  ])
  const owner = env.GITHUB_ACTOR || identity?.email || identity?.name || os.userInfo().username
  return {...(branch && branch !== 'HEAD' ? {branch} : {}), ...(sha ? {sha} : {}), owner}
}

/** Who holds the environment's lock: readable for people, unique per process. */
export function lockHolder(owner: string): string {
  return `${owner} on ${os.hostname()} (pid ${process.pid})`
}

export interface ToolCheck {
  tools: Partial<Record<ToolName, string>>
  helmMajor: HelmMajor
  /** Missing or too old tools, when not required (dry run). */
  problems: string[]
  /** Missing or too old tools, when required (a real run): reported with the other prerequisites by assertPrerequisites. */
  errors: IdpError[]
}

/** The tools an environment's `up` needs: helm when it has a chart, terraform, vcluster for that driver. */
export function envTools(env: ResolvedEnvironment): ToolName[] {
  return [...(env.helm ? (['helm'] as const) : []), ...(env.terraform ? (['terraform'] as const) : []), ...(env.driver === 'vcluster' ? (['vcluster'] as const) : [])]
}

/**
 * Check tools: required for a real run (each missing or too old one a PrerequisiteError in
 * `errors`, exit 4), only looked at for a dry run (`problems`).
 */
export async function checkTools(runner: ToolRunner, needed: readonly ToolName[], options: {required: boolean}): Promise<ToolCheck> {
  const {helmMajor} = await import('../tools/versions.js')
  const tools: Partial<Record<ToolName, string>> = {}
  const problems: string[] = []
  const errors: IdpError[] = []
  let major: HelmMajor = 4
  // Version probes are process starts: run them together.
  const settled = await Promise.allSettled(needed.map((tool) => (options.required ? runner.require(tool) : runner.resolve(tool))))
  for (const outcome of settled) {
    if (outcome.status === 'rejected') {
      errors.push(toIdpError(outcome.reason))
      continue
    }
    const info = outcome.value
    const {tool} = info
    if (info.status === 'ok' && info.version) tools[tool] = info.version
    else problems.push(`${tool}: ${info.status}${info.version ? ` (${info.version})` : ''}; needs ${info.minimum}`)
    if (tool === 'helm' && info.version) major = helmMajor(info.version)
  }
  return {tools, helmMajor: major, problems, errors}
}

/**
 * Start checking that the image the command runs exists in its registry: `image.repository` of
 * .idp.yml with the command's tag. Undefined when there is nothing to check (no image in
 * .idp.yml, or no tag). A malformed image.repository is a ConfigError at once; the check itself
 * never rejects except on Ctrl-C (its problem is in the outcome).
 */
export function startImageCheck(
  config: IdpConfig,
  imageTag: string | undefined,
  options: {skip: boolean; env: NodeJS.ProcessEnv; signal: AbortSignal; timeoutMs: number},
): Promise<ImageCheckOutcome> | undefined {
  if (!config.image || !imageTag) return undefined
  const ref = imageToRun(config.image.repository, imageTag)
  if (options.skip) return Promise.resolve({check: {image: formatReference(ref), status: 'skipped', reason: '--skip-image-check'}})
  return checkImage(ref, {env: options.env, signal: options.signal, timeoutMs: options.timeoutMs})
}

type PrerequisiteProblem = PrerequisiteError | RemoteError | TimeoutError

/**
 * Stop before any change with every prerequisite problem at once (missing tools, a missing image):
 * one problem is thrown as it is; several as one error listing them all, with the exit code of
 * the first.
 */
export function assertPrerequisites(problems: readonly IdpError[]): void {
  const [first] = problems
  if (!first) return
  if (problems.length === 1) throw first
  const Kind = (first instanceof PrerequisiteError ? PrerequisiteError : first.constructor) as new (message: string, options: IdpErrorOptions) => PrerequisiteProblem
  throw new Kind(`${problems.length} prerequisites are not met:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`, {
    hint: problems.map((p) => p.hint).filter(Boolean).join('\n'),
    details: {problems: problems.map((p) => ({code: p.code, message: p.message, ...(p.hint ? {hint: p.hint} : {}), ...(p.details ? {details: p.details} : {})}))},
  })
}

/** The pull request to comment on, when there is one and a repository to find it in. */
export function prTarget(config: IdpConfig, pr: number | undefined, env: NodeJS.ProcessEnv = process.env): PrTarget | undefined {
  if (pr === undefined) return undefined
  const [ghOwner, ghRepo] = (env.GITHUB_REPOSITORY ?? '').split('/')
  const owner = config.repo?.owner ?? ghOwner
  const repo = config.repo?.name ?? (config.repo ? config.service.name : ghRepo)
  if (!owner || !repo) return undefined
  return {owner, repo, number: pr}
}

/** Template variables for the environment's settings. */
export function templateVars(input: {pr?: number; sha?: string; branch?: string}): TemplateVars {
  return {...(input.pr === undefined ? {} : {pr: input.pr}), ...(input.sha ? {sha: input.sha} : {}), ...(input.branch ? {branch: input.branch} : {})}
}

export interface HostState {
  found: 'ours' | 'absent' | 'foreign'
  /** The driver recorded on an idp namespace. */
  driver?: 'vcluster' | 'namespace'
  /** Labels of a namespace idp does not own, for the message. */
  foreignLabels?: Record<string, string>
}

/**
 * Connect to the host cluster (private kubeconfig, reachability checked) and look at the
 * environment's namespace. Read-only on the cluster; runs before the plan so a foreign namespace
 * or an unreachable cluster fails before any change.
 */
export async function inspectHost(env: ResolvedEnvironment, stateDir: string, processEnv?: NodeJS.ProcessEnv, terraformState?: TerraformState): Promise<HostState> {
  const [{connectCluster, findNamespace}, {ANNOTATIONS, isOwnedBy}] = await Promise.all([import('./cluster.js'), import('./labels.js')])
  const {clients, kubeconfig} = await connectCluster(env.cluster, {stateDir, requireReachable: true, ...(processEnv ? {env: processEnv} : {})})
  // Where the Terraform state goes is checked with the rest, before anything changes.
  if (terraformState?.backend === 'kubernetes') {
    const {checkStateNamespace} = await import('./tf-state.js')
    await checkStateNamespace(clients.core, terraformState, kubeconfig, `cluster ${env.cluster.alias}`)
  }
  const ns = await findNamespace(clients.core, env.namespace)
  if (!ns) return {found: 'absent'}
  if (!isOwnedBy(ns, env.service, env.name)) return {found: 'foreign', foreignLabels: ns.metadata?.labels ?? {}}
  const driver = ns.metadata?.annotations?.[ANNOTATIONS.driver]
  return {found: 'ours', ...(driver === 'vcluster' || driver === 'namespace' ? {driver} : {})}
}

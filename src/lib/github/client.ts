import {readFileSync} from 'node:fs'

import type {Octokit} from '@octokit/rest'

import {ConfigError, PrerequisiteError, RemoteError, UsageError} from '../cli/errors.js'
import {loadOctokit} from '../cli/lazy.js'
import {redact, registerSecret} from '../cli/redact.js'

/** The Octokit instance idp talks to GitHub with; lib functions take it so tests can point it at a stand-in. */
export type GitHubClient = Octokit

export const DEFAULT_API_URL = 'https://api.github.com'
export const DEFAULT_SERVER_URL = 'https://github.com'
const CONFIG_API_URL = 'github.apiUrl in .idp.yml'

export type TokenSource = 'GITHUB_TOKEN' | 'GH_TOKEN'
export type ApiUrlSource = 'IDP_GITHUB_API_URL' | 'config' | 'GITHUB_API_URL' | 'GITHUB_SERVER_URL' | 'default'

export interface GitHubSettings {
  token?: string
  tokenSource?: TokenSource
  apiUrl: string
  apiUrlSource: ApiUrlSource
  serverUrl: string
  actor?: string
  /** The pull request number when running in a GitHub Actions pull_request* event. */
  prNumber?: number
}

/** The part of `.idp.yml` this module reads; structural so it does not depend on the config schema module. */
export interface GitHubConfigLike {
  github?: {apiUrl?: string}
}

/**
 * Where idp finds GitHub, following the conventions of GitHub Actions and `gh`:
 * token from GITHUB_TOKEN (then GH_TOKEN), API from GITHUB_API_URL, web/git base from GITHUB_SERVER_URL.
 * The API URL precedence is IDP_GITHUB_API_URL > `.idp.yml` github.apiUrl > GITHUB_API_URL, because Actions
 * always sets GITHUB_API_URL and a repo pinned to an Enterprise host must win over the runner's default.
 */
export function githubSettings(env: NodeJS.ProcessEnv = process.env, config?: GitHubConfigLike): GitHubSettings {
  const settings: GitHubSettings = {apiUrl: DEFAULT_API_URL, apiUrlSource: 'default', serverUrl: DEFAULT_SERVER_URL}

  for (const name of ['GITHUB_TOKEN', 'GH_TOKEN'] as const) {
    const value = env[name]?.trim()
    if (value) {
      settings.token = value
      settings.tokenSource = name
      registerSecret(value)
      break
    }
  }

  const serverUrl = nonEmpty(env.GITHUB_SERVER_URL)
  if (serverUrl) settings.serverUrl = normaliseUrl(serverUrl, 'GITHUB_SERVER_URL')

  const apiCandidates: Array<[ApiUrlSource, string | undefined, string]> = [
    ['IDP_GITHUB_API_URL', env.IDP_GITHUB_API_URL, 'IDP_GITHUB_API_URL'],
    ['config', config?.github?.apiUrl, CONFIG_API_URL],
    ['GITHUB_API_URL', env.GITHUB_API_URL, 'GITHUB_API_URL'],
  ]
  const found = apiCandidates.find(([, value]) => nonEmpty(value))
  if (found) {
    settings.apiUrl = normaliseUrl(found[1] as string, found[2])
    settings.apiUrlSource = found[0]
    // An Enterprise API URL (https://HOST/api/v3) also tells where the web and git host is.
    if (!serverUrl && /\/api\/v3$/u.test(settings.apiUrl)) settings.serverUrl = settings.apiUrl.replace(/\/api\/v3$/u, '')
  } else if (settings.serverUrl !== DEFAULT_SERVER_URL) {
    // GitHub Enterprise Server serves its REST API under /api/v3 of the web host.
    settings.apiUrl = `${settings.serverUrl}/api/v3`
    settings.apiUrlSource = 'GITHUB_SERVER_URL'
  }

  const actor = nonEmpty(env.GITHUB_ACTOR)
  if (actor) settings.actor = actor

  const prNumber = pullRequestNumber(env)
  if (prNumber !== undefined) settings.prNumber = prNumber
  return settings
}

/** The token, or a PrerequisiteError (exit 4) saying how to provide one. */
export function requireToken(settings: Pick<GitHubSettings, 'token'>, purpose = 'talk to GitHub'): string {
  if (settings.token) return settings.token
  throw new PrerequisiteError(`A GitHub token is needed to ${purpose}, but neither GITHUB_TOKEN nor GH_TOKEN is set.`, {
    hint: 'export GITHUB_TOKEN=<a token with the repo scope>, or with the GitHub CLI: export GITHUB_TOKEN="$(gh auth token)". In GitHub Actions pass `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`.',
  })
}

export interface CreateGitHubClientOptions {
  token: string
  baseUrl?: string
  userAgent?: string
}

/** An Octokit for the REST API. Octokit is loaded here, lazily, so commands that never talk to GitHub stay fast. */
export async function createGitHubClient(options: CreateGitHubClientOptions): Promise<GitHubClient> {
  if (!options.token) requireToken({})
  registerSecret(options.token)
  const {Octokit} = await loadOctokit()
  const quiet = (): void => {}
  return new Octokit({
    auth: options.token,
    baseUrl: (options.baseUrl ?? DEFAULT_API_URL).replace(/\/+$/u, ''),
    userAgent: options.userAgent ?? 'idp',
    // Octokit logs deprecations with console.warn; route them through the redactor and keep stdout clean.
    log: {debug: quiet, info: quiet, warn: (message: string) => process.stderr.write(`${redact(message)}\n`), error: quiet},
  })
}

interface OctokitErrorLike {
  status?: number
  message?: string
  response?: {status?: number; headers?: Record<string, string | number | undefined>; data?: unknown; url?: string}
  request?: {method?: string; url?: string}
}

interface GitHubErrorBody {
  message?: string
  documentation_url?: string
  errors?: Array<string | {resource?: string; field?: string; code?: string; message?: string}>
}

/**
 * Turn what Octokit threw into a RemoteError (exit 6) with the status code and GitHub's own words.
 * `action` says what idp was doing ("create repository acme/shop"). Messages go through the redactor
 * so a token never reaches output, even if a server echoed it.
 */
export function toRemoteError(error: unknown, action: string): RemoteError {
  if (error instanceof RemoteError) return error
  const e = (error ?? {}) as OctokitErrorLike
  const status = e.status ?? e.response?.status
  const headers = e.response?.headers ?? {}
  const body = (typeof e.response?.data === 'object' && e.response?.data !== null ? e.response.data : {}) as GitHubErrorBody
  const ghMessage = body.message ?? (typeof e.response?.data === 'string' && e.response.data ? e.response.data : e.message) ?? 'unknown error'
  const target = e.request?.url ? ` (${e.request.method ?? 'GET'} ${stripQuery(e.request.url)})` : ''
  const details: Record<string, unknown> = {status, action}
  if (body.documentation_url) details.documentationUrl = body.documentation_url
  if (e.request?.url) details.request = `${e.request.method ?? 'GET'} ${stripQuery(e.request.url)}`

  if (!e.response) {
    return new RemoteError(redact(`Could not reach GitHub to ${action}${target}: ${e.message ?? String(error)}`), {
      cause: error,
      details,
      hint: 'Check the network and GITHUB_API_URL (for GitHub Enterprise Server it is https://HOST/api/v3).',
    })
  }

  const remaining = header(headers, 'x-ratelimit-remaining')
  const retryAfter = header(headers, 'retry-after')
  if ((status === 403 || status === 429) && (remaining === '0' || retryAfter !== undefined || /rate limit/iu.test(ghMessage))) {
    const reset = header(headers, 'x-ratelimit-reset')
    const resetAt = reset && /^\d+$/u.test(reset) ? new Date(Number(reset) * 1000) : retryAfter && /^\d+$/u.test(retryAfter) ? new Date(Date.now() + Number(retryAfter) * 1000) : undefined
    if (resetAt) details.resetAt = resetAt.toISOString()
    const limit = header(headers, 'x-ratelimit-limit')
    if (limit) details.limit = Number(limit)
    const resource = header(headers, 'x-ratelimit-resource')
    if (resource) details.resource = resource
    return new RemoteError(redact(`GitHub refused to ${action}: ${status} ${ghMessage}${resetAt ? ` The limit resets at ${resetAt.toISOString()}.` : ''}`), {
      cause: error,
      details,
      hint: resetAt
        ? `Wait until ${resetAt.toISOString()} (about ${Math.max(1, Math.ceil((resetAt.getTime() - Date.now()) / 60_000))} min) and retry, or use a token with a higher limit.`
        : 'Wait a few minutes and retry; avoid running many idp commands against GitHub at once.',
    })
  }

  const problems = (body.errors ?? []).map((item) =>
    typeof item === 'string' ? item : [item.field ? `${item.field}: ` : '', item.message ?? [item.resource, item.code].filter(Boolean).join(' ')].join(''),
  )
  if (problems.length > 0) details.errors = problems
  const message = redact(`GitHub refused to ${action}: ${status} ${ghMessage}${problems.length > 0 ? ` (${problems.join('; ')})` : ''}`)
  return new RemoteError(message, {cause: error, details, hint: hintFor(status, headers)})
}

/** Run one GitHub call, mapping failures with `toRemoteError`. */
export async function githubCall<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    throw toRemoteError(error, action)
  }
}

/** True when an Octokit error is this HTTP status (e.g. 404 meaning "absent" rather than failure). */
export function hasStatus(error: unknown, status: number): boolean {
  return typeof error === 'object' && error !== null && (error as OctokitErrorLike).status === status
}

function hintFor(status: number | undefined, headers: Record<string, string | number | undefined>): string {
  switch (status) {
    case 401:
      return 'The token was rejected (expired, revoked or mistyped). Create a new one and export GITHUB_TOKEN=..., or run `gh auth login` and export GITHUB_TOKEN="$(gh auth token)".'
    case 403: {
      const scopes = header(headers, 'x-accepted-oauth-scopes')
      return `The token is valid but lacks permission for this${scopes ? ` (needs scopes: ${scopes})` : ''}. Check its scopes (repo, admin:org) or SSO authorization for the organization.`
    }
    case 404:
      return 'GitHub answers 404 both when something does not exist and when the token may not see it: check the owner and name, that the token can access the owner (scopes, SSO, fine-grained repository access), and GITHUB_API_URL.'
    case 422:
      return 'GitHub rejected the request as invalid: fix the fields listed above and retry.'
    default:
      return status !== undefined && status >= 500
        ? 'GitHub had a server error; retry in a moment and check https://www.githubstatus.com (or your Enterprise server).'
        : 'Check the request and your token, then retry.'
  }
}

function header(headers: Record<string, string | number | undefined>, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()]
  return value === undefined ? undefined : String(value)
}

function stripQuery(url: string): string {
  return url.replace(/\?.*$/u, '')
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim()
  return trimmed ? trimmed : undefined
}

function normaliseUrl(value: string, source: string): string {
  const fail = (problem: string, hint: string): never => {
    // A bad value in .idp.yml is a config error (exit 3); a bad environment variable is like a bad flag (exit 2).
    if (source === CONFIG_API_URL) throw new ConfigError(`Invalid ${source}: ${problem}`, [{path: 'github.apiUrl', message: problem, expected: 'an http(s) URL such as https://github.example.com/api/v3'}], {hint})
    throw new UsageError(`${source} ${problem}`, {hint})
  }
  let url: URL | undefined
  try {
    url = new URL(value.trim())
  } catch {
    return fail(`is not a URL: "${redact(value)}".`, `Set ${source} to an absolute URL such as https://github.example.com/api/v3.`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(`must be an http(s) URL, got "${redact(value)}".`, `Set ${source} to an https:// URL.`)
  if (url.username || url.password) fail('must not contain credentials.', 'Put the token in GITHUB_TOKEN, never in a URL.')
  return url.toString().replace(/\/+$/u, '')
}

function pullRequestNumber(env: NodeJS.ProcessEnv): number | undefined {
  if (!env.GITHUB_EVENT_NAME?.startsWith('pull_request') || !env.GITHUB_EVENT_PATH) return undefined
  try {
    const event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as {pull_request?: {number?: unknown}; number?: unknown}
    const value = event.pull_request?.number ?? event.number
    return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined
  } catch {
    // An unreadable event file means "not a PR run" for idp; the caller asks for --pr when it needs one.
    return undefined
  }
}

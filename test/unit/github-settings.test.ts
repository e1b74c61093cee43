import {execFile} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ConfigError, RemoteError, UsageError} from '../../src/lib/cli/errors.js'
import {redact} from '../../src/lib/cli/redact.js'
import {githubSettings, toRemoteError} from '../../src/lib/github/client.js'
import {stickyMarker} from '../../src/lib/github/pr-comments.js'
import {githubOwnerProblem, repositoryNameProblem} from '../../src/lib/cli/names.js'
import {gitAuthEnv} from '../../src/lib/github/repos.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idp-gh-unit-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('githubSettings', () => {
  it('defaults to github.com without a token', () => {
    expect(githubSettings({})).toEqual({apiUrl: 'https://api.github.com', apiUrlSource: 'default', serverUrl: 'https://github.com'})
  })

  it('takes GITHUB_TOKEN before GH_TOKEN, ignores blanks, and registers the token as a secret', () => {
    expect(githubSettings({GITHUB_TOKEN: ' ', GH_TOKEN: 'gh-token-value'})).toMatchObject({token: 'gh-token-value', tokenSource: 'GH_TOKEN'})
    expect(githubSettings({GITHUB_TOKEN: 'first-token', GH_TOKEN: 'second-token'})).toMatchObject({token: 'first-token', tokenSource: 'GITHUB_TOKEN'})
    expect(redact('token is first-token')).toBe('token is ***')
  })

  it('follows GitHub Enterprise conventions: API under /api/v3 of GITHUB_SERVER_URL, and back', () => {
    expect(githubSettings({GITHUB_SERVER_URL: 'https://ghe.example.com/'})).toMatchObject({serverUrl: 'https://ghe.example.com', apiUrl: 'https://ghe.example.com/api/v3', apiUrlSource: 'GITHUB_SERVER_URL'})
    expect(githubSettings({}, {github: {apiUrl: 'https://ghe.example.com/api/v3'}})).toMatchObject({serverUrl: 'https://ghe.example.com', apiUrlSource: 'config'})
  })

  it('API URL precedence: IDP_GITHUB_API_URL > .idp.yml github.apiUrl > GITHUB_API_URL', () => {
    const env = {GITHUB_API_URL: 'https://api.github.com', IDP_GITHUB_API_URL: 'http://127.0.0.1:9/api/v3'}
    const config = {github: {apiUrl: 'https://ghe.example.com/api/v3'}}
    expect(githubSettings(env, config)).toMatchObject({apiUrl: 'http://127.0.0.1:9/api/v3', apiUrlSource: 'IDP_GITHUB_API_URL'})
    expect(githubSettings({GITHUB_API_URL: env.GITHUB_API_URL}, config)).toMatchObject({apiUrl: 'https://ghe.example.com/api/v3', apiUrlSource: 'config'})
    expect(githubSettings({GITHUB_API_URL: 'https://x.example/api/v3'})).toMatchObject({apiUrl: 'https://x.example/api/v3', apiUrlSource: 'GITHUB_API_URL'})
  })

  it('rejects bad URLs: an env var as a usage error, the config key as a config error', () => {
    expect(() => githubSettings({GITHUB_API_URL: 'not a url'})).toThrow(UsageError)
    expect(() => githubSettings({GITHUB_API_URL: 'https://user:pw@ghe.example.com/api/v3'})).toThrow(/must not contain credentials/u)
    try {
      githubSettings({}, {github: {apiUrl: 'ftp://ghe.example.com'}})
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).problems[0]?.path).toBe('github.apiUrl')
    }
  })

  it('reads the actor and the PR number of a pull_request event', async () => {
    const event = join(dir, 'event.json')
    await writeFile(event, JSON.stringify({number: 42, pull_request: {number: 42}}))
    expect(githubSettings({GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_ACTOR: 'octocat'})).toMatchObject({prNumber: 42, actor: 'octocat'})
    expect(githubSettings({GITHUB_EVENT_NAME: 'pull_request_target', GITHUB_EVENT_PATH: event}).prNumber).toBe(42)
    expect(githubSettings({GITHUB_EVENT_NAME: 'push', GITHUB_EVENT_PATH: event}).prNumber).toBeUndefined()
    expect(githubSettings({GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: join(dir, 'missing.json')}).prNumber).toBeUndefined()
  })
})

describe('gitAuthEnv', () => {
  const token = 'ghs_unitTestToken1234567890abcdefghij'

  it('passes the token as a host-scoped extra header, never in argv or URLs, and redacts it', () => {
    const env = gitAuthEnv(token, {serverUrl: 'https://ghe.example.com', baseEnv: {}})
    expect(env).toEqual({
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.https://ghe.example.com/.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`,
      GIT_TERMINAL_PROMPT: '0',
    })
    expect(redact(JSON.stringify(env))).not.toContain(Buffer.from(`x-access-token:${token}`).toString('base64'))
  })

  it('appends after configuration the environment already passes to git', () => {
    const env = gitAuthEnv(token, {baseEnv: {GIT_CONFIG_COUNT: '2'}})
    expect(env).toMatchObject({GIT_CONFIG_COUNT: '3', GIT_CONFIG_KEY_2: 'http.https://github.com/.extraHeader'})
  })

  it('is read by real git as the http.<url>.extraHeader setting', async () => {
    const auth = gitAuthEnv(token, {serverUrl: 'https://ghe.example.com', baseEnv: {}})
    const env = {PATH: process.env.PATH ?? '', HOME: dir, GIT_CONFIG_NOSYSTEM: '1', ...auth}
    const {stdout} = await promisify(execFile)('git', ['config', '--get-urlmatch', 'http.extraHeader', 'https://ghe.example.com/acme/shop.git'], {env})
    expect(stdout.trim()).toBe(auth.GIT_CONFIG_VALUE_0)
    const other = await promisify(execFile)('git', ['config', '--get-urlmatch', 'http.extraHeader', 'https://elsewhere.example.com/x.git'], {env}).catch((error: {code: number}) => error)
    expect((other as {code: number}).code).toBe(1)
  })
})

describe('toRemoteError', () => {
  it('maps a network failure (no response) to a RemoteError pointing at GITHUB_API_URL', () => {
    const error = toRemoteError(Object.assign(new Error('fetch failed'), {status: 500, request: {method: 'GET', url: 'http://127.0.0.1:9/api/v3/user?x=1'}}), 'read the user')
    expect(error).toBeInstanceOf(RemoteError)
    expect(error.message).toBe('Could not reach GitHub to read the user (GET http://127.0.0.1:9/api/v3/user): fetch failed')
    expect(error.hint).toContain('GITHUB_API_URL')
  })

  it('uses Retry-After for secondary rate limits', () => {
    const error = toRemoteError({status: 403, message: 'x', response: {status: 403, headers: {'retry-after': '60'}, data: {message: 'You have exceeded a secondary rate limit.'}}}, 'create a comment')
    expect(error.message).toContain('secondary rate limit')
    expect(Date.parse(error.details?.resetAt as string) - Date.now()).toBeGreaterThan(50_000)
  })
})

describe('name checks', () => {
  it('validates repository names and comment markers before any call', () => {
    expect(repositoryNameProblem('shop-api')).toBeUndefined()
    expect(repositoryNameProblem('shop api')).toBeDefined()
    expect(repositoryNameProblem('shop.git')).toBeDefined()
    expect(repositoryNameProblem('..')).toBeDefined()
    for (const owner of ['acme', 'team-a', 'mona_octocorp', 'A1']) expect(githubOwnerProblem(owner), owner).toBeUndefined()
    for (const owner of ['..', 'a/b', '-acme', 'acme-', 'a.b', '', 'a?b', 'x'.repeat(101)]) expect(githubOwnerProblem(owner), owner).toBeDefined()
    expect(stickyMarker('preview-env')).toBe('<!-- idp:preview-env -->')
    expect(() => stickyMarker('a --> b')).toThrow(UsageError)
  })
})

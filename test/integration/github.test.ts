import {execFile} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {request} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {inspect, promisify} from 'node:util'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {PrerequisiteError, RemoteError, UsageError} from '../../src/lib/cli/errors.js'
import {redact} from '../../src/lib/cli/redact.js'
import {createGitHubClient, githubSettings, requireToken, type GitHubClient} from '../../src/lib/github/client.js'
import {upsertStickyComment} from '../../src/lib/github/pr-comments.js'
import {createRepository, deleteRepository, gitAuthEnv} from '../../src/lib/github/repos.js'
import {startGitHubStandIn, type GitHubStandIn} from '../support/github-stand-in/index.js'

const run = promisify(execFile)
const TOKEN = 'ghp_StandInTokenForAlice0123456789abcdef'
const BOB_TOKEN = 'ghp_StandInTokenForBob00123456789abcdef'
const BAD_TOKEN = 'ghp_RevokedToken0000000000000000000000'

let gh: GitHubStandIn
let alice: GitHubClient
let scratch: string

/** Every string an error could leak through: message, hint, details, causes, and Node's full inspection. */
function everything(error: unknown): string {
  const e = error as RemoteError
  return [e.message, e.hint, JSON.stringify(e.details), inspect(e, {depth: 8})].join('\n')
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

beforeAll(async () => {
  gh = await startGitHubStandIn({
    tokens: {[TOKEN]: 'alice', [BOB_TOKEN]: 'bob'},
    users: ['carol'],
    orgs: [{login: 'acme', members: {alice: 'member', bob: 'admin'}, teams: [{slug: 'platform', members: {alice: 'maintainer', carol: 'pending'}}]}],
  })
  alice = await createGitHubClient({token: TOKEN, baseUrl: gh.apiUrl})
  scratch = await mkdtemp(join(tmpdir(), 'idp-github-test-'))
})

afterAll(async () => {
  await gh?.stop()
  await rm(scratch, {recursive: true, force: true})
})

describe('settings and client', () => {
  it('reads the stand-in URLs from the environment like GitHub Actions sets them', () => {
    const s = githubSettings({GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.apiUrl, GITHUB_SERVER_URL: gh.serverUrl})
    expect(s).toMatchObject({apiUrl: gh.apiUrl, serverUrl: gh.serverUrl, token: TOKEN, tokenSource: 'GITHUB_TOKEN'})
  })

  it('a missing token is a prerequisite error (exit 4) with a hint', () => {
    const error = (() => {
      try {
        requireToken(githubSettings({}))
      } catch (e) {
        return e as PrerequisiteError
      }
    })()
    expect(error).toBeInstanceOf(PrerequisiteError)
    expect(error?.exitCode).toBe(4)
    expect(error?.hint).toContain('gh auth token')
  })
})

describe('repositories', () => {
  it('creates a private repository for the authenticated user', async () => {
    const repo = await createRepository(alice, {name: 'shop', visibility: 'private', description: 'Shop API'})
    expect(repo).toEqual({
      owner: 'alice',
      name: 'shop',
      fullName: 'alice/shop',
      htmlUrl: `${gh.serverUrl}/alice/shop`,
      cloneUrl: `${gh.serverUrl}/alice/shop.git`,
      defaultBranch: 'main',
      ownerType: 'User',
      visibility: 'private',
    })
    expect(gh.state.requests.some((r) => r.method === 'POST' && r.path === '/api/v3/user/repos')).toBe(true)
    expect(gh.state.repos.get('alice/shop')?.description).toBe('Shop API')
  })

  it('creates an organization repository through /orgs/{org}/repos', async () => {
    const repo = await createRepository(alice, {owner: 'acme', name: 'billing', visibility: 'internal'})
    expect(repo).toMatchObject({owner: 'acme', fullName: 'acme/billing', ownerType: 'Organization', visibility: 'internal'})
    expect(gh.state.requests.some((r) => r.method === 'POST' && r.path === '/api/v3/orgs/acme/repos')).toBe(true)
    expect(gh.state.repos.has('acme/billing')).toBe(true)
  })

  it('a duplicate name is a RemoteError (exit 6) carrying GitHub\'s field message', async () => {
    const error = await caught(createRepository(alice, {owner: 'acme', name: 'billing', visibility: 'private'}))
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).exitCode).toBe(6)
    expect((error as RemoteError).message).toContain('422 Repository creation failed.')
    expect((error as RemoteError).message).toContain('name: name already exists on this account')
    expect(everything(error)).not.toContain(TOKEN)
  })

  it('refuses to create under another user before any write, and invalid names before any call', async () => {
    const before = gh.state.requests.length
    await expect(createRepository(alice, {owner: 'bob', name: 'x', visibility: 'private'})).rejects.toThrow(UsageError)
    expect(gh.state.requests.slice(before).filter((r) => r.method === 'POST')).toEqual([])
    const count = gh.state.requests.length
    await expect(createRepository(alice, {name: 'bad name', visibility: 'private'})).rejects.toThrow(UsageError)
    expect(gh.state.requests.length).toBe(count)
  })

  it('an unknown owner is a RemoteError explaining the 404', async () => {
    const error = await caught(createRepository(alice, {owner: 'nobody-here', name: 'x', visibility: 'private'}))
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).message).toContain('nobody-here')
    expect((error as RemoteError).hint).toMatch(/owner/u)
  })

  it('deletes a repository for undo, and reports an already-deleted one as gone', async () => {
    await createRepository(alice, {name: 'short-lived', visibility: 'public'})
    expect(await deleteRepository(alice, 'alice', 'short-lived')).toBe(true)
    expect(gh.state.repos.has('alice/short-lived')).toBe(false)
    expect(await deleteRepository(alice, 'alice', 'short-lived')).toBe(false)
  })

  it('a bad token is a RemoteError with the 401 hint and without the token', async () => {
    const bad = await createGitHubClient({token: BAD_TOKEN, baseUrl: gh.apiUrl})
    const error = await caught(createRepository(bad, {name: 'nope', visibility: 'private'}))
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).message).toContain('401 Bad credentials')
    expect((error as RemoteError).hint).toMatch(/GITHUB_TOKEN/u)
    expect(everything(error)).not.toContain(BAD_TOKEN)
    expect(redact(`x ${BAD_TOKEN} y`)).not.toContain(BAD_TOKEN)
  })

  it('a rate limit is a RemoteError naming the reset time from the headers', async () => {
    gh.faults.rateLimitNext()
    const error = await caught(createRepository(alice, {name: 'rate-limited', visibility: 'private'}))
    expect(error).toBeInstanceOf(RemoteError)
    const e = error as RemoteError
    expect(e.message).toContain('403 API rate limit exceeded for user ID 1.')
    const resetAt = e.details?.resetAt as string
    expect(Date.parse(resetAt) - Date.now()).toBeGreaterThan(25 * 60_000)
    expect(e.message).toContain(resetAt)
    expect(e.hint).toContain(resetAt)
    expect(e.details).toMatchObject({status: 403, resource: 'core', limit: 5000})
  })

  it('other server failures keep their status and GitHub message', async () => {
    gh.faults.failNext(502, {message: 'Server Error'})
    const error = await caught(createRepository(alice, {name: 'server-error', visibility: 'private'}))
    expect((error as RemoteError).message).toContain('502 Server Error')
    expect((error as RemoteError).hint).toMatch(/retry/u)
  })
})

describe('sticky PR comment', () => {
  it('creates the comment once and edits it afterwards', async () => {
    const pr = gh.openPullRequest('alice/shop')
    const first = await upsertStickyComment(alice, {owner: 'alice', repo: 'shop', prNumber: pr, marker: 'preview', body: 'Preview: deploying…'})
    const second = await upsertStickyComment(alice, {owner: 'alice', repo: 'shop', prNumber: pr, marker: 'preview', body: 'Preview: https://pr-1.shop.dev'})
    expect(first.created).toBe(true)
    expect(second).toEqual({id: first.id, url: first.url, created: false})
    expect(first.url).toBe(`${gh.serverUrl}/alice/shop/pull/${pr}#issuecomment-${first.id}`)
    const comments = gh.state.comments.filter((c) => c.repo === 'alice/shop' && c.issue === pr)
    expect(comments).toHaveLength(1)
    expect(comments[0]?.body).toBe('<!-- idp:preview -->\nPreview: https://pr-1.shop.dev')
  })

  it('finds its comment beyond the first page (Link pagination) and ignores other markers', async () => {
    const pr = gh.openPullRequest('alice/shop')
    for (let i = 0; i < 7; i++) gh.addComment('alice/shop', pr, `review note ${i} <!-- idp:other -->`, 'bob')
    const first = await upsertStickyComment(alice, {owner: 'alice', repo: 'shop', prNumber: pr, marker: 'preview', body: 'v1', perPage: 2})
    expect(first.created).toBe(true)
    const before = gh.state.requests.length
    const second = await upsertStickyComment(alice, {owner: 'alice', repo: 'shop', prNumber: pr, marker: 'preview', body: 'v2', perPage: 2})
    expect(second).toMatchObject({id: first.id, created: false})
    const pages = gh.state.requests.slice(before).filter((r) => r.method === 'GET' && r.path.includes(`/issues/${pr}/comments`))
    expect(pages.map((r) => new URL(r.path, gh.serverUrl).searchParams.get('page') ?? '1')).toEqual(['1', '2', '3', '4'])
    const marked = gh.state.comments.filter((c) => c.issue === pr && c.body.includes('<!-- idp:preview -->'))
    expect(marked.map((c) => c.body)).toEqual(['<!-- idp:preview -->\nv2'])
  })

  it('a PR that does not exist is a RemoteError with the 404 hint', async () => {
    const error = await caught(upsertStickyComment(alice, {owner: 'alice', repo: 'shop', prNumber: 999, marker: 'preview', body: 'x'}))
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).message).toContain('404 Not Found')
    expect((error as RemoteError).hint).toMatch(/token may not see it/u)
  })
})

describe('git over smart HTTP (real git http-backend)', () => {
  const gitEnv = (home: string, extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? '',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'idp test',
    GIT_AUTHOR_EMAIL: 'idp@example.com',
    GIT_COMMITTER_NAME: 'idp test',
    GIT_COMMITTER_EMAIL: 'idp@example.com',
    ...extra,
  })
  const argvSeen: string[][] = []
  const git = async (args: string[], cwd: string, env: Record<string, string>) => {
    argvSeen.push(args)
    return run('git', args, {cwd, env})
  }

  it('pushes with gitAuthEnv, clones the same commit, and keeps the token out of argv and .git/config', async () => {
    const repo = await createRepository(alice, {name: 'pushed', visibility: 'private'})
    const home = await mkdtemp(join(scratch, 'home-'))
    const work = join(scratch, 'work')
    const env = gitEnv(home, gitAuthEnv(TOKEN, {serverUrl: gh.serverUrl, baseEnv: {}}))
    await git(['init', '--quiet', `--initial-branch=${repo.defaultBranch}`, work], scratch, env)
    await writeFile(join(work, 'README.md'), '# pushed\n')
    await git(['add', 'README.md'], work, env)
    await git(['commit', '--quiet', '-m', 'first'], work, env)
    await git(['remote', 'add', 'origin', repo.cloneUrl], work, env)
    await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${repo.defaultBranch}`], work, env)
    const pushed = (await git(['rev-parse', 'HEAD'], work, env)).stdout.trim()

    const clone = join(scratch, 'clone')
    await git(['clone', '--quiet', repo.cloneUrl, clone], scratch, env)
    const cloned = (await git(['rev-parse', 'HEAD'], clone, env)).stdout.trim()
    expect(cloned).toBe(pushed)
    expect(await readFile(join(clone, 'README.md'), 'utf8')).toBe('# pushed\n')

    const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64')
    for (const argv of argvSeen) expect(argv.join(' ')).not.toMatch(new RegExp(`${TOKEN}|${basic}`, 'u'))
    for (const dir of [work, clone]) expect(await readFile(join(dir, '.git', 'config'), 'utf8')).not.toContain(TOKEN)
    // The server saw Basic auth from the header, never a token in the URL.
    const gitRequests = gh.state.requests.filter((r) => r.path.startsWith('/alice/pushed.git'))
    expect(gitRequests.length).toBeGreaterThan(0)
    expect(gitRequests.every((r) => r.scheme === 'Basic' && r.login === 'alice' && !r.path.includes(TOKEN))).toBe(true)
  })

  it('serves the pushed files through the contents API as GitHub does (JSON base64, raw, ETag/304, 404, directories) — what Backstage\'s GitHub URL reader reads', async () => {
    const {Octokit} = await import('@octokit/rest')
    const log = {debug: () => {}, info: () => {}, warn: () => {}, error: () => {}}
    const octokit = new Octokit({auth: TOKEN, baseUrl: gh.apiUrl, log})
    const file = await octokit.repos.getContent({owner: 'alice', repo: 'pushed', path: 'README.md', ref: 'main'})
    expect(file.status).toBe(200)
    const data = file.data as {type: string; encoding: string; content: string; path: string; sha: string; size: number; html_url: string; download_url: string}
    expect(data).toMatchObject({type: 'file', encoding: 'base64', path: 'README.md', size: 9, html_url: `${gh.serverUrl}/alice/pushed/blob/main/README.md`})
    expect(Buffer.from(data.content, 'base64').toString('utf8')).toBe('# pushed\n')
    // The raw media type gives the bytes, with the blob's ETag; a matching If-None-Match is a 304 (Octokit throws it).
    const raw = await octokit.repos.getContent({owner: 'alice', repo: 'pushed', path: 'README.md', mediaType: {format: 'raw'}})
    expect(raw.data as unknown).toBe('# pushed\n')
    expect(raw.headers.etag).toBe(`"${data.sha}"`)
    const notModified = await caught(octokit.repos.getContent({owner: 'alice', repo: 'pushed', path: 'README.md', mediaType: {format: 'raw'}, headers: {'if-none-match': `"${data.sha}"`}}))
    expect((notModified as {status: number}).status).toBe(304)
    const missing = await caught(octokit.repos.getContent({owner: 'alice', repo: 'pushed', path: 'nope.md'}))
    expect(missing).toMatchObject({status: 404, response: {data: {message: 'Not Found', documentation_url: 'https://docs.github.com/rest/repos/contents#get-repository-content', status: '404'}}})
    const root = await octokit.repos.getContent({owner: 'alice', repo: 'pushed', path: ''})
    expect((root.data as Array<{name: string; type: string}>).map((e) => [e.name, e.type])).toEqual([['README.md', 'file']])
    // A private repository is 404 to someone who cannot see it, and an empty one says so.
    const bob = new Octokit({auth: BOB_TOKEN, baseUrl: gh.apiUrl, log})
    expect(await caught(bob.repos.getContent({owner: 'alice', repo: 'pushed', path: 'README.md'}))).toMatchObject({status: 404})
    await createRepository(alice, {name: 'empty-one', visibility: 'private'})
    expect(await caught(octokit.repos.getContent({owner: 'alice', repo: 'empty-one', path: 'README.md'}))).toMatchObject({status: 404, response: {data: {message: 'This repository is empty.'}}})
  })

  it('a push with a bad token fails without a prompt and without printing the token', async () => {
    const home = await mkdtemp(join(scratch, 'home-'))
    const env = gitEnv(home, gitAuthEnv(BAD_TOKEN, {serverUrl: gh.serverUrl, baseEnv: {}}))
    const error = (await caught(git(['push', '--quiet', `${gh.serverUrl}/alice/pushed.git`, 'HEAD:refs/heads/evil'], join(scratch, 'work'), env))) as {code: number; stderr: string}
    expect(error.code).not.toBe(0)
    expect(error.stderr).toMatch(/Authentication failed|could not read Username|401/u)
    expect(error.stderr).not.toContain(BAD_TOKEN)
    const refs = await run('git', ['--git-dir', gh.state.repos.get('alice/pushed')?.gitDir ?? '', 'for-each-ref', '--format=%(refname)'], {env: gitEnv(home)})
    expect(refs.stdout.trim()).toBe('refs/heads/main')
  })

  it('a read-only org member can clone but not push', async () => {
    const bob = await createGitHubClient({token: BOB_TOKEN, baseUrl: gh.apiUrl})
    const repo = await createRepository(bob, {owner: 'acme', name: 'readonly', visibility: 'private'})
    const home = await mkdtemp(join(scratch, 'home-'))
    const env = gitEnv(home, gitAuthEnv(TOKEN, {serverUrl: gh.serverUrl, baseEnv: {}}))
    const error = (await caught(git(['push', '--quiet', repo.cloneUrl, 'HEAD:refs/heads/main'], join(scratch, 'work'), env))) as {stderr: string}
    expect(error.stderr).toMatch(/403|denied/u)
  })
})

describe('stand-in lifecycle', () => {
  it('stops cleanly: no http-backend children and the port is closed', async () => {
    const other = await startGitHubStandIn({tokens: {[TOKEN]: 'alice'}})
    const client = await createGitHubClient({token: TOKEN, baseUrl: other.apiUrl})
    await createRepository(client, {name: 'tmp', visibility: 'public'})
    const home = await mkdtemp(join(scratch, 'home-'))
    await run('git', ['ls-remote', `${other.serverUrl}/alice/tmp.git`], {env: {PATH: process.env.PATH ?? '', HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0'}})
    await other.stop()
    expect(other.runningGitProcesses()).toBe(0)
    const refused = await new Promise<string>((resolve) => {
      request(`${other.apiUrl}/user`, (res) => resolve(String(res.statusCode)))
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
        .end()
    })
    expect(refused).toBe('ECONNREFUSED')
  })
})

import {execFile} from 'node:child_process'
import {mkdtemp, mkdir, rm} from 'node:fs/promises'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {GitHttpBackend} from './git-http.js'

/**
 * A GitHub stand-in for tests: the REST subset idp uses, with GitHub's response shapes, status codes,
 * error bodies, rate-limit headers and Link pagination, plus git smart HTTP through real `git http-backend`.
 * Listens on 127.0.0.1 only; the API is under /api/v3 like GitHub Enterprise Server.
 */

const run = promisify(execFile)
const DOCS = 'https://docs.github.com/rest'
const RATE_LIMIT = 5000

export type Permission = 'pull' | 'triage' | 'push' | 'maintain' | 'admin'
const RANK: Record<Permission, number> = {pull: 1, triage: 2, push: 3, maintain: 4, admin: 5}
const ROLE: Record<Permission, string> = {pull: 'read', triage: 'triage', push: 'write', maintain: 'maintain', admin: 'admin'}

export interface StandInTeam {
  slug: string
  name?: string
  /** login → role; `pending` means invited but not yet accepted. */
  members?: Record<string, 'member' | 'maintainer' | 'pending'>
}

export interface StandInOrgOptions {
  login: string
  /** Members (login) and org owners (`admin`). */
  members?: Record<string, 'member' | 'admin'>
  teams?: StandInTeam[]
}

export interface StandInOptions {
  /** token → login. Logins here become users automatically. */
  tokens: Record<string, string>
  users?: string[]
  orgs?: StandInOrgOptions[]
  /** The default branch new repositories report (GitHub's account setting). */
  defaultBranch?: string
}

export interface Account {
  login: string
  id: number
  type: 'User' | 'Organization'
}

export interface StandInRepo {
  id: number
  owner: Account
  name: string
  description: string | null
  visibility: 'public' | 'private' | 'internal'
  defaultBranch: string
  createdAt: string
  gitDir: string
  /** login → permission (explicit collaborators; the creator of an org repo is admin). */
  collaborators: Map<string, Permission>
  /** Issue and pull request numbers that exist (they share one counter, as on GitHub). */
  issues: Set<number>
  nextIssue: number
}

export interface StandInComment {
  id: number
  repo: string
  issue: number
  body: string
  user: string
  createdAt: string
  updatedAt: string
}

export interface StandInState {
  users: Map<string, Account>
  orgs: Map<string, Account & {members: Map<string, 'member' | 'admin'>; teams: StandInTeam[]}>
  /** Keyed by lower-case `owner/name`. */
  repos: Map<string, StandInRepo>
  comments: StandInComment[]
  invitations: Array<{id: number; repo: string; invitee: string; permission: Permission}>
  /** Every request: method, path with query, the authenticated login, and the raw Authorization scheme. */
  requests: Array<{method: string; path: string; login?: string; scheme?: string}>
}

export interface GitHubStandIn {
  apiUrl: string
  serverUrl: string
  state: StandInState
  faults: {rateLimitNext(): void; failNext(status: number, body: unknown): void}
  /** Open a pull request number on a repository (comments need an existing issue or PR). */
  openPullRequest(fullName: string): number
  /** Seed a comment directly (e.g. another bot's), bypassing the API. */
  addComment(fullName: string, issue: number, body: string, user: string): StandInComment
  /** Number of git http-backend processes still running. */
  runningGitProcesses(): number
  stop(): Promise<void>
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message))
  }
}

const notFound = () => new HttpError(404, {message: 'Not Found', documentation_url: DOCS, status: '404'})

export async function startGitHubStandIn(options: StandInOptions): Promise<GitHubStandIn> {
  const root = await mkdtemp(join(tmpdir(), 'idp-github-stand-in-'))
  const gitRoot = join(root, 'git')
  const home = join(root, 'home')
  await mkdir(gitRoot, {recursive: true})
  await mkdir(home, {recursive: true})
  const git = new GitHttpBackend(gitRoot, home)

  let nextId = 1
  const state: StandInState = {users: new Map(), orgs: new Map(), repos: new Map(), comments: [], invitations: [], requests: []}
  const addUser = (login: string) => {
    if (!state.users.has(login.toLowerCase())) state.users.set(login.toLowerCase(), {login, id: nextId++, type: 'User'})
  }
  for (const login of Object.values(options.tokens)) addUser(login)
  for (const login of options.users ?? []) addUser(login)
  for (const org of options.orgs ?? []) {
    for (const login of Object.keys(org.members ?? {})) addUser(login)
    state.orgs.set(org.login.toLowerCase(), {
      login: org.login,
      id: nextId++,
      type: 'Organization',
      members: new Map(Object.entries(org.members ?? {}).map(([login, role]) => [login.toLowerCase(), role])),
      teams: org.teams ?? [],
    })
  }
  const tokens = new Map(Object.entries(options.tokens))
  const used = new Map<string, number>()
  const faults: Array<{status: number; body: unknown; headers: Record<string, string>}> = []
  let commentId = 1_000_000_000
  let repoId = 100_000

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, {'content-type': 'application/json'})
      res.end(JSON.stringify({message: `stand-in bug: ${error instanceof Error ? error.message : String(error)}`}))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const serverUrl = `http://127.0.0.1:${port}`
  const apiUrl = `${serverUrl}/api/v3`

  const account = (a: Account) => ({
    login: a.login,
    id: a.id,
    node_id: Buffer.from(`${a.type}:${a.id}`).toString('base64'),
    avatar_url: `${serverUrl}/avatars/u/${a.id}`,
    gravatar_id: '',
    url: `${apiUrl}/users/${a.login}`,
    html_url: `${serverUrl}/${a.login}`,
    repos_url: `${apiUrl}/users/${a.login}/repos`,
    type: a.type,
    site_admin: false,
  })

  const ownerOf = (login: string): Account | undefined => state.users.get(login.toLowerCase()) ?? state.orgs.get(login.toLowerCase())

  const permission = (repo: StandInRepo, login: string | undefined): Permission | undefined => {
    let best: Permission | undefined = repo.visibility === 'public' ? 'pull' : undefined
    const raise = (p: Permission | undefined) => {
      if (p && (!best || RANK[p] > RANK[best])) best = p
    }
    if (!login) return best
    const key = login.toLowerCase()
    if (repo.owner.type === 'User' && repo.owner.login.toLowerCase() === key) return 'admin'
    const org = repo.owner.type === 'Organization' ? state.orgs.get(repo.owner.login.toLowerCase()) : undefined
    if (org?.members.get(key) === 'admin') return 'admin'
    // Organization base permission: members can read every repository of the org.
    if (org?.members.has(key)) raise('pull')
    raise(repo.collaborators.get(key))
    return best
  }

  const repoJson = (repo: StandInRepo, login?: string) => {
    const full = `${repo.owner.login}/${repo.name}`
    const p = permission(repo, login)
    return {
      id: repo.id,
      node_id: Buffer.from(`Repository:${repo.id}`).toString('base64'),
      name: repo.name,
      full_name: full,
      private: repo.visibility !== 'public',
      owner: account(repo.owner),
      html_url: `${serverUrl}/${full}`,
      description: repo.description,
      fork: false,
      url: `${apiUrl}/repos/${full}`,
      collaborators_url: `${apiUrl}/repos/${full}/collaborators{/collaborator}`,
      comments_url: `${apiUrl}/repos/${full}/comments{/number}`,
      git_url: `git://127.0.0.1:${port}/${full}.git`,
      ssh_url: `git@127.0.0.1:${full}.git`,
      clone_url: `${serverUrl}/${full}.git`,
      homepage: null,
      size: 0,
      visibility: repo.visibility,
      default_branch: repo.defaultBranch,
      created_at: repo.createdAt,
      updated_at: repo.createdAt,
      pushed_at: repo.createdAt,
      archived: false,
      disabled: false,
      has_issues: true,
      permissions: {admin: p === 'admin', maintain: p ? RANK[p] >= 4 : false, push: p ? RANK[p] >= 3 : false, triage: p ? RANK[p] >= 2 : false, pull: Boolean(p)},
    }
  }

  const commentJson = (c: StandInComment) => {
    const user = state.users.get(c.user.toLowerCase()) ?? {login: c.user, id: 0, type: 'User' as const}
    return {
      id: c.id,
      node_id: Buffer.from(`IssueComment:${c.id}`).toString('base64'),
      url: `${apiUrl}/repos/${c.repo}/issues/comments/${c.id}`,
      html_url: `${serverUrl}/${c.repo}/pull/${c.issue}#issuecomment-${c.id}`,
      issue_url: `${apiUrl}/repos/${c.repo}/issues/${c.issue}`,
      body: c.body,
      user: account(user),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      author_association: 'MEMBER',
    }
  }

  /** Resolve the caller from `Authorization: token X`, `Bearer X` or Basic with the token as password. */
  const authenticate = (req: IncomingMessage): {login?: string; scheme?: string; bad: boolean} => {
    const header = req.headers.authorization
    if (!header) return {bad: false}
    const [scheme = '', value = ''] = header.split(/\s+/u, 2)
    let token = value
    if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8')
      token = decoded.slice(decoded.indexOf(':') + 1)
    } else if (!['token', 'bearer'].includes(scheme.toLowerCase())) return {scheme, bad: true}
    const login = tokens.get(token)
    return login ? {login, scheme, bad: false} : {scheme, bad: true}
  }

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? '' : JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-api-version-selected': '2022-11-28',
      'x-github-request-id': `STANDIN:${state.requests.length}`,
      ...headers,
    })
    res.end(text)
  }

  const rateHeaders = (login: string | undefined, exhausted = false): Record<string, string> => {
    const key = login ?? 'anonymous'
    const count = exhausted ? RATE_LIMIT : (used.get(key) ?? 0) + 1
    used.set(key, count)
    return {
      'x-ratelimit-limit': String(RATE_LIMIT),
      'x-ratelimit-remaining': String(Math.max(0, RATE_LIMIT - count)),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-used': String(count),
      'x-ratelimit-resource': 'core',
    }
  }

  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    if (!text) return {}
    try {
      return JSON.parse(text) as Record<string, unknown>
    } catch {
      throw new HttpError(400, {message: 'Problems parsing JSON', documentation_url: DOCS, status: '400'})
    }
  }

  const findRepo = (owner: string, name: string, login: string | undefined, need: Permission = 'pull'): StandInRepo => {
    const repo = state.repos.get(`${owner}/${name}`.toLowerCase())
    const p = repo ? permission(repo, login) : undefined
    // GitHub hides private repositories the caller cannot see behind 404, not 403.
    if (!repo || !p) throw notFound()
    if (RANK[p] < RANK[need]) {
      throw new HttpError(403, {message: need === 'admin' ? 'Must have admin rights to Repository.' : 'Resource not accessible by personal access token', documentation_url: DOCS, status: '403'})
    }
    return repo
  }

  const createRepo = async (owner: Account, body: Record<string, unknown>, creator: string, docs: string) => {
    const name = typeof body.name === 'string' ? body.name : ''
    if (!name) {
      throw new HttpError(422, {message: 'Repository creation failed.', errors: [{resource: 'Repository', code: 'missing_field', field: 'name'}], documentation_url: docs, status: '422'})
    }
    const key = `${owner.login}/${name}`.toLowerCase()
    if (state.repos.has(key)) {
      throw new HttpError(422, {
        message: 'Repository creation failed.',
        errors: [{resource: 'Repository', code: 'custom', field: 'name', message: 'name already exists on this account'}],
        documentation_url: docs,
        status: '422',
      })
    }
    const visibility = body.visibility === 'internal' || body.visibility === 'public' || body.visibility === 'private' ? body.visibility : body.private === true ? 'private' : 'public'
    if (visibility === 'internal' && owner.type === 'User') {
      throw new HttpError(422, {message: 'Repository creation failed.', errors: [{resource: 'Repository', code: 'custom', field: 'visibility', message: 'visibility can only be internal for organization repositories'}], documentation_url: docs, status: '422'})
    }
    const defaultBranch = options.defaultBranch ?? 'main'
    const gitDir = join(gitRoot, owner.login.toLowerCase(), `${name.toLowerCase()}.git`)
    await run('git', ['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`, gitDir], {env: {PATH: process.env.PATH ?? '', HOME: home, GIT_CONFIG_NOSYSTEM: '1'}})
    const repo: StandInRepo = {
      id: repoId++,
      owner,
      name,
      description: typeof body.description === 'string' ? body.description : null,
      visibility,
      defaultBranch,
      createdAt: new Date().toISOString().replace(/\.\d+Z$/u, 'Z'),
      gitDir,
      collaborators: new Map(owner.type === 'Organization' ? [[creator.toLowerCase(), 'admin']] : []),
      issues: new Set(),
      nextIssue: 1,
    }
    state.repos.set(key, repo)
    return repo
  }

  const paginate = <T>(req: IncomingMessage, url: URL, items: T[]): {page: T[]; headers: Record<string, string>} => {
    const perPage = Math.min(Math.max(Number.parseInt(url.searchParams.get('per_page') ?? '30', 10) || 30, 1), 100)
    const pageNo = Math.max(Number.parseInt(url.searchParams.get('page') ?? '1', 10) || 1, 1)
    const last = Math.max(1, Math.ceil(items.length / perPage))
    const link = (page: number, rel: string) => {
      const u = new URL(url.toString())
      u.searchParams.set('per_page', String(perPage))
      u.searchParams.set('page', String(page))
      return `<${serverUrl}${u.pathname}${u.search}>; rel="${rel}"`
    }
    const links: string[] = []
    if (pageNo > 1) links.push(link(pageNo - 1, 'prev'))
    if (pageNo < last) links.push(link(pageNo + 1, 'next'), link(last, 'last'))
    if (pageNo > 1) links.push(link(1, 'first'))
    void req
    return {page: items.slice((pageNo - 1) * perPage, pageNo * perPage), headers: links.length > 0 ? {link: links.join(', ')} : {}}
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL, path: string, login: string | undefined): Promise<void> {
    const method = req.method ?? 'GET'
    const requireLogin = (): string => {
      if (!login) throw new HttpError(401, {message: 'Requires authentication', documentation_url: DOCS, status: '401'})
      return login
    }
    let m: RegExpMatchArray | null

    if (method === 'GET' && path === '/user') {
      const me = state.users.get(requireLogin().toLowerCase()) as Account
      return send(res, 200, {...account(me), name: me.login, email: null, created_at: '2020-01-01T00:00:00Z'}, rateHeaders(login))
    }
    if (method === 'GET' && (m = path.match(/^\/users\/([^/]+)$/u))) {
      const who = ownerOf(decodeURIComponent(m[1] as string))
      if (!who) throw notFound()
      return send(res, 200, account(who), rateHeaders(login))
    }
    if (method === 'POST' && path === '/user/repos') {
      const me = state.users.get(requireLogin().toLowerCase()) as Account
      const repo = await createRepo(me, await readJson(req), me.login, `${DOCS}/repos/repos#create-a-repository-for-the-authenticated-user`)
      return send(res, 201, repoJson(repo, login), {...rateHeaders(login), location: `${apiUrl}/repos/${me.login}/${repo.name}`})
    }
    if (method === 'POST' && (m = path.match(/^\/orgs\/([^/]+)\/repos$/u))) {
      const me = requireLogin()
      const org = state.orgs.get(decodeURIComponent(m[1] as string).toLowerCase())
      if (!org) throw notFound()
      if (!org.members.has(me.toLowerCase())) {
        throw new HttpError(403, {message: 'You need admin access to the organization before adding a repository to it.', documentation_url: `${DOCS}/repos/repos#create-an-organization-repository`, status: '403'})
      }
      const repo = await createRepo(org, await readJson(req), me, `${DOCS}/repos/repos#create-an-organization-repository`)
      return send(res, 201, repoJson(repo, login), {...rateHeaders(login), location: `${apiUrl}/repos/${org.login}/${repo.name}`})
    }
    if ((m = path.match(/^\/repos\/([^/]+)\/([^/]+)$/u))) {
      if (method === 'GET') return send(res, 200, repoJson(findRepo(m[1] as string, m[2] as string, login), login), rateHeaders(login))
      if (method === 'DELETE') {
        const repo = findRepo(m[1] as string, m[2] as string, requireLogin(), 'admin')
        state.repos.delete(`${repo.owner.login}/${repo.name}`.toLowerCase())
        await rm(repo.gitDir, {recursive: true, force: true})
        return send(res, 204, undefined, rateHeaders(login))
      }
    }
    if ((m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/u))) {
      const repo = findRepo(m[1] as string, m[2] as string, login)
      const issue = Number(m[3])
      if (!repo.issues.has(issue)) throw notFound()
      const full = `${repo.owner.login}/${repo.name}`
      if (method === 'GET') {
        const all = state.comments.filter((c) => c.repo === full && c.issue === issue)
        const {page, headers} = paginate(req, url, all)
        return send(res, 200, page.map(commentJson), {...rateHeaders(login), ...headers})
      }
      if (method === 'POST') {
        const me = requireLogin()
        const body = await readJson(req)
        if (typeof body.body !== 'string' || body.body === '') {
          throw new HttpError(422, {message: 'Invalid request.\n\nNo subschema in "anyOf" matched.\n"body" wasn\'t supplied.', documentation_url: `${DOCS}/issues/comments#create-an-issue-comment`, status: '422'})
        }
        const now = new Date().toISOString().replace(/\.\d+Z$/u, 'Z')
        const comment: StandInComment = {id: commentId++, repo: full, issue, body: body.body, user: me, createdAt: now, updatedAt: now}
        state.comments.push(comment)
        return send(res, 201, commentJson(comment), {...rateHeaders(login), location: `${apiUrl}/repos/${full}/issues/comments/${comment.id}`})
      }
    }
    if (method === 'PATCH' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/u))) {
      const me = requireLogin()
      const repo = findRepo(m[1] as string, m[2] as string, me)
      const full = `${repo.owner.login}/${repo.name}`
      const comment = state.comments.find((c) => c.repo === full && c.id === Number(m?.[3]))
      if (!comment) throw notFound()
      const p = permission(repo, me) as Permission
      // Authors edit their own comments; others need write access (as on GitHub).
      if (comment.user.toLowerCase() !== me.toLowerCase() && RANK[p] < RANK.push) throw new HttpError(403, {message: 'Resource not accessible by personal access token', documentation_url: DOCS, status: '403'})
      const body = await readJson(req)
      if (typeof body.body !== 'string') throw new HttpError(422, {message: 'Invalid request.\n\n"body" wasn\'t supplied.', documentation_url: DOCS, status: '422'})
      comment.body = body.body
      comment.updatedAt = new Date().toISOString().replace(/\.\d+Z$/u, 'Z')
      return send(res, 200, commentJson(comment), rateHeaders(login))
    }
    if (method === 'GET' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/collaborators$/u))) {
      const repo = findRepo(m[1] as string, m[2] as string, requireLogin(), 'push')
      const logins = new Set<string>([...repo.collaborators.keys()])
      if (repo.owner.type === 'User') logins.add(repo.owner.login.toLowerCase())
      const org = state.orgs.get(repo.owner.login.toLowerCase())
      for (const [member, role] of org?.members ?? []) if (role === 'admin') logins.add(member)
      const users = [...logins].map((l) => state.users.get(l)).filter((u): u is Account => Boolean(u))
      const {page, headers} = paginate(req, url, users)
      return send(
        res,
        200,
        page.map((u) => {
          const p = permission(repo, u.login) as Permission
          return {...account(u), permissions: {admin: p === 'admin', maintain: RANK[p] >= 4, push: RANK[p] >= 3, triage: RANK[p] >= 2, pull: true}, role_name: ROLE[p]}
        }),
        {...rateHeaders(login), ...headers},
      )
    }
    if (method === 'PUT' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)$/u))) {
      const me = requireLogin()
      const repo = findRepo(m[1] as string, m[2] as string, me, 'admin')
      const invitee = state.users.get(decodeURIComponent(m[3] as string).toLowerCase())
      if (!invitee) throw notFound()
      const body = await readJson(req)
      const wanted = (typeof body.permission === 'string' ? body.permission : 'push') as Permission
      if (!(wanted in RANK)) throw new HttpError(422, {message: 'Validation Failed', errors: [{resource: 'Repository', code: 'invalid', field: 'permission'}], documentation_url: DOCS, status: '422'})
      const key = invitee.login.toLowerCase()
      const org = state.orgs.get(repo.owner.login.toLowerCase())
      if (repo.collaborators.has(key) || org?.members.has(key)) {
        repo.collaborators.set(key, wanted)
        return send(res, 204, undefined, rateHeaders(login))
      }
      const invitation = {id: nextId++, repo: `${repo.owner.login}/${repo.name}`, invitee: invitee.login, permission: wanted}
      state.invitations.push(invitation)
      const inviter = state.users.get(me.toLowerCase()) as Account
      return send(
        res,
        201,
        {
          id: invitation.id,
          node_id: Buffer.from(`RepositoryInvitation:${invitation.id}`).toString('base64'),
          repository: repoJson(repo, login),
          invitee: account(invitee),
          inviter: account(inviter),
          permissions: wanted === 'push' ? 'write' : wanted === 'pull' ? 'read' : wanted,
          created_at: new Date().toISOString(),
          expired: false,
          url: `${apiUrl}/user/repository_invitations/${invitation.id}`,
          html_url: `${serverUrl}/${invitation.repo}/invitations`,
        },
        rateHeaders(login),
      )
    }
    if (method === 'GET' && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/contents(?:\/(.*))?$/u))) {
      // Get repository content (https://docs.github.com/rest/repos/contents#get-repository-content),
      // read from the bare repository: a file as JSON (base64) or, with the raw media type, its bytes;
      // a directory as a list. What Backstage's GitHub URL reader calls for a blob URL.
      const repo = findRepo(m[1] as string, m[2] as string, login)
      const docs = `${DOCS}/repos/contents#get-repository-content`
      const filePath = decodeURIComponent(m[3] ?? '').replace(/\/+$/u, '')
      const ref = url.searchParams.get('ref') || repo.defaultBranch
      const git = (args: string[]) => run('git', ['--git-dir', repo.gitDir, ...args], {env: {PATH: process.env.PATH ?? '', HOME: home, GIT_CONFIG_NOSYSTEM: '1'}, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024})
      if ((await git(['for-each-ref', '--count=1'])).stdout.length === 0) throw new HttpError(404, {message: 'This repository is empty.', documentation_url: docs, status: '404'})
      const object = await git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}:${filePath}`]).then((r) => r.stdout.toString().trim(), () => undefined)
      if (!object) throw new HttpError(404, {message: 'Not Found', documentation_url: docs, status: '404'})
      const type = (await git(['cat-file', '-t', object])).stdout.toString().trim()
      const full = `${repo.owner.login}/${repo.name}`
      const entry = (p: string, sha: string, kind: 'file' | 'dir', size: number) => {
        const self = `${apiUrl}/repos/${full}/contents/${p}?ref=${encodeURIComponent(ref)}`
        const html = `${serverUrl}/${full}/${kind === 'dir' ? 'tree' : 'blob'}/${ref}/${p}`
        const gitUrl = `${apiUrl}/repos/${full}/git/${kind === 'dir' ? 'trees' : 'blobs'}/${sha}`
        return {name: p.split('/').pop() ?? p, path: p, sha, size, url: self, html_url: html, git_url: gitUrl, download_url: kind === 'file' ? `${serverUrl}/${full}/raw/${ref}/${p}` : null, type: kind, _links: {self, git: gitUrl, html}}
      }
      const etag = `"${object}"`
      if (req.headers['if-none-match'] === etag || req.headers['if-none-match'] === `W/${etag}`) {
        res.writeHead(304, {etag, 'x-github-request-id': `STANDIN:${state.requests.length}`, ...rateHeaders(login)})
        return void res.end()
      }
      if (type === 'tree') {
        const listing = (await git(['ls-tree', '-l', object])).stdout.toString().split('\n').filter(Boolean)
        const items = listing.map((line) => {
          const [meta = '', name = ''] = line.split('\t')
          const [, kind, sha = '', size] = meta.split(/\s+/u)
          return entry(filePath ? `${filePath}/${name}` : name, sha, kind === 'tree' ? 'dir' : 'file', kind === 'tree' ? 0 : Number(size))
        })
        return send(res, 200, items, {...rateHeaders(login), etag: `W/${etag}`})
      }
      const content = (await git(['cat-file', 'blob', object])).stdout
      const accept = String(req.headers.accept ?? '')
      if (/application\/vnd\.github(?:\.v3)?\.raw/u.test(accept)) {
        res.writeHead(200, {'content-type': 'application/vnd.github.raw; charset=utf-8', 'content-length': String(content.length), 'x-github-media-type': 'github.v3; param=raw', etag, ...rateHeaders(login)})
        return void res.end(content)
      }
      const base64 = content.toString('base64').replace(/(.{60})/gu, '$1\n')
      return send(res, 200, {...entry(filePath, object, 'file', content.length), content: base64.endsWith('\n') ? base64 : `${base64}\n`, encoding: 'base64'}, {...rateHeaders(login), etag: `W/${etag}`})
    }
    if (method === 'GET' && (m = path.match(/^\/orgs\/([^/]+)\/teams$/u))) {
      const me = requireLogin()
      const org = state.orgs.get(decodeURIComponent(m[1] as string).toLowerCase())
      if (!org) throw notFound()
      const visible = org.members.has(me.toLowerCase()) ? org.teams : []
      const {page, headers} = paginate(
        req,
        url,
        visible.map((t, i) => ({
          id: i + 1,
          node_id: Buffer.from(`Team:${i + 1}`).toString('base64'),
          url: `${apiUrl}/orgs/${org.login}/teams/${t.slug}`,
          html_url: `${serverUrl}/orgs/${org.login}/teams/${t.slug}`,
          name: t.name ?? t.slug,
          slug: t.slug,
          description: null,
          privacy: 'closed',
          notification_setting: 'notifications_enabled',
          permission: 'pull',
          members_url: `${apiUrl}/orgs/${org.login}/teams/${t.slug}/members{/member}`,
          repositories_url: `${apiUrl}/orgs/${org.login}/teams/${t.slug}/repos`,
          parent: null,
        })),
      )
      return send(res, 200, page, {...rateHeaders(login), ...headers})
    }
    if (method === 'GET' && (m = path.match(/^\/orgs\/([^/]+)\/teams\/([^/]+)\/memberships\/([^/]+)$/u))) {
      requireLogin()
      const org = state.orgs.get(decodeURIComponent(m[1] as string).toLowerCase())
      const team = org?.teams.find((t) => t.slug === m?.[2])
      const user = decodeURIComponent(m[3] as string).toLowerCase()
      const role = Object.entries(team?.members ?? {}).find(([l]) => l.toLowerCase() === user)?.[1]
      if (!org || !team || !role) throw notFound()
      return send(
        res,
        200,
        {url: `${apiUrl}/teams/${org.teams.indexOf(team) + 1}/memberships/${user}`, role: role === 'maintainer' ? 'maintainer' : 'member', state: role === 'pending' ? 'pending' : 'active'},
        rateHeaders(login),
      )
    }
    throw notFound()
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', serverUrl)
    const auth = authenticate(req)
    state.requests.push({method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, login: auth.login, scheme: auth.scheme})

    if (url.pathname === '/api/v3' || url.pathname.startsWith('/api/v3/')) {
      const path = url.pathname.slice('/api/v3'.length) || '/'
      try {
        const fault = faults.shift()
        if (fault) return send(res, fault.status, fault.body, {...rateHeaders(auth.login, fault.headers['x-ratelimit-remaining'] === '0'), ...fault.headers})
        if (auth.bad) throw new HttpError(401, {message: 'Bad credentials', documentation_url: DOCS, status: '401'})
        await api(req, res, url, path, auth.login)
      } catch (error) {
        if (!(error instanceof HttpError)) throw error
        send(res, error.status, error.body, {...rateHeaders(auth.login), ...error.headers})
      }
      return
    }

    // GitHub serves a repository with and without .git (actions/checkout fetches https://github.com/OWNER/REPO).
    const m = url.pathname.match(/^\/([^/]+)\/([^/]+?)(?:\.git(\/.*)|(\/(?:info\/refs|git-upload-pack|git-receive-pack)))$/u)
    if (m) return gitRequest(req, res, url, m[1] as string, m[2] as string, (m[3] ?? m[4]) as string, auth)
    res.writeHead(404, {'content-type': 'text/plain'})
    res.end('Not Found\n')
  }

  function gitRequest(req: IncomingMessage, res: ServerResponse, url: URL, owner: string, name: string, rest: string, auth: {login?: string; bad: boolean}): void {
    const challenge = () => {
      res.writeHead(401, {'content-type': 'text/plain', 'www-authenticate': 'Basic realm="GitHub"'})
      res.end(auth.bad ? 'remote: Invalid username or token. Password authentication is not supported for Git operations.\n' : '')
    }
    if (auth.bad) return challenge()
    const repo = state.repos.get(`${owner}/${name}`.toLowerCase())
    const write = url.searchParams.get('service') === 'git-receive-pack' || rest === '/git-receive-pack'
    const p = repo ? permission(repo, auth.login) : undefined
    if (!repo || !p) {
      // Anonymous callers are asked to authenticate first; authenticated ones learn nothing about private repos.
      if (!auth.login) return challenge()
      res.writeHead(404, {'content-type': 'text/plain'})
      return void res.end('remote: Repository not found.\n')
    }
    if (write && !auth.login) return challenge()
    if (write && RANK[p] < RANK.push) {
      res.writeHead(403, {'content-type': 'text/plain'})
      return void res.end(`remote: Permission to ${repo.owner.login}/${repo.name}.git denied to ${auth.login}.\n`)
    }
    const pathInfo = `/${repo.owner.login.toLowerCase()}/${repo.name.toLowerCase()}.git${rest}`
    git.serve(req, res, pathInfo, url.search.replace(/^\?/u, ''), auth.login)
  }

  return {
    apiUrl,
    serverUrl,
    state,
    faults: {
      rateLimitNext() {
        const reset = String(Math.floor(Date.now() / 1000) + 1800)
        faults.push({
          status: 403,
          body: {message: 'API rate limit exceeded for user ID 1.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api', status: '403'},
          headers: {'x-ratelimit-limit': String(RATE_LIMIT), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset, 'x-ratelimit-used': String(RATE_LIMIT), 'x-ratelimit-resource': 'core'},
        })
      },
      failNext(status: number, body: unknown) {
        faults.push({status, body, headers: {}})
      },
    },
    openPullRequest(fullName: string): number {
      const repo = state.repos.get(fullName.toLowerCase())
      if (!repo) throw new Error(`stand-in: no repository ${fullName}`)
      const number = repo.nextIssue++
      repo.issues.add(number)
      return number
    },
    addComment(fullName: string, issue: number, body: string, user: string): StandInComment {
      const repo = state.repos.get(fullName.toLowerCase())
      if (!repo?.issues.has(issue)) throw new Error(`stand-in: no issue ${fullName}#${issue}`)
      const now = new Date().toISOString().replace(/\.\d+Z$/u, 'Z')
      const comment = {id: commentId++, repo: `${repo.owner.login}/${repo.name}`, issue, body, user, createdAt: now, updatedAt: now}
      state.comments.push(comment)
      return comment
    },
    runningGitProcesses: () => git.children.size,
    async stop() {
      await git.stop()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await rm(root, {recursive: true, force: true})
    },
  }
}

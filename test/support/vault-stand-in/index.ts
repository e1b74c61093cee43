import {createSign, createVerify, generateKeyPairSync, randomBytes, randomUUID} from 'node:crypto'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

/**
 * A Vault stand-in for tests: the HTTP API idp uses, with the real server's paths, shapes, status
 * codes and error bodies (https://developer.hashicorp.com/vault/api-docs):
 *
 * - KV version 2: `GET /v1/<mount>/data/<path>[?version=N]` → `{data: {data, metadata}}`; a missing
 *   path 404 `{"errors":[]}`; a deleted version 404 with its metadata (deletion_time) and data null.
 * - `POST /v1/auth/<jwt mount>/login` `{role, jwt}` → `{auth: {client_token, lease_duration,
 *   renewable, policies, ...}}`; a bad role, signature, audience, expiry or bound claim is a 400.
 * - `POST /v1/sys/capabilities-self` `{paths}` → `{capabilities?, "<path>": [...], data: {...}}`.
 * - `POST /v1/auth/token/revoke-self` → 204.
 * - `X-Vault-Token` on every call but login (a missing, unknown, expired or revoked token is 403
 *   `{"errors":["permission denied"]}`), `X-Vault-Namespace` (tokens and secrets live in one).
 *
 * Policies are Vault's path rules: a glob ending in `*` (prefix) or with `+` (one segment), with
 * capabilities; `deny` wins. Listens on 127.0.0.1 only.
 */

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny'
export type Policy = Record<string, Capability[]>

interface KvVersion {
  data: Record<string, unknown>
  created: string
  deleted?: string
  destroyed?: boolean
}

interface TokenEntry {
  policies: string[]
  namespace: string
  expiresAt?: number
  revoked?: boolean
  /** Issued by a JWT login (the tests check idp revokes those). */
  fromLogin?: string
}

export interface JwtRole {
  policies: string[]
  /** The `aud` claim must hold one of these (Vault's bound_audiences). */
  boundAudiences?: string[]
  /** Claims that must match exactly (Vault's bound_claims). */
  boundClaims?: Record<string, string>
  ttlSeconds?: number
  namespace?: string
}

export interface VaultRequestRecord {
  method: string
  path: string
  namespace?: string
  /** Whether an X-Vault-Token header came (never its value). */
  token: boolean
  status: number
}

export interface VaultStandInOptions {
  /** KV v2 mounts, by path (default ["secret"]). */
  mounts?: string[]
  policies?: Record<string, Policy>
  /** JWT auth method mounted at auth/<jwtPath> (default "jwt"). */
  jwtPath?: string
  jwtRoles?: Record<string, JwtRole>
  /** PEM public keys the JWT auth method trusts (its jwt_validation_pubkeys) and the issuer it binds. */
  jwtTrust?: {publicKeys: string[]; issuer?: string}
}

export interface VaultStandIn {
  url: string
  kv: {
    put(mount: string, path: string, data: Record<string, unknown>, namespace?: string): number
    /** Soft-delete a version (default the latest), as `vault kv delete` does. */
    delete(mount: string, path: string, version?: number, namespace?: string): void
  }
  tokens: {
    create(options: {policies: string[]; ttlSeconds?: number; namespace?: string}): string
    expire(token: string): void
    /** Tokens a JWT login issued, with whether each was revoked since. */
    issued(): Array<{token: string; role: string; revoked: boolean}>
    live(token: string): boolean
  }
  policies: Record<string, Policy>
  jwtRoles: Record<string, JwtRole>
  trustJwtKey(publicKey: string, issuer?: string): void
  /** Answer JWT logins this much later, the token already issued (a slow or distant Vault). */
  delayLogins(ms: number): void
  requests(): VaultRequestRecord[]
  stop(): Promise<void>
}

const PERMISSION_DENIED = {errors: ['1 error occurred:\n\t* permission denied\n\n']}
const INVALID_TOKEN = {errors: ['permission denied']}

function globMatch(pattern: string, path: string): boolean {
  const prefix = pattern.endsWith('*')
  const parts = (prefix ? pattern.slice(0, -1) : pattern).split('/')
  const target = path.split('/')
  if (!prefix && parts.length !== target.length) return false
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    const segment = target[i]
    if (segment === undefined) return false
    if (part === '+') continue
    if (i === parts.length - 1 && prefix) return segment.startsWith(part)
    if (part !== segment) return false
  }
  return true
}

export async function startVaultStandIn(options: VaultStandInOptions = {}): Promise<VaultStandIn> {
  const mounts = new Set(options.mounts ?? ['secret'])
  const policies: Record<string, Policy> = {default: {'auth/token/revoke-self': ['update'], 'sys/capabilities-self': ['update']}, ...options.policies}
  const jwtPath = options.jwtPath ?? 'jwt'
  const jwtRoles: Record<string, JwtRole> = {...options.jwtRoles}
  const trust = {publicKeys: [...(options.jwtTrust?.publicKeys ?? [])], issuer: options.jwtTrust?.issuer}
  const kv = new Map<string, KvVersion[]>()
  const tokens = new Map<string, TokenEntry>()
  let loginDelayMs = 0
  const log: VaultRequestRecord[] = []

  const kvKey = (namespace: string, mount: string, path: string) => `${namespace}\u0000${mount}\u0000${path}`
  const newToken = (entry: TokenEntry) => {
    const token = `hvs.${randomBytes(18).toString('base64url')}`
    tokens.set(token, entry)
    return token
  }

  function capabilities(entry: TokenEntry, path: string): Capability[] {
    if (entry.policies.includes('root')) return ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo']
    const found = new Set<Capability>()
    for (const name of ['default', ...entry.policies]) {
      const policy = policies[name] ?? {}
      // The most specific rule (longest) wins, as in Vault; deny anywhere on it wins over the rest.
      const rules = Object.entries(policy).filter(([pattern]) => globMatch(pattern, path)).sort((a, b) => b[0].length - a[0].length)
      for (const cap of rules[0]?.[1] ?? []) found.add(cap)
    }
    if (found.has('deny')) return ['deny']
    return found.size === 0 ? ['deny'] : [...found].sort()
  }

  function authenticate(req: IncomingMessage, namespace: string): TokenEntry | undefined {
    const token = req.headers['x-vault-token']
    if (typeof token !== 'string') return undefined
    const entry = tokens.get(token)
    if (!entry || entry.revoked || entry.namespace !== namespace) return undefined
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) return undefined
    return entry
  }

  const envelope = (extra: Record<string, unknown>) => ({request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings: null, auth: null, mount_type: '', ...extra})

  function verifyJwt(jwt: string): {claims?: Record<string, unknown>; error?: string} {
    const parts = jwt.split('.')
    if (parts.length !== 3) return {error: 'error validating token: invalid JWT: compact JWS format must have three parts'}
    let header: {alg?: string}
    let claims: Record<string, unknown>
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as {alg?: string}
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
    } catch {
      return {error: 'error validating token: invalid JWT'}
    }
    if (header.alg !== 'RS256') return {error: `error validating token: unsupported signing algorithm "${String(header.alg)}"`}
    const signed = trust.publicKeys.some((key) => createVerify('RSA-SHA256').update(`${parts[0]}.${parts[1]}`).verify(key, Buffer.from(parts[2]!, 'base64url')))
    if (!signed) return {error: 'error validating token: failed to verify id token signature'}
    const now = Math.floor(Date.now() / 1000)
    if (typeof claims.exp === 'number' && claims.exp < now - 150) return {error: 'error validating token: token is expired (exp)'}
    if (typeof claims.nbf === 'number' && claims.nbf > now + 150) return {error: 'error validating token: token not valid yet (nbf)'}
    if (trust.issuer && claims.iss !== trust.issuer) return {error: 'error validating token: invalid issuer (iss) claim'}
    return {claims}
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://vault')
    const namespaceHeader = req.headers['x-vault-namespace']
    const namespace = typeof namespaceHeader === 'string' ? namespaceHeader.replace(/^\/+|\/+$/gu, '') : ''
    const send = (status: number, body?: unknown) => {
      log.push({method: req.method ?? '', path: url.pathname, ...(namespace ? {namespace} : {}), token: typeof req.headers['x-vault-token'] === 'string', status})
      if (body === undefined) {
        res.writeHead(status, {'cache-control': 'no-store'})
        res.end()
        return
      }
      const text = JSON.stringify(body)
      res.writeHead(status, {'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text)})
      res.end(text)
    }
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    let body: Record<string, unknown> = {}
    if (chunks.length > 0) {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
      } catch {
        return send(400, {errors: ['failed to parse JSON input: invalid character']})
      }
    }
    if (!url.pathname.startsWith('/v1/')) return send(404, {errors: []})
    const apiPath = decodeURIComponent(url.pathname.slice('/v1/'.length))
    const method = req.method ?? 'GET'

    // JWT login: no token needed.
    if (apiPath === `auth/${jwtPath}/login`) {
      if (method !== 'POST' && method !== 'PUT') return send(405, {errors: []})
      const roleName = body.role
      if (typeof roleName !== 'string' || roleName === '') return send(400, {errors: ['missing role']})
      const role = jwtRoles[roleName]
      if (!role || (role.namespace ?? '') !== namespace) return send(400, {errors: [`role "${roleName}" could not be found`]})
      if (typeof body.jwt !== 'string' || body.jwt === '') return send(400, {errors: ['missing token']})
      const {claims, error} = verifyJwt(body.jwt)
      if (!claims) return send(400, {errors: [error]})
      if (role.boundAudiences && role.boundAudiences.length > 0) {
        const aud = Array.isArray(claims.aud) ? claims.aud.map(String) : [String(claims.aud)]
        if (!aud.some((a) => role.boundAudiences!.includes(a))) return send(400, {errors: ['error validating claims: invalid audience (aud) claim: audience claim does not match any expected audience']})
      }
      for (const [claim, expected] of Object.entries(role.boundClaims ?? {})) {
        if (claims[claim] !== expected) return send(400, {errors: [`error validating claims: claim "${claim}" does not match any associated bound claim values`]})
      }
      const ttl = role.ttlSeconds ?? 3600
      const token = newToken({policies: role.policies, namespace, expiresAt: Date.now() + ttl * 1000, fromLogin: roleName})
      const tokenPolicies = ['default', ...role.policies]
      if (loginDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, loginDelayMs))
      if (res.destroyed) return
      return send(200, envelope({auth: {client_token: token, accessor: randomBytes(12).toString('base64url'), policies: tokenPolicies, token_policies: tokenPolicies, metadata: {role: roleName}, lease_duration: ttl, renewable: true, entity_id: randomUUID(), token_type: 'service', orphan: true, mfa_requirement: null, num_uses: 0}}))
    }

    const entry = authenticate(req, namespace)
    if (!entry) return send(403, INVALID_TOKEN)

    if (apiPath === 'auth/token/revoke-self') {
      if (method !== 'POST' && method !== 'PUT') return send(405, {errors: []})
      entry.revoked = true
      return send(204)
    }

    if (apiPath === 'sys/capabilities-self') {
      if (method !== 'POST' && method !== 'PUT') return send(405, {errors: []})
      const paths = Array.isArray(body.paths) ? body.paths.map(String) : typeof body.path === 'string' ? [body.path] : []
      if (paths.length === 0) return send(400, {errors: ['paths must be supplied']})
      const data: Record<string, unknown> = {}
      for (const path of paths) data[path] = capabilities(entry, path.replace(/^\/+/u, ''))
      if (paths.length === 1) data.capabilities = data[paths[0]!]
      return send(200, {...data, ...envelope({data})})
    }

    // KV v2 reads.
    const mount = [...mounts].find((m) => apiPath.startsWith(`${m}/`))
    const caps = capabilities(entry, apiPath)
    if (method !== 'GET') return send(405, {errors: []})
    if (!caps.includes('read') && !entry.policies.includes('root')) return send(403, PERMISSION_DENIED)
    if (!mount) return send(404, {errors: [`no handler for route "${apiPath}". route entry not found.`]})
    const rest = apiPath.slice(mount.length + 1)
    if (!rest.startsWith('data/')) return send(404, {errors: []})
    const versions = kv.get(kvKey(namespace, mount, rest.slice('data/'.length)))
    if (!versions || versions.length === 0) return send(404, {errors: []})
    const wanted = url.searchParams.get('version')
    const number = wanted === null || wanted === '0' ? versions.length : Number(wanted)
    const version = Number.isInteger(number) && number >= 1 ? versions[number - 1] : undefined
    if (!version) return send(404, {errors: []})
    const metadata = {created_time: version.created, custom_metadata: null, deletion_time: version.deleted ?? '', destroyed: version.destroyed === true, version: number}
    if (version.deleted || version.destroyed) return send(404, envelope({data: {data: null, metadata}, mount_type: 'kv'}))
    return send(200, envelope({data: {data: version.data, metadata}, mount_type: 'kv'}))
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, {'content-type': 'application/json'})
      res.end(JSON.stringify({errors: [String(error)]}))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    kv: {
      put(mount, path, data, namespace = '') {
        mounts.add(mount)
        const key = kvKey(namespace, mount, path)
        const versions = kv.get(key) ?? []
        versions.push({data: structuredClone(data), created: new Date().toISOString()})
        kv.set(key, versions)
        return versions.length
      },
      delete(mount, path, version, namespace = '') {
        const versions = kv.get(kvKey(namespace, mount, path)) ?? []
        const target = versions[(version ?? versions.length) - 1]
        if (target) target.deleted = new Date().toISOString()
      },
    },
    delayLogins(ms) {
      loginDelayMs = ms
    },
    tokens: {
      create: ({policies: list, ttlSeconds, namespace = ''}) => newToken({policies: list, namespace, ...(ttlSeconds === undefined ? {} : {expiresAt: Date.now() + ttlSeconds * 1000})}),
      expire(token) {
        const entry = tokens.get(token)
        if (entry) entry.expiresAt = Date.now() - 1000
      },
      issued: () => [...tokens.entries()].filter(([, entry]) => entry.fromLogin).map(([token, entry]) => ({token, role: entry.fromLogin!, revoked: entry.revoked === true})),
      live(token) {
        const entry = tokens.get(token)
        return Boolean(entry && !entry.revoked && (entry.expiresAt === undefined || entry.expiresAt > Date.now()))
      },
    },
    policies,
    jwtRoles,
    trustJwtKey(publicKey, issuer) {
      trust.publicKeys.push(publicKey)
      if (issuer) trust.issuer = issuer
    },
    requests: () => [...log],
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}

/** The issuer of GitHub Actions' OIDC tokens. */
export const GITHUB_OIDC_ISSUER = 'https://token.actions.githubusercontent.com'

export interface GitHubOidcStandIn {
  /** ACTIONS_ID_TOKEN_REQUEST_URL, with the api-version query GitHub puts in it. */
  requestUrl: string
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  requestToken: string
  publicKey: string
  /** The audiences asked for, in order (undefined: no audience parameter). */
  audiences(): Array<string | undefined>
  /** The JWTs handed out, so tests can look for them in output. */
  issued(): string[]
  stop(): Promise<void>
}

/**
 * GitHub Actions' OIDC token endpoint: `GET <ACTIONS_ID_TOKEN_REQUEST_URL>&audience=<aud>` with
 * `Authorization: bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>` → `{"count": n, "value": "<jwt>"}`, an
 * RS256 JWT with the claims of a job (iss, aud, sub, repository, ref, ...). Without `audience` the
 * token's audience is the URL of the repository owner, as on GitHub.
 */
export async function startGitHubOidcStandIn(options: {claims?: Record<string, unknown>; ttlSeconds?: number} = {}): Promise<GitHubOidcStandIn> {
  const {privateKey, publicKey} = generateKeyPairSync('rsa', {modulusLength: 2048, publicKeyEncoding: {type: 'spki', format: 'pem'}, privateKeyEncoding: {type: 'pkcs8', format: 'pem'}})
  const requestToken = `oidc-request-${randomBytes(16).toString('hex')}`
  const audiences: Array<string | undefined> = []
  const issued: string[] = []
  const claims = {repository: 'acme/shop', repository_owner: 'acme', ref: 'refs/pull/7/merge', sub: 'repo:acme/shop:pull_request', event_name: 'pull_request', ...options.claims}
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://oidc')
    const send = (status: number, body: unknown) => {
      res.writeHead(status, {'content-type': 'application/json'})
      res.end(JSON.stringify(body))
    }
    if (req.method !== 'GET' || url.pathname !== '/_apis/distributedtask/hubs/Actions/plans/1/jobs/1/idtoken') return send(404, {message: 'Not Found'})
    if (req.headers.authorization?.toLowerCase() !== `bearer ${requestToken}`) return send(401, {message: 'Unauthorized: the request token is not valid for this job.'})
    const audience = url.searchParams.get('audience') ?? undefined
    audiences.push(audience)
    const now = Math.floor(Date.now() / 1000)
    const header = Buffer.from(JSON.stringify({alg: 'RS256', typ: 'JWT', kid: 'stand-in'})).toString('base64url')
    const payload = Buffer.from(JSON.stringify({jti: randomUUID(), iss: GITHUB_OIDC_ISSUER, aud: audience ?? `https://github.com/${String(claims.repository_owner)}`, iat: now, nbf: now - 5, exp: now + (options.ttlSeconds ?? 300), ...claims})).toString('base64url')
    const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(privateKey).toString('base64url')
    const jwt = `${header}.${payload}.${signature}`
    issued.push(jwt)
    send(200, {count: 1, value: jwt})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    requestUrl: `http://127.0.0.1:${port}/_apis/distributedtask/hubs/Actions/plans/1/jobs/1/idtoken?api-version=2.0`,
    requestToken,
    publicKey,
    audiences: () => [...audiences],
    issued: () => [...issued],
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}

/**
 * Vault, as idp uses it: read KV version 2 secrets, ask what the token may do on paths
 * (sys/capabilities-self), log in through the JWT auth method with GitHub Actions' OIDC token, and
 * revoke a token idp obtained (auth/token/revoke-self). Settings follow the vault CLI's variables
 * (VAULT_ADDR, VAULT_NAMESPACE, VAULT_CACERT, VAULT_TOKEN, ~/.vault-token), with .idp.yml winning
 * over the ambient environment (docs/secrets.md).
 *
 * Values never leave memory: a token idp meets is registered with the redactor the moment it is
 * known, every value read is too, and no error quotes a response body beyond Vault's own
 * `errors` list.
 */
import {readFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {CancelledError, PrerequisiteError, RemoteError} from '../cli/errors.js'
import {MAX_INPUT_BYTES, readBoundedText} from '../cli/paths.js'
import {redact, registerSecret} from '../cli/redact.js'
import type {VaultSettings} from '../config/environments.js'
import {cleartextToAnotherMachine, httpJson, HttpUnreachable} from '../cli/http.js'

/**
 * A value read from Vault joins the redactor's list when it is at least 8 characters: by
 * construction no value reaches any output, so this is a second line only, and masking a short
 * value ("shop", "admin", "5432") would mangle every line that holds the word.
 */
export const MIN_REDACTED_VALUE = 8

export function registerValue(value: string): void {
  if (value.length >= MIN_REDACTED_VALUE) registerSecret(value)
}

/** Where a request goes: the resolved address, namespace and CA. */
export interface VaultTarget {
  address: string
  namespace?: string
  /** PEM text of the CA to trust. */
  ca?: string
  /** Where each setting came from, for doctor and messages (never a value that is secret). */
  from: {address: string; namespace?: string; ca?: string}
}

/** Resolve address, namespace and CA: .idp.yml, then VAULT_ADDR / VAULT_NAMESPACE / VAULT_CACERT. */
export async function vaultTarget(settings: VaultSettings, env: NodeJS.ProcessEnv): Promise<VaultTarget> {
  const address = settings.address ?? env.VAULT_ADDR
  if (!address) {
    throw new PrerequisiteError('No Vault address: secrets.vault.address is not set in .idp.yml and VAULT_ADDR is empty.', {
      hint: 'Set secrets.vault.address in .idp.yml (it wins), or export VAULT_ADDR=https://vault.example.com:8200.',
    })
  }
  let url: URL
  try {
    url = new URL(address)
  } catch {
    throw new PrerequisiteError(`VAULT_ADDR "${address}" is not a URL.`, {hint: 'export VAULT_ADDR=https://vault.example.com:8200'})
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new PrerequisiteError(`The Vault address ${address} is not http(s).`, {hint: 'Use https://host:8200.'})
  // The token and every secret read cross the network: plain http only to this machine (a dev
  // server, a local agent), as idp's registry client, unless the user says the network is trusted.
  if (cleartextToAnotherMachine(url, env, 'IDP_VAULT_ALLOW_HTTP')) {
    throw new PrerequisiteError(`The Vault address ${url.origin} (${settings.address ? 'secrets.vault.address' : 'VAULT_ADDR'}) is plain http to another machine: the Vault token and every secret read would cross the network unencrypted. idp sent nothing.`, {
      hint: `Use https:// (with VAULT_CACERT or secrets.vault.caCert for a private CA). Plain http is used without asking only on this machine (localhost, 127.0.0.1, [::1]); if the network to ${url.host} is private and trusted, opt in with IDP_VAULT_ALLOW_HTTP=true.`,
    })
  }
  const namespace = settings.namespace ?? (env.VAULT_NAMESPACE || undefined)
  const caFile = settings.caCert ?? (env.VAULT_CACERT || undefined)
  let ca: string | undefined
  if (caFile) {
    try {
      ca = await readBoundedText(caFile, MAX_INPUT_BYTES)
    } catch (error) {
      throw new PrerequisiteError(`Could not read the Vault CA certificate ${caFile} (${settings.caCert ? 'secrets.vault.caCert' : 'VAULT_CACERT'}): ${error instanceof Error ? error.message : String(error)}`, {
        hint: 'Point it at a PEM file holding the CA that signed Vault\'s certificate.',
      })
    }
  }
  return {
    address: url.href.replace(/\/+$/u, ''),
    ...(namespace ? {namespace} : {}),
    ...(ca ? {ca} : {}),
    from: {
      address: settings.address ? 'secrets.vault.address' : 'VAULT_ADDR',
      ...(namespace ? {namespace: settings.namespace ? 'secrets.vault.namespace' : 'VAULT_NAMESPACE'} : {}),
      ...(caFile ? {ca: settings.caCert ? 'secrets.vault.caCert' : 'VAULT_CACERT'} : {}),
    },
  }
}

export interface VaultCallOptions {
  body?: unknown
  query?: Record<string, string>
  token?: string
  signal?: AbortSignal
}

/** Vault's `{"errors": [...]}`, flattened to one line ("1 error occurred: * permission denied" → "permission denied"). */
export function vaultErrors(body: unknown): string[] {
  const errors = (body as {errors?: unknown} | undefined)?.errors
  if (!Array.isArray(errors)) return []
  return errors
    .map((error) => String(error).replace(/^\d+ errors? occurred:\s*/u, '').replaceAll(/\s*\*\s*/gu, ' ').replaceAll(/\s+/gu, ' ').trim())
    .filter(Boolean)
}

/** One Vault API call: `/v1/<apiPath>`, X-Vault-Token and X-Vault-Namespace set, network failures as RemoteError. */
export async function vaultCall(target: VaultTarget, method: 'GET' | 'POST', apiPath: string, what: string, options: VaultCallOptions = {}): Promise<{status: number; body: unknown}> {
  const url = new URL(`${target.address}/v1/${apiPath}`)
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value)
  const headers: Record<string, string> = {}
  if (options.token) headers['x-vault-token'] = options.token
  if (target.namespace) headers['x-vault-namespace'] = target.namespace
  try {
    return await httpJson({method, url, headers, body: options.body, ...(target.ca ? {ca: target.ca} : {}), ...(options.signal ? {signal: options.signal} : {})})
  } catch (error) {
    if (!(error instanceof HttpUnreachable)) throw error
    throw new RemoteError(redact(`Could not reach Vault at ${target.address} to ${what}: ${error.code && !error.message.includes(error.code) ? `${error.code}: ` : ''}${error.message}`), {
      hint: `Check the address (${target.from.address}), your network/VPN${target.from.ca ? '' : ', and for a private CA set VAULT_CACERT or secrets.vault.caCert'}; \`idp doctor\` checks Vault.`,
      details: {vault: target.address, ...(error.code ? {networkCode: error.code} : {})},
    })
  }
}

/** A refusal of Vault's as a RemoteError (exit 6): status, Vault's error text, and a hint for the usual causes. */
export function vaultRefusal(target: VaultTarget, what: string, status: number, body: unknown, hint?: string): RemoteError {
  const errors = vaultErrors(body)
  const text = errors.length > 0 ? errors.join('; ') : status === 404 ? 'not found' : `HTTP ${status}`
  const defaultHint =
    status === 403
      ? 'The token lacks the permission, or it expired or was revoked. Check it with `vault token lookup` and its policies with `vault token capabilities <path>`; `idp doctor` checks the configured paths.'
      : status === 503
        ? 'Vault is sealed or in standby. Wait until it is unsealed and active, then retry.'
        : status >= 500 || status === 429
          ? 'Vault is failing or rate-limiting. Wait a moment and retry.'
          : 'See Vault\'s message above.'
  return new RemoteError(redact(`Vault refused to ${what}: ${status} ${text}`), {hint: hint ?? defaultHint, details: {vault: target.address, statusCode: status, ...(errors.length > 0 ? {vaultErrors: errors.map((e) => redact(e))} : {})}})
}

/** The API path of a KV v2 secret: `<mount>/data/<path>`, each segment URL-encoded. */
export function kvDataPath(mount: string, secretPath: string): string {
  return [...mount.split('/'), 'data', ...secretPath.split('/')].map((segment) => encodeURIComponent(segment)).join('/')
}

export interface KvSecret {
  data: Record<string, unknown>
  version: number
  createdTime?: string
}

/** Read a KV v2 secret (the current version, or `version`). A missing path, a deleted version or a refusal is a RemoteError. */
export async function readKv(target: VaultTarget, token: string, mount: string, secretPath: string, options: {version?: number; signal?: AbortSignal} = {}): Promise<KvSecret> {
  const where = `${mount}/${secretPath}${options.version === undefined ? '' : ` (version ${options.version})`}`
  const what = `read ${where}`
  const {status, body} = await vaultCall(target, 'GET', kvDataPath(mount, secretPath), what, {
    token,
    ...(options.version === undefined ? {} : {query: {version: String(options.version)}}),
    ...(options.signal ? {signal: options.signal} : {}),
  })
  const inner = (body as {data?: {data?: unknown; metadata?: {version?: unknown; created_time?: unknown; deletion_time?: unknown; destroyed?: unknown}}} | undefined)?.data
  if (status === 404) {
    const metadata = inner?.metadata
    if (metadata && (metadata.destroyed === true || (typeof metadata.deletion_time === 'string' && metadata.deletion_time !== ''))) {
      throw vaultRefusal(target, what, status, {errors: [`version ${String(metadata.version)} was ${metadata.destroyed === true ? 'destroyed' : 'deleted'}`]}, `Write the secret again (\`vault kv put -mount=${mount} ${secretPath} ...\`), undelete the version, or pin another version in .idp.yml.`)
    }
    throw vaultRefusal(target, what, status, {errors: [`no secret at this path of the KV v2 mount ${mount}`]}, `Write it (\`vault kv put -mount=${mount} ${secretPath} key=...\`), or fix the path in .idp.yml (inside the mount, without data/).`)
  }
  if (status !== 200) throw vaultRefusal(target, what, status, body)
  if (!inner || typeof inner.data !== 'object' || inner.data === null || Array.isArray(inner.data)) {
    throw new RemoteError(`Vault answered the read of ${where} without KV v2 data.`, {hint: `Check that ${mount} is a KV version 2 mount (\`vault secrets list -detailed\`); idp does not read KV version 1.`})
  }
  const data = inner.data as Record<string, unknown>
  for (const value of Object.values(data)) registerValue(typeof value === 'string' ? value : JSON.stringify(value))
  const version = typeof inner.metadata?.version === 'number' ? inner.metadata.version : (options.version ?? 0)
  return {data, version, ...(typeof inner.metadata?.created_time === 'string' ? {createdTime: inner.metadata.created_time} : {})}
}

/** sys/capabilities-self: what the token may do on each path (API paths, e.g. kv/data/shop/db). */
export async function capabilitiesSelf(target: VaultTarget, token: string, paths: string[], signal?: AbortSignal): Promise<Record<string, string[]>> {
  const what = 'look up the token\'s capabilities (sys/capabilities-self)'
  const {status, body} = await vaultCall(target, 'POST', 'sys/capabilities-self', what, {token, body: {paths}, ...(signal ? {signal} : {})})
  if (status !== 200) throw vaultRefusal(target, what, status, body)
  const answer = (body ?? {}) as Record<string, unknown>
  const data = (answer.data && typeof answer.data === 'object' ? answer.data : answer) as Record<string, unknown>
  const out: Record<string, string[]> = {}
  for (const p of paths) {
    const caps = data[p] ?? answer[p] ?? (paths.length === 1 ? (data.capabilities ?? answer.capabilities) : undefined)
    out[p] = Array.isArray(caps) ? caps.map(String) : []
  }
  return out
}

/** A token and whether idp obtained it (and so must revoke it). */
export interface VaultToken {
  token: string
  /** idp logged in for it (JWT): revoke-self when the command ends. */
  obtained: boolean
  /** How it was found: VAULT_TOKEN, ~/.vault-token, or jwt login (role). */
  source: string
}

export interface TokenOptions {
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
}

/** GitHub Actions' OIDC token request is possible: the job has `permissions: id-token: write`. */
export function githubOidcAvailable(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
}

/**
 * The token idp uses. auth.method jwt in GitHub Actions (the OIDC request variables are set): log
 * in with the job's OIDC token (obtained, revoked at the end). Otherwise VAULT_TOKEN, then
 * ~/.vault-token (the vault CLI's token helper file); nothing found is a PrerequisiteError.
 */
export async function vaultToken(target: VaultTarget, auth: VaultSettings['auth'], options: TokenOptions): Promise<VaultToken> {
  const {env} = options
  if (auth.method === 'jwt' && githubOidcAvailable(env)) {
    const jwt = await githubOidcToken(env, auth.audience, options.signal)
    return jwtLogin(target, auth, jwt, options.signal)
  }
  if (env.VAULT_TOKEN) {
    registerSecret(env.VAULT_TOKEN)
    return {token: env.VAULT_TOKEN, obtained: false, source: 'VAULT_TOKEN'}
  }
  const home = env.HOME || os.homedir()
  const file = path.join(home, '.vault-token')
  const fromFile = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  )
  if (fromFile) {
    registerSecret(fromFile)
    return {token: fromFile, obtained: false, source: '~/.vault-token'}
  }
  const jwtHint = auth.method === 'jwt' ? ' In GitHub Actions, give the job `permissions: id-token: write` so idp can log in with its OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL is not set here).' : ''
  throw new PrerequisiteError(`No Vault token: VAULT_TOKEN is empty and there is no ~/.vault-token.${auth.method === 'jwt' ? ' The JWT login needs GitHub Actions\' OIDC token, which is not available here.' : ''}`, {
    hint: `Log in with \`vault login\` (or export VAULT_TOKEN).${jwtHint} See docs/secrets.md.`,
  })
}

/** GitHub Actions' OIDC token for `audience` (ACTIONS_ID_TOKEN_REQUEST_URL with the request token as bearer). */
export async function githubOidcToken(env: NodeJS.ProcessEnv, audience: string | undefined, signal?: AbortSignal): Promise<string> {
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN!
  registerSecret(requestToken)
  let url: URL
  try {
    url = new URL(env.ACTIONS_ID_TOKEN_REQUEST_URL!)
  } catch {
    throw new PrerequisiteError('ACTIONS_ID_TOKEN_REQUEST_URL is not a URL.', {hint: 'It is set by GitHub Actions for jobs with `permissions: id-token: write`; do not set it by hand.'})
  }
  if (audience) url.searchParams.set('audience', audience)
  const what = 'get the job\'s OIDC token from GitHub Actions'
  let answer: {status: number; body: unknown}
  try {
    answer = await httpJson({method: 'GET', url, headers: {authorization: `bearer ${requestToken}`}, ...(signal ? {signal} : {})})
  } catch (error) {
    if (!(error instanceof HttpUnreachable)) throw error
    throw new RemoteError(`Could not reach GitHub Actions to ${what}: ${error.message}`, {hint: 'Retry the job; the OIDC token service of GitHub Actions may be failing.'})
  }
  const value = (answer.body as {value?: unknown} | undefined)?.value
  if (answer.status !== 200 || typeof value !== 'string' || value === '') {
    const message = (answer.body as {message?: unknown} | undefined)?.message
    throw new RemoteError(redact(`GitHub Actions refused to ${what}: ${answer.status}${typeof message === 'string' ? ` ${message}` : ''}`), {
      hint: 'Give the job `permissions: id-token: write`; the request token expires with the job.',
    })
  }
  registerSecret(value)
  return value
}

/**
 * POST auth/<path>/login {role, jwt}: a Vault token for the role's policies. Never started after
 * Ctrl-C; once started, not cut short by it (Vault may already have issued a token idp would
 * then never see, let alone revoke): it finishes, and a token obtained after Ctrl-C is revoked at
 * once before the command stops.
 */
export async function jwtLogin(target: VaultTarget, auth: VaultSettings['auth'], jwt: string, signal?: AbortSignal): Promise<VaultToken> {
  const mountPath = auth.path.split('/').map((segment) => encodeURIComponent(segment)).join('/')
  const what = `log in with the JWT auth method (auth/${auth.path}, role ${auth.role ?? '(none)'})`
  if (signal?.aborted) throw new CancelledError('Cancelled before logging in to Vault; no token was obtained.')
  const {status, body} = await vaultCall(target, 'POST', `auth/${mountPath}/login`, what, {body: {role: auth.role, jwt}})
  const token = (body as {auth?: {client_token?: unknown}} | undefined)?.auth?.client_token
  if (status !== 200 || typeof token !== 'string' || token === '') {
    throw vaultRefusal(target, what, status, body, `Check that role ${auth.role ?? ''} exists at auth/${auth.path}, that its bound_audiences include the audience idp asks GitHub for (secrets.vault.auth.audience), and that its bound_claims (repository, ref, environment) match this job.`)
  }
  registerSecret(token)
  const obtained: VaultToken = {token, obtained: true, source: `jwt login (role ${auth.role ?? ''})`}
  if (signal?.aborted) {
    const revoked = await revokeToken(target, obtained).then(
      () => true,
      () => false,
    )
    throw new CancelledError(`Cancelled while logging in to Vault; ${revoked ? 'the token it issued was revoked' : 'the token it issued could not be revoked: it expires with its TTL'}.`)
  }
  return obtained
}

/** auth/token/revoke-self for a token idp obtained; a token the user gave is never revoked. */
export async function revokeToken(target: VaultTarget, token: VaultToken): Promise<void> {
  if (!token.obtained) return
  // Not tied to the command's signal: a Ctrl-C'd run still revokes what it obtained.
  const {status, body} = await vaultCall(target, 'POST', 'auth/token/revoke-self', 'revoke the token idp obtained', {token: token.token})
  if (status !== 204 && status !== 200) throw vaultRefusal(target, 'revoke the token idp obtained', status, body)
}

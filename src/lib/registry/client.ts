/**
 * Asks an OCI distribution registry whether an image exists, before anything changes: `HEAD
 * /v2/<name>/manifests/<tag>` with the manifest media types a runtime pulls, following the
 * registry's challenge the way docker and containerd do (401 + `WWW-Authenticate: Bearer
 * realm,service,scope` → GET a token from the realm, anonymously or with the credentials →
 * retry; 401 + `Basic` → retry with the credentials). Through idp's one HTTP client
 * (cli/http.ts, node:http/https), which follows the registry's redirects (at most 5) and never
 * takes the Authorization header to another origin; nothing cached.
 *
 * Credentials come from the environment only (never argv): IDP_REGISTRY_USERNAME and
 * IDP_REGISTRY_PASSWORD for the registry IDP_REGISTRY_HOST names (as `docker login <host>` binds
 * them: never sent to another registry, whatever image.repository of .idp.yml says), else for
 * ghcr.io GITHUB_TOKEN (then GH_TOKEN), sent as the password of Basic auth to ghcr's token
 * endpoint as GitHub documents for `docker login ghcr.io`. A registry's bearer challenge may name
 * a token realm on another host (Docker Hub's is auth.docker.io): the credentials go there as
 * docker's do, but only over https or to this machine. Every secret is registered with the
 * redactor before use.
 */
import {CancelledError, type IdpError, PrerequisiteError, RemoteError, TimeoutError} from '../cli/errors.js'
import {httpRequest, type HttpResponse} from '../cli/http.js'
import {registerSecret} from '../cli/redact.js'
import {formatReference, type ImageReference, isLoopbackHost, registryBaseUrl} from './reference.js'

/** What a runtime pulling the image accepts: OCI index and manifest, Docker v2 manifest list and manifest. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ')

/** A check never waits longer than this, whatever the command's --timeout. */
export const IMAGE_CHECK_LIMIT_MS = 30_000

export type ImageStatus = 'present' | 'missing' | 'denied' | 'unreachable' | 'error' | 'skipped'

/** What `--json` reports about the image check (`result.image`). */
export interface ImageCheck {
  /** The image the command runs, e.g. ghcr.io/acme/shop:1a2b3c4. */
  image: string
  status: ImageStatus
  /** The manifest's digest (Docker-Content-Digest), when present. */
  digest?: string
  mediaType?: string
  /** One line: why it was skipped, or what the registry said. */
  reason?: string
}

export interface ImageCheckOutcome {
  check: ImageCheck
  /** The error a real run stops with; undefined when the image is present. */
  problem?: IdpError
}

export interface RegistryCredentials {
  username: string
  password: string
  /** Which variables they came from, for messages: never the values. */
  source: string
}

export interface CheckImageOptions {
  env: NodeJS.ProcessEnv
  /** The command's signal: Ctrl-C cancels the check (exit 130). */
  signal: AbortSignal
  /** The command's --timeout; the check waits at most this, and at most IMAGE_CHECK_LIMIT_MS. */
  timeoutMs: number
  limitMs?: number
}

const GHCR = 'ghcr.io'
const SKIP = 'Pass --skip-image-check (IDP_SKIP_IMAGE_CHECK=true) only if the cluster pulls from a registry this machine cannot reach.'

/**
 * A registry host as `docker login` takes it, compared the way references name registries:
 * `https://registry.example.com:5000/` → registry.example.com:5000; Docker Hub's names
 * (index.docker.io, registry-1.docker.io, https://index.docker.io/v1/) → docker.io.
 */
export function normalizeRegistryHost(text: string): string {
  const host = text.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//iu, '').replace(/\/.*$/su, '').toLowerCase()
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host
}

/** The credentials idp would use for a registry, or undefined (anonymous). */
export function registryCredentials(registry: string, env: NodeJS.ProcessEnv): RegistryCredentials | undefined {
  const username = env.IDP_REGISTRY_USERNAME?.trim()
  const password = env.IDP_REGISTRY_PASSWORD
  const host = env.IDP_REGISTRY_HOST?.trim()
  if (username && password && host && normalizeRegistryHost(host) === normalizeRegistryHost(registry)) {
    registerSecret(password)
    return {username, password, source: 'IDP_REGISTRY_USERNAME/IDP_REGISTRY_PASSWORD'}
  }
  if (registry === GHCR) {
    for (const name of ['GITHUB_TOKEN', 'GH_TOKEN'] as const) {
      const token = env[name]?.trim()
      if (token) {
        registerSecret(token)
        return {username: env.GITHUB_ACTOR?.trim() || 'idp', password: token, source: name}
      }
    }
  }
  return undefined
}

/** What to set when a registry wants credentials, per registry; says why set credentials were not used. */
export function credentialHint(registry: string, env: NodeJS.ProcessEnv = {}): string {
  // Worded without NAME=value, which the redactor would take for a credential.
  const set = env.IDP_REGISTRY_USERNAME?.trim() && env.IDP_REGISTRY_PASSWORD
  const host = env.IDP_REGISTRY_HOST?.trim()
  const unused = !set
    ? ''
    : host
      ? `IDP_REGISTRY_USERNAME and IDP_REGISTRY_PASSWORD are set for ${normalizeRegistryHost(host)} (IDP_REGISTRY_HOST), not for ${registry}, so idp did not send them. `
      : `IDP_REGISTRY_USERNAME and IDP_REGISTRY_PASSWORD are set but IDP_REGISTRY_HOST is not, so idp sent them nowhere: set IDP_REGISTRY_HOST to the registry they are for (${registry}, the host you would give docker login). `
  return registry === GHCR
    ? `${unused}Set GITHUB_TOKEN (or GH_TOKEN) to a token that can read the package (read:packages); in GitHub Actions pass the workflow's GITHUB_TOKEN in the step's env and give the job the \`packages: read\` permission. IDP_REGISTRY_USERNAME and IDP_REGISTRY_PASSWORD take precedence when both are set and IDP_REGISTRY_HOST is ghcr.io.`
    : `${unused}Set IDP_REGISTRY_USERNAME and IDP_REGISTRY_PASSWORD (a password or token with pull access to ${registry}) and IDP_REGISTRY_HOST (${registry}) in the environment.`
}

export interface Challenge {
  scheme: 'bearer' | 'basic' | string
  params: Record<string, string>
}

/** Parse a WWW-Authenticate header (one challenge: `Bearer realm="...",service="...",scope="..."`). */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/su.exec(header)
  if (!match) return undefined
  const params: Record<string, string> = {}
  const pattern = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/gu
  for (const m of match[2]!.matchAll(pattern)) params[m[1]!.toLowerCase()] = m[2] === undefined ? (m[3] ?? '') : m[2].replace(/\\(.)/gu, '$1')
  return {scheme: match[1]!.toLowerCase(), params}
}

class CheckAborted extends Error {}

/**
 * Check that the image exists. Never throws for what the registry or network says: the outcome
 * holds the status for `--json` and, unless present, the error a real run stops with. Ctrl-C is
 * the exception: a CancelledError.
 */
export async function checkImage(ref: ImageReference, options: CheckImageOptions): Promise<ImageCheckOutcome> {
  const image = formatReference(ref)
  const limitMs = Math.min(options.timeoutMs, options.limitMs ?? IMAGE_CHECK_LIMIT_MS)
  const byCommandTimeout = options.timeoutMs <= (options.limitMs ?? IMAGE_CHECK_LIMIT_MS)
  const controller = new AbortController()
  const onAbort = () => controller.abort(new CheckAborted('cancelled'))
  options.signal.addEventListener('abort', onAbort, {once: true})
  const timer = setTimeout(() => controller.abort(new CheckAborted('timeout')), limitMs)
  timer.unref?.()
  const credentials = registryCredentials(ref.registry, options.env)
  const session = new Session(ref, credentials, controller.signal, options.env, limitMs)
  try {
    if (options.signal.aborted) throw new CancelledError(`Cancelled before checking image ${image}.`)
    return await session.check(image)
  } catch (error) {
    if (options.signal.aborted) throw new CancelledError(`Cancelled while checking image ${image}.`, {hint: 'Nothing was changed.'})
    if (controller.signal.aborted) {
      const within = limitMs < 1000 ? `${limitMs}ms` : `${Math.round(limitMs / 1000)}s`
      const reason = `${ref.registry} did not answer within ${within}`
      const problem = byCommandTimeout
        ? new TimeoutError(`Checking image ${image} ran out of time: ${reason} (--timeout).`, {hint: `Retry with a longer --timeout, or check the network to ${ref.registry}. ${SKIP}`, details: {image}})
        : new RemoteError(`Registry ${ref.registry} is unreachable: it did not answer within ${within}, so idp cannot check that image ${image} exists.`, {hint: `Check the network, VPN or proxy to ${ref.registry}. ${SKIP}`, details: {image}})
      return {check: {image, status: 'unreachable', reason}, problem}
    }
    if (error instanceof RegistryFailure) return {check: {image, status: error.status, reason: error.reason}, problem: error.problem}
    const reason = networkReason(error)
    return {
      check: {image, status: 'unreachable', reason},
      problem: new RemoteError(`Registry ${ref.registry} is unreachable (${reason}), so idp cannot check that image ${image} exists.`, {
        hint: `Check the registry host in image.repository of .idp.yml and the network, VPN or proxy to ${registryBaseUrl(ref.registry)}. ${SKIP}`,
        details: {image},
      }),
    }
  } finally {
    clearTimeout(timer)
    options.signal.removeEventListener('abort', onAbort)
  }
}

/** A registry answer that ends the check with a status other than present. */
class RegistryFailure extends Error {
  constructor(
    readonly status: ImageStatus,
    readonly reason: string,
    readonly problem: IdpError,
  ) {
    super(reason)
  }
}

/** The connection error behind a failed request, as one short phrase (ECONNREFUSED 127.0.0.1:5000, ENOTFOUND ...). */
function networkReason(error: unknown): string {
  const code = (error as {code?: unknown} | undefined)?.code
  const message = error instanceof Error ? error.message : String(error)
  if (typeof code !== 'string') return message
  // node:http words them `connect ECONNREFUSED 127.0.0.1:5000`, `getaddrinfo ENOTFOUND registry.invalid`.
  const withHost = /\b[A-Z_]+\b\s+(\S+)$/u.exec(message)?.[1]
  return withHost ? `${code} ${withHost}` : code
}

/** One check's requests against one registry: the URL, the credentials, a token once obtained. */
class Session {
  private readonly base: string
  private readonly url: string

  constructor(
    private readonly ref: ImageReference,
    private readonly credentials: RegistryCredentials | undefined,
    private readonly signal: AbortSignal,
    private readonly env: NodeJS.ProcessEnv,
    /** The check's own limit: the signal ends it; each request's no-answer timeout is only a backstop behind it. */
    private readonly limitMs: number,
  ) {
    this.base = registryBaseUrl(ref.registry)
    this.url = `${this.base}/v2/${ref.repository}/manifests/${ref.digest ?? ref.tag ?? 'latest'}`
  }

  async check(image: string): Promise<ImageCheckOutcome> {
    let response = await this.request('HEAD', this.url)
    let authorization: string | undefined
    if (response.status === 401) {
      const challenge = parseChallenge(response.headers['www-authenticate'])
      if (challenge?.scheme === 'bearer' && challenge.params.realm) {
        authorization = `Bearer ${await this.token(challenge.params, image)}`
      } else if (challenge?.scheme === 'basic' && this.credentials) {
        authorization = basic(this.credentials)
      }
      if (authorization) response = await this.request('HEAD', this.url, authorization)
    }
    const {status} = response
    if (status === 200) {
      const digest = response.headers['docker-content-digest']
      const mediaType = response.headers['content-type']?.split(';')[0]?.trim()
      return {check: {image, status: 'present', ...(digest ? {digest} : {}), ...(mediaType ? {mediaType} : {})}}
    }
    if (status === 404) {
      // HEAD has no body: the error code (MANIFEST_UNKNOWN, NAME_UNKNOWN) comes from a GET of the same URL.
      const code = await this.errorCode(authorization)
      const what = code === 'NAME_UNKNOWN' ? `repository ${this.ref.repository} does not exist` : `no manifest for ${this.ref.digest ? 'digest' : 'tag'} ${this.ref.digest ?? this.ref.tag}`
      const reason = `${this.ref.registry} answered 404${code ? ` ${code}` : ''}: ${what}`
      throw new RegistryFailure('missing', reason, new PrerequisiteError(`Image ${image} does not exist (${reason}). Did the build job push it?`, {
        hint: `Check that CI built and pushed ${image} (the tag comes from --image-tag, else image.tag of .idp.yml), or deploy a tag that exists. ${SKIP}`,
        details: {image, registryStatus: 404, ...(code ? {registryCode: code} : {})},
      }))
    }
    if (status === 401 || status === 403) throw this.denied(image, status, response.headers['www-authenticate'])
    const reason = `${this.ref.registry} answered ${status}${response.statusText ? ` ${response.statusText}` : ''}`
    throw new RegistryFailure('error', reason, new RemoteError(`Registry ${this.ref.registry} failed to answer whether image ${image} exists (${reason}).`, {
      hint: `${status >= 500 ? 'The registry had a server error: retry in a moment.' : 'Check image.repository in .idp.yml.'} ${SKIP}`,
      details: {image, registryStatus: status},
    }))
  }

  private denied(image: string, status: number, header?: string): RegistryFailure {
    const challengeError = parseChallenge(header)?.params.error
    const reason = `${this.ref.registry} answered ${status}${challengeError ? ` (${challengeError})` : ''}`
    const problem = this.credentials
      ? new PrerequisiteError(`Registry ${this.ref.registry} refused the credentials from ${this.credentials.source} for ${this.ref.repository} (${reason.replace(`${this.ref.registry} answered `, '')}), so idp cannot check that image ${image} exists.`, {
          hint: `Check that ${this.credentials.source} holds a valid credential with pull access to ${this.ref.registry}/${this.ref.repository}. ${SKIP}`,
          details: {image, registryStatus: status},
        })
      : new PrerequisiteError(`Registry ${this.ref.registry} needs credentials to read ${this.ref.repository} (${reason.replace(`${this.ref.registry} answered `, '')}), so idp cannot check that image ${image} exists.`, {
          hint: `${credentialHint(this.ref.registry, this.env)} ${SKIP}`,
          details: {image, registryStatus: status},
        })
    return new RegistryFailure('denied', reason, problem)
  }

  /** The bearer token flow (distribution's token auth spec): GET realm?service&scope, with Basic credentials when known. */
  private async token(params: Record<string, string>, image: string): Promise<string> {
    let realm: URL
    try {
      realm = new URL(params.realm!)
    } catch {
      throw new RegistryFailure('error', `invalid token realm "${params.realm}"`, new RemoteError(`Registry ${this.ref.registry} named an invalid token realm "${params.realm}".`, {hint: SKIP, details: {image}}))
    }
    if (params.service) realm.searchParams.set('service', params.service)
    realm.searchParams.append('scope', params.scope || `repository:${this.ref.repository}:pull`)
    // Credentials go only where they cannot be read on the way: https, or this machine.
    const sendCredentials = this.credentials && (realm.protocol === 'https:' || isLoopbackHost(realm.host))
    const response = await this.request('GET', realm.toString(), sendCredentials ? basic(this.credentials!) : undefined, 'application/json')
    if (response.status === 401 || response.status === 403) throw this.denied(image, response.status)
    const {text} = response
    if (response.status !== 200) {
      const reason = `token endpoint ${realm.origin}${realm.pathname} answered ${response.status}`
      throw new RegistryFailure('error', reason, new RemoteError(`Registry ${this.ref.registry} did not give a token to check image ${image} (${reason}).`, {hint: SKIP, details: {image, registryStatus: response.status}}))
    }
    let token: unknown
    try {
      const body = JSON.parse(text) as {token?: unknown; access_token?: unknown}
      token = body.token ?? body.access_token
    } catch {}
    if (typeof token !== 'string' || token === '') {
      const reason = `token endpoint ${realm.origin}${realm.pathname} answered without a token`
      throw new RegistryFailure('error', reason, new RemoteError(`Registry ${this.ref.registry} did not give a token to check image ${image} (${reason}).`, {hint: SKIP, details: {image}}))
    }
    registerSecret(token)
    return token
  }

  /** The distribution error code of a failed GET (MANIFEST_UNKNOWN, NAME_UNKNOWN), best effort. */
  private async errorCode(authorization: string | undefined): Promise<string | undefined> {
    try {
      const response = await this.request('GET', this.url, authorization)
      const body = JSON.parse(response.text) as {errors?: Array<{code?: unknown}>}
      const code = body.errors?.[0]?.code
      return typeof code === 'string' && /^[A-Z_]{1,64}$/u.test(code) ? code : undefined
    } catch (error) {
      if (this.signal.aborted) throw error
      return undefined
    }
  }

  private request(method: 'HEAD' | 'GET', url: string, authorization?: string, accept = MANIFEST_ACCEPT): Promise<HttpResponse> {
    const headers: Record<string, string> = {accept, 'user-agent': 'idp', ...(authorization ? {authorization} : {})}
    return httpRequest({method, url: new URL(url), headers, signal: this.signal, timeoutMs: this.limitMs + 1000, maxRedirects: 5})
  }
}

function basic(credentials: RegistryCredentials): string {
  const encoded = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')
  registerSecret(encoded)
  return `Basic ${encoded}`
}

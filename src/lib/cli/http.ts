/**
 * idp's one HTTP client, on node:http/node:https: Vault, GitHub's OIDC token endpoint, the
 * Backstage catalog (`httpJson`, JSON in and out) and the image registry preflight
 * (`httpRequest`: HEAD, arbitrary headers, redirects) all go through `httpRequest`. No client
 * library and no `fetch`: one place decides how a private CA (VAULT_CACERT, secrets.vault.caCert)
 * is trusted for a request alone, how long a request may wait, how much of an answer is read and
 * where an Authorization header may go.
 *
 * Nothing here puts a credential into an error: messages name the method, the URL's origin and
 * path, and the server's status; the caller words what it was doing.
 */
import http from 'node:http'
import https from 'node:https'

import {isLoopbackHost} from '../registry/reference.js'

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE'
  url: URL
  /** Sent as given (names in any case); nothing is added but what node:http adds (host, connection). */
  headers?: Record<string, string>
  body?: string | Buffer
  /** PEM of the CA(s) to trust instead of Node's bundle (https only). */
  ca?: string
  /** Aborting rejects with the signal's reason. */
  signal?: AbortSignal
  /** How long a request may go without an answer (each hop of a redirect): an HttpUnreachable ETIMEDOUT. Default 30 s. */
  timeoutMs?: number
  /** The most of an answer's body read: past it, an HttpUnreachable. Default 4 MiB. */
  maxBodyBytes?: number
  /**
   * Follow up to this many redirects (301, 302, 303, 307, 308 with a Location); the answer after
   * the last hop is returned as it is, redirect or not. Default 0: a redirect is the answer. An
   * Authorization header never goes to another origin (scheme, host or port).
   */
  maxRedirects?: number
}

export interface HttpResponse {
  status: number
  /** The reason phrase (`Not Found`), empty when the server sent none. */
  statusText: string
  /** Header names lower-cased; a header sent more than once joined with ", ". */
  headers: Record<string, string>
  /** The body as UTF-8 text; empty for HEAD. */
  text: string
  /** The URL that answered (after redirects). */
  url: URL
}

export interface HttpJsonRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  url: URL
  headers?: Record<string, string>
  body?: unknown
  /** PEM of the CA(s) to trust instead of Node's bundle. */
  ca?: string
  signal?: AbortSignal
  timeoutMs?: number
}

export interface HttpJsonResponse {
  status: number
  /** The parsed JSON body; undefined for an empty body, the raw text when it is not JSON. */
  body: unknown
}

/** A failure to get any answer (refused, DNS, TLS, timeout, an answer over the size cap), with the errno-style code when there is one. */
export class HttpUnreachable extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message)
  }
}

const MAX_BODY = 4 * 1024 * 1024
const REDIRECT = new Set([301, 302, 303, 307, 308])

/** One request, following redirects when asked; resolves with any status the server answers. */
export async function httpRequest(request: HttpRequest): Promise<HttpResponse> {
  const headers = {...request.headers}
  let {method, body} = request
  let url = request.url
  for (let hop = 0; ; hop++) {
    const response = await once(request, method, url, headers, body)
    const location = REDIRECT.has(response.status) ? response.headers.location : undefined
    if (!location || hop >= (request.maxRedirects ?? 0)) return response
    const next = new URL(location, url)
    if (next.origin !== url.origin) for (const name of Object.keys(headers)) if (name.toLowerCase() === 'authorization') delete headers[name]
    if (response.status === 303 && method !== 'HEAD') {
      // See Other: the answer is fetched with a GET, without the body.
      method = 'GET'
      body = undefined
      for (const name of Object.keys(headers)) if (/^content-(?:type|length)$/iu.test(name)) delete headers[name]
    }
    url = next
  }
}

function once(request: HttpRequest, method: HttpRequest['method'], url: URL, headers: Record<string, string>, body: string | Buffer | undefined): Promise<HttpResponse> {
  const {signal} = request
  const secure = url.protocol === 'https:'
  const maxBody = request.maxBodyBytes ?? MAX_BODY
  const timeoutMs = request.timeoutMs ?? 30_000
  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (error: unknown) => {
      if (settled) return
      settled = true
      reject(signal?.aborted ? signal.reason : unreachable(error))
    }
    const options: https.RequestOptions = {method, headers, ...(secure && request.ca ? {ca: request.ca} : {}), ...(signal ? {signal} : {})}
    const req = (secure ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > maxBody) {
          fail(new HttpUnreachable(`the answer of ${url.origin}${url.pathname} is over ${sizeText(maxBody)}`))
          req.destroy()
          return
        }
        chunks.push(chunk)
      })
      res.on('end', () => {
        if (settled) return
        settled = true
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
        resolve({status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers, text: Buffer.concat(chunks).toString('utf8'), url})
      })
      res.on('error', fail)
    })
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs < 1000 ? `${timeoutMs}ms` : `${Math.round(timeoutMs / 1000)}s`}`), {code: 'ETIMEDOUT'})))
    req.on('error', fail)
    req.end(body)
  })
}

function sizeText(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`
}

/** A JSON call: the body sent as JSON, the answer parsed when it is JSON. */
export async function httpJson(request: HttpJsonRequest): Promise<HttpJsonResponse> {
  const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body))
  const headers: Record<string, string> = {accept: 'application/json', ...request.headers, ...(body ? {'content-type': 'application/json', 'content-length': String(body.length)} : {})}
  const {method, url, ca, signal, timeoutMs} = request
  const response = await httpRequest({method, url, headers, ...(body ? {body} : {}), ...(ca ? {ca} : {}), ...(signal ? {signal} : {}), ...(timeoutMs === undefined ? {} : {timeoutMs})})
  let parsed: unknown
  if (response.text.trim() !== '') {
    try {
      parsed = JSON.parse(response.text)
    } catch {
      parsed = response.text
    }
  }
  return {status: response.status, body: parsed}
}

function unreachable(error: unknown): HttpUnreachable {
  if (error instanceof HttpUnreachable) return error
  const code = (error as {code?: unknown}).code
  const message = error instanceof Error ? error.message : String(error)
  return new HttpUnreachable(message.split('\n')[0] ?? message, typeof code === 'string' ? code : undefined)
}

/**
 * Whether a token sent to `url` would cross the network in clear: plain http to a host other than
 * this machine (localhost, 127.0.0.1, [::1]), and the user has not opted in with `optIn` (e.g.
 * IDP_VAULT_ALLOW_HTTP=true) for a network they trust. The one rule for every client idp sends a
 * token with (Vault, the Backstage catalog; the registry client talks http only to loopback).
 */
export function cleartextToAnotherMachine(url: URL, env: NodeJS.ProcessEnv, optIn: string): boolean {
  return url.protocol === 'http:' && !isLoopbackHost(url.host) && !/^(?:1|true|yes)$/iu.test(env[optIn]?.trim() ?? '')
}

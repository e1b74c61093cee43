/**
 * JSON over HTTP(S) for Vault, GitHub's OIDC token endpoint and the Backstage catalog, on
 * node:http/node:https so a private CA (VAULT_CACERT, secrets.vault.caCert) can be trusted for
 * these requests alone. No client library: each endpoint idp uses is a plain JSON call.
 *
 * Nothing here puts a credential into an error: messages name the method, the URL's origin and
 * path, and the server's status; the caller words what it was doing.
 */
import http from 'node:http'
import https from 'node:https'

import {isLoopbackHost} from '../registry/reference.js'

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

/** A failure to get any answer (refused, DNS, TLS, timeout), with the errno-style code when there is one. */
export class HttpUnreachable extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message)
  }
}

const MAX_BODY = 4 * 1024 * 1024

export function httpJson(request: HttpJsonRequest): Promise<HttpJsonResponse> {
  const {url} = request
  const secure = url.protocol === 'https:'
  const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body))
  const headers: Record<string, string> = {accept: 'application/json', ...request.headers}
  if (payload) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(payload.length)
  }
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {method: request.method, headers, ...(secure && request.ca ? {ca: request.ca} : {}), ...(request.signal ? {signal: request.signal} : {})}
    const req = (secure ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_BODY) {
          req.destroy(new HttpUnreachable(`the answer of ${url.origin}${url.pathname} is over 4 MiB`))
          return
        }
        chunks.push(chunk)
      })
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown
        if (text.trim() !== '') {
          try {
            body = JSON.parse(text)
          } catch {
            body = text
          }
        }
        resolve({status: res.statusCode ?? 0, body})
      })
      res.on('error', (error) => reject(unreachable(error)))
    })
    req.setTimeout(request.timeoutMs ?? 30_000, () => req.destroy(Object.assign(new Error(`no answer within ${Math.round((request.timeoutMs ?? 30_000) / 1000)}s`), {code: 'ETIMEDOUT'})))
    req.on('error', (error) => reject(request.signal?.aborted ? request.signal.reason : unreachable(error)))
    req.end(payload)
  })
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

import {readFile} from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'

import {redact} from '../cli/redact.js'
import {pooledAgent} from './agents.js'
import {readKubeconfig, type ResolvedContext, selectContext} from './kubeconfig.js'

/**
 * Is the API server of a context answering? A plain GET /version with the context's TLS and
 * credentials, over node's http(s) directly: `idp doctor` must stay light and fast.
 */
export interface ReachTarget {
  server: string
  /** PEM (not base64). */
  ca?: string
  insecureSkipTlsVerify?: boolean
  tlsServerName?: string
  token?: string
  /** PEM client certificate and key. */
  cert?: string
  key?: string
  username?: string
  password?: string
}

export interface ReachResult {
  /** /version answered 2xx. */
  ok: boolean
  /** Something answered over HTTP (even 401/403). */
  reachable: boolean
  server: string
  status?: number
  /** gitVersion from /version, e.g. "v1.31.2". */
  version?: string
  error?: string
}

const fromBase64 = (value: string) => Buffer.from(value, 'base64').toString('utf8')

async function fileText(file: string | undefined): Promise<string | undefined> {
  return file ? readFile(file, 'utf8') : undefined
}

/** The connection facts of a resolved context (files read, base64 decoded). */
export async function reachTargetOf(context: ResolvedContext): Promise<ReachTarget> {
  const {cluster, user} = context
  return {
    server: cluster.server,
    ca: cluster.certificateAuthorityData ? fromBase64(cluster.certificateAuthorityData) : await fileText(cluster.certificateAuthority),
    insecureSkipTlsVerify: cluster.insecureSkipTlsVerify,
    tlsServerName: cluster.tlsServerName,
    token: user.token ?? (await fileText(user.tokenFile))?.trim(),
    cert: user.clientCertificateData ? fromBase64(user.clientCertificateData) : await fileText(user.clientCertificate),
    key: user.clientKeyData ? fromBase64(user.clientKeyData) : await fileText(user.clientKey),
    username: user.username,
    password: user.password,
  }
}

/**
 * GET /version of a kubeconfig file's context (its current context, or `context`), or of an
 * explicit target, within `timeoutMs`. Never throws: problems come back as `error`.
 */
export async function checkReachable(target: string | {file: string; context?: string} | ReachTarget, timeoutMs = 5000): Promise<ReachResult> {
  let resolved: ReachTarget
  try {
    if (typeof target === 'string' || 'file' in target) {
      const file = typeof target === 'string' ? target : target.file
      const config = await readKubeconfig({kubeconfigPath: file})
      const name = (typeof target === 'string' ? undefined : target.context) ?? config.currentContext
      if (!name) return {ok: false, reachable: false, server: '', error: `${file} has no current-context; name the context to check.`}
      resolved = await reachTargetOf(selectContext(config, name))
    } else {
      resolved = target
    }
  } catch (error) {
    return {ok: false, reachable: false, server: '', error: redact((error as Error).message)}
  }
  return getVersion(resolved, timeoutMs)
}

function getVersion(target: ReachTarget, timeoutMs: number): Promise<ReachResult> {
  const server = target.server
  let url: URL
  try {
    url = new URL('version', server.endsWith('/') ? server : `${server}/`)
  } catch {
    return Promise.resolve({ok: false, reachable: false, server, error: `invalid server URL "${server}"`})
  }
  const headers: Record<string, string> = {accept: 'application/json'}
  if (target.token) headers.authorization = `Bearer ${target.token}`
  else if (target.username && target.password) headers.authorization = `Basic ${Buffer.from(`${target.username}:${target.password}`).toString('base64')}`

  return new Promise((resolve) => {
    let settled = false
    const finish = (result: Omit<ReachResult, 'server'>, done = false) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      // A request that ended leaves its connection to the pool, for the calls that follow.
      if (!done) request.destroy()
      resolve({server, ...result, ...(result.error ? {error: redact(result.error)} : {})})
    }
    const tls = {ca: target.ca, cert: target.cert, key: target.key, rejectUnauthorized: !target.insecureSkipTlsVerify, servername: target.tlsServerName}
    const options: https.RequestOptions = {method: 'GET', headers, agent: pooledAgent(url.protocol === 'https:' ? 'https:' : 'http:', tls)}
    const request = (url.protocol === 'https:' ? https : http).request(url, options, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('error', (error) => finish({ok: false, reachable: true, status: response.statusCode, error: error.message}))
      response.on('end', () => {
        const status = response.statusCode ?? 0
        if (status >= 200 && status < 300) {
          let version: string | undefined
          try {
            version = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as {gitVersion?: string}).gitVersion
          } catch {}
          finish({ok: true, reachable: true, status, version}, true)
        } else {
          finish({ok: false, reachable: true, status, error: `GET /version answered ${status} ${response.statusMessage ?? ''}`.trim()}, true)
        }
      })
    })
    const timer = setTimeout(() => finish({ok: false, reachable: false, error: `no answer from ${server} within ${timeoutMs} ms`}), timeoutMs)
    request.on('error', (error: NodeJS.ErrnoException) => finish({ok: false, reachable: false, error: error.code ? `${error.code}: ${error.message}` : error.message}))
    request.end()
  })
}

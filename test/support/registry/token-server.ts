/**
 * The token server in front of the test registry, as distribution's token auth specification
 * describes it (docs/spec/auth/token.md, jwt.md) and as docker_auth or a cloud registry's
 * endpoint behaves: `GET /token?service=...&scope=repository:<name>:pull[,push]`, Basic
 * credentials optional; a JSON `{token, access_token, expires_in, issued_at}`; 401 with a Basic
 * challenge for wrong credentials; the token is a JWT (RS256, the signing certificate in `x5c`)
 * granting the scope's actions the policy allows, and no others (not an error: the registry then
 * refuses with insufficient_scope). The registry, not this server, verifies tokens: it trusts
 * the certificate through `auth.token.rootcertbundle`.
 *
 * Policy: anyone may pull repositories under `public/`; known users may pull and push anything.
 */
import {execFileSync} from 'node:child_process'
import {createPrivateKey, randomUUID, sign, X509Certificate} from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type net from 'node:net'
import path from 'node:path'

import type {User} from './index.js'

export interface TokenServer {
  realm: string
  service: string
  issuer: string
  certFile: string
  /** Every request: the scope asked for, who asked (undefined: anonymous), and what was granted. */
  requests: Array<{scope: string | null; user?: string; granted: string[]; status: number}>
  stop(): Promise<void>
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url')

/** `host`: the address the token server listens on and its realm names (default 127.0.0.1). */
export async function startTokenServer(options: {dir: string; users: Array<User>; host?: string}): Promise<TokenServer> {
  const keyFile = path.join(options.dir, 'token.key')
  const certFile = path.join(options.dir, 'token.crt')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1', '-subj', '/CN=idp-test-token-issuer', '-keyout', keyFile, '-out', certFile], {stdio: 'ignore'})
  const key = createPrivateKey(fs.readFileSync(keyFile))
  const certDer = new X509Certificate(fs.readFileSync(certFile)).raw
  const service = 'idp-test-registry'
  const issuer = 'idp-test-token-issuer'
  const requests: TokenServer['requests'] = []

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const scope = url.searchParams.get('scope')
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {'content-type': 'application/json', ...headers})
      res.end(JSON.stringify(body))
    }
    if (url.pathname !== '/token' || req.method !== 'GET') return reply(404, {errors: [{code: 'NOT_FOUND', message: 'not found'}]})
    let user: string | undefined
    const header = req.headers.authorization
    if (header) {
      const [scheme, value] = header.split(' ')
      const [name, ...rest] = Buffer.from(value ?? '', 'base64').toString().split(':')
      const known = scheme?.toLowerCase() === 'basic' && options.users.find((u) => u.username === name && u.password === rest.join(':'))
      if (!known) {
        requests.push({scope, granted: [], status: 401})
        return reply(401, {errors: [{code: 'UNAUTHORIZED', message: 'authentication required', detail: null}]}, {'www-authenticate': `Basic realm="${service}"`})
      }
      user = known.username
    }
    if (url.searchParams.get('service') !== service) {
      requests.push({scope, ...(user ? {user} : {}), granted: [], status: 400})
      return reply(400, {errors: [{code: 'UNSUPPORTED', message: 'unknown service'}]})
    }
    const access: Array<{type: string; name: string; actions: string[]}> = []
    for (const item of url.searchParams.getAll('scope')) {
      const match = /^repository:([^:]+):([a-z,*]+)$/u.exec(item)
      if (!match) continue
      const [, name, actions] = match as unknown as [string, string, string]
      const allowed = actions.split(',').filter((action) => (user ? ['pull', 'push'].includes(action) : action === 'pull' && name.startsWith('public/')))
      access.push({type: 'repository', name, actions: allowed})
    }
    const now = Math.floor(Date.now() / 1000)
    const headerPart = b64url(JSON.stringify({typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')]}))
    const claims = b64url(JSON.stringify({iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access}))
    const signature = b64url(sign('sha256', Buffer.from(`${headerPart}.${claims}`), key))
    const token = `${headerPart}.${claims}.${signature}`
    requests.push({scope, ...(user ? {user} : {}), granted: access.flatMap((a) => a.actions.map((action) => `${a.name}:${action}`)), status: 200})
    return reply(200, {token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString()})
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const {port} = server.address() as net.AddressInfo
  return {
    realm: `http://${host.includes(':') ? `[${host}]` : host}:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

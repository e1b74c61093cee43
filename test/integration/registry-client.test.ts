// The registry preflight's client against a real OCI registry: Debian's docker-registry (the
// distribution v2 server) on a loopback port, without auth, with htpasswd (Basic) and with token
// auth (Bearer, tokens from test/support/registry/token-server.ts that the registry verifies).
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {EXIT, type IdpError} from '../../src/lib/cli/errors.js'
import {redactValue} from '../../src/lib/cli/redact.js'
import {checkImage, type CheckImageOptions, type ImageCheckOutcome} from '../../src/lib/registry/client.js'
import {parseImageReference} from '../../src/lib/registry/reference.js'
import {startRegistry, type TestRegistry} from '../support/registry/index.js'

// Canaries: none of these may appear in any message, hint, detail or result.
const PASSWORD = 'canary-registry-pw-7f3a9c'
const TOKEN_PASSWORD = 'canary-token-pw-51be20'
const user = {username: 'ci', password: PASSWORD}

let open: TestRegistry
let basic: TestRegistry
let bearer: TestRegistry

beforeAll(async () => {
  ;[open, basic, bearer] = await Promise.all([
    startRegistry(),
    startRegistry({kind: 'htpasswd', users: [user]}),
    startRegistry({kind: 'token', users: [{username: 'ci', password: TOKEN_PASSWORD}]}),
  ])
  await Promise.all([
    open.push('acme/shop', 'v1'),
    basic.push('acme/shop', 'v1'),
    bearer.push('acme/private', 'v1'),
    bearer.push('public/shop', 'v1'),
  ])
})

afterAll(async () => {
  await Promise.all([open?.stop(), basic?.stop(), bearer?.stop()])
})

const options = (env: NodeJS.ProcessEnv = {}, extra: Partial<CheckImageOptions> = {}): CheckImageOptions => ({env, signal: new AbortController().signal, timeoutMs: 60_000, ...extra})
const check = (registry: TestRegistry, name: string, env?: NodeJS.ProcessEnv) => checkImage(parseImageReference(`${registry.host}/${name}`), options(env))

/** Every string the outcome could print: the check (--json), the problem's message, hint and details. */
function printed(outcome: ImageCheckOutcome): string {
  const problem = outcome.problem as IdpError | undefined
  return JSON.stringify({check: outcome.check, message: problem?.message, hint: problem?.hint, details: problem?.details})
}

function expectNoCanary(outcome: ImageCheckOutcome): void {
  for (const secret of [PASSWORD, TOKEN_PASSWORD, Buffer.from(`ci:${PASSWORD}`).toString('base64')]) expect(printed(outcome)).not.toContain(secret)
}

describe('no auth', () => {
  it('a pushed tag is present, with the digest the push got', async () => {
    const pushed = await open.push('acme/shop', 'v2')
    const outcome = await check(open, 'acme/shop:v2')
    expect(outcome.problem).toBeUndefined()
    expect(outcome.check).toEqual({image: `${open.host}/acme/shop:v2`, status: 'present', digest: pushed, mediaType: 'application/vnd.oci.image.manifest.v1+json'})
  })

  it('by digest too', async () => {
    const digest = await open.push('acme/shop', 'v3')
    const outcome = await check(open, `acme/shop@${digest}`)
    expect(outcome.check).toMatchObject({status: 'present', digest})
  })

  it('a missing tag: exit 4 naming the image, MANIFEST_UNKNOWN, and asking whether the build pushed it', async () => {
    const outcome = await check(open, 'acme/shop:not-pushed')
    expect(outcome.check).toMatchObject({image: `${open.host}/acme/shop:not-pushed`, status: 'missing'})
    expect(outcome.check.reason).toContain('404 MANIFEST_UNKNOWN')
    expect(outcome.problem?.exitCode).toBe(EXIT.prerequisite)
    expect(outcome.problem?.message).toContain(`Image ${open.host}/acme/shop:not-pushed does not exist`)
    expect(outcome.problem?.message).toContain('Did the build job push it?')
    expect(outcome.problem?.hint).toContain('--skip-image-check')
  })

  it('a repository that does not exist is missing too (distribution answers MANIFEST_UNKNOWN for it)', async () => {
    const outcome = await check(open, 'acme/nothing:v1')
    expect(outcome.check.status).toBe('missing')
    expect(outcome.check.reason).toBe(`${open.host} answered 404 MANIFEST_UNKNOWN: no manifest for tag v1`)
    expect(outcome.problem?.exitCode).toBe(EXIT.prerequisite)
  })
})

describe('htpasswd (Basic)', () => {
  it('without credentials: exit 4 saying which variables to set', async () => {
    const outcome = await check(basic, 'acme/shop:v1')
    expect(outcome.check).toMatchObject({status: 'denied'})
    expect(outcome.problem?.exitCode).toBe(EXIT.prerequisite)
    expect(outcome.problem?.message).toContain(`Registry ${basic.host} needs credentials to read acme/shop (401)`)
    expect(outcome.problem?.hint).toContain('Set IDP_REGISTRY_USERNAME and IDP_REGISTRY_PASSWORD (a password or token with pull access to')
  })

  it('with IDP_REGISTRY_USERNAME/PASSWORD: present; missing tags still missing', async () => {
    const env = {IDP_REGISTRY_USERNAME: 'ci', IDP_REGISTRY_PASSWORD: PASSWORD, IDP_REGISTRY_HOST: basic.host}
    const present = await check(basic, 'acme/shop:v1', env)
    expect(present.check.status).toBe('present')
    const missing = await check(basic, 'acme/shop:v9', env)
    expect(missing.check.status).toBe('missing')
    expect(missing.problem?.exitCode).toBe(EXIT.prerequisite)
    expectNoCanary(present)
    expectNoCanary(missing)
  })

  it('wrong credentials: exit 4 naming the variables they came from, never the password', async () => {
    const outcome = await check(basic, 'acme/shop:v1', {IDP_REGISTRY_USERNAME: 'ci', IDP_REGISTRY_PASSWORD: `${PASSWORD}-wrong`, IDP_REGISTRY_HOST: basic.host})
    expect(outcome.check.status).toBe('denied')
    expect(outcome.problem?.message).toContain('refused the credentials from IDP_REGISTRY_USERNAME/IDP_REGISTRY_PASSWORD')
    expect(printed(outcome)).not.toContain(PASSWORD)
  })
})

describe('token auth (Bearer): the registry verifies tokens from the token server', () => {
  it('anonymous: a public repository is present through an anonymous token', async () => {
    const before = bearer.token!.requests.length
    const outcome = await check(bearer, 'public/shop:v1')
    expect(outcome.check.status).toBe('present')
    const asked = bearer.token!.requests.slice(before)
    expect(asked).toEqual([{scope: 'repository:public/shop:pull', granted: ['public/shop:pull'], status: 200}])
  })

  it('anonymous on a private repository: denied (insufficient_scope), exit 4, saying what to set', async () => {
    const outcome = await check(bearer, 'acme/private:v1')
    expect(outcome.check.status).toBe('denied')
    expect(outcome.check.reason).toContain('insufficient_scope')
    expect(outcome.problem?.exitCode).toBe(EXIT.prerequisite)
    expect(outcome.problem?.hint).toContain('IDP_REGISTRY_USERNAME')
  })

  it('with credentials: the token server gets them (Basic), the registry the token; missing tags are missing', async () => {
    const env = {IDP_REGISTRY_USERNAME: 'ci', IDP_REGISTRY_PASSWORD: TOKEN_PASSWORD, IDP_REGISTRY_HOST: bearer.host}
    const before = bearer.token!.requests.length
    const present = await check(bearer, 'acme/private:v1', env)
    expect(present.check.status).toBe('present')
    expect(bearer.token!.requests.slice(before)).toEqual([{scope: 'repository:acme/private:pull', user: 'ci', granted: ['acme/private:pull'], status: 200}])
    const missing = await check(bearer, 'acme/private:v2', env)
    expect(missing.check).toMatchObject({status: 'missing'})
    expect(missing.check.reason).toContain('MANIFEST_UNKNOWN')
    expectNoCanary(present)
    expectNoCanary(missing)
  })

  it('credentials the token server refuses: exit 4, no secret in anything printed', async () => {
    const outcome = await check(bearer, 'acme/private:v1', {IDP_REGISTRY_USERNAME: 'ci', IDP_REGISTRY_PASSWORD: 'canary-wrong-b7d2', IDP_REGISTRY_HOST: bearer.host})
    expect(outcome.check.status).toBe('denied')
    expect(outcome.problem?.message).toContain('refused the credentials from IDP_REGISTRY_USERNAME/IDP_REGISTRY_PASSWORD')
    expect(printed(outcome)).not.toContain('canary-wrong-b7d2')
    // And the redactor knows the password: were it ever in a string, it would be masked.
    expect(redactValue({text: 'pw canary-wrong-b7d2'}).text).toBe('pw ***')
  })
})

/** A server that records the Authorization header of every request and answers with `answer`. */
async function recorder(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void, host = '127.0.0.1') {
  const seen: Array<{method?: string; url?: string; authorization?: string}> = []
  const server = http.createServer((req, res) => {
    seen.push({method: req.method, url: req.url, ...(req.headers.authorization ? {authorization: req.headers.authorization} : {})})
    answer(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const {port} = server.address() as net.AddressInfo
  return {
    seen,
    host: `${host}:${port}`,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

describe('credentials go only to the registry IDP_REGISTRY_HOST names', () => {
  const creds = (host?: string) => ({IDP_REGISTRY_USERNAME: 'ci', IDP_REGISTRY_PASSWORD: PASSWORD, ...(host ? {IDP_REGISTRY_HOST: host} : {})})

  it('another registry (image.repository changed by a pull request) gets no credentials, Basic or through its own token realm', async () => {
    let realm = ''
    const realmServer = await recorder((_req, res) => {
      res.writeHead(401, {'www-authenticate': 'Basic realm="x"'})
      res.end()
    })
    realm = `http://${realmServer.host}/token`
    const basicOther = await recorder((_req, res) => {
      res.writeHead(401, {'www-authenticate': 'Basic realm="registry"', 'content-type': 'application/json'})
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}')
    })
    const bearerOther = await recorder((_req, res) => {
      res.writeHead(401, {'www-authenticate': `Bearer realm="${realm}",service="evil",scope="repository:acme/shop:pull"`})
      res.end()
    })
    try {
      for (const other of [basicOther, bearerOther]) {
        const outcome = await checkImage(parseImageReference(`${other.host}/acme/shop:v1`), options(creds(basic.host)))
        expect(outcome.check.status).toBe('denied')
        expect(outcome.problem?.hint).toContain(`IDP_REGISTRY_USERNAME and IDP_REGISTRY_PASSWORD are set for ${basic.host} (IDP_REGISTRY_HOST), not for ${other.host}, so idp did not send them.`)
        expectNoCanary(outcome)
      }
      expect(basicOther.seen.length).toBeGreaterThan(0)
      expect(realmServer.seen.length).toBeGreaterThan(0)
      for (const request of [...basicOther.seen, ...bearerOther.seen, ...realmServer.seen]) expect(request.authorization).toBeUndefined()
    } finally {
      await Promise.all([realmServer.stop(), basicOther.stop(), bearerOther.stop()])
    }
  })

  it('the real token registry, when the credentials are for another host: its token server is asked anonymously', async () => {
    const before = bearer.token!.requests.length
    const outcome = await check(bearer, 'acme/private:v1', creds(basic.host))
    expect(outcome.check.status).toBe('denied')
    expect(bearer.token!.requests.slice(before)).toEqual([{scope: 'repository:acme/private:pull', granted: [], status: 200}])
  })

  it('without IDP_REGISTRY_HOST the credentials go nowhere, and the hint says to set it', async () => {
    const outcome = await check(basic, 'acme/shop:v1', creds())
    expect(outcome.check.status).toBe('denied')
    expect(outcome.problem?.hint).toContain(`IDP_REGISTRY_USERNAME and IDP_REGISTRY_PASSWORD are set but IDP_REGISTRY_HOST is not, so idp sent them nowhere: set IDP_REGISTRY_HOST to the registry they are for (${basic.host}, the host you would give docker login).`)
    expectNoCanary(outcome)
  })

  it('IDP_REGISTRY_HOST as docker login takes it (with a scheme and a slash) names the same registry', async () => {
    const outcome = await check(basic, 'acme/shop:v1', creds(`http://${basic.host}/`))
    expect(outcome.check.status).toBe('present')
  })

  it('a token realm on another host over plain http (not this machine) gets no credentials: the token is asked for anonymously', async () => {
    const address = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address
    if (!address) throw new Error('this test needs a non-loopback IPv4 address on this machine (none found by os.networkInterfaces())')
    const remoteRealm = await startRegistry({kind: 'token', users: [{username: 'ci', password: TOKEN_PASSWORD}], realmHost: address})
    try {
      await remoteRealm.push('acme/private', 'v1')
      await remoteRealm.push('public/shop', 'v1')
      expect(remoteRealm.token!.realm.startsWith(`http://${address}:`)).toBe(true)
      const env = {IDP_REGISTRY_USERNAME: 'ci', IDP_REGISTRY_PASSWORD: TOKEN_PASSWORD, IDP_REGISTRY_HOST: remoteRealm.host}
      const before = remoteRealm.token!.requests.length
      expect((await check(remoteRealm, 'public/shop:v1', env)).check.status).toBe('present')
      const outcome = await check(remoteRealm, 'acme/private:v1', env)
      expect(outcome.check.status).toBe('denied')
      const asked = remoteRealm.token!.requests.slice(before)
      expect(asked).toEqual([
        {scope: 'repository:public/shop:pull', granted: ['public/shop:pull'], status: 200},
        {scope: 'repository:acme/private:pull', granted: [], status: 200},
      ])
    } finally {
      await remoteRealm.stop()
    }
  })

  it('a redirect to another origin does not carry the credentials', async () => {
    const target = await recorder((_req, res) => {
      res.writeHead(404, {'content-type': 'application/json'})
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
    })
    const registry = await recorder((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, {'www-authenticate': 'Basic realm="registry"'})
        return res.end()
      }
      res.writeHead(307, {location: `http://${target.host}${req.url}`})
      res.end()
    })
    try {
      const outcome = await checkImage(parseImageReference(`${registry.host}/acme/shop:v1`), options(creds(registry.host)))
      expect(outcome.check.status).toBe('missing')
      expect(registry.seen.some((r) => r.authorization)).toBe(true)
      expect(target.seen.length).toBeGreaterThan(0)
      for (const request of target.seen) expect(request.authorization).toBeUndefined()
    } finally {
      await Promise.all([registry.stop(), target.stop()])
    }
  })
})

describe('unreachable, slow, cancelled', () => {
  it('nothing listening: exit 6 naming the registry and the connection error', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const {port: free} = server.address() as net.AddressInfo
        server.close(() => resolve(free))
      })
    })
    const outcome = await checkImage(parseImageReference(`127.0.0.1:${port}/acme/shop:v1`), options())
    expect(outcome.check.status).toBe('unreachable')
    expect(outcome.problem?.exitCode).toBe(EXIT.remote)
    expect(outcome.problem?.message).toContain(`Registry 127.0.0.1:${port} is unreachable (ECONNREFUSED`)
  })

  describe('a registry that never answers', () => {
    let silent: net.Server
    let host: string
    const sockets = new Set<net.Socket>()
    beforeAll(async () => {
      silent = net.createServer((socket) => sockets.add(socket))
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      host = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`
    })
    afterAll(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    })

    it('the command\'s --timeout runs out first: exit 7', async () => {
      const outcome = await checkImage(parseImageReference(`${host}/acme/shop:v1`), options({}, {timeoutMs: 300}))
      expect(outcome.check.status).toBe('unreachable')
      expect(outcome.problem?.exitCode).toBe(EXIT.timeout)
      expect(outcome.problem?.message).toContain('(--timeout)')
    })

    it('the check\'s own limit runs out first: unreachable, exit 6', async () => {
      const outcome = await checkImage(parseImageReference(`${host}/acme/shop:v1`), options({}, {timeoutMs: 600_000, limitMs: 300}))
      expect(outcome.problem?.exitCode).toBe(EXIT.remote)
      expect(outcome.problem?.message).toContain('is unreachable: it did not answer within 300ms')
    })

    it('Ctrl-C: a CancelledError (exit 130)', async () => {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 100)
      const error = await checkImage(parseImageReference(`${host}/acme/shop:v1`), options({}, {signal: controller.signal})).then(
        () => undefined,
        (e: unknown) => e as IdpError,
      )
      expect(error?.exitCode).toBe(EXIT.cancelled)
    })
  })
})

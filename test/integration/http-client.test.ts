// idp's one HTTP client (src/lib/cli/http.ts) against real loopback servers: redirects (never the
// Authorization header to another origin, at most N hops), HEAD, the body cap, the no-answer
// timeout, the caller's AbortSignal, connection errors, and httpJson on top of it.
import http from 'node:http'
import net from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'

import {httpJson, httpRequest, HttpUnreachable} from '../../src/lib/cli/http.js'

interface Seen {
  method?: string
  url?: string
  headers: http.IncomingHttpHeaders
  body: string
}

const servers: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((stop) => stop()))
})

/** A loopback server on a port of its own that records every request and answers with `answer`. */
async function serve(answer: (req: http.IncomingMessage, res: http.ServerResponse, origin: string) => void) {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')))
    req.on('end', () => {
      seen.push({method: req.method, url: req.url, headers: req.headers, body})
      answer(req, res, origin)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  servers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return {seen, origin}
}

/** A server that accepts connections and never answers. */
async function silent() {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => sockets.add(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  )
  return {origin: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, sockets}
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the request to fail')
    },
    (error: unknown) => error,
  )

describe('redirects', () => {
  it('a redirect to another origin (another port) does not carry Authorization; other headers go on', async () => {
    const target = await serve((_req, res) => {
      res.writeHead(200, {'content-type': 'text/plain'})
      res.end('arrived')
    })
    const start = await serve((req, res) => {
      res.writeHead(307, {location: `${target.origin}/there${req.url}`})
      res.end()
    })
    const response = await httpRequest({method: 'GET', url: new URL(`${start.origin}/here`), headers: {Authorization: 'Bearer canary-http-7c1d', 'x-idp': 'kept'}, maxRedirects: 5})
    expect(response).toMatchObject({status: 200, text: 'arrived'})
    expect(response.url.toString()).toBe(`${target.origin}/there/here`)
    expect(start.seen.map((r) => r.headers.authorization)).toEqual(['Bearer canary-http-7c1d'])
    expect(target.seen).toHaveLength(1)
    expect(target.seen[0]!.headers.authorization).toBeUndefined()
    expect(target.seen[0]!.headers['x-idp']).toBe('kept')
  })

  it('a redirect on the same origin keeps Authorization, and a later hop elsewhere drops it', async () => {
    const target = await serve((_req, res) => res.end('ok'))
    const start = await serve((req, res) => {
      res.writeHead(302, {location: req.url === '/a' ? '/b' : `${target.origin}/c`})
      res.end()
    })
    const response = await httpRequest({method: 'GET', url: new URL(`${start.origin}/a`), headers: {authorization: 'Basic Y2k6cHc='}, maxRedirects: 5})
    expect(response.status).toBe(200)
    expect(start.seen.map((r) => [r.url, r.headers.authorization])).toEqual([
      ['/a', 'Basic Y2k6cHc='],
      ['/b', 'Basic Y2k6cHc='],
    ])
    expect(target.seen.map((r) => [r.url, r.headers.authorization])).toEqual([['/c', undefined]])
  })

  it('follows at most maxRedirects hops and returns the redirect after the last one; none by default', async () => {
    const loop = await serve((req, res) => {
      res.writeHead(302, {location: `/${Number(req.url!.slice(1)) + 1}`})
      res.end()
    })
    const followed = await httpRequest({method: 'GET', url: new URL(`${loop.origin}/0`), maxRedirects: 3})
    expect(followed.status).toBe(302)
    expect(followed.headers.location).toBe('/4')
    expect(loop.seen.map((r) => r.url)).toEqual(['/0', '/1', '/2', '/3'])
    const unfollowed = await httpRequest({method: 'GET', url: new URL(`${loop.origin}/10`)})
    expect(unfollowed.status).toBe(302)
    expect(loop.seen.map((r) => r.url).slice(4)).toEqual(['/10'])
  })

  it('HEAD stays HEAD across a redirect; a 303 turns a POST into a GET without its body', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/post') res.writeHead(303, {location: '/result'})
      else if (req.url === '/head') res.writeHead(308, {location: '/result'})
      res.end()
    })
    await httpRequest({method: 'HEAD', url: new URL(`${server.origin}/head`), maxRedirects: 1})
    await httpRequest({method: 'POST', url: new URL(`${server.origin}/post`), headers: {'content-type': 'text/plain'}, body: 'payload', maxRedirects: 1})
    expect(server.seen.map((r) => [r.method, r.url, r.body, r.headers['content-type']])).toEqual([
      ['HEAD', '/head', '', undefined],
      ['HEAD', '/result', '', undefined],
      ['POST', '/post', 'payload', 'text/plain'],
      ['GET', '/result', '', undefined],
    ])
  })
})

describe('answers', () => {
  it('HEAD: status and headers, no body even when the server declares a length', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, 'Fine', {'Docker-Content-Digest': 'sha256:abc', 'content-length': '42', 'Set-Cookie': ['a=1', 'b=2']})
      res.end()
    })
    const response = await httpRequest({method: 'HEAD', url: new URL(`${server.origin}/v2/x/manifests/v1`)})
    expect(response).toMatchObject({status: 200, statusText: 'Fine', text: ''})
    expect(response.headers['docker-content-digest']).toBe('sha256:abc')
    expect(response.headers['content-length']).toBe('42')
    expect(response.headers['set-cookie']).toBe('a=1, b=2')
    expect(server.seen[0]!.method).toBe('HEAD')
  })

  it('sends the headers as given and nothing of its own but host and connection', async () => {
    const server = await serve((_req, res) => res.end())
    await httpRequest({method: 'GET', url: new URL(server.origin), headers: {accept: 'application/x-test', 'user-agent': 'idp'}})
    expect(Object.keys(server.seen[0]!.headers).sort()).toEqual(['accept', 'connection', 'host', 'user-agent'])
  })

  it('an answer over the cap is an HttpUnreachable naming the URL (default 4 MiB)', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200)
      res.end(Buffer.alloc(req.url!.startsWith('/big') ? 4 * 1024 * 1024 + 1 : 2000, 'a'))
    })
    const big = await failure(httpRequest({method: 'GET', url: new URL(`${server.origin}/big?token=secret`)}))
    expect(big).toBeInstanceOf(HttpUnreachable)
    expect((big as Error).message).toBe(`the answer of ${server.origin}/big is over 4 MiB`)
    const capped = await failure(httpRequest({method: 'GET', url: new URL(`${server.origin}/small`), maxBodyBytes: 1000}))
    expect((capped as Error).message).toBe(`the answer of ${server.origin}/small is over 1000 bytes`)
    const whole = await httpRequest({method: 'GET', url: new URL(`${server.origin}/small`), maxBodyBytes: 2000})
    expect(whole.text).toHaveLength(2000)
  })
})

describe('no answer, cancelled, refused', () => {
  it('a server that never answers: HttpUnreachable ETIMEDOUT after timeoutMs', async () => {
    const {origin} = await silent()
    const started = Date.now()
    const error = await failure(httpRequest({method: 'GET', url: new URL(origin), timeoutMs: 200}))
    expect(error).toBeInstanceOf(HttpUnreachable)
    expect(error).toMatchObject({code: 'ETIMEDOUT', message: 'no answer within 200ms'})
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it("the caller's signal: rejects with its reason, before the request, while waiting, and while reading the body", async () => {
    const reason = new Error('ctrl-c')
    const {origin} = await silent()
    const before = new AbortController()
    before.abort(reason)
    expect(await failure(httpRequest({method: 'GET', url: new URL(origin), signal: before.signal}))).toBe(reason)

    const waiting = new AbortController()
    setTimeout(() => waiting.abort(reason), 100)
    expect(await failure(httpRequest({method: 'HEAD', url: new URL(origin), signal: waiting.signal, timeoutMs: 10_000}))).toBe(reason)

    const reading = new AbortController()
    const trickle = await serve((_req, res) => {
      res.writeHead(200)
      res.write('part of it')
      setTimeout(() => reading.abort(reason), 100)
    })
    expect(await failure(httpRequest({method: 'GET', url: new URL(trickle.origin), signal: reading.signal, timeoutMs: 10_000}))).toBe(reason)
  })

  it('nothing listening: HttpUnreachable ECONNREFUSED with the address', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const {port: free} = server.address() as net.AddressInfo
        server.close(() => resolve(free))
      })
    })
    const error = await failure(httpRequest({method: 'GET', url: new URL(`http://127.0.0.1:${port}/`)}))
    expect(error).toBeInstanceOf(HttpUnreachable)
    expect(error).toMatchObject({code: 'ECONNREFUSED', message: `connect ECONNREFUSED 127.0.0.1:${port}`})
  })

  it('an unknown host: HttpUnreachable ENOTFOUND', async () => {
    const error = await failure(httpRequest({method: 'GET', url: new URL('http://registry.invalid/'), timeoutMs: 10_000}))
    expect(error).toBeInstanceOf(HttpUnreachable)
    expect((error as HttpUnreachable).code).toMatch(/^(?:ENOTFOUND|EAI_AGAIN)$/u)
    expect((error as Error).message).toContain('registry.invalid')
  })
})

describe('httpJson on httpRequest', () => {
  it('sends JSON with its content type and length, parses a JSON answer, keeps a text one', async () => {
    const server = await serve((req, res) => {
      res.writeHead(req.url === '/json' ? 201 : 500, {'content-type': 'application/json'})
      res.end(req.url === '/json' ? '{"ok":true}' : 'not json')
    })
    const json = await httpJson({method: 'POST', url: new URL(`${server.origin}/json`), headers: {authorization: 'Bearer t'}, body: {a: 1}})
    expect(json).toEqual({status: 201, body: {ok: true}})
    expect(server.seen[0]).toMatchObject({method: 'POST', body: '{"a":1}'})
    expect(server.seen[0]!.headers).toMatchObject({accept: 'application/json', 'content-type': 'application/json', 'content-length': '7', authorization: 'Bearer t'})
    expect(await httpJson({method: 'GET', url: new URL(`${server.origin}/text`)})).toEqual({status: 500, body: 'not json'})
  })

  it('does not follow redirects', async () => {
    const target = await serve((_req, res) => res.end('{}'))
    const start = await serve((_req, res) => {
      res.writeHead(302, {location: target.origin})
      res.end()
    })
    expect(await httpJson({method: 'GET', url: new URL(start.origin), headers: {authorization: 'Bearer t'}})).toEqual({status: 302, body: undefined})
    expect(target.seen).toHaveLength(0)
  })
})

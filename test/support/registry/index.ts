/**
 * A real OCI registry for the tests: Debian's `docker-registry` (github.com/docker/distribution,
 * the CNCF distribution v2 server) on a loopback port, with filesystem storage in a temp dir.
 * Images are pushed through its HTTP API as any client does (blob uploads, then an OCI manifest),
 * no Docker engine. Auth: none, `htpasswd` (Basic), or `token` (Bearer): the registry itself
 * verifies the JWTs that a small token server (token-server.ts) issues with a key it trusts.
 *
 * `stop()` ends the server and waits for it; the suite fails if one is left running.
 */
import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {gzipSync} from 'node:zlib'

import {startTokenServer, type TokenServer} from './token-server.js'

export const REGISTRY_BINARY = process.env.IDP_TEST_REGISTRY_BINARY ?? '/usr/bin/docker-registry'

export interface User {
  username: string
  password: string
}

export type RegistryAuth =
  | {kind: 'none'}
  /** Basic auth from an htpasswd file (bcrypt, made by apache2-utils' htpasswd). */
  | {kind: 'htpasswd'; users: User[]}
  /**
   * Bearer tokens: anonymous pulls of repositories under `public/`, users may pull and push
   * everything. `realmHost`: the address of the token server (its realm), default 127.0.0.1.
   */
  | {kind: 'token'; users: User[]; realmHost?: string}

export interface TestRegistry {
  /** host:port, as in image references: 127.0.0.1:41234. */
  host: string
  url: string
  token?: TokenServer
  /** Push a tiny image (a config blob, one empty layer, an OCI manifest); returns the manifest digest. */
  push(repository: string, tag: string): Promise<string>
  stop(): Promise<void>
}

/** Fail with what to do when the registry or its helpers are not installed (the tests never skip). */
export function assertRegistryInstalled(needs: readonly string[] = []): void {
  const onPath = (name: string) => (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, name)))
  const missing = [...(fs.existsSync(REGISTRY_BINARY) ? [] : [REGISTRY_BINARY]), ...needs.filter((name) => !onPath(name))]
  if (missing.length > 0) {
    throw new Error(`${missing.join(', ')} missing: the image-check tests need Debian's docker-registry (the distribution v2 server), htpasswd (apache2-utils) and openssl. Install them with \`apt-get install -y --no-install-recommends docker-registry apache2-utils openssl\` (.ci/run does).`)
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function htpasswdLine(user: User): string {
  // -i reads the password from stdin (not argv); -B bcrypt, the only hash distribution accepts.
  return execFileSync('htpasswd', ['-niB', user.username], {input: user.password, encoding: 'utf8'}).trim()
}

function yamlConfig(options: {dir: string; port: number; auth: RegistryAuth; htpasswd?: string; token?: TokenServer}): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(path.join(options.dir, 'data'))}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${options.port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ]
  if (options.auth.kind === 'htpasswd') lines.push('auth:', '  htpasswd:', '    realm: idp-test', `    path: ${JSON.stringify(options.htpasswd)}`)
  if (options.auth.kind === 'token' && options.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${options.token.realm}`,
      `    service: ${options.token.service}`,
      `    issuer: ${options.token.issuer}`,
      `    rootcertbundle: ${JSON.stringify(options.token.certFile)}`,
    )
  }
  return `${lines.join('\n')}\n`
}

async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

export async function startRegistry(auth: RegistryAuth = {kind: 'none'}): Promise<TestRegistry> {
  assertRegistryInstalled(auth.kind === 'htpasswd' ? ['htpasswd'] : auth.kind === 'token' ? ['openssl'] : [])
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-registry-'))
  const token = auth.kind === 'token' ? await startTokenServer({dir, users: auth.users, ...(auth.realmHost ? {host: auth.realmHost} : {})}) : undefined
  let htpasswd: string | undefined
  if (auth.kind === 'htpasswd') {
    htpasswd = path.join(dir, 'htpasswd')
    fs.writeFileSync(htpasswd, `${auth.users.map(htpasswdLine).join('\n')}\n`)
  }
  const port = await freePort()
  const configFile = path.join(dir, 'config.yml')
  fs.writeFileSync(configFile, yamlConfig({dir, port, auth, ...(htpasswd ? {htpasswd} : {}), ...(token ? {token} : {})}))
  const child = spawn(REGISTRY_BINARY, ['serve', configFile], {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const host = `127.0.0.1:${port}`
  const url = `http://${host}`

  const stop = async () => {
    if (!(await waitForExit(child, 0))) {
      child.kill('SIGTERM')
      if (!(await waitForExit(child, 5000))) {
        child.kill('SIGKILL')
        await waitForExit(child, 5000)
      }
    }
    await token?.stop()
    fs.rmSync(dir, {recursive: true, force: true})
  }

  // Ready when /v2/ answers (200, or 401 with auth).
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) {
      await stop()
      throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr}`)
    }
    try {
      const response = await fetch(`${url}/v2/`)
      await response.body?.cancel()
      break
    } catch {}
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`docker-registry did not answer on ${url} within 15s: ${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  /** The Authorization header a pushing client would have for this repository. */
  async function authorization(repository: string): Promise<string | undefined> {
    if (auth.kind === 'none') return undefined
    const user = auth.users[0]!
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`
    if (auth.kind === 'htpasswd') return basic
    const response = await fetch(`${token!.realm}?service=${encodeURIComponent(token!.service)}&scope=${encodeURIComponent(`repository:${repository}:pull,push`)}`, {headers: {authorization: basic}})
    const body = (await response.json()) as {token: string}
    return `Bearer ${body.token}`
  }

  async function call(method: string, target: string, headers: Record<string, string>, body?: Buffer | string): Promise<Response> {
    const response = await fetch(new URL(target, url), {method, headers, ...(body === undefined ? {} : {body})})
    return response
  }

  async function pushBlob(repository: string, blob: Buffer, headers: Record<string, string>): Promise<string> {
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`
    const start = await call('POST', `/v2/${repository}/blobs/uploads/`, headers)
    await start.body?.cancel()
    if (start.status !== 202) throw new Error(`starting a blob upload to ${repository} answered ${start.status}`)
    const location = new URL(start.headers.get('location')!, url)
    location.searchParams.set('digest', digest)
    const put = await call('PUT', location.toString(), {...headers, 'content-type': 'application/octet-stream', 'content-length': String(blob.length)}, blob)
    await put.body?.cancel()
    if (put.status !== 201) throw new Error(`uploading blob ${digest} to ${repository} answered ${put.status}`)
    return digest
  }

  return {
    host,
    url,
    ...(token ? {token} : {}),
    async push(repository, tag) {
      const auth = await authorization(repository)
      const headers: Record<string, string> = auth ? {authorization: auth} : {}
      // An empty tar (two zero blocks), gzipped: a valid layer.
      const tar = Buffer.alloc(1024)
      const layer = gzipSync(tar)
      const config = Buffer.from(JSON.stringify({architecture: 'amd64', os: 'linux', config: {}, rootfs: {type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(tar).digest('hex')}`]}}))
      const configDigest = await pushBlob(repository, config, headers)
      const layerDigest = await pushBlob(repository, layer, headers)
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length},
        layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length}],
      })
      const put = await call('PUT', `/v2/${repository}/manifests/${tag}`, {...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json'}, manifest)
      const text = await put.text()
      if (put.status !== 201) throw new Error(`putting manifest ${repository}:${tag} answered ${put.status}: ${text}`)
      return put.headers.get('docker-content-digest')!
    },
    stop,
  }
}

// The package under test, as a workflow installs it: `npm pack` of this worktree, served by a
// small npm registry stand-in on a loopback port, so the preview workflow's own step
// `npm install --global ... "$IDP_PACKAGE"` runs as written, with the registry the workflow's
// documented repository variable NPM_CONFIG_REGISTRY names (a mirror, as a platform team sets it).
//
// The registry has one package, so the tarball carries its dependencies (bundleDependencies,
// installed from the lockfile out of npm's cache, offline): npm installs it without asking for
// any other package, and nothing reaches the network. The registry answers what npm asks for the
// way registry.npmjs.org does: the packument (GET /<name>, `@scope%2fname` for a scoped name) with
// dist.tarball, dist.integrity and dist.shasum, the tarball, and 404 {"error":"Not found"} for
// anything else. The bundle is cached in .tools/idp-pack/ by a hash of what goes into it.
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'

import {repoRoot} from '../cli.js'

export interface PackedPackage {
  name: string
  version: string
  tarball: string
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]))
}

/** What the packed package is made of: package.json, the lockfile and the files it ships. */
function contentHash(): string {
  const hash = createHash('sha256')
  const files = ['package.json', 'package-lock.json', 'oclif.manifest.json', 'idp.schema.json', '.idp.yml.example', ...['bin', 'dist', 'templates'].flatMap((d) => walk(path.join(repoRoot, d)).map((f) => path.relative(repoRoot, f)))].sort()
  for (const file of files) {
    const full = path.join(repoRoot, file)
    if (!fs.existsSync(full)) continue
    hash.update(file).update('\0').update(fs.readFileSync(full)).update('\0')
  }
  return hash.digest('hex').slice(0, 16)
}

/** `npm pack` of this worktree with its production dependencies bundled (dist must be built). */
export function packIdp(): PackedPackage {
  if (!fs.existsSync(path.join(repoRoot, 'dist')) || !fs.existsSync(path.join(repoRoot, 'oclif.manifest.json'))) {
    throw new Error('dist/ is missing: run `npm run build` before the tests (npm test does).')
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {name: string; version: string}
  const cacheDir = path.join(repoRoot, '.tools', 'idp-pack')
  const tarball = path.join(cacheDir, `${pkg.name.replace(/^@/u, '').replace('/', '-')}-${pkg.version}-${contentHash()}.tgz`)
  if (fs.existsSync(tarball)) return {...pkg, tarball}
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-pack-'))
  // npm itself, with the machine's npm cache (filled by `npm ci`); never the network.
  const env = {...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false'}
  try {
    const first = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], {cwd: repoRoot, env, encoding: 'utf8'}).trim().split('\n').at(-1)!
    execFileSync('tar', ['xzf', path.join(work, first), '-C', work])
    const dir = path.join(work, 'package')
    fs.copyFileSync(path.join(repoRoot, 'package-lock.json'), path.join(dir, 'package-lock.json'))
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--offline', '--silent'], {cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe']})
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>
    manifest.bundleDependencies = true
    fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    fs.rmSync(path.join(dir, 'package-lock.json'))
    const out = path.join(work, 'out')
    fs.mkdirSync(out)
    const bundled = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', out], {cwd: dir, env, encoding: 'utf8'}).trim().split('\n').at(-1)!
    fs.mkdirSync(cacheDir, {recursive: true})
    for (const old of fs.readdirSync(cacheDir)) fs.rmSync(path.join(cacheDir, old))
    fs.copyFileSync(path.join(out, bundled), tarball)
    return {...pkg, tarball}
  } finally {
    fs.rmSync(work, {recursive: true, force: true})
  }
}

export interface NpmRegistry {
  /** http://127.0.0.1:PORT/ */
  url: string
  /** Every request: method and path. */
  requests: Array<{method: string; path: string; status: number}>
  stop(): Promise<void>
}

/** A registry serving these packages (one version each). */
export async function startNpmRegistry(packages: PackedPackage[]): Promise<NpmRegistry> {
  const requests: NpmRegistry['requests'] = []
  const tarballs = new Map<string, Buffer>()
  for (const p of packages) tarballs.set(p.name, fs.readFileSync(p.tarball))
  let url = ''
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown, type = 'application/json') => {
      requests.push({method: req.method ?? '', path: req.url ?? '', status})
      res.writeHead(status, {'content-type': type})
      res.end(Buffer.isBuffer(body) ? body : JSON.stringify(body))
    }
    const target = decodeURIComponent(new URL(req.url ?? '/', url).pathname.slice(1))
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, {error: 'Method not allowed'})
    for (const p of packages) {
      const file = `${p.name.split('/').at(-1)}-${p.version}.tgz`
      const data = tarballs.get(p.name)!
      if (target === p.name) {
        const manifest = JSON.parse(execFileSync('tar', ['xzOf', p.tarball, 'package/package.json'], {encoding: 'utf8', maxBuffer: 1 << 24})) as Record<string, unknown>
        const dist = {
          tarball: `${url}${p.name}/-/${file}`,
          shasum: createHash('sha1').update(data).digest('hex'),
          integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
        }
        return send(200, {_id: p.name, name: p.name, 'dist-tags': {latest: p.version}, versions: {[p.version]: {...manifest, _id: `${p.name}@${p.version}`, dist}}, time: {[p.version]: new Date().toISOString()}})
      }
      if (target === `${p.name}/-/${file}`) return send(200, data, 'application/octet-stream')
    }
    return send(404, {error: 'Not found'})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  return {
    url,
    requests,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

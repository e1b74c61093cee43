import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {EnvRecord} from '../../src/lib/env/labels.js'
import {runIdp, seedEnvironment, seedEnvironments} from '../support/env-seed.js'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'

let kube: KubeStandIn
let work: string
let home: string
let repo: string
let userKubeconfig: string
let deadServer: string

const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

/** A port nothing listens on: bind, note it, close. */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function env(extra: Record<string, string | undefined> = {}) {
  return {HOME: home, KUBECONFIG: undefined, XDG_STATE_HOME: path.join(work, 'state'), ...extra}
}

beforeAll(async () => {
  kube = await startKubeStandIn({argocd: false})
  work = mkdtempSync(path.join(os.tmpdir(), 'idp-env-list-'))
  home = path.join(work, 'home')
  deadServer = `http://127.0.0.1:${await closedPort()}`
  // The user's kubeconfig: the stand-in as context standin-host (current), plus a context whose server is down.
  const standIn = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {name: 'standin', cluster: {server: kube.serverUrl('host')}},
      {name: 'gone', cluster: {server: deadServer}},
    ],
    users: [{name: 'admin', user: {}}],
    contexts: [
      {name: 'standin-host', context: {cluster: 'standin', user: 'admin'}},
      {name: 'gone-ctx', context: {cluster: 'gone', user: 'admin'}},
    ],
    'current-context': 'gone-ctx',
  })
  mkdirSync(path.join(home, '.kube'), {recursive: true})
  userKubeconfig = path.join(home, '.kube', 'config')
  writeFileSync(userKubeconfig, standIn, {mode: 0o600})
  repo = path.join(work, 'repo')
  mkdirSync(repo)
  writeFileSync(
    path.join(repo, '.idp.yml'),
    `version: 1
service: {name: shop, owner: team-a}
clusters:
  dev: {context: standin-host}
environments:
  "pr-*": {cluster: dev, driver: namespace, ttl: 72h}
`,
  )
  const now = new Date()
  seedEnvironment(kube, {service: 'shop', env: 'pr-1', owner: 'alice@example.com', pr: '1', url: 'https://pr-1.shop.example.com', sha: 'abc123', now})
  seedEnvironment(kube, {service: 'shop', env: 'pr-2', owner: 'bob@example.com', expiresInMs: -2 * 3_600_000, now, driver: 'vcluster'})
  seedEnvironment(kube, {service: 'cart', env: 'pr-7', owner: 'carol@example.com', now})
  // Not idp's: no labels at all, and one that only claims the service label without managed-by.
  kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'shop-manual'}})
  kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'shop-fake', labels: {'idp.dev/service': 'shop', 'idp.dev/env': 'fake'}}})
})

afterAll(async () => {
  await kube?.stop()
  if (work) rmSync(work, {recursive: true, force: true})
})

describe('idp env list', () => {
  it('lists only idp-labelled environments of this service, with the documented JSON shape', async () => {
    const before = hash(userKubeconfig)
    const {code, stdout, stderr} = await runIdp(['env', 'list', '--json', '--dir', repo], env())
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const out = JSON.parse(stdout) as {status: number; result: {service: string; environments: EnvRecord[]; warnings: string[]; clusters: unknown[]}; warnings: string[]}
    expect(out.status).toBe(0)
    expect(out.result.service).toBe('shop')
    expect(out.result.environments.map((e) => e.namespace)).toEqual(['shop-pr-1', 'shop-pr-2'])
    const [pr1, pr2] = out.result.environments
    expect(pr1).toMatchObject({service: 'shop', env: 'pr-1', cluster: 'dev', owner: 'alice@example.com', driver: 'namespace', expired: false, pr: '1', sha: 'abc123', url: 'https://pr-1.shop.example.com', phase: 'Active'})
    expect(new Date(pr1!.expiresAt!).getTime()).toBeGreaterThan(Date.now())
    expect(pr2).toMatchObject({env: 'pr-2', driver: 'vcluster', expired: true})
    expect(out.result.clusters).toEqual([{cluster: 'dev', ok: true, count: 2}])
    expect(out.warnings).toEqual([])
    // The user's kubeconfig (and its current context, which points at a dead server) is untouched.
    expect(hash(userKubeconfig)).toBe(before)
  })

  it('--all-services adds other services, still never a namespace without managed-by=idp', async () => {
    const {code, stdout} = await runIdp(['env', 'list', '--all-services', '--json', '--dir', repo], env())
    expect(code).toBe(0)
    const {result} = JSON.parse(stdout) as {result: {service: null; environments: EnvRecord[]}}
    expect(result.service).toBeNull()
    expect(result.environments.map((e) => `${e.service}/${e.env}`)).toEqual(['cart/pr-7', 'shop/pr-1', 'shop/pr-2'])
  })

  it('prints a table with relative expiry for people', async () => {
    const {code, stdout} = await runIdp(['env', 'list', '--dir', repo], env())
    expect(code).toBe(0)
    const lines = stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ENV\s+SERVICE\s+CLUSTER\s+NAMESPACE\s+DRIVER\s+OWNER\s+EXPIRES\s+URL$/u)
    expect(lines[1]).toMatch(/^pr-1\s+shop\s+dev\s+shop-pr-1\s+namespace\s+alice@example\.com\s+in (2d23h|3d)\s+https:\/\/pr-1\.shop\.example\.com$/u)
    expect(lines[2]).toMatch(/^pr-2\s+shop\s+dev\s+shop-pr-2\s+vcluster\s+bob@example\.com\s+expired (1h59m|2h) ago$/u)
    expect(lines).toHaveLength(3)
  })

  it('an unreachable second cluster is a warning and the reachable one is still listed', async () => {
    const twoClusters = path.join(work, 'two-clusters')
    mkdirSync(twoClusters)
    writeFileSync(
      path.join(twoClusters, '.idp.yml'),
      `version: 1
service: {name: shop, owner: team-a}
clusters:
  dev: {context: standin-host}
  edge: {context: gone-ctx}
environments:
  "pr-*": {cluster: dev, driver: namespace}
`,
    )
    const {code, stdout} = await runIdp(['env', 'list', '--json', '--dir', twoClusters], env())
    expect(code).toBe(0)
    const out = JSON.parse(stdout) as {result: {environments: EnvRecord[]; clusters: Array<{cluster: string; ok: boolean; error?: string}>}; warnings: string[]}
    expect(out.result.environments.map((e) => e.env)).toEqual(['pr-1', 'pr-2'])
    expect(out.result.clusters.find((c) => c.cluster === 'edge')).toMatchObject({ok: false})
    expect(out.warnings).toHaveLength(1)
    expect(out.warnings[0]).toMatch(/^Skipped cluster "edge": Could not reach Kubernetes to list environments on cluster "edge" \(context gone-ctx\): .*ECONNREFUSED/u)

    // Only the dead cluster: nothing to list is a failure, exit 6 with the hint to check the context.
    const only = await runIdp(['env', 'list', '--cluster', 'edge', '--json', '--dir', twoClusters], env())
    expect(only.code).toBe(6)
    const error = JSON.parse(only.stdout) as {status: number; error: {code: string; message: string; hint: string}}
    expect(error).toMatchObject({status: 6, error: {code: 'REMOTE'}})
    expect(error.error.hint).toMatch(/idp doctor/u)
  })

  it('an unknown --cluster is a usage error naming the configured ones', async () => {
    const {code, stdout} = await runIdp(['env', 'list', '--cluster', 'nope', '--json', '--dir', repo], env())
    expect(code).toBe(2)
    expect(JSON.parse(stdout)).toMatchObject({status: 2, error: {code: 'USAGE', message: 'Unknown cluster "nope". Configured: dev.'}})
  })

  it('reads 50 environments with one list call per cluster', async () => {
    const bench = await startKubeStandIn({argocd: false})
    try {
      seedEnvironments(bench, {service: 'load', count: 50})
      const kubeconfig = bench.kubeconfig('host', {context: 'load-ctx'})
      const dir = path.join(work, 'load')
      mkdirSync(dir)
      writeFileSync(path.join(dir, '.idp.yml'), `version: 1\nservice: {name: load, owner: team-a}\nclusters:\n  dev: {context: load-ctx, kubeconfig: ${kubeconfig}}\nenvironments: {}\n`)
      const {code, stdout} = await runIdp(['env', 'list', '--json', '--dir', dir], env())
      expect(code).toBe(0)
      const {result} = JSON.parse(stdout) as {result: {environments: EnvRecord[]}}
      expect(result.environments).toHaveLength(50)
      expect(result.environments.slice(0, 3).map((e) => e.env)).toEqual(['pr-1', 'pr-2', 'pr-3'])
      const lists = bench.requests().filter((r) => r.method === 'GET' && /\/api\/v1\/namespaces$/u.test(r.path))
      expect(lists).toHaveLength(1)
    } finally {
      await bench.stop()
    }
  })

  it("keeps the compiled code of oclif and the Kubernetes client per build, and replaces data V8 rejects", async () => {
    const cache = path.join(work, 'code-cache')
    const codeDir = path.join(cache, 'idp', 'code')
    const list = async () => {
      const run = await runIdp(['env', 'list', '--json', '--dir', repo], env({XDG_CACHE_HOME: cache}))
      expect(run.code).toBe(0)
      return (JSON.parse(run.stdout) as {result: {environments: EnvRecord[]}}).result.environments.map((e) => e.namespace)
    }
    const first = await list()
    const bins = readdirSync(codeDir).sort()
    expect(bins).toHaveLength(2)
    // <name>-<build>-<Node version and V8 flags>.bin, both of this build and this Node.
    expect(bins[0]).toMatch(/^client-node-[0-9a-f]{32}-[0-9a-f]{8}\.bin$/u)
    expect(bins[1]).toMatch(/^oclif-[0-9a-f]{32}-[0-9a-f]{8}\.bin$/u)
    expect(bins[0]!.slice('client-node-'.length)).toBe(bins[1]!.slice('oclif-'.length))
    expect(statSync(codeDir).mode & 0o777).toBe(0o700)
    for (const bin of bins) {
      const data = path.join(codeDir, bin)
      expect(statSync(data).mode & 0o777).toBe(0o600)
      expect(statSync(data).size).toBeGreaterThan(100_000)
    }
    // A run from the kept code answers the same, and leaves the data as it was.
    const stamps = bins.map((bin) => statSync(path.join(codeDir, bin)).mtimeMs)
    expect(await list()).toEqual(first)
    expect(bins.map((bin) => statSync(path.join(codeDir, bin)).mtimeMs)).toEqual(stamps)
    // Data that does not match (a corrupt file, another V8): rejected by V8, compiled as usual, written again.
    for (const bin of bins) writeFileSync(path.join(codeDir, bin), Buffer.alloc(4096, 7))
    expect(await list()).toEqual(first)
    for (const bin of bins) expect(statSync(path.join(codeDir, bin)).size).toBeGreaterThan(100_000)
    // Data of an older build is removed when this build's is written, data of this build for
    // another Node or other V8 flags is kept; nothing is left half-written.
    const otherVariant = (bin: string) => bin.replace(/-[0-9a-f]{8}\.bin$/u, '-00000000.bin')
    for (const name of ['client-node', 'oclif']) writeFileSync(path.join(codeDir, `${name}-${'0'.repeat(32)}-00000000.bin`), 'old')
    for (const bin of bins) writeFileSync(path.join(codeDir, otherVariant(bin)), 'other node')
    for (const bin of bins) rmSync(path.join(codeDir, bin))
    expect(await list()).toEqual(first)
    expect(readdirSync(codeDir).sort()).toEqual([...bins, ...bins.map(otherVariant)].sort())
  })
})

import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {runIdp, seedEnvironment} from '../support/env-seed.js'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'
import {toolEnv} from '../support/tool-env.js'

let kube: KubeStandIn
let work: string
let home: string
let repo: string
let userKubeconfig: string

const HOUR = 3_600_000
const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
const namespaces = () =>
  kube
    .store()
    .list('v1', 'Namespace')
    .map((ns) => ns.metadata!.name!)
    .filter((name) => !['default', 'kube-system', 'kube-public', 'kube-node-lease'].includes(name))
    .sort()

function env(extra: Record<string, string | undefined> = {}) {
  return {...toolEnv(), HOME: home, KUBECONFIG: undefined, XDG_STATE_HOME: path.join(work, 'state'), GITHUB_ACTOR: 'gc-bot', ...extra}
}

interface GcJson {
  status: number
  result: {
    dryRun: boolean
    selected: Array<{env: string; service: string; reason: string; plan?: {steps: Array<{id: string}>}}>
    skipped: Array<{env: string; reason: string}>
    outcomes: Array<{env: string; status: string}>
  }
  error?: {code: string; message: string; hint: string; details: {outcomes: Array<{env: string; status: string; detail?: string}>}}
}

beforeAll(async () => {
  kube = await startKubeStandIn({argocd: false})
  work = mkdtempSync(path.join(os.tmpdir(), 'idp-env-gc-'))
  home = path.join(work, 'home')
  mkdirSync(path.join(home, '.kube'), {recursive: true})
  userKubeconfig = path.join(home, '.kube', 'config')
  kube.kubeconfig('host', {path: userKubeconfig})
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
  staging: {cluster: dev, driver: namespace, protected: true}
`,
  )
})

beforeEach(() => {
  for (const name of namespaces()) kube.store().delete('v1', 'Namespace', name)
  kube.faults.reset()
  const now = new Date()
  seedEnvironment(kube, {service: 'shop', env: 'pr-1', expiresInMs: -2 * HOUR, now})
  seedEnvironment(kube, {service: 'shop', env: 'pr-2', expiresInMs: 70 * HOUR, createdAt: new Date(now.getTime() - 2 * HOUR), now})
  seedEnvironment(kube, {service: 'shop', env: 'staging', expiresInMs: -HOUR, now})
  seedEnvironment(kube, {service: 'cart', env: 'pr-3', expiresInMs: -HOUR, now})
  kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'shop-manual', annotations: {'idp.dev/expires-at': '2000-01-01T00:00:00Z'}}})
})

afterAll(async () => {
  await kube?.stop()
  if (work) rmSync(work, {recursive: true, force: true})
})

describe('idp env gc', () => {
  it('--dry-run lists what would be removed and why, and deletes nothing', async () => {
    const before = namespaces()
    const {code, stdout} = await runIdp(['env', 'gc', '--dry-run', '--json', '--dir', repo], env())
    expect(code).toBe(0)
    const {result} = JSON.parse(stdout) as GcJson
    expect(result.dryRun).toBe(true)
    expect(result.selected.map((s) => `${s.service}/${s.env}`)).toEqual(['shop/pr-1'])
    expect(result.selected[0]!.reason).toMatch(/^expired 2h ago/u)
    expect(result.selected[0]!.plan!.steps.map((s) => s.id)).toContain('namespace-delete')
    expect(result.skipped).toEqual([expect.objectContaining({env: 'staging', reason: expect.stringMatching(/protected in \.idp\.yml$/u)})])
    expect(namespaces()).toEqual(before)
    expect(kube.requests().some((r) => r.method === 'DELETE')).toBe(false)
  })

  it('removes only the expired environment of this service; fresh, protected, foreign and unlabelled ones stay', async () => {
    const before = hash(userKubeconfig)
    const {code, stdout, stderr} = await runIdp(['env', 'gc', '--yes', '--json', '--dir', repo], env())
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const {result} = JSON.parse(stdout) as GcJson
    expect(result.outcomes).toEqual([expect.objectContaining({service: 'shop', env: 'pr-1', status: 'removed'})])
    expect(namespaces()).toEqual(['cart-pr-3', 'shop-manual', 'shop-pr-2', 'shop-staging'])
    expect(hash(userKubeconfig)).toBe(before)
  })

  it('--all-services also removes other services\' expired environments; --older-than selects by age', async () => {
    const all = await runIdp(['env', 'gc', '--all-services', '--yes', '--json', '--dir', repo], env())
    expect(all.code).toBe(0)
    expect((JSON.parse(all.stdout) as GcJson).result.outcomes.map((o) => `${o.env}:${o.status}`).sort()).toEqual(['pr-1:removed', 'pr-3:removed'])
    expect(namespaces()).toEqual(['shop-manual', 'shop-pr-2', 'shop-staging'])

    const aged = await runIdp(['env', 'gc', '--older-than', '1h', '--yes', '--json', '--dir', repo], env())
    expect(aged.code).toBe(0)
    const {result} = JSON.parse(aged.stdout) as GcJson
    expect(result.outcomes).toEqual([expect.objectContaining({env: 'pr-2', status: 'removed', reason: expect.stringMatching(/^created 2h ago .* older than 1h$/u)})])
    expect(namespaces()).toEqual(['shop-manual', 'shop-staging'])
  })

  it('one failing removal does not stop the others; exit 6 with a summary at the end', async () => {
    seedEnvironment(kube, {service: 'shop', env: 'pr-4', expiresInMs: -HOUR})
    kube.faults.failNext('DELETE', /\/namespaces\/shop-pr-1$/u, 500, {message: 'etcd is unhappy'})
    const {code, stdout} = await runIdp(['env', 'gc', '--yes', '--json', '--dir', repo], env())
    expect(code).toBe(6)
    const out = JSON.parse(stdout) as GcJson
    expect(out.error!.code).toBe('REMOTE')
    expect(out.error!.message).toMatch(/^gc removed 1 of 2 environments; 1 failed:\n {2}shop\/pr-1 on dev: .*500.*etcd is unhappy/u)
    expect(out.error!.details.outcomes.map((o) => `${o.env}:${o.status}`)).toEqual(['pr-1:failed', 'pr-4:removed'])
    expect(namespaces()).toEqual(['cart-pr-3', 'shop-manual', 'shop-pr-1', 'shop-pr-2', 'shop-staging'])
  })

  it('removes several environments at once (--concurrency), each step named by its environment; --concurrency 1 one at a time', async () => {
    const overlap = (from: number, names: string[]) => {
      // The most namespace DELETEs the stand-in was answering at the same moment.
      const deletes = kube.requests().slice(from).filter((r) => r.method === 'DELETE' && names.some((n) => r.path.endsWith(`/namespaces/${n}`)))
      expect(deletes).toHaveLength(names.length)
      return Math.max(...deletes.map((a) => deletes.filter((b) => (b.at ?? 0) <= (a.at ?? 0) && (a.at ?? 0) < (b.at ?? 0) + (b.ms ?? 0)).length))
    }
    const seed = (envs: string[]) => envs.forEach((e) => seedEnvironment(kube, {service: 'shop', env: e, expiresInMs: -HOUR}))
    kube.faults.delay(150)
    const wide = ['pr-11', 'pr-12', 'pr-13', 'pr-14', 'pr-15', 'pr-16']
    seed(wide)
    let from = kube.requests().length
    const together = await runIdp(['env', 'gc', '--yes', '--concurrency', '3', '--dir', repo], env({CI: 'true'}))
    expect(together.code, together.stderr).toBe(0)
    expect(overlap(from, ['shop-pr-1', ...wide.map((e) => `shop-${e}`)])).toBe(3)
    // Plain progress lines, each naming its environment; the result in the candidates' order.
    expect(together.stderr).toContain('shop/pr-13: Delete namespace shop-pr-13')
    expect(together.stdout.split('\n').filter((line) => line.startsWith('✓ removed')).map((line) => line.split(' ')[2])).toEqual(['shop/pr-1', ...wide.map((e) => `shop/${e}`)])
    expect(namespaces()).toEqual(['cart-pr-3', 'shop-manual', 'shop-pr-2', 'shop-staging'])

    const narrow = ['pr-21', 'pr-22', 'pr-23']
    seed(narrow)
    from = kube.requests().length
    const serial = await runIdp(['env', 'gc', '--yes', '--concurrency', '1', '--json', '--dir', repo], env())
    expect(serial.code, serial.stderr).toBe(0)
    expect(overlap(from, narrow.map((e) => `shop-${e}`))).toBe(1)
    expect((JSON.parse(serial.stdout) as GcJson).result.outcomes.map((o) => `${o.env}:${o.status}`)).toEqual(['pr-21:removed', 'pr-22:removed', 'pr-23:removed'])

    const bad = await runIdp(['env', 'gc', '--yes', '--concurrency', '0', '--json', '--dir', repo], env())
    expect(bad.code).toBe(2)
  })

  it('without a terminal, removing needs --yes: exit 2 naming it, nothing removed', async () => {
    seedEnvironment(kube, {service: 'shop', env: 'pr-5', expiresInMs: -HOUR})
    const {code, stdout} = await runIdp(['env', 'gc', '--json', '--dir', repo], env())
    expect(code).toBe(2)
    const out = JSON.parse(stdout) as GcJson
    expect(out.error!.message).toMatch(/^env gc would remove \d+ environments?; removing them without a terminal needs --yes\.$/u)
    expect(out.error!.hint).toContain('env gc --dry-run')
    expect(namespaces()).toContain('shop-pr-5')
  })

  it('a bad --older-than is a usage error before any cluster is contacted', async () => {
    const requests = kube.requests().length
    const {code, stdout} = await runIdp(['env', 'gc', '--older-than', 'soon', '--json', '--dir', repo], env())
    expect(code).toBe(2)
    expect(JSON.parse(stdout)).toMatchObject({status: 2, error: {code: 'USAGE', message: 'Invalid duration "soon": not a duration.'}})
    expect(kube.requests().length).toBe(requests)
  })
})

// Secrets from Vault (KV v2) in environments, end to end: the built CLI against the Vault stand-in,
// the Kubernetes stand-in, real helm 4 and the vcluster double. A canary value is planted in Vault
// and looked for in everything a run produces: it must be found only in the Kubernetes Secrets.
import {randomUUID} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type EnvWorld, type RunOutcome, startEnvWorld} from '../fixtures/env/world.js'
import {startVaultStandIn, type VaultStandIn} from '../support/vault-stand-in/index.js'
import {filesUnder} from '../support/files.js'
import type {KubeObject} from '../support/kube-stand-in/index.js'

const CANARY = `canary-${randomUUID()}`
const API_KEY = `apikey-${randomUUID()}`
let world: EnvWorld
let vault: VaultStandIn
let token: string
/** Every run's output, for the canary search at the end. */
const outputs: Array<{args: string[]; out: RunOutcome}> = []

const virtual = 'vcluster-shop-vc-5-vc-5'

async function idp(args: string[], env: Record<string, string | undefined> = {}): Promise<RunOutcome> {
  const out = await world.run(args, {env: {VAULT_TOKEN: token, ...env}})
  outputs.push({args, out})
  return out
}

const secret = (name: string, namespace: string, cluster = 'host') => world.kube.store(cluster).get('v1', 'Secret', name, namespace)
const decoded = (object: KubeObject | undefined) => Object.fromEntries(Object.entries((object?.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))

beforeAll(async () => {
  world = await startEnvWorld()
  vault = await startVaultStandIn({
    mounts: ['kv'],
    policies: {preview: {'kv/data/shop/*': ['read']}, 'db-only': {'kv/data/shop/preview/db': ['read']}},
  })
  vault.kv.put('kv', 'shop/preview/db', {username: 'shop', password: CANARY, unused: 'not-copied'})
  vault.kv.put('kv', 'shop/ns-5/api', {API_KEY, 'endpoint.url': 'https://api.example.com'})
  vault.kv.put('kv', 'shop/vc-5/api', {API_KEY})
  token = vault.tokens.create({policies: ['preview']})
  fs.appendFileSync(
    path.join(world.project, '.idp.yml'),
    [
      'secrets:',
      `  vault: {address: "${vault.url}", mount: kv}`,
      '  env:',
      '    "ns-*":',
      '      shop-db: {path: "shop/preview/db", keys: [username, password]}',
      '      shop-api: {path: "shop/{{env}}/api"}',
      '    "vc-*":',
      '      shop-db: {path: "shop/preview/db", keys: [username, password]}',
      '      shop-api: {path: "shop/{{env}}/api"}',
      '',
    ].join('\n'),
  )
})

afterAll(async () => {
  await vault?.stop()
  await world?.stop()
})

describe('env up writes the Secrets from Vault before helm (namespace driver)', () => {
  it('--dry-run shows paths and keys, reads nothing', async () => {
    const seen = vault.requests().length
    const dry = await idp(['env', 'up', 'ns-5', '--sha', 'abc1234', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    const step = dry.json.result.plan.steps.find((s: {id: string}) => s.id === 'secrets')
    expect(step.action.params.secrets).toEqual([
      {name: 'shop-db', source: 'kv/shop/preview/db', keys: ['username', 'password']},
      {name: 'shop-api', source: 'kv/shop/ns-5/api'},
    ])
    expect(step.action.summary).toContain('shop-db ← kv/shop/preview/db [username, password]')
    expect(step.action.summary).toContain('shop-api ← kv/shop/ns-5/api [every key]')
    // Undone (a fresh environment) by deleting what idp labelled, which the printed clean-up can do by hand.
    expect(step.undo[0].op).toBe('kube.deleteSecrets')
    expect(vault.requests().length).toBe(seen)
    const text = await idp(['env', 'up', 'ns-5', '--sha', 'abc1234', '--dry-run'])
    expect(text.stdout).toContain('kv/shop/preview/db')
  })

  it('up creates both Secrets, labelled, before helm; the Deployment reads them', async () => {
    const up = await idp(['env', 'up', 'ns-5', '--sha', 'abc1234', '--json', '--verbose'])
    expect(up.code, up.stderr).toBe(0)
    const steps = up.json.result.steps.map((s: {id: string}) => s.id)
    expect(steps.indexOf('secrets')).toBeGreaterThan(steps.indexOf('kubeconfig'))
    expect(steps.indexOf('secrets')).toBeLessThan(steps.indexOf('helm'))
    expect(up.json.result.secrets).toEqual([
      {name: 'shop-db', source: 'kv/shop/preview/db', version: 1, keys: ['password', 'username']},
      {name: 'shop-api', source: 'kv/shop/ns-5/api', version: 1, keys: ['API_KEY', 'endpoint.url']},
    ])
    const db = secret('shop-db', 'shop-ns-5')!
    expect(decoded(db)).toEqual({username: 'shop', password: CANARY})
    expect(db.metadata?.labels).toMatchObject({'app.kubernetes.io/managed-by': 'idp', 'idp.dev/service': 'shop', 'idp.dev/env': 'ns-5', 'idp.dev/secret-source': 'vault'})
    expect(db.metadata?.annotations).toMatchObject({'idp.dev/vault-path': 'kv/shop/preview/db', 'idp.dev/vault-version': '1'})
    // Server-side apply, field manager idp.
    expect(db.metadata?.managedFields?.[0]).toMatchObject({manager: 'idp', operation: 'Apply'})
    expect(decoded(secret('shop-api', 'shop-ns-5'))).toEqual({API_KEY, 'endpoint.url': 'https://api.example.com'})
    // helm rendered the chart with the names; the pod spec reads both.
    const deployment = world.kube.store().get('apps/v1', 'Deployment', 'shop', 'shop-ns-5')!
    expect(deployment.spec.template.spec.containers[0].envFrom).toEqual([{secretRef: {name: 'shop-db'}}, {secretRef: {name: 'shop-api'}}])
    const helm = up.json.result.plan.steps.find((s: {id: string}) => s.id === 'helm')
    expect(helm.argv).toEqual(expect.arrayContaining(['--set-string', 'secrets[0]=shop-db', '--set-string', 'secrets[1]=shop-api']))
    // The user's token is used, never revoked.
    expect(vault.tokens.live(token)).toBe(true)
    expect(vault.requests().some((r) => r.path === '/v1/auth/token/revoke-self')).toBe(false)
  })

  it('up again updates a changed Secret (new version, removed key) in place', async () => {
    vault.kv.put('kv', 'shop/ns-5/api', {API_KEY: `${API_KEY}-2`})
    const up = await idp(['env', 'up', 'ns-5', '--sha', 'abc1234', '--json'])
    expect(up.code, up.stderr).toBe(0)
    expect(up.json.result.updated).toBe(true)
    const api = secret('shop-api', 'shop-ns-5')!
    expect(decoded(api)).toEqual({API_KEY: `${API_KEY}-2`})
    expect(api.metadata?.annotations?.['idp.dev/vault-version']).toBe('2')
  })

  it('a Secret of that name idp did not write is never taken over', async () => {
    const store = world.kube.store()
    const api = store.get('v1', 'Secret', 'shop-api', 'shop-ns-5')!
    store.put({...api, metadata: {...api.metadata, labels: {team: 'someone-else'}, managedFields: []}} as KubeObject)
    const up = await idp(['env', 'up', 'ns-5', '--sha', 'abc1234', '--json'])
    expect(up.code).toBe(6)
    expect(up.json.error.message).toBe('Secret shop-ns-5/shop-api exists and was not written by idp for shop/ns-5.')
    expect(secret('shop-api', 'shop-ns-5')?.metadata?.labels).toEqual({team: 'someone-else'})
    store.delete('v1', 'Secret', 'shop-api', 'shop-ns-5')
    const again = await idp(['env', 'up', 'ns-5', '--sha', 'abc1234', '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.json.result.steps.find((s: {id: string}) => s.id === 'secrets').result).toEqual({applied: ['shop-db', 'shop-api'], created: ['shop-api'], pruned: []})
  })

  it('secrets diff says which keys differ, never the values; secrets sync writes them and restarts what reads them', async () => {
    const clean = await idp(['secrets', 'diff', 'ns-5', '--json'])
    expect(clean.code, clean.stderr).toBe(0)
    expect(clean.json.result).toMatchObject({env: 'ns-5', namespace: 'shop-ns-5', driver: 'namespace', inSync: true})
    expect(clean.json.result.changes.map((c: {action: string}) => c.action)).toEqual(['unchanged', 'unchanged'])

    // Rotate: a new password, a new key; and a Secret no mapping names any more.
    vault.kv.put('kv', 'shop/preview/db', {username: 'shop', password: `${CANARY}-rotated`})
    vault.kv.put('kv', 'shop/ns-5/api', {API_KEY: `${API_KEY}-3`, NEW_KEY: `${API_KEY}-new`})
    const orphan = world.kube.store().get('v1', 'Secret', 'shop-db', 'shop-ns-5')!
    world.kube.store().create({apiVersion: 'v1', kind: 'Secret', metadata: {name: 'shop-old', namespace: 'shop-ns-5', labels: orphan.metadata!.labels}, data: {k: Buffer.from('old-value').toString('base64')}} as KubeObject)
    const diff = await idp(['secrets', 'diff', 'ns-5', '--json'])
    expect(diff.code, diff.stderr).toBe(0)
    expect(diff.json.result.inSync).toBe(false)
    expect(diff.json.result.changes).toEqual([
      {name: 'shop-api', source: 'kv/shop/ns-5/api', version: 3, action: 'update', added: ['NEW_KEY'], removed: [], changed: ['API_KEY']},
      {name: 'shop-db', source: 'kv/shop/preview/db', version: 2, action: 'update', added: [], removed: [], changed: ['password']},
      {name: 'shop-old', action: 'remove', added: [], removed: ['k'], changed: []},
    ])
    const text = await idp(['secrets', 'diff', 'ns-5'])
    expect(text.stdout).toContain('~ shop-db (kv/shop/preview/db v2): changed password')
    expect(text.stdout).toContain('idp secrets sync ns-5')
    expect(text.stdout + text.stderr).not.toContain(API_KEY)

    const template = () => world.kube.store().get('apps/v1', 'Deployment', 'shop', 'shop-ns-5')!.spec.template.metadata.annotations ?? {}
    const dry = await idp(['secrets', 'sync', 'ns-5', '--restart', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.json.result.restarted).toEqual(['shop'])
    expect(dry.json.result.plan.steps.map((step: {id: string}) => step.id)).toEqual(['preflight', 'lock', 'secrets', 'restart', 'unlock'])
    expect(decoded(secret('shop-db', 'shop-ns-5')).password).toBe(CANARY)
    expect(template()['kubectl.kubernetes.io/restartedAt']).toBeUndefined()

    const sync = await idp(['secrets', 'sync', 'ns-5', '--restart', '--json'])
    expect(sync.code, sync.stderr).toBe(0)
    expect(sync.json.result.steps.map((step: {id: string; status: string}) => `${step.id}:${step.status}`)).toEqual(['preflight:done', 'lock:done', 'secrets:done', 'restart:done', 'unlock:done'])
    expect(sync.json.result.steps.find((step: {id: string}) => step.id === 'secrets').result).toEqual({applied: ['shop-db', 'shop-api'], created: [], pruned: ['shop-old']})
    expect(decoded(secret('shop-db', 'shop-ns-5'))).toEqual({username: 'shop', password: `${CANARY}-rotated`})
    expect(decoded(secret('shop-api', 'shop-ns-5'))).toEqual({API_KEY: `${API_KEY}-3`, NEW_KEY: `${API_KEY}-new`})
    expect(secret('shop-old', 'shop-ns-5')).toBeUndefined()
    expect(template()['kubectl.kubernetes.io/restartedAt']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/u)
    // The release was not upgraded: still its revision of the last up.
    const releases = world.kube.store().list('v1', 'Secret', 'shop-ns-5').filter((item) => item.metadata?.labels?.owner === 'helm').length
    const again = await idp(['secrets', 'sync', 'ns-5', '--restart', '--json'])
    expect(again.json.result.inSync).toBe(true)
    expect(again.json.result.steps.map((step: {id: string}) => step.id)).toEqual(['preflight', 'lock', 'unlock'])
    expect(world.kube.store().list('v1', 'Secret', 'shop-ns-5').filter((item) => item.metadata?.labels?.owner === 'helm').length).toBe(releases)
  })

  it('down removes the Secrets with the rest', async () => {
    const down = await idp(['env', 'down', 'ns-5', '--json'])
    expect(down.code, down.stderr).toBe(0)
    const steps = down.json.result.steps.map((s: {id: string}) => s.id)
    expect(steps).toEqual(['preflight', 'lock', 'helm-uninstall', 'secrets-delete', 'namespace-delete', 'local-files', 'unlock'])
    expect(down.json.result.steps.find((s: {id: string}) => s.id === 'secrets-delete').result).toEqual({deleted: ['shop-api', 'shop-db']})
    expect(secret('shop-db', 'shop-ns-5')).toBeUndefined()
    expect(secret('shop-api', 'shop-ns-5')).toBeUndefined()
  })
})

describe('env up stops before any change (exit 6) when Vault says no', () => {
  const nothingCreated = (env: string) => {
    expect(world.kube.store().get('v1', 'Namespace', `shop-${env}`)).toBeUndefined()
    expect(world.kube.store().list('coordination.k8s.io/v1', 'Lease', 'default').filter((l) => l.metadata?.name === `idp-shop-${env}`)).toEqual([])
  }

  it('a missing path', async () => {
    const up = await idp(['env', 'up', 'ns-7', '--sha', 'abc1234', '--json'])
    expect(up.code).toBe(6)
    expect(up.json.error.message).toContain('kv/shop/ns-7/api')
    expect(up.json.error.message).toContain('404')
    nothingCreated('ns-7')
  })

  it('a missing key', async () => {
    vault.kv.put('kv', 'shop/ns-8/api', {API_KEY})
    vault.kv.put('kv', 'shop/preview/db', {username: 'shop', pass: CANARY})
    try {
      const up = await idp(['env', 'up', 'ns-8', '--sha', 'abc1234', '--json'])
      expect(up.code).toBe(6)
      expect(up.json.error.message).toBe('Secret shop-db: kv/shop/preview/db has no key password (it has pass, username).')
      nothingCreated('ns-8')
    } finally {
      vault.kv.put('kv', 'shop/preview/db', {username: 'shop', password: CANARY})
    }
  })

  it('no permission on a path', async () => {
    const narrow = vault.tokens.create({policies: ['db-only']})
    const up = await idp(['env', 'up', 'ns-8', '--sha', 'abc1234', '--json'], {VAULT_TOKEN: narrow})
    expect(up.code).toBe(6)
    expect(up.json.error.message).toBe('Vault refused to read kv/shop/ns-8/api: 403 permission denied')
    expect(up.json.error.hint).toContain('vault token lookup')
    nothingCreated('ns-8')
  })

  it('an expired token', async () => {
    const expired = vault.tokens.create({policies: ['preview']})
    vault.tokens.expire(expired)
    const up = await idp(['env', 'up', 'ns-8', '--sha', 'abc1234'], {VAULT_TOKEN: expired})
    expect(up.code).toBe(6)
    expect(up.stderr).toContain('403 permission denied')
    expect(up.stderr).not.toContain(expired)
    nothingCreated('ns-8')
  })

  it('no token at all is a missing prerequisite (exit 4)', async () => {
    const up = await idp(['env', 'up', 'ns-8', '--sha', 'abc1234'], {VAULT_TOKEN: undefined})
    expect(up.code).toBe(4)
    expect(up.stderr).toContain('No Vault token')
    nothingCreated('ns-8')
  })
})

describe('vcluster driver: the Secrets go inside the virtual cluster', () => {
  it('up writes them in the vcluster\'s default namespace, where the release reads them; down removes them with it', async () => {
    const up = await idp(['env', 'up', 'vc-5', '--sha', 'abc1234', '--json'])
    expect(up.code, up.stderr).toBe(0)
    expect(world.kube.clusters.list()).toContain(virtual)
    expect(decoded(world.kube.store(virtual).get('v1', 'Secret', 'shop-db', 'default'))).toEqual({username: 'shop', password: CANARY})
    expect(decoded(world.kube.store(virtual).get('v1', 'Secret', 'shop-api', 'default'))).toEqual({API_KEY})
    // Not on the host.
    expect(secret('shop-db', 'shop-vc-5')).toBeUndefined()
    const deployment = world.kube.store(virtual).get('apps/v1', 'Deployment', 'shop', 'default')!
    expect(deployment.spec.template.spec.containers[0].envFrom).toEqual([{secretRef: {name: 'shop-db'}}, {secretRef: {name: 'shop-api'}}])
    const down = await idp(['env', 'down', 'vc-5', '--json'])
    expect(down.code, down.stderr).toBe(0)
    expect(world.kube.clusters.list()).not.toContain(virtual)
  })
})

describe('idp doctor checks Vault without reading a value', () => {
  const vaultChecks = (out: RunOutcome) => (out.json.result?.checks ?? out.json.error.details.checks).filter((check: {kind: string}) => check.kind === 'vault')

  it('reachable, the token\'s source, and read on every configured path (sys/capabilities-self)', async () => {
    const seen = vault.requests().length
    const ok = await idp(['doctor', '--json'], {GITHUB_TOKEN: 'ghp_doctor0123456789abcdefABCDEF012345'})
    expect(ok.code, ok.stderr).toBe(0)
    expect(vaultChecks(ok)).toEqual([
      {name: 'vault', kind: 'vault', status: 'ok', required: true, detail: `reachable at ${vault.url}, address from secrets.vault.address; token from VAULT_TOKEN`},
      {name: 'vault paths', kind: 'vault', status: 'ok', required: true, detail: 'the token may read 3 configured paths'},
    ])
    expect(vault.requests().slice(seen).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/sys/capabilities-self'])
  })

  it('a token that may not read a path fails the check, naming the path', async () => {
    const narrow = vault.tokens.create({policies: ['db-only']})
    const out = await idp(['doctor', '--json'], {VAULT_TOKEN: narrow, GITHUB_TOKEN: 'ghp_doctor0123456789abcdefABCDEF012345'})
    expect(out.code).toBe(4)
    const [reach, paths] = vaultChecks(out)
    expect(reach.status).toBe('ok')
    expect(paths).toMatchObject({status: 'fail', detail: 'no read capability on kv/data/shop/ns-0/api (deny), kv/data/shop/vc-0/api (deny)'})
    expect(paths.hint).toContain('vault token capabilities kv/data/shop/ns-0/api')
  })

  it('an expired token or no Vault fails the vault check', async () => {
    const expired = vault.tokens.create({policies: ['preview']})
    vault.tokens.expire(expired)
    const out = await idp(['doctor', '--json'], {VAULT_TOKEN: expired, GITHUB_TOKEN: 'ghp_doctor0123456789abcdefABCDEF012345'})
    expect(out.code).toBe(4)
    expect(vaultChecks(out)).toMatchObject([{name: 'vault', status: 'fail', detail: 'Vault refused to look up the token\'s capabilities (sys/capabilities-self): 403 permission denied'}])
  })
})

describe('the canary', () => {
  it('is found nowhere but in the Kubernetes Secrets', async () => {
    // One more run that holds the Secret in the cluster for the search (and prints in every way).
    vault.kv.put('kv', 'shop/ns-9/api', {API_KEY})
    const up = await idp(['env', 'up', 'ns-9', '--sha', 'abc1234', '--verbose'])
    expect(up.code, up.stderr).toBe(0)
    const base64 = Buffer.from(CANARY).toString('base64')
    expect(outputs.length).toBeGreaterThan(10)
    for (const {args, out} of outputs) {
      for (const text of [out.stdout, out.stderr]) {
        expect(text.includes(CANARY), `${args.join(' ')}`).toBe(false)
        expect(text.includes(base64), `${args.join(' ')}`).toBe(false)
      }
    }
    // The state dir (journals, kubeconfigs, plans) and the working tree and HOME.
    for (const file of [...filesUnder(world.stateDir), ...filesUnder(world.project), ...filesUnder(world.home)]) {
      const content = fs.readFileSync(file)
      expect(content.includes(CANARY), file).toBe(false)
      expect(content.includes(base64), file).toBe(false)
    }
    // The cluster: only the Secret holds it.
    const holders: string[] = []
    for (const cluster of world.kube.clusters.list()) {
      for (const [apiVersion, kind] of [['v1', 'Secret'], ['v1', 'ConfigMap'], ['apps/v1', 'Deployment'], ['v1', 'Namespace'], ['v1', 'Event'], ['coordination.k8s.io/v1', 'Lease']] as const) {
        for (const object of world.kube.store(cluster).list(apiVersion, kind)) {
          const text = JSON.stringify(object)
          const hasIt = text.includes(CANARY) || text.includes(base64) || Object.values(decoded(object as KubeObject)).some((v) => v.includes(CANARY))
          if (hasIt) holders.push(`${cluster}/${kind}/${object.metadata?.namespace}/${object.metadata?.name}`)
        }
      }
    }
    expect(holders).toEqual(['host/Secret/shop-ns-9/shop-db'])
  })
})

import {describe, expect, it} from 'vitest'

import {CancelledError, RemoteError} from '../../src/lib/cli/errors.js'
import {envForRecord, gcFailure, runGc, selectForGc} from '../../src/lib/env/gc.js'
import {relativeExpiry, roughDuration} from '../../src/lib/env/format.js'
import {ANNOTATIONS, envMetadata, envSelector, type EnvRecord, isOwnedBy, LABELS, parseEnvRecord, sanitizeLabelValue} from '../../src/lib/env/labels.js'
import {clusterTargets, selectClusters} from '../../src/lib/env/cluster.js'
import {envKubeconfigPath, envStatePaths} from '../../src/lib/env/paths.js'
import {isConflict, isNotFound, kubeError} from '../../src/lib/kube/client.js'
import type {IdpConfig} from '../../src/lib/config/schema.js'

const NOW = new Date('2025-06-01T12:00:00Z')
const HOUR = 3_600_000

function record(overrides: Partial<EnvRecord>): EnvRecord {
  return {service: 'shop', env: 'pr-1', namespace: 'shop-pr-1', cluster: 'dev', owner: 'a@b.c', expired: false, driver: 'namespace', createdAt: '2025-06-01T00:00:00.000Z', ...overrides}
}

describe('labels and annotations', () => {
  it('records the owning team as a label-safe idp.dev/team, and reads it back', () => {
    const {labels} = envMetadata({service: 'shop', env: 'pr-1', owner: 'alice@example.com', team: 'Team A/web', driver: 'namespace', cluster: 'dev', createdAt: '2026-01-01T00:00:00Z'})
    expect(labels[LABELS.team]).toBe('Team-A-web')
    const record = parseEnvRecord({metadata: {name: 'shop-pr-1', labels, annotations: {}}}, 'dev')
    expect(record?.team).toBe('Team-A-web')
    expect(envMetadata({service: 'shop', env: 'pr-1', owner: 'a', driver: 'namespace', cluster: 'dev'}).labels[LABELS.team]).toBeUndefined()
  })

  it('envMetadata: ownership labels, label-unsafe values in annotations, ISO times', () => {
    const {labels, annotations} = envMetadata({service: 'shop', env: 'pr-42', owner: 'Alice <alice@example.com>', expiresAt: new Date('2025-06-04T12:00:00Z'), sha: 'abc', pr: 42, driver: 'vcluster', cluster: 'dev', url: 'https://x', status: 'ready', createdAt: NOW})
    expect(labels).toEqual({[LABELS.managedBy]: 'idp', [LABELS.service]: 'shop', [LABELS.env]: 'pr-42', [LABELS.pr]: '42'})
    expect(annotations).toEqual({
      [ANNOTATIONS.owner]: 'Alice <alice@example.com>',
      [ANNOTATIONS.driver]: 'vcluster',
      [ANNOTATIONS.cluster]: 'dev',
      [ANNOTATIONS.createdAt]: '2025-06-01T12:00:00.000Z',
      [ANNOTATIONS.expiresAt]: '2025-06-04T12:00:00.000Z',
      [ANNOTATIONS.gitSha]: 'abc',
      [ANNOTATIONS.url]: 'https://x',
      [ANNOTATIONS.status]: 'ready',
    })
    expect(() => envMetadata({service: 's', env: 'e', owner: 'o', driver: 'namespace', cluster: 'c', expiresAt: 'not a date'})).toThrow(/Invalid date/u)
  })

  it('sanitizeLabelValue keeps valid values and repairs the rest', () => {
    expect(sanitizeLabelValue('pr-1')).toBe('pr-1')
    expect(sanitizeLabelValue('alice@example.com')).toBe('alice-example.com')
    expect(sanitizeLabelValue('-feature/x-')).toBe('feature-x')
    expect(sanitizeLabelValue('a'.repeat(70))).toHaveLength(63)
    expect(sanitizeLabelValue('@@@')).toBe('')
  })

  it('envSelector narrows by service and env', () => {
    expect(envSelector()).toBe('app.kubernetes.io/managed-by=idp')
    expect(envSelector({service: 'shop'})).toBe('app.kubernetes.io/managed-by=idp,idp.dev/service=shop')
    expect(envSelector({service: 'shop', env: 'pr-1'})).toBe('app.kubernetes.io/managed-by=idp,idp.dev/service=shop,idp.dev/env=pr-1')
  })

  it('parseEnvRecord reads what envMetadata wrote, and decides expired from now', () => {
    const meta = envMetadata({service: 'shop', env: 'pr-1', owner: 'a@b.c', expiresAt: new Date(NOW.getTime() - HOUR), pr: '1', driver: 'namespace', cluster: 'dev', createdAt: new Date(NOW.getTime() - 5 * HOUR)})
    const ns = {metadata: {name: 'shop-pr-1', ...meta}, status: {phase: 'Active'}}
    expect(parseEnvRecord(ns, 'dev', NOW)).toEqual({
      service: 'shop', env: 'pr-1', namespace: 'shop-pr-1', cluster: 'dev', owner: 'a@b.c', expired: true, driver: 'namespace',
      createdAt: '2025-06-01T07:00:00.000Z', expiresAt: '2025-06-01T11:00:00.000Z', pr: '1', phase: 'Active',
    })
    expect(parseEnvRecord(ns, 'dev', new Date(NOW.getTime() - 2 * HOUR))!.expired).toBe(false)
  })

  it('parseEnvRecord ignores what idp does not own and tolerates odd annotations', () => {
    expect(parseEnvRecord({metadata: {name: 'x', labels: {[LABELS.service]: 'shop', [LABELS.env]: 'e'}}}, 'dev')).toBeUndefined()
    expect(parseEnvRecord({metadata: {name: 'x', labels: {[LABELS.managedBy]: 'idp'}}}, 'dev')).toBeUndefined()
    const odd = parseEnvRecord({metadata: {name: 'x', labels: {[LABELS.managedBy]: 'idp', [LABELS.service]: 's', [LABELS.env]: 'e'}, annotations: {[ANNOTATIONS.expiresAt]: 'soon'}, creationTimestamp: new Date('2025-01-01T00:00:00Z')}}, 'dev', NOW)
    // An unreadable expires-at never makes an environment look expired (gc must not act on it).
    expect(odd).toMatchObject({expired: false, createdAt: '2025-01-01T00:00:00.000Z', driver: 'namespace', owner: ''})
    expect(odd).not.toHaveProperty('expiresAt')
  })

  it('isOwnedBy checks managed-by and, when given, service and env', () => {
    const ns = {metadata: {labels: {[LABELS.managedBy]: 'idp', [LABELS.service]: 'shop', [LABELS.env]: 'pr-1'}}}
    expect(isOwnedBy(ns)).toBe(true)
    expect(isOwnedBy(ns, 'shop', 'pr-1')).toBe(true)
    expect(isOwnedBy(ns, 'shop', 'pr-2')).toBe(false)
    expect(isOwnedBy(ns, 'cart')).toBe(false)
    expect(isOwnedBy({metadata: {labels: {...ns.metadata.labels, [LABELS.managedBy]: 'helm'}}})).toBe(false)
    expect(isOwnedBy({})).toBe(false)
  })

  it('envStatePaths lays out one directory per service and environment, and one host kubeconfig per cluster', () => {
    expect(envStatePaths('/s', 'shop', 'pr-1', 'dev')).toEqual({
      dir: '/s/envs/shop/pr-1',
      hostKubeconfig: '/s/clusters/dev/kubeconfig',
      kubeconfig: '/s/envs/shop/pr-1/kubeconfig',
      tfValues: '/s/envs/shop/pr-1/tf-values.yaml',
      tfVars: '/s/envs/shop/pr-1/terraform.tfvars.json',
      tfPlan: '/s/envs/shop/pr-1/tfplan',
      tfData: '/s/envs/shop/pr-1/terraform',
    })
    expect(envKubeconfigPath('/s', 'shop', 'pr-1')).toBe(envStatePaths('/s', 'shop', 'pr-1', 'other').kubeconfig)
  })
})

describe('gc selection', () => {
  const config = {service: {name: 'shop'}, environments: {'pr-*': {protected: false}, staging: {protected: true}}} as unknown as IdpConfig
  const expired = record({env: 'pr-1', expiresAt: '2025-06-01T10:00:00.000Z'})
  const fresh = record({env: 'pr-2', expiresAt: '2025-06-02T10:00:00.000Z', createdAt: '2025-05-30T12:00:00.000Z'})
  const never = record({env: 'pr-3', createdAt: '2025-05-01T00:00:00.000Z'})
  const staging = record({env: 'staging', expiresAt: '2025-06-01T11:00:00.000Z'})
  const terminating = record({env: 'pr-4', expiresAt: '2025-06-01T11:00:00.000Z', phase: 'Terminating'})
  const otherService = record({service: 'cart', env: 'staging', expiresAt: '2025-06-01T11:00:00.000Z'})

  it('by default: past expires-at only; an environment without one never expires', () => {
    const {remove, skipped} = selectForGc([expired, fresh, never, staging, terminating, otherService], {now: NOW, config})
    expect(remove.map((c) => `${c.record.service}/${c.record.env}`)).toEqual(['shop/pr-1', 'cart/staging'])
    expect(remove[0]!.reason).toBe('expired 2h ago (expires-at 2025-06-01T10:00:00.000Z)')
    expect(skipped.map((s) => [s.record.env, s.reason])).toEqual([
      ['staging', 'expired 1h ago (expires-at 2025-06-01T11:00:00.000Z), but protected in .idp.yml'],
      ['pr-4', 'expired 1h ago (expires-at 2025-06-01T11:00:00.000Z); already being deleted'],
    ])
  })

  it('--older-than selects by creation time instead', () => {
    const {remove} = selectForGc([expired, fresh, never], {now: NOW, olderThanMs: 24 * HOUR, config})
    expect(remove.map((c) => [c.record.env, c.reason])).toEqual([
      ['pr-2', 'created 2d ago (2025-05-30T12:00:00.000Z), older than 1d'],
      ['pr-3', 'created 31d ago (2025-05-01T00:00:00.000Z), older than 1d'],
    ])
  })

  it('envForRecord: the labels win over the config; another service is described from labels alone', () => {
    const target = {alias: 'dev', context: 'kind-dev'}
    const other = envForRecord(record({service: 'cart', env: 'pr-9', namespace: 'carts-9', driver: 'vcluster'}), target)
    expect(other).toMatchObject({name: 'pr-9', service: 'cart', namespace: 'carts-9', driver: 'vcluster', cluster: {alias: 'dev', context: 'kind-dev'}, protected: false})
    expect(other).not.toHaveProperty('helm')
    expect(other).not.toHaveProperty('terraform')
  })

  it('runGc goes on after a failure, re-checks ownership, and gcFailure keeps the first error\'s class', async () => {
    const a = record({env: 'pr-1', namespace: 'shop-pr-1'})
    const b = record({env: 'pr-2', namespace: 'shop-pr-2'})
    const c = record({env: 'pr-3', namespace: 'shop-pr-3'})
    const d = record({env: 'pr-4', namespace: 'shop-pr-4'})
    const owned = (env: string) => ({metadata: {labels: {[LABELS.managedBy]: 'idp', [LABELS.service]: 'shop', [LABELS.env]: env}}})
    const applied: string[] = []
    const run = await runGc({
      candidates: [a, b, c, d].map((r) => ({record: r, reason: 'expired'})),
      readNamespace: async (r) => (r.env === 'pr-3' ? undefined : r.env === 'pr-4' ? {metadata: {labels: {}}} : owned(r.env)),
      plan: (r) => ({version: 1, kind: 'env.down', summary: r.env, steps: [], metadata: {}}),
      async apply(plan) {
        if (plan.summary === 'pr-1') throw new RemoteError('Kubernetes refused to delete Namespace shop-pr-1: 500')
        applied.push(plan.summary)
      },
    })
    expect(applied).toEqual(['pr-2'])
    expect(run.outcomes.map((o) => `${o.env}:${o.status}:${o.detail ?? ''}`)).toEqual([
      'pr-1:failed:Kubernetes refused to delete Namespace shop-pr-1: 500',
      'pr-2:removed:',
      'pr-3:skipped:already gone',
      'pr-4:skipped:no longer labelled as this idp environment; left alone',
    ])
    const failure = gcFailure(run)!
    expect(failure).toBeInstanceOf(RemoteError)
    expect(failure.exitCode).toBe(6)
    expect(failure.message).toBe('gc removed 1 of 2 environments; 1 failed:\n  shop/pr-1 on dev: Kubernetes refused to delete Namespace shop-pr-1: 500')
    expect(gcFailure({outcomes: run.outcomes.filter((o) => o.status !== 'failed'), errors: new Map()})).toBeUndefined()
  })
})

describe('runGc with concurrency', () => {
  const owned = (env: string) => ({metadata: {labels: {[LABELS.managedBy]: 'idp', [LABELS.service]: 'shop', [LABELS.env]: env}}})
  const candidates = (n: number) => Array.from({length: n}, (_, i) => ({record: record({env: `pr-${i + 1}`, namespace: `shop-pr-${i + 1}`}), reason: 'expired'}))

  it('runs at most `concurrency` removals at once, keeps the candidates\' order, and isolates a failure', async () => {
    let running = 0
    let most = 0
    const run = await runGc({
      candidates: candidates(7),
      concurrency: 3,
      readNamespace: async (r) => owned(r.env),
      plan: (r) => ({version: 1, kind: 'env.down', summary: r.env, steps: [], metadata: {}}),
      async apply(plan) {
        running++
        most = Math.max(most, running)
        // Later candidates finish first, so completion order differs from the candidates' order.
        await new Promise((resolve) => setTimeout(resolve, 40 - Number(plan.summary.slice(3)) * 4))
        running--
        if (plan.summary === 'pr-2') throw new RemoteError('Kubernetes refused to delete Namespace shop-pr-2: 500')
      },
    })
    expect(most).toBe(3)
    expect(run.outcomes.map((o) => `${o.env}:${o.status}`)).toEqual(['pr-1:removed', 'pr-2:failed', 'pr-3:removed', 'pr-4:removed', 'pr-5:removed', 'pr-6:removed', 'pr-7:removed'])
    expect([...run.errors.keys()]).toEqual(['dev/shop-pr-2'])
  })

  it('Ctrl-C starts nothing new, waits for the removals under way, and ends cancelled with what was done', async () => {
    const controller = new AbortController()
    const started: string[] = []
    let inFlight = 0
    const error = await runGc({
      candidates: candidates(6),
      concurrency: 2,
      signal: controller.signal,
      readNamespace: async (r) => owned(r.env),
      plan: (r) => ({version: 1, kind: 'env.down', summary: r.env, steps: [], metadata: {}}),
      async apply(plan) {
        started.push(plan.summary)
        inFlight++
        if (plan.summary === 'pr-3') controller.abort()
        await new Promise((resolve) => setTimeout(resolve, plan.summary === 'pr-2' ? 60 : 15))
        inFlight--
        // A plan under way sees the same signal and ends cancelled.
        if (controller.signal.aborted) throw new CancelledError('Cancelled.')
      },
    }).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(CancelledError)
    // pr-2 was still running when pr-3 was cancelled: runGc waited for both.
    expect(inFlight).toBe(0)
    expect(started).toEqual(['pr-1', 'pr-2', 'pr-3'])
    expect((error as CancelledError).details).toEqual({outcomes: [expect.objectContaining({env: 'pr-1', status: 'removed'})]})
  })
})

describe('clusters', () => {
  const config = {clusters: {dev: {context: 'kind-dev'}, prod: {context: 'eks', kubeconfig: 'k.yaml'}}} as unknown as IdpConfig
  it('selectClusters filters by alias; an unknown one is a usage error naming the configured ones', () => {
    expect(clusterTargets(config)).toEqual([{alias: 'dev', context: 'kind-dev'}, {alias: 'prod', context: 'eks', kubeconfig: 'k.yaml'}])
    expect(selectClusters(config, 'prod')).toEqual([{alias: 'prod', context: 'eks', kubeconfig: 'k.yaml'}])
    expect(() => selectClusters(config, 'stage')).toThrow('Unknown cluster "stage". Configured: dev, prod.')
  })
})

describe('kubeError', () => {
  it('maps an API refusal to exit 6 with status, reason and the server\'s message', () => {
    const apiException = Object.assign(new Error('HTTP-Code: 403\nMessage: Unknown API Status Code!\nBody: ...'), {
      code: 403,
      body: JSON.stringify({kind: 'Status', status: 'Failure', reason: 'Forbidden', message: 'namespaces is forbidden: User "bob" cannot list resource "namespaces"', code: 403}),
    })
    const error = kubeError(apiException, 'list namespaces on cluster dev')
    expect(error).toBeInstanceOf(RemoteError)
    expect(error.message).toBe('Kubernetes refused to list namespaces on cluster dev: 403 Forbidden: namespaces is forbidden: User "bob" cannot list resource "namespaces"')
    expect(error.hint).toMatch(/RBAC/u)
    expect(isNotFound(Object.assign(new Error('x'), {code: 404}))).toBe(true)
    expect(isConflict(Object.assign(new Error('x'), {code: 409}))).toBe(true)
    expect(isNotFound(Object.assign(new Error('x'), {code: 'ECONNREFUSED'}))).toBe(false)
  })

  it('maps connection refused (through fetch causes) to a hint to check the context and run idp doctor', () => {
    const fetchError = Object.assign(new Error('request to http://127.0.0.1:1/api/v1/namespaces failed, reason: connect ECONNREFUSED 127.0.0.1:1'), {type: 'system', errno: 'ECONNREFUSED', code: 'ECONNREFUSED'})
    const error = kubeError(fetchError, 'list namespaces on cluster dev')
    expect(error.message).toBe('Could not reach Kubernetes to list namespaces on cluster dev: request to http://127.0.0.1:1/api/v1/namespaces failed, reason: connect ECONNREFUSED 127.0.0.1:1')
    expect(error.hint).toMatch(/idp doctor/u)
    const wrapped = kubeError(Object.assign(new TypeError('fetch failed'), {cause: {code: 'ENOTFOUND'}}), 'x')
    expect(wrapped.message).toBe('Could not reach Kubernetes to x: ENOTFOUND: fetch failed')
  })
})

describe('format', () => {
  it('relative expiry for tables', () => {
    expect(relativeExpiry({expiresAt: '2025-06-01T10:00:00Z'}, NOW)).toBe('expired 2h ago')
    expect(relativeExpiry({expiresAt: '2025-06-04T13:30:00Z'}, NOW)).toBe('in 3d1h')
    expect(relativeExpiry({}, NOW)).toBe('never')
    expect(roughDuration(90_000)).toBe('1m')
    expect(roughDuration(5000)).toBe('5s')
  })
})

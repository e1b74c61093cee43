// idp deploy end to end: the built CLI against the Kubernetes stand-in (its Argo CD CRDs and
// controller simulation), the argocd double (real flag surface) and real helm 4.
import {Application, AppProject} from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type DeployWorld, startDeployWorld} from '../fixtures/deploy/world.js'

let world: DeployWorld
let userHash: string

const app = (name: string) => world.kube.store().get('argoproj.io/v1alpha1', 'Application', name, 'argocd')

beforeAll(async () => {
  world = await startDeployWorld()
  userHash = world.kubeconfigHash()
  world.kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'argocd'}})
  const project = {apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', metadata: {name: 'shop', namespace: 'argocd'}, spec: {sourceRepos: ['*'], destinations: [{server: '*', namespace: '*'}]}}
  new AppProject(project).validate()
  world.kube.store().create(project)
})

afterAll(async () => {
  // Whatever a test did, the user's kubeconfig (and its current context) must be as it was.
  if (world) expect(world.kubeconfigHash()).toBe(userHash)
  await world?.stop()
})

describe('idp deploy (strategy argocd, --core)', () => {
  it('a protected environment in CI without --yes is a usage error naming --yes, and nothing is created', async () => {
    const out = await world.run(['deploy', 'production', '--json'])
    expect(out.code).toBe(2)
    expect(out.json.error.message).toContain('production is protected')
    expect(out.json.error.hint).toContain('--yes')
    expect(app('shop-production')).toBeUndefined()
  })

  it('creates the Application with the right spec, syncs it and waits until it is synced and healthy', async () => {
    const out = await world.run(['deploy', 'staging', '--image-tag', 'v1.2.3', '--json'])
    expect(out.stderr).toBe('')
    expect(out.code).toBe(0)
    expect(out.json.result).toMatchObject({env: 'staging', strategy: 'argocd', app: 'shop-staging', appNamespace: 'argocd', namespace: 'shop-staging', revision: 'main', health: 'Healthy', sync: 'Synced', imageTag: 'v1.2.3', dryRun: false})
    expect(out.json.result.created).toBe(true)
    expect(out.json.result.steps.map((s: {id: string; status: string}) => `${s.id}:${s.status}`)).toEqual(['preflight:done', 'kubeconfig:done', 'check:done', 'app:done', 'sync:done', 'wait:done'])
    const stored = app('shop-staging')!
    new Application(stored as ConstructorParameters<typeof Application>[0]).validate()
    expect(stored.metadata?.labels).toMatchObject({'app.kubernetes.io/managed-by': 'idp', 'idp.dev/service': 'shop', 'idp.dev/env': 'staging'})
    expect(stored.spec).toMatchObject({
      project: 'shop',
      source: {repoURL: 'https://github.com/acme/shop', path: 'chart', targetRevision: 'main', helm: {valueFiles: ['values-staging.yaml'], parameters: [{name: 'env', value: 'staging'}, {name: 'image.repository', value: 'ghcr.io/acme/shop'}, {name: 'image.tag', value: 'v1.2.3'}]}},
      destination: {server: 'https://kubernetes.default.svc', namespace: 'shop-staging'},
      syncPolicy: {syncOptions: ['CreateNamespace=true']},
    })
    expect(stored.status).toMatchObject({sync: {status: 'Synced'}, health: {status: 'Healthy'}})
  })

  it('Degraded fails with the health message (exit 5); still Progressing at the timeout is exit 7 saying what was not ready', async () => {
    world.kube.faults.argo('shop-production', 'Degraded')
    world.kube.faults.argo('shop-staging', 'Progressing')
    const [degraded, slow] = await Promise.all([
      world.run(['deploy', 'production', '--yes', '--timeout', '2s', '--json']),
      world.run(['deploy', 'staging', '--revision', 'v2', '--timeout', '1s', '--json']),
    ])
    expect(degraded.code).toBe(5)
    expect(degraded.json.error.message).toBe('Application shop-production is Degraded.')
    expect(degraded.json.error.details).toMatchObject({step: 'wait', health: 'Degraded', evidence: expect.arrayContaining([expect.stringContaining('health: Degraded')])})
    expect(degraded.json.error.hint).toContain('argocd app rollback shop-production')
    // A deploy is not undone: the Application stays for inspection and rollback.
    expect(app('shop-production')).toBeDefined()

    expect(slow.code).toBe(7)
    expect(slow.json.error.code).toBe('TIMEOUT')
    expect(slow.json.error.message).toBe('Application shop-staging was not synced and healthy within 1s (health Progressing, sync Synced, operation Succeeded); not ready: Deployment shop-staging/shop-staging: Progressing (Waiting for rollout to finish: 0 of 1 updated replicas are available...).')
    expect(app('shop-staging')!.spec?.source?.targetRevision).toBe('v2')
  })
})

describe('idp deploy (strategy helm)', () => {
  it('upgrade --install with --wait: the release is deployed and reported with its revision', async () => {
    const out = await world.run(['deploy', 'staging', '--image-tag', 'v7', '--json'], {project: 'helm'})
    expect(out.json?.error).toBeUndefined()
    expect(out.code).toBe(0)
    expect(out.json.result).toMatchObject({strategy: 'helm', release: 'shop', namespace: 'shop-staging', revision: '1', health: 'deployed'})
    const store = world.kube.store()
    expect(store.list('v1', 'Secret', 'shop-staging').filter((s) => s.metadata?.labels?.owner === 'helm').map((s) => s.metadata?.labels?.status)).toEqual(['deployed'])
    expect(store.get('apps/v1', 'Deployment', 'shop', 'shop-staging')?.spec?.template?.spec?.containers?.[0]?.image).toBe('ghcr.io/acme/shop:v7')
    expect(store.get('v1', 'ConfigMap', 'shop-settings', 'shop-staging')?.data).toEqual({env: 'staging', imageTag: 'v7'})
  })
})

// @kubernetes/client-node 1.4 against the Kubernetes API stand-in.
import * as k8s from '@kubernetes/client-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'

let kube: KubeStandIn
let kc: k8s.KubeConfig

beforeAll(async () => {
  kube = await startKubeStandIn()
  kc = new k8s.KubeConfig()
  kc.loadFromFile(kube.kubeconfig())
})

afterAll(async () => {
  await kube?.stop()
})

const application = (revision: string): k8s.KubernetesObject & Record<string, unknown> => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  metadata: {name: 'shop-staging', namespace: 'argocd', labels: {'app.kubernetes.io/managed-by': 'idp'}},
  spec: {
    project: 'shop',
    source: {repoURL: 'https://github.com/acme/shop', path: 'chart', targetRevision: revision},
    destination: {server: 'https://kubernetes.default.svc', namespace: 'shop-staging'},
  },
})

describe('@kubernetes/client-node against the stand-in', () => {
  it('creates a namespace and a RoleBinding, and reports a duplicate as 409', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api)
    const ns = await core.createNamespace({body: {metadata: {name: 'argocd', labels: {team: 'platform'}}}})
    expect(ns.metadata?.uid).toBeTruthy()
    const listed = await core.listNamespace({labelSelector: 'team=platform'})
    expect(listed.items.map((n) => n.metadata?.name)).toEqual(['argocd'])

    const binding = await rbac.createNamespacedRoleBinding({
      namespace: 'argocd',
      body: {
        metadata: {name: 'alice-view'},
        roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view'},
        subjects: [{kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io'}],
      },
    })
    expect(binding.metadata?.resourceVersion).toMatch(/^\d+$/)
    const duplicate = await core.createNamespace({body: {metadata: {name: 'argocd'}}}).then(
      () => undefined,
      (error: k8s.ApiException<string>) => error,
    )
    expect(duplicate?.code).toBe(409)
    expect(JSON.parse(String(duplicate?.body))).toMatchObject({kind: 'Status', reason: 'AlreadyExists', code: 409})
  })

  it('server-side applies an Argo CD Application, merge-patches it, and the sync simulation reports Synced', async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc)
    const created = await objects.patch(application('main'), undefined, undefined, 'idp', true, k8s.PatchStrategy.ServerSideApply)
    expect(created.metadata?.uid).toBeTruthy()

    const patched = await objects.patch(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: {name: 'shop-staging', namespace: 'argocd'},
        operation: {sync: {revision: 'abc123'}, initiatedBy: {username: 'idp'}},
      } as k8s.KubernetesObject,
      undefined,
      undefined,
      'idp',
      undefined,
      k8s.PatchStrategy.MergePatch,
    )
    expect((patched as unknown as {operation: unknown}).operation).toBeTruthy()

    // Strategic merge patch is refused for custom resources, as a real API server does.
    const smp = await objects
      .patch(application('v2'), undefined, undefined, 'idp', undefined, k8s.PatchStrategy.StrategicMergePatch)
      .then(() => undefined, (error: k8s.ApiException<string>) => error)
    expect(smp?.code).toBe(415)

    let app: any
    for (let i = 0; i < 50; i++) {
      app = await objects.read({apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: {name: 'shop-staging', namespace: 'argocd'}})
      if (app.status?.operationState?.phase) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(app.status).toMatchObject({sync: {status: 'Synced'}, health: {status: 'Healthy'}, operationState: {phase: 'Succeeded'}})
    expect(app.operation).toBeUndefined()

    // Re-applying with a changed revision updates the field the manager owns.
    const reapplied = (await objects.patch(application('v3'), undefined, undefined, 'idp', true, k8s.PatchStrategy.ServerSideApply)) as any
    expect(reapplied.spec.source.targetRevision).toBe('v3')
  })

  it('reports Degraded when a test asks for it', async () => {
    kube.faults.argo('shop-degraded', 'Degraded')
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc)
    const app = application('main')
    app.metadata!.name = 'shop-degraded'
    ;(app as any).operation = {sync: {revision: 'main'}}
    await objects.create(app)
    let status: any
    for (let i = 0; i < 50 && !status?.operationState; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      status = kube.store().get('argoproj.io/v1alpha1', 'Application', 'shop-degraded', 'argocd')?.status
    }
    expect(status?.health?.status).toBe('Degraded')
  })

  it('streams watch events', async () => {
    const events: string[] = []
    const watch = new k8s.Watch(kc)
    let resolveAdded: () => void
    const added = new Promise<void>((resolve) => (resolveAdded = resolve))
    const controller = await watch.watch(
      '/api/v1/namespaces/argocd/configmaps',
      {},
      (phase, obj) => {
        events.push(`${phase} ${obj.metadata.name}`)
        if (phase === 'ADDED' && obj.metadata.name === 'watched') resolveAdded()
      },
      () => {},
    )
    await kc.makeApiClient(k8s.CoreV1Api).createNamespacedConfigMap({namespace: 'argocd', body: {metadata: {name: 'watched'}, data: {a: '1'}}})
    await added
    controller.abort()
    expect(events).toContain('ADDED watched')
  })
})

describe('Argo CD schema', () => {
  it('rejects an Application the CRD schema refuses, with 422 and the field', async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc)
    const bad = application('main') as any
    bad.metadata.name = 'no-project'
    delete bad.spec.project
    const error = await objects.create(bad).then(
      () => undefined,
      (e: k8s.ApiException<string>) => e,
    )
    expect(error?.code).toBe(422)
    expect(JSON.parse(String(error?.body))).toMatchObject({
      reason: 'Invalid',
      message: 'Application.argoproj.io "no-project" is invalid: spec.project: Required value',
      details: {causes: [{field: 'spec.project'}]},
    })
  })
})

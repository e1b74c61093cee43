// Kubernetes API calls share keep-alive connections (src/lib/kube/agents.ts): client-node 1.x
// alone opens a new TCP connection and TLS handshake for every call.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {closePooledAgents, pooledAgent} from '../../src/lib/kube/agents.js'
import {createKubeClients} from '../../src/lib/kube/client.js'
import {checkReachable} from '../../src/lib/kube/reach.js'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'

let kube: KubeStandIn

beforeAll(async () => {
  kube = await startKubeStandIn({tls: true})
})

afterAll(async () => {
  closePooledAgents()
  await kube?.stop()
})

/** The stand-in's records of the requests made by `work`. */
async function recorded(work: () => Promise<void>) {
  const before = kube.requests().length
  await work()
  return kube.requests().slice(before)
}

describe('keep-alive connections to the API server', () => {
  it('the reachability check and the API calls of a command go over one TLS connection', async () => {
    closePooledAgents()
    const file = kube.kubeconfig()
    const requests = await recorded(async () => {
      expect((await checkReachable(file)).ok).toBe(true)
      const {core, coordination} = await createKubeClients(file)
      await core.createNamespace({body: {metadata: {name: 'pooled'}}})
      await core.readNamespace({name: 'pooled'})
      await coordination.createNamespacedLease({namespace: 'pooled', body: {metadata: {name: 'lock'}, spec: {holderIdentity: 'me'}}})
      await coordination.deleteNamespacedLease({namespace: 'pooled', name: 'lock'})
      await core.deleteNamespace({name: 'pooled'})
    })
    expect(requests.map((r) => `${r.method} ${r.path.replace(/^\/clusters\/host/, '')}`)).toEqual([
      'GET /version',
      'POST /api/v1/namespaces',
      'GET /api/v1/namespaces/pooled',
      'POST /apis/coordination.k8s.io/v1/namespaces/pooled/leases',
      'DELETE /apis/coordination.k8s.io/v1/namespaces/pooled/leases/lock',
      'DELETE /api/v1/namespaces/pooled',
    ])
    expect(new Set(requests.map((r) => r.connection)).size).toBe(1)
  })

  it('calls made at the same time use several connections, which later calls reuse', async () => {
    closePooledAgents()
    const {core} = await createKubeClients(kube.kubeconfig())
    const parallel = await recorded(async () => {
      await Promise.all([core.listNamespace(), core.listNamespace(), core.listNamespace()])
    })
    const used = new Set(parallel.map((r) => r.connection))
    expect(used.size).toBeGreaterThan(1)
    const later = await recorded(async () => {
      await core.listNamespace()
      await core.listNamespace()
    })
    for (const r of later) expect(used.has(r.connection)).toBe(true)
  })

  it('shares a pool only between the same TLS settings, whatever form they come in', () => {
    const ca = kube.caCertificate!
    const agent = pooledAgent('https:', {ca, rejectUnauthorized: true})
    expect(pooledAgent('https:', {ca: Buffer.from(ca), rejectUnauthorized: true})).toBe(agent)
    expect(pooledAgent('https:', {ca, rejectUnauthorized: true, servername: 'other'})).not.toBe(agent)
    expect(pooledAgent('https:', {ca, rejectUnauthorized: true, cert: 'CERT', key: 'KEY'})).not.toBe(agent)
    expect(pooledAgent('https:', {ca, rejectUnauthorized: false})).not.toBe(agent)
    expect(pooledAgent('http:')).not.toBe(agent)
    // Plain HTTP has one pool, whatever TLS settings a caller passes along.
    expect(pooledAgent('http:', {ca, rejectUnauthorized: true})).toBe(pooledAgent('http:'))
    expect((agent as import('node:https').Agent).options).toMatchObject({keepAlive: true, timeout: 15_000})
  })
})

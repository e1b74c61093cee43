// The stand-in's HTTP contract as raw requests: watch semantics, isolation of clusters, the admin
// API other test doubles use, discovery shapes and faults.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'

let kube: KubeStandIn

beforeAll(async () => {
  kube = await startKubeStandIn()
})

afterAll(async () => {
  await kube?.stop()
})

/** Reads newline-delimited watch events until `until` says stop (or the stream ends). */
async function readWatch(url: string, until: (events: any[]) => boolean, onOpen?: () => Promise<void>): Promise<any[]> {
  const controller = new AbortController()
  const response = await fetch(url, {signal: controller.signal})
  expect(response.status).toBe(200)
  const reader = response.body!.getReader()
  const events: any[] = []
  let buffer = ''
  const opened = onOpen?.()
  try {
    for (;;) {
      if (until(events)) break
      const {done, value} = await reader.read()
      if (done) break
      buffer += Buffer.from(value).toString('utf8')
      let newline
      while ((newline = buffer.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buffer.slice(0, newline)))
        buffer = buffer.slice(newline + 1)
      }
    }
  } finally {
    await opened
    controller.abort()
  }
  return events
}

const json = async (method: string, url: string, body?: unknown, contentType = 'application/json') => {
  const response = await fetch(url, {method, headers: {'content-type': contentType}, body: body === undefined ? undefined : JSON.stringify(body)})
  return {status: response.status, body: (await response.json()) as any}
}

describe('stand-in API', () => {
  it('serves aggregated and legacy discovery', async () => {
    const aggregated = await fetch(`${kube.serverUrl()}/apis`, {headers: {accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'}})
    expect(aggregated.headers.get('content-type')).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList')
    const list = (await aggregated.json()) as any
    expect(list.items.map((i: any) => i.metadata.name)).toEqual(expect.arrayContaining(['apps', 'rbac.authorization.k8s.io', 'argoproj.io']))
    const legacy = (await (await fetch(`${kube.serverUrl()}/api/v1`)).json()) as any
    expect(legacy.resources).toEqual(expect.arrayContaining([expect.objectContaining({name: 'pods/log', verbs: ['get']})]))
  })

  it('watches with sendInitialEvents (WatchList bookmark), and replays from a resourceVersion', async () => {
    const base = `${kube.serverUrl()}/api/v1/namespaces/default/configmaps`
    const first = await json('POST', base, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'one', labels: {w: 'yes'}}})
    expect(first.status).toBe(201)

    const initial = await readWatch(`${base}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&labelSelector=w%3Dyes`, (events) =>
      events.some((e) => e.type === 'BOOKMARK'),
    )
    expect(initial.map((e) => `${e.type} ${e.object.metadata.name ?? ''}`)).toEqual(['ADDED one', 'BOOKMARK '])
    expect(initial[1].object.metadata.annotations).toEqual({'k8s.io/initial-events-end': 'true'})

    const rv = first.body.metadata.resourceVersion
    const replay = await readWatch(
      `${base}?watch=1&resourceVersion=${rv}`,
      (events) => events.length >= 2,
      async () => {
        await json('PATCH', `${base}/one`, {data: {a: 'b'}}, 'application/merge-patch+json')
        await fetch(`${base}/one`, {method: 'DELETE'})
      },
    )
    expect(replay.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED'])
  })

  it('ends open watches on dropWatches()', async () => {
    await json('POST', `${kube.serverUrl()}/api/v1/namespaces/default/configmaps`, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'drop-me'}})
    // `until` never stops the read: this only returns because the server ended the stream.
    const events = await readWatch(
      `${kube.serverUrl()}/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Ddrop-me`,
      () => false,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 50))
        kube.faults.dropWatches()
      },
    )
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED drop-me'])
  })

  it('keeps clusters isolated and lets other doubles create them over HTTP', async () => {
    const created = await json('PUT', `${kube.url}/_standin/clusters/vc-pr-1`)
    expect(created).toEqual({status: 201, body: {id: 'vc-pr-1', server: `${kube.url}/clusters/vc-pr-1`}})
    const ns = await json('POST', `${created.body.server}/api/v1/namespaces`, {apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'only-in-vc'}})
    expect(ns.status).toBe(201)
    expect((await json('GET', `${kube.serverUrl()}/api/v1/namespaces/only-in-vc`)).status).toBe(404)
    expect((await json('GET', `${kube.url}/_standin/clusters`)).body.items.map((c: any) => c.id)).toEqual(['host', 'vc-pr-1'])
    // A virtual cluster has no Argo CD unless asked for.
    expect(kube.store('vc-pr-1').cluster.findType('argoproj.io', 'v1alpha1', 'applications')).toBeUndefined()
    expect((await json('DELETE', `${kube.url}/_standin/clusters/vc-pr-1`)).status).toBe(200)
    expect(kube.clusters.list()).toEqual(['host'])
    expect((await json('GET', `${created.body.server}/api/v1/namespaces`)).status).toBe(404)
  })

  it('returns real Status objects for conflicts, invalid objects and injected faults', async () => {
    const base = `${kube.serverUrl()}/api/v1/namespaces/default/configmaps`
    const made = await json('POST', base, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {generateName: 'gen-'}})
    expect(made.body.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/)
    const stale = {...made.body, metadata: {...made.body.metadata, resourceVersion: '1'}}
    const conflict = await json('PUT', `${base}/${made.body.metadata.name}`, stale)
    expect(conflict.status).toBe(409)
    expect(conflict.body).toMatchObject({kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Conflict', code: 409})
    const invalid = await json('POST', base, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'Bad_Name'}})
    expect(invalid.body).toMatchObject({reason: 'Invalid', code: 422, details: {causes: [expect.objectContaining({field: 'metadata.name'})]}})
    kube.faults.failNext('post', /configmaps$/, 500)
    expect((await json('POST', base, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'x'}})).status).toBe(500)
    expect((await json('POST', base, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'x'}})).status).toBe(201)
    kube.faults.delay(150)
    const started = Date.now()
    expect((await json('GET', `${base}/x`)).status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    kube.faults.reset()
    const missingNs = await json('POST', `${kube.serverUrl()}/api/v1/namespaces/nope/configmaps`, {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'x'}})
    expect(missingNs.body).toMatchObject({reason: 'NotFound', message: 'namespaces "nope" not found'})
  })

  it('cascades deletion to owned objects and applies JSON and strategic merge patches', async () => {
    const deployments = `${kube.serverUrl()}/apis/apps/v1/namespaces/default/deployments`
    const dep = await json('POST', deployments, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'gc'},
      spec: {selector: {matchLabels: {app: 'gc'}}, template: {metadata: {labels: {app: 'gc'}}, spec: {containers: [{name: 'a', image: 'x:1'}, {name: 'b', image: 'y:1'}]}}},
    })
    expect(dep.status).toBe(201)
    const smp = await json('PATCH', `${deployments}/gc`, {spec: {template: {spec: {containers: [{name: 'b', image: 'y:2'}]}}}}, 'application/strategic-merge-patch+json')
    expect(smp.body.spec.template.spec.containers).toEqual([{name: 'a', image: 'x:1'}, {name: 'b', image: 'y:2'}])
    const jp = await json('PATCH', `${deployments}/gc`, [{op: 'replace', path: '/spec/replicas', value: 3}], 'application/json-patch+json')
    expect(jp.body.spec.replicas).toBe(3)
    for (let i = 0; i < 100 && kube.store().list('v1', 'Pod', 'default', {labelSelector: 'app=gc'}).length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(kube.store().list('v1', 'Pod', 'default', {labelSelector: 'app=gc'})).toHaveLength(3)
    await fetch(`${deployments}/gc`, {method: 'DELETE'})
    expect(kube.store().list('apps/v1', 'ReplicaSet', 'default', {labelSelector: 'app=gc'})).toEqual([])
    expect(kube.store().list('v1', 'Pod', 'default', {labelSelector: 'app=gc'})).toEqual([])
  })
})

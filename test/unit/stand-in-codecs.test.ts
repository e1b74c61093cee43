// The stand-in's pure pieces: patch flavours, selectors and the protobuf envelope decoder.
import {describe, expect, it} from 'vitest'
import {jsonPatch, mergePatch, serverSideApply, strategicMergePatch} from '../support/kube-stand-in/patch.js'
import {decodeKubeProtobuf, PROTOBUF_MAGIC, UnsupportedProtobufError} from '../support/kube-stand-in/protobuf.js'
import {matchesLabels, parseFieldSelector, parseLabelSelector} from '../support/kube-stand-in/selectors.js'

// A minimal protobuf writer, so the decoder is checked against bytes built independently of it.
const varint = (n: number): number[] => {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return out
}
const bytesField = (field: number, value: Buffer | string): Buffer => {
  const data = typeof value === 'string' ? Buffer.from(value) : value
  return Buffer.concat([Buffer.from([...varint((field << 3) | 2), ...varint(data.length)]), data])
}
const intField = (field: number, value: number): Buffer => Buffer.from([...varint(field << 3), ...varint(value)])
const mapEntry = (field: number, key: string, value: string | Buffer) => bytesField(field, Buffer.concat([bytesField(1, key), bytesField(2, value)]))
const envelope = (apiVersion: string, kind: string, raw: Buffer) =>
  Buffer.concat([PROTOBUF_MAGIC, bytesField(1, Buffer.concat([bytesField(1, apiVersion), bytesField(2, kind)])), bytesField(2, raw)])

describe('protobuf request bodies', () => {
  it('decodes a Secret as helm sends it (labels, binary data, type)', () => {
    const meta = Buffer.concat([bytesField(1, 'sh.helm.release.v1.shop.v1'), bytesField(3, 'apps'), bytesField(2, ''), mapEntry(11, 'owner', 'helm'), mapEntry(11, 'name', 'shop')])
    const raw = Buffer.concat([bytesField(1, meta), mapEntry(2, 'release', Buffer.from([0, 1, 2, 255])), bytesField(3, 'helm.sh/release.v1')])
    expect(decodeKubeProtobuf(envelope('v1', 'Secret', raw))).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {name: 'sh.helm.release.v1.shop.v1', namespace: 'apps', labels: {owner: 'helm', name: 'shop'}},
      data: {release: Buffer.from([0, 1, 2, 255]).toString('base64')},
      type: 'helm.sh/release.v1',
    })
  })

  it('decodes DeleteOptions and a SelfSubjectAccessReview', () => {
    const opts = Buffer.concat([intField(1, 30), bytesField(4, 'Background')])
    expect(decodeKubeProtobuf(envelope('meta.k8s.io/v1', 'DeleteOptions', opts))).toMatchObject({gracePeriodSeconds: 30, propagationPolicy: 'Background'})
    const attrs = Buffer.concat([bytesField(1, 'team'), bytesField(2, 'create'), bytesField(3, 'apps'), bytesField(5, 'deployments')])
    const review = bytesField(2, bytesField(1, attrs))
    expect(decodeKubeProtobuf(envelope('authorization.k8s.io/v1', 'SelfSubjectAccessReview', review)).spec).toEqual({
      resourceAttributes: {namespace: 'team', verb: 'create', group: 'apps', resource: 'deployments'},
    })
  })

  it('refuses kinds it cannot decode with a clear error', () => {
    expect(() => decodeKubeProtobuf(envelope('batch/v1', 'Job', Buffer.alloc(0)))).toThrow(UnsupportedProtobufError)
    expect(() => decodeKubeProtobuf(Buffer.from('{"kind":"Secret"}'))).toThrow(/k8s\\0 prefix/)
  })
})

describe('patches', () => {
  it('merge patch replaces lists and deletes nulls', () => {
    expect(mergePatch({a: 1, b: {c: 2, d: 3}, l: [1, 2]}, {b: {c: null}, l: [3]})).toEqual({a: 1, b: {d: 3}, l: [3]})
  })

  it('JSON patch applies add/replace/remove/test and fails a failed test', () => {
    const doc = {spec: {replicas: 1, list: ['a']}}
    expect(
      jsonPatch(doc, [
        {op: 'replace', path: '/spec/replicas', value: 2},
        {op: 'add', path: '/spec/list/-', value: 'b'},
        {op: 'remove', path: '/spec/list/0'},
        {op: 'test', path: '/spec/replicas', value: 2},
      ]),
    ).toEqual({spec: {replicas: 2, list: ['b']}})
    expect(() => jsonPatch(doc, [{op: 'test', path: '/spec/replicas', value: 5}])).toThrow(/test operation failed/)
  })

  it('strategic merge patch merges containers by name and honours $patch: delete', () => {
    const live = {spec: {containers: [{name: 'a', image: 'a:1'}, {name: 'b', image: 'b:1', env: [{name: 'X', value: '1'}]}]}}
    const patched = strategicMergePatch(live, {
      spec: {'$setElementOrder/containers': [{name: 'a'}, {name: 'b'}], containers: [{name: 'b', env: [{name: 'Y', value: '2'}]}, {name: 'a', $patch: 'delete'}]},
    })
    expect(patched).toEqual({spec: {containers: [{name: 'b', image: 'b:1', env: [{name: 'X', value: '1'}, {name: 'Y', value: '2'}]}]}})
  })

  it('server-side apply drops fields the manager stopped applying and keeps others', () => {
    const previous = {metadata: {labels: {a: '1', b: '2'}}, data: {x: '1'}}
    const live = {metadata: {name: 'c', labels: {a: '1', b: '2', other: 'kept'}}, data: {x: '1'}}
    expect(serverSideApply(live, {metadata: {labels: {a: '1'}}, data: {x: '2'}}, previous)).toEqual({
      metadata: {name: 'c', labels: {a: '1', other: 'kept'}},
      data: {x: '2'},
    })
  })
})

describe('selectors', () => {
  const obj = {metadata: {name: 'web', namespace: 'shop', labels: {app: 'web', tier: 'front'}}, status: {phase: 'Running'}}
  it('matches equality, set-based and existence label requirements', () => {
    expect(matchesLabels(obj, parseLabelSelector('app=web,tier in (front, back),!missing,tier'))).toBe(true)
    expect(matchesLabels(obj, parseLabelSelector('app!=web'))).toBe(false)
    expect(matchesLabels(obj, parseLabelSelector('tier notin (front)'))).toBe(false)
    expect(() => parseLabelSelector('app=(')).toThrow(/unable to parse/)
  })

  it('label selectors as the API server parses them (apimachinery labels.Parse): what it accepts, what it answers 400 to', () => {
    const helm = {metadata: {labels: {owner: 'helm', name: 'shop', status: 'deployed', version: '3'}}}
    // The selector idp status sends for helm's release Secrets; `in(` needs no space, whitespace anywhere.
    expect(matchesLabels(helm, parseLabelSelector('owner=helm,name=shop,status in (deployed,failed,pending-install)'))).toBe(true)
    expect(matchesLabels(helm, parseLabelSelector(' owner == helm , status in(deployed) , name notin (cart)'))).toBe(true)
    expect(matchesLabels({metadata: {labels: {...helm.metadata.labels, status: 'superseded'}}}, parseLabelSelector('owner=helm,status in (deployed,failed)'))).toBe(false)
    expect(matchesLabels(helm, parseLabelSelector('name in (cart,shop)'))).toBe(true)
    // Gt/Lt on integer values; a label that is absent or not an integer does not match.
    expect(matchesLabels(helm, parseLabelSelector('version>2'))).toBe(true)
    expect(matchesLabels(helm, parseLabelSelector('version<3'))).toBe(false)
    expect(matchesLabels(helm, parseLabelSelector('name>1'))).toBe(false)
    expect(matchesLabels(helm, parseLabelSelector('app.kubernetes.io/managed-by!=idp'))).toBe(true)
    expect(parseLabelSelector('')).toEqual([])
    for (const bad of ['name in ()', 'owner=helm,', 'a=b,,c=d', 'name in (a b)', 'name=-shop', 'version>x', '-a=b', 'Example.COM/a=b', `a=${'x'.repeat(64)}`]) {
      expect(() => parseLabelSelector(bad), bad).toThrow(/^unable to parse requirement/u)
    }
  })

  it('matches field selectors on any dotted path', () => {
    const [byName, byPhase] = [parseFieldSelector('metadata.name=web,metadata.namespace=shop'), parseFieldSelector('status.phase!=Running')]
    expect(byName.every((f) => f(obj))).toBe(true)
    expect(byPhase.every((f) => f(obj))).toBe(false)
  })
})

// Real helm 3.18 and helm 4.1 against the Kubernetes API stand-in: install, upgrade --wait,
// list, a rollout that never becomes ready, uninstall.
import {execFile} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'
import {helmBinary, toolEnv} from '../support/tool-env.js'
import {helmReleaseSelector} from '../../src/lib/status/read.js'

const run = promisify(execFile)

let kube: KubeStandIn
let dir: string
let chart: string

function writeChart(root: string): string {
  const chartDir = path.join(root, 'tiny')
  fs.mkdirSync(path.join(chartDir, 'templates'), {recursive: true})
  fs.writeFileSync(path.join(chartDir, 'Chart.yaml'), 'apiVersion: v2\nname: tiny\nversion: 0.1.0\nappVersion: "1.0"\n')
  fs.writeFileSync(path.join(chartDir, 'values.yaml'), 'image: nginx:1.27\nreplicas: 1\nmessage: hello\n')
  fs.writeFileSync(
    path.join(chartDir, 'templates', 'deployment.yaml'),
    `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
      - name: app
        image: {{ .Values.image }}
        env: [{name: MESSAGE, value: {{ .Values.message | quote }}}]
`,
  )
  fs.writeFileSync(
    path.join(chartDir, 'templates', 'configmap.yaml'),
    `apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-config}
data: {message: {{ .Values.message | quote }}}
`,
  )
  fs.writeFileSync(
    path.join(chartDir, 'templates', 'service.yaml'),
    `apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{port: 80, targetPort: 80}]
`,
  )
  return chartDir
}

beforeAll(async () => {
  kube = await startKubeStandIn()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-standin-helm-'))
  chart = writeChart(dir)
})

afterAll(async () => {
  await kube?.stop()
  if (dir) fs.rmSync(dir, {recursive: true, force: true})
})

for (const major of [3, 4] as const) {
  describe(`helm ${major} against the stand-in`, () => {
    const ns = `helm${major}`
    const helm = (args: string[]) =>
      run(helmBinary(major), args, {env: toolEnv({kubeconfig: kube.kubeconfig(), helmHome: path.join(dir, `home-${major}`)})})

    it('installs, upgrades with --wait, lists and uninstalls a chart', async () => {
      const install = await helm(['install', 'shop', chart, '-n', ns, '--create-namespace', '--wait', '--timeout', '30s'])
      expect(install.stdout).toContain('STATUS: deployed')
      expect(kube.store().get('apps/v1', 'Deployment', 'shop', ns)?.status?.availableReplicas).toBe(1)
      // Helm keeps its release record in a Secret (sent as protobuf by the typed client).
      const releases = kube.store().list('v1', 'Secret', ns, {labelSelector: 'owner=helm,name=shop'})
      expect(releases.map((s) => s.metadata?.name)).toEqual(['sh.helm.release.v1.shop.v1'])

      const upgrade = await helm(['upgrade', '--install', 'shop', chart, '-n', ns, '--wait', '--timeout', '30s', '--set', 'message=bye', '--set', 'replicas=2'])
      expect(upgrade.stdout).toContain('REVISION: 2')
      const deployment = kube.store().get('apps/v1', 'Deployment', 'shop', ns)
      expect(deployment?.spec?.replicas).toBe(2)
      expect(deployment?.spec?.template?.spec?.containers?.[0]?.env).toEqual([{name: 'MESSAGE', value: 'bye'}])
      expect(deployment?.status?.readyReplicas).toBe(2)
      expect(kube.store().get('v1', 'ConfigMap', 'shop-config', ns)?.data).toEqual({message: 'bye'})

      const list = JSON.parse((await helm(['list', '-n', ns, '-o', 'json'])).stdout)
      expect(list).toEqual([expect.objectContaining({name: 'shop', namespace: ns, revision: '2', status: 'deployed', chart: 'tiny-0.1.0'})])

      const uninstall = await helm(['uninstall', 'shop', '-n', ns, '--wait', '--timeout', '30s'])
      expect(uninstall.stdout).toContain('release "shop" uninstalled')
      expect(kube.store().get('apps/v1', 'Deployment', 'shop', ns)).toBeUndefined()
      expect(kube.store().list('v1', 'Secret', ns, {labelSelector: 'owner=helm'})).toEqual([])
    })

    it('labels its release Secrets owner, name, status and version: the selector idp status sends finds the current record of idp\'s release only', async () => {
      const labelled = `${ns}-labels`
      await helm(['install', 'shop', chart, '-n', labelled, '--create-namespace'])
      await helm(['upgrade', 'shop', chart, '-n', labelled, '--set', 'message=two'])
      await helm(['install', 'other', chart, '-n', labelled])
      const labels = kube.store().list('v1', 'Secret', labelled).filter((x) => x.type === 'helm.sh/release.v1').map((x) => x.metadata?.labels)
      expect(labels).toEqual(
        expect.arrayContaining([
          expect.objectContaining({owner: 'helm', name: 'shop', status: 'superseded', version: '1'}),
          expect.objectContaining({owner: 'helm', name: 'shop', status: 'deployed', version: '2'}),
          expect.objectContaining({owner: 'helm', name: 'other', status: 'deployed', version: '1'}),
        ]),
      )
      // Through the API, as idp status lists them (every namespace, selected by the server).
      const listed = async (selector: string) => {
        const response = await fetch(`${kube.serverUrl()}/api/v1/secrets?labelSelector=${encodeURIComponent(selector)}`)
        const body = (await response.json()) as {items: Array<{metadata: {name: string; namespace: string}}>}
        return body.items.filter((x) => x.metadata.namespace === labelled).map((x) => x.metadata.name)
      }
      expect(await listed(helmReleaseSelector(['shop']))).toEqual(['sh.helm.release.v1.shop.v2'])
      expect((await listed(helmReleaseSelector(['shop', 'other']))).sort()).toEqual(['sh.helm.release.v1.other.v1', 'sh.helm.release.v1.shop.v2'])
      expect((await listed(helmReleaseSelector())).sort()).toEqual(['sh.helm.release.v1.other.v1', 'sh.helm.release.v1.shop.v2'])
      // A selector the API server refuses is refused here too (400), not read as "everything".
      const refused = await fetch(`${kube.serverUrl()}/api/v1/secrets?labelSelector=${encodeURIComponent('owner=helm,name in ()')}`)
      expect(refused.status).toBe(400)
      await helm(['uninstall', 'shop', '-n', labelled])
      await helm(['uninstall', 'other', '-n', labelled])
    })

    it('upgrade --install --create-namespace into a namespace that does not exist yet', async () => {
      // helm first lists its release Secrets in the missing namespace: a real server answers an empty list.
      const fresh = `${ns}-fresh`
      const result = await helm(['upgrade', '--install', 'shop', chart, '-n', fresh, '--create-namespace', '--wait', '--timeout', '30s'])
      expect(result.stdout).toContain('STATUS: deployed')
      expect(kube.store().get('v1', 'Namespace', fresh, '')).toBeDefined()
      await helm(['uninstall', 'shop', '-n', fresh, '--wait', '--timeout', '30s'])
    })

    it('fails --wait when the Deployment never becomes ready, and the pod says why', async () => {
      kube.faults.neverReady(ns, 'broken', {log: 'panic: cannot reach database\n'})
      const failure = await helm(['install', 'broken', chart, '-n', ns, '--wait', '--timeout', '1s']).then(
        () => undefined,
        (error: {code: number; stderr: string}) => error,
      )
      expect(failure?.code).toBe(1)
      expect(failure?.stderr).toMatch(/context deadline exceeded|timed out|not ready|resource not ready/i)
      const pods = kube.store().list('v1', 'Pod', ns, {labelSelector: 'app=broken'})
      expect(pods.length).toBe(1)
      expect(pods[0]?.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('CrashLoopBackOff')
      const events = kube.store().list('v1', 'Event', ns, {fieldSelector: `involvedObject.name=${pods[0]?.metadata?.name}`})
      expect(events.map((e) => e.reason)).toContain('BackOff')
      const log = await fetch(`${kube.serverUrl()}/api/v1/namespaces/${ns}/pods/${pods[0]?.metadata?.name}/log`)
      expect(await log.text()).toBe('panic: cannot reach database\n')
    })
  })
}

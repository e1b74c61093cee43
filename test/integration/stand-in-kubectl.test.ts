// Real kubectl 1.35 against the Kubernetes API stand-in.
import {execFile} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'
import {kubectlBinary, toolEnv} from '../support/tool-env.js'

const run = promisify(execFile)

let kube: KubeStandIn
let dir: string
let kubeconfig: string

async function kubectl(args: string[], config = kubeconfig): Promise<{stdout: string; stderr: string}> {
  return run(kubectlBinary(), args, {env: toolEnv({kubeconfig: config})})
}

async function kubectlFails(args: string[], config = kubeconfig): Promise<{code: number; stderr: string}> {
  try {
    await kubectl(args, config)
  } catch (error) {
    const e = error as {code: number; stderr: string}
    return {code: e.code, stderr: e.stderr}
  }
  throw new Error(`kubectl ${args.join(' ')} succeeded but was expected to fail`)
}

const manifest = (image: string, value: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "${image}", ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: demo, labels: {app: web}}
data: {key: "${value}"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other, namespace: demo, labels: {app: other}}
data: {key: "x"}
`

beforeAll(async () => {
  // TLS, because kubectl sends a token user's credentials only over HTTPS.
  kube = await startKubeStandIn({tls: true})
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-standin-kubectl-'))
  kubeconfig = kube.kubeconfig()
})

afterAll(async () => {
  await kube?.stop()
  if (dir) fs.rmSync(dir, {recursive: true, force: true})
})

describe('kubectl against the stand-in', () => {
  it('creates a namespace (protobuf body), applies, rolls out, selects and deletes', async () => {
    expect((await kubectl(['create', 'namespace', 'demo'])).stdout).toContain('namespace/demo created')
    expect(kube.store().get('v1', 'Namespace', 'demo')?.status?.phase).toBe('Active')
    expect(kube.requests().some((r) => r.method === 'POST' && r.contentType?.startsWith('application/vnd.kubernetes.protobuf'))).toBe(true)

    const file = path.join(dir, 'app.yaml')
    fs.writeFileSync(file, manifest('nginx:1.27', 'one'))
    const applied = await kubectl(['apply', '-f', file])
    expect(applied.stdout).toContain('deployment.apps/web created')
    expect(applied.stderr).not.toMatch(/warning|error/i)
    expect((await kubectl(['rollout', 'status', 'deployment/web', '-n', 'demo', '--timeout=20s'])).stdout).toContain('successfully rolled out')

    // Client-side apply of a change: a strategic merge patch on the Deployment.
    fs.writeFileSync(file, manifest('nginx:1.28', 'two'))
    expect((await kubectl(['apply', '-f', file])).stdout).toContain('deployment.apps/web configured')
    await kubectl(['rollout', 'status', 'deployment/web', '-n', 'demo', '--timeout=20s'])
    const deployment = JSON.parse((await kubectl(['get', 'deployment', 'web', '-n', 'demo', '-o', 'json'])).stdout)
    expect(deployment.spec.template.spec.containers).toHaveLength(1)
    expect(deployment.spec.template.spec.containers[0].image).toBe('nginx:1.28')
    expect(deployment.metadata.generation).toBe(2)
    expect(deployment.status).toMatchObject({observedGeneration: 2, replicas: 2, readyReplicas: 2, availableReplicas: 2})

    // Server-side apply.
    fs.writeFileSync(file, manifest('nginx:1.29', 'three'))
    expect((await kubectl(['apply', '--server-side', '-f', file])).stdout).toContain('configmap/cfg serverside-applied')
    const cm = JSON.parse((await kubectl(['get', 'configmap', 'cfg', '-n', 'demo', '-o', 'json'])).stdout)
    expect(cm.data).toEqual({key: 'three'})
    const stored = kube.store().get('v1', 'ConfigMap', 'cfg', 'demo')
    expect(stored?.metadata?.managedFields.map((m: {manager: string}) => m.manager)).toContain('kubectl')

    const selected = JSON.parse((await kubectl(['get', 'configmaps', '-n', 'demo', '-l', 'app=web', '-o', 'json'])).stdout)
    expect(selected.items.map((i: {metadata: {name: string}}) => i.metadata.name)).toEqual(['cfg'])
    const byField = JSON.parse((await kubectl(['get', 'configmaps', '-n', 'demo', '--field-selector', 'metadata.name=other', '-o', 'json'])).stdout)
    expect(byField.items.map((i: {metadata: {name: string}}) => i.metadata.name)).toEqual(['other'])
    expect((await kubectl(['get', 'deployments', '-n', 'demo'])).stdout).toMatch(/web\s+2\/2/)

    expect((await kubectl(['delete', 'namespace', 'demo'])).stdout).toContain('namespace "demo" deleted')
    expect(kube.store().list('v1', 'ConfigMap', 'demo')).toEqual([])
    const missing = await kubectlFails(['get', 'namespace', 'demo'])
    expect(missing.stderr).toContain('namespaces "demo" not found')
  })

  it('answers auth can-i from RBAC for a token user', async () => {
    await kubectl(['create', 'namespace', 'team'])
    const alice = kube.kubeconfig('host', {user: 'alice'})
    const denied = await kubectlFails(['auth', 'can-i', 'create', 'deployments', '-n', 'team'], alice)
    expect(denied.code).toBe(1)
    const forbidden = await kubectlFails(['get', 'pods', '-n', 'team'], alice)
    expect(forbidden.stderr).toContain('pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "team"')

    await kubectl(['create', 'rolebinding', 'alice-edit', '--clusterrole=edit', '--user=alice', '-n', 'team'])
    expect((await kubectl(['auth', 'can-i', 'create', 'deployments', '-n', 'team'], alice)).stdout.trim()).toBe('yes')
    expect((await kubectlFails(['auth', 'can-i', 'create', 'deployments', '-n', 'default'], alice)).code).toBe(1)
    expect((await kubectl(['auth', 'can-i', 'delete', 'namespaces'])).stdout.trim()).toBe('yes')
  })

  it('shows why a rollout is stuck: rollout status times out, logs and events explain', async () => {
    await kubectl(['create', 'namespace', 'stuck'])
    kube.faults.neverReady('stuck', 'api', {log: 'Error: DATABASE_URL is not set\n'})
    await kubectl(['create', 'deployment', 'api', '--image=api:1', '-n', 'stuck'])
    const rollout = await kubectlFails(['rollout', 'status', 'deployment/api', '-n', 'stuck', '--timeout=1s'])
    expect(rollout.stderr).toContain('timed out waiting for the condition')
    const pod = JSON.parse((await kubectl(['get', 'pods', '-n', 'stuck', '-l', 'app=api', '-o', 'json'])).stdout).items[0]
    expect((await kubectl(['logs', '-n', 'stuck', pod.metadata.name])).stdout).toBe('Error: DATABASE_URL is not set\n')
    const events = (await kubectl(['get', 'events', '-n', 'stuck', '--field-selector', `involvedObject.name=${pod.metadata.name}`, '-o', 'json'])).stdout
    expect(JSON.parse(events).items.map((e: {reason: string}) => e.reason)).toContain('BackOff')
  })

  it('reports API errors with the real Status shape', async () => {
    const exists = await kubectlFails(['create', 'namespace', 'team'])
    expect(exists.stderr).toContain('namespaces "team" already exists')
    const invalid = await kubectlFails(['create', 'namespace', 'Not_Valid'])
    expect(invalid.stderr).toContain('is invalid')
    kube.faults.failNext('GET', /\/api\/v1\/namespaces\/team$/, 500, {message: 'etcd is on fire'})
    const injected = await kubectlFails(['get', 'namespace', 'team'])
    expect(injected.stderr).toContain('etcd is on fire')
    expect((await kubectl(['get', 'namespace', 'team', '-o', 'name'])).stdout.trim()).toBe('namespace/team')
  })
})

// idp env up/down end to end: the built CLI against the Kubernetes stand-in, real helm 4,
// real terraform (built-in resources, local backend) and the vcluster double.
import fs from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type EnvWorld, startEnvWorld} from '../fixtures/env/world.js'

let world: EnvWorld
let userHash: string

beforeAll(async () => {
  world = await startEnvWorld()
  userHash = world.kubeconfigHash()
})

afterAll(async () => {
  // Whatever a test did, the user's kubeconfig (and its current context) must be as it was.
  expect(world.kubeconfigHash()).toBe(userHash)
  await world?.stop()
})

const namespace = (name: string) => world.kube.store().get('v1', 'Namespace', name)
const helmSecrets = (ns: string, clusterId = 'host') => world.kube.store(clusterId).list('v1', 'Secret', ns).filter((s) => s.metadata?.labels?.owner === 'helm')
const lease = (name: string) => world.kube.store().get('coordination.k8s.io/v1', 'Lease', name, 'default')

describe('idp env up / down (namespace driver, terraform, helm 4)', () => {
  it('brings up pr-7: labelled namespace, terraform outputs as values, helm release, lock released', async () => {
    const up = await world.run(['env', 'up', 'pr-7', '--sha', 'abc1234', '--ttl', '2h', '--json'])
    expect(up.stderr).toBe('')
    expect(up.code).toBe(0)
    const result = up.json.result
    expect(result).toMatchObject({env: 'pr-7', service: 'shop', namespace: 'shop-pr-7', cluster: 'dev', driver: 'namespace', url: 'https://pr-7.shop.example.com', updated: false, teardown: 'idp env down pr-7'})
    expect(result.kubeconfig).toBe(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'kubeconfig'))
    const expires = new Date(result.expiresAt).getTime() - Date.now()
    expect(expires).toBeGreaterThan(115 * 60_000)
    expect(expires).toBeLessThanOrEqual(120 * 60_000)
    expect(result.steps.map((s: {id: string; status: string}) => `${s.id}:${s.status}`)).toEqual([
      'preflight:done',
      'lock:done',
      'namespace:done',
      'kubeconfig:done',
      'terraform-init:done',
      'terraform-workspace:done',
      'terraform-plan:done',
      'terraform-apply:done',
      'terraform-outputs:done',
      'helm:done',
      'record:done',
      'unlock:done',
    ])

    const ns = namespace('shop-pr-7')!
    expect(ns.metadata?.labels).toMatchObject({'app.kubernetes.io/managed-by': 'idp', 'idp.dev/service': 'shop', 'idp.dev/env': 'pr-7', 'idp.dev/pr': '7'})
    expect(ns.metadata?.annotations).toMatchObject({'idp.dev/owner': 'tester', 'idp.dev/git-sha': 'abc1234', 'idp.dev/driver': 'namespace', 'idp.dev/cluster': 'dev', 'idp.dev/status': 'ready', 'idp.dev/url': 'https://pr-7.shop.example.com', 'idp.dev/expires-at': result.expiresAt})
    // Terraform output reached helm as values; the image tag came from --sha via image.tag "{{sha}}".
    const cm = world.kube.store().get('v1', 'ConfigMap', 'shop-infra', 'shop-pr-7')!
    expect(cm.data).toEqual({env: 'pr-7', bucket: 'bucket-pr-7', imageTag: 'abc1234'})
    expect(world.kube.store().get('apps/v1', 'Deployment', 'shop', 'shop-pr-7')).toBeDefined()
    expect(helmSecrets('shop-pr-7').map((s) => s.metadata?.labels?.version)).toEqual(['1'])
    expect(lease('idp-shop-pr-7')).toBeUndefined()
    // The sensitive terraform output is in the 0600 values file, and nowhere in the output.
    const values = fs.readFileSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'tf-values.yaml'), 'utf8')
    expect(values).toContain('s3cr3t-pr-7-pw')
    expect(fs.statSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'tf-values.yaml')).mode & 0o777).toBe(0o600)
    expect(fs.statSync(result.kubeconfig).mode & 0o777).toBe(0o600)
    expect(up.stdout).not.toContain('s3cr3t')
    // The environment's kubeconfig defaults to the namespace.
    expect(fs.readFileSync(result.kubeconfig, 'utf8')).toContain('namespace: shop-pr-7')
  })

  it('up again updates in place (helm revision 2, created-at kept)', async () => {
    const before = namespace('shop-pr-7')!.metadata?.annotations?.['idp.dev/created-at']
    const up = await world.run(['env', 'up', 'pr-7', '--sha', 'def5678', '--json'])
    expect(up.code).toBe(0)
    expect(up.json.result.updated).toBe(true)
    // An update of a working environment must never tear it down on failure: no undo of it in the plan.
    const undoable = up.json.result.plan.steps.filter((s: {undo?: unknown[]}) => s.undo).map((s: {id: string}) => s.id)
    expect(undoable).toEqual(['lock'])
    expect(helmSecrets('shop-pr-7').map((s) => s.metadata?.labels?.version).sort()).toEqual(['1', '2'])
    const ns = namespace('shop-pr-7')!
    expect(ns.metadata?.annotations?.['idp.dev/git-sha']).toBe('def5678')
    expect(ns.metadata?.annotations?.['idp.dev/created-at']).toBe(before)
    expect(world.kube.store().get('v1', 'ConfigMap', 'shop-infra', 'shop-pr-7')!.data?.imageTag).toBe('def5678')
  })

  it('down removes the release, the terraform workspace and the namespace; down again says already gone', async () => {
    const down = await world.run(['env', 'down', 'pr-7', '--json'])
    expect(down.code).toBe(0)
    expect(down.json.result).toMatchObject({found: 'ours', alreadyGone: false})
    expect(down.json.result.steps.every((s: {status: string}) => s.status === 'done')).toBe(true)
    const ns = namespace('shop-pr-7')
    expect(ns === undefined || ns.status?.phase === 'Terminating').toBe(true)
    expect(helmSecrets('shop-pr-7')).toEqual([])
    expect(fs.existsSync(path.join(world.project, 'infra', 'terraform.tfstate.d', 'shop-pr-7'))).toBe(false)
    expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'kubeconfig'))).toBe(false)

    world.kube.store().delete('v1', 'Namespace', 'shop-pr-7')
    const again = await world.run(['env', 'down', 'pr-7'])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('already gone')
  })
})

// idp env up failure paths: the lock, a foreign namespace, a release that never becomes ready
// (evidence before rollback, everything undone), Ctrl-C mid-way, --keep-on-failure.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import fs from 'node:fs'
import path from 'node:path'

import {microTime} from '../../src/lib/env/lock.js'
import {runProcess} from '../support/cli.js'
import {type EnvWorld, startEnvWorld} from '../fixtures/env/world.js'

let world: EnvWorld
let userHash: string

beforeAll(async () => {
  world = await startEnvWorld()
  userHash = world.kubeconfigHash()
})

afterAll(async () => {
  expect(world.kubeconfigHash()).toBe(userHash)
  await world?.stop()
})

const store = () => world.kube.store()
const gone = (name: string) => {
  const ns = store().get('v1', 'Namespace', name)
  return ns === undefined || ns.status?.phase === 'Terminating'
}

describe('idp env up failure paths', () => {
  it('a lock held by another run fails clearly (exit 6, holder and expiry named) and changes nothing', async () => {
    store().create({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {name: 'idp-shop-ns-locked', namespace: 'default'},
      spec: {holderIdentity: 'alice on ci-42 (pid 7)', leaseDurationSeconds: 600, acquireTime: microTime(new Date()), renewTime: microTime(new Date())},
    })
    const up = await world.run(['env', 'up', 'ns-locked', '--sha', 'abc1234', '--json'])
    expect(up.code).toBe(6)
    expect(up.json.error.message).toContain('alice on ci-42 (pid 7)')
    expect(up.json.error.details.expiresAt).toMatch(/^\d{4}-/u)
    expect(up.json.error.hint).toContain('kubectl delete lease idp-shop-ns-locked --namespace default')
    expect(store().get('v1', 'Namespace', 'shop-ns-locked')).toBeUndefined()
    // The other run's lease is left alone.
    expect(store().get('coordination.k8s.io/v1', 'Lease', 'idp-shop-ns-locked', 'default')?.spec?.holderIdentity).toBe('alice on ci-42 (pid 7)')
    // The removal it prints reaches the cluster idp reached, whatever KUBECONFIG the shell holds.
    const removal = /or remove it: (KUBECONFIG=\S+ kubectl delete lease idp-shop-ns-locked --namespace default)$/mu.exec(up.json.error.hint)?.[1]
    expect(removal).toBeDefined()
    const run = await runProcess('bash', ['-c', removal!], {baseEnv: world.env, env: {KUBECONFIG: '/nonexistent/kubeconfig'}, cwd: world.home})
    expect(run.code, run.stderr).toBe(0)
    expect(store().get('coordination.k8s.io/v1', 'Lease', 'idp-shop-ns-locked', 'default')).toBeUndefined()
  })

  it('an expired lock of a crashed run is taken over', async () => {
    const old = new Date(Date.now() - 3_600_000)
    store().create({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {name: 'idp-shop-ns-stale', namespace: 'default'},
      spec: {holderIdentity: 'crashed run', leaseDurationSeconds: 60, acquireTime: microTime(old), renewTime: microTime(old)},
    })
    const up = await world.run(['env', 'up', 'ns-stale', '--sha', 'abc1234', '--json'])
    expect(up.code).toBe(0)
    expect(up.json.result.steps.find((s: {id: string}) => s.id === 'lock').result).toEqual({acquired: true, tookOver: 'crashed run'})
    expect(store().get('coordination.k8s.io/v1', 'Lease', 'idp-shop-ns-stale', 'default')).toBeUndefined()
  })

  it('refuses a namespace idp does not own (exit 2, before any change)', async () => {
    store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'shop-ns-foreign', labels: {team: 'other'}}})
    const up = await world.run(['env', 'up', 'ns-foreign', '--sha', 'abc1234', '--json'])
    expect(up.code).toBe(2)
    expect(up.json.error.message).toContain('not an idp environment')
    expect(store().get('v1', 'Namespace', 'shop-ns-foreign')?.metadata?.labels).toEqual({team: 'other'})
    expect(store().get('coordination.k8s.io/v1', 'Lease', 'idp-shop-ns-foreign', 'default')).toBeUndefined()
    // down leaves it alone too, with a warning.
    const down = await world.run(['env', 'down', 'ns-foreign', '--json'])
    expect(down.code).toBe(0)
    expect(down.json.result.found).toBe('foreign')
    expect(down.json.warnings.join('\n')).toContain('nothing was deleted')
    expect(store().get('v1', 'Namespace', 'shop-ns-foreign')).toBeDefined()
  })

  it('a release that never becomes ready: exit 5 with pod events and logs captured before rollback, then everything undone', async () => {
    world.kube.faults.neverReady('shop-ns-broken', 'shop')
    // Long enough for the pod to crash and log at least once on a busy CI machine.
    const up = await world.run(['env', 'up', 'ns-broken', '--sha', 'abc1234', '--timeout', '8s', '--json'])
    expect(up.code).toBe(5)
    const error = up.json.error
    expect(error.details.step).toBe('helm')
    const evidence = error.details.evidence.join('\n')
    expect(evidence).toContain('DATABASE_URL is not set')
    expect(evidence).toContain('CrashLoopBackOff')
    expect(error.details.undone).toEqual(expect.arrayContaining(['namespace', 'kubeconfig', 'lock']))
    expect(gone('shop-ns-broken')).toBe(true)
    expect(store().get('coordination.k8s.io/v1', 'Lease', 'idp-shop-ns-broken', 'default')).toBeUndefined()
  })

  it('--keep-on-failure keeps what was done and prints the clean-up commands, which run as printed and reach what idp reached', async () => {
    world.kube.faults.neverReady('shop-ns-kept', 'shop')
    const up = await world.run(['env', 'up', 'ns-kept', '--sha', 'abc1234', '--timeout', '2s', '--keep-on-failure', '--json'])
    expect(up.code).toBe(5)
    const cleanup: string[] = up.json.error.details.cleanup
    expect(cleanup.every((line) => !line.startsWith('#'))).toBe(true)
    expect(cleanup.join('\n')).toMatch(/^KUBECONFIG=\S+ kubectl delete namespace shop-ns-kept --ignore-not-found$/mu)
    expect(store().get('v1', 'Namespace', 'shop-ns-kept')?.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('idp')
    world.kube.faults.reset()
    // A shell whose own KUBECONFIG points at another cluster holding a namespace of the same name:
    // the printed commands must reach idp's cluster, and only it.
    world.kube.clusters.create('decoy')
    world.kube.store('decoy').create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'shop-ns-kept'}})
    const decoy = world.kube.kubeconfig('decoy', {path: path.join(world.root, 'decoy.kubeconfig')})
    for (const line of cleanup) {
      const run = await runProcess('bash', ['-c', line], {baseEnv: world.env, env: {KUBECONFIG: decoy}, cwd: world.home})
      expect(run.code, `${line}\n${run.stderr}`).toBe(0)
    }
    expect(gone('shop-ns-kept')).toBe(true)
    expect(world.kube.store('decoy').get('v1', 'Namespace', 'shop-ns-kept')?.status?.phase).not.toBe('Terminating')
    expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'ns-kept', 'kubeconfig'))).toBe(false)
  })

  it('Ctrl-C while helm waits: exit 130, helm stopped, completed steps undone', async () => {
    world.kube.faults.neverReady('shop-ns-cancel', 'shop')
    let sent = false
    let poll: NodeJS.Timeout | undefined
    const up = await world.run(['env', 'up', 'ns-cancel', '--sha', 'abc1234', '--timeout', '60s'], {
      onSpawn: (child) => {
        // Once helm has created the Deployment, interrupt like a terminal would.
        poll = setInterval(() => {
          if (sent || !store().get('apps/v1', 'Deployment', 'shop', 'shop-ns-cancel')) return
          sent = true
          child.kill('SIGINT')
        }, 100)
      },
    })
    clearInterval(poll)
    expect(sent).toBe(true)
    expect(up.code).toBe(130)
    expect(up.stderr).toContain('Cancelled')
    expect(gone('shop-ns-cancel')).toBe(true)
    expect(store().get('coordination.k8s.io/v1', 'Lease', 'idp-shop-ns-cancel', 'default')).toBeUndefined()
  })
})

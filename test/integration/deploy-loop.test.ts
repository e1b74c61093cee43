// idp deploy status | history | rollback, and the shared wait, end to end: the built CLI against
// the Kubernetes stand-in (its Argo CD controller simulation) with the argocd double, and with real
// helm 3 and 4.
import {exec} from 'node:child_process'
import {promisify} from 'node:util'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type DeployWorld, startDeployWorld} from '../fixtures/deploy/world.js'

type Entry = {id: number; revision?: string; image?: string; imageTag?: string; status?: string; current: boolean}

describe('idp deploy status, history and rollback (strategy argocd, --core)', () => {
  let world: DeployWorld
  let userHash: string
  const app = (name = 'shop-staging') => world.kube.store().get('argoproj.io/v1alpha1', 'Application', name, 'argocd')
  const history = (name = 'shop-staging') => (app(name)?.status?.history ?? []) as Array<{id: number; source?: {helm?: {parameters?: Array<{name: string; value: string}>}}}>
  const tagOf = (entry: {source?: {helm?: {parameters?: Array<{name: string; value: string}>}}} | undefined) => entry?.source?.helm?.parameters?.find((p) => p.name === 'image.tag')?.value
  /** The stand-in's controller has handled every change of the Application (nothing left to race with). */
  const settled = async (name = 'shop-staging') => {
    for (let i = 0; i < 100; i++) {
      const a = app(name)
      if (a && !a.operation && a.status?.observedGeneration === a.metadata?.generation) return
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`${name} did not settle`)
  }

  beforeAll(async () => {
    world = await startDeployWorld()
    userHash = world.kubeconfigHash()
    world.kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'argocd'}})
    world.kube.store().create({apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', metadata: {name: 'shop', namespace: 'argocd'}, spec: {sourceRepos: ['*'], destinations: [{server: '*', namespace: '*'}]}})
  })

  afterAll(async () => {
    if (world) expect(world.kubeconfigHash()).toBe(userHash)
    await world?.stop()
  })

  it('status before any deploy says so (exit 4) and how to deploy', async () => {
    const out = await world.run(['deploy', 'status', 'staging', '--json'])
    expect(out.code).toBe(4)
    expect(out.json.error.message).toContain('Application argocd/shop-staging of staging was not found')
    expect(out.json.error.hint).toContain('Deploy first with `idp deploy staging`')
  })

  it('two deploys: history lists both, newest first, with revision and image; status of the healthy app', async () => {
    const started = Date.now()
    expect((await world.run(['deploy', 'staging', '--image-tag', 'v1', '--json'])).code).toBe(0)
    // The second deploy finds the Application synced and healthy by the time it looks: no hang (argo-cd#12211).
    expect((await world.run(['deploy', 'staging', '--image-tag', 'v2', '--timeout', '60s', '--json'])).code).toBe(0)
    expect(Date.now() - started).toBeLessThan(30_000)

    const hist = await world.run(['deploy', 'history', 'staging', '--json'])
    expect(hist.code).toBe(0)
    const entries: Entry[] = hist.json.result.entries
    expect(entries.map((e) => [e.id, e.revision, e.image, e.current])).toEqual([
      [1, 'main', 'ghcr.io/acme/shop:v2', true],
      [0, 'main', 'ghcr.io/acme/shop:v1', false],
    ])
    const human = await world.run(['deploy', 'history', 'staging'])
    expect(human.stdout).toMatch(/^1\s+\S+\s+main\s+ghcr\.io\/acme\/shop:v2\s+\(current\)$/mu)

    const status = await world.run(['deploy', 'status', 'staging', '--json'])
    expect(status.code).toBe(0)
    expect(status.json.result).toMatchObject({strategy: 'argocd', app: 'shop-staging', revision: 'main', images: ['ghcr.io/acme/shop:v2'], imageTag: 'v2', health: 'Healthy', healthy: true, sync: 'Synced', autoSync: false, lastOperation: {phase: 'Succeeded', message: 'successfully synced (all tasks run)'}, unhealthy: []})
    // The printed command reaches the Application as idp did (the private kubeconfig, --core).
    expect(status.json.result.inspect).toMatch(/^KUBECONFIG=\S+argocd-kubeconfig argocd app get shop-staging --output json --app-namespace argocd --core$/u)
  })

  it('rollback is refused while automated sync is on: nothing changes, and the hint holds the command that turns it off', async () => {
    const live = app()!
    world.kube.store().put({...live, spec: {...live.spec, syncPolicy: {...live.spec?.syncPolicy, automated: {prune: false, selfHeal: false}}}})
    await settled()
    const before = app()!
    const out = await world.run(['deploy', 'rollback', 'staging', '--json'])
    expect(out.code).toBe(4)
    expect(out.json.error.message).toContain('has automated sync on: Argo CD refuses to roll it back')
    expect(out.json.error.message).toContain('Nothing was changed.')
    const off = /`(KUBECONFIG=\S+ argocd app set shop-staging --sync-policy none --app-namespace argocd --core)`/u.exec(out.json.error.hint)
    expect(off).not.toBeNull()
    expect(app()!.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect(history()).toEqual(before.status?.history)
    // The printed command runs as printed (here through the argocd double) and turns automated sync off.
    // Not execSync: the stand-in answers from this process.
    await promisify(exec)(off![1]!, {env: {...process.env, PATH: world.env.PATH}})
    expect(app()!.spec?.syncPolicy?.automated).toBeUndefined()
  })

  it('rollback without --to goes to the previous revision and waits until healthy; --to picks one from the history', async () => {
    const ids = history().map((h) => h.id)
    const previous = ids.at(-2)!
    const out = await world.run(['deploy', 'rollback', 'staging', '--json'])
    expect(out.json?.error).toBeUndefined()
    expect(out.code).toBe(0)
    expect(out.json.result).toMatchObject({strategy: 'argocd', to: previous, from: ids.at(-1), imageTag: tagOf(history().find((h) => h.id === previous)), health: 'Healthy'})
    expect(out.json.result.steps.map((s: {id: string; status: string}) => `${s.id}:${s.status}`)).toEqual(['preflight:done', 'kubeconfig:done', 'rollback:done', 'wait:done'])
    // Argo CD synced the old entry's source: the new history entry deploys what `previous` deployed.
    expect(tagOf(history().at(-1))).toBe(tagOf(history().find((h) => h.id === previous)))

    const to = history()[0]!.id
    const picked = await world.run(['deploy', 'rollback', 'staging', '--to', String(to), '--json'])
    expect(picked.code).toBe(0)
    // The cluster now runs an older source than git: OutOfSync, as Argo CD reports after a rollback.
    expect(picked.json.result).toMatchObject({to, imageTag: 'v1', health: 'Healthy', sync: 'OutOfSync'})
    expect(tagOf(history().at(-1))).toBe('v1')

    const unknown = await world.run(['deploy', 'rollback', 'staging', '--to', '99', '--json'])
    expect(unknown.code).toBe(2)
    expect(unknown.json.error.message).toBe('Application shop-staging has no history id 99.')
  })

  it('a protected environment needs a confirmation: without a terminal, a usage error naming --yes, before anything changes', async () => {
    expect((await world.run(['deploy', 'production', '--yes', '--json'])).code).toBe(0)
    await settled('shop-production')
    const before = app('shop-production')!
    const out = await world.run(['deploy', 'rollback', 'production', '--to', '0', '--json'])
    expect(out.code).toBe(2)
    expect(out.json.error.message).toBe('Environment production is protected: rolling back it needs confirmation.')
    expect(out.json.error.hint).toContain('--yes')
    expect(app('shop-production')!.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
  })

  it('a brief Degraded within --degraded-grace is part of the rollout: the deploy succeeds', async () => {
    world.kube.faults.argo('shop-staging', 'Degraded', undefined, {forMs: 1500})
    const out = await world.run(['deploy', 'staging', '--image-tag', 'v3', '--degraded-grace', '20s', '--timeout', '60s', '--json'])
    expect(out.json?.error).toBeUndefined()
    expect(out.code).toBe(0)
    expect(out.json.result).toMatchObject({health: 'Healthy', sync: 'Synced'})
  })

  it('a Degraded that outlasts the grace fails (exit 5) with the resource message; status then shows it', async () => {
    world.kube.faults.argo('shop-staging', 'Degraded')
    const out = await world.run(['deploy', 'staging', '--image-tag', 'v4', '--degraded-grace', '1s', '--timeout', '60s', '--json'])
    expect(out.code).toBe(5)
    expect(out.json.error.message).toBe('Application shop-staging is Degraded.')
    expect(out.json.error.hint).toContain('Deployment shop-staging/shop-staging: Degraded (Deployment "shop-staging" exceeded its progress deadline)')

    const status = await world.run(['deploy', 'status', 'staging', '--json'])
    expect(status.code).toBe(0)
    expect(status.json.result).toMatchObject({health: 'Degraded', healthy: false, imageTag: 'v4'})
    expect(status.json.result.unhealthy).toEqual([{kind: 'Deployment', namespace: 'shop-staging', name: 'shop-staging', health: 'Degraded', sync: 'Synced', message: 'Deployment "shop-staging" exceeded its progress deadline'}])
    const human = await world.run(['deploy', 'status', 'staging'])
    expect(human.stdout).toContain('✗ shop in staging: Degraded')
    expect(human.stdout).toContain('Deployment shop-staging/shop-staging: Degraded (Deployment "shop-staging" exceeded its progress deadline)')
    world.kube.faults.reset()
  })

  it('`idp deploy status` alone names ENV; an environment named like a sub-command is told how to reach it', async () => {
    const missing = await world.run(['deploy', 'status', '--json'])
    expect(missing.code).toBe(2)
    expect(missing.json.error.message).toContain('Missing the environment')
    expect(missing.json.error.hint).toContain('staging')
  })
})

describe.each([3, 4] as const)('idp deploy status, history and rollback (strategy helm, helm %i)', (major) => {
  let world: DeployWorld
  const deployment = () => world.kube.store().get('apps/v1', 'Deployment', 'shop', 'shop-staging')
  const image = () => deployment()?.spec?.template?.spec?.containers?.[0]?.image

  beforeAll(async () => {
    world = await startDeployWorld({helm: major})
  })

  afterAll(async () => {
    await world?.stop()
  })

  const run = (args: string[]) => world.run(args, {project: 'helm'})

  it('history of two deploys with images; status of the healthy release', async () => {
    expect((await run(['deploy', 'staging', '--image-tag', 'v1', '--json'])).code).toBe(0)
    expect((await run(['deploy', 'staging', '--image-tag', 'v2', '--json'])).code).toBe(0)
    const hist = await run(['deploy', 'history', 'staging', '--json'])
    expect(hist.code).toBe(0)
    expect(hist.json.result.entries.map((e: Entry) => [e.id, e.status, e.image, e.current])).toEqual([
      [2, 'deployed', 'ghcr.io/acme/shop:v2', true],
      [1, 'superseded', 'ghcr.io/acme/shop:v1', false],
    ])
    const status = await run(['deploy', 'status', 'staging', '--json'])
    expect(status.code).toBe(0)
    expect(status.json.result).toMatchObject({strategy: 'helm', release: 'shop', revision: '2', releaseStatus: 'deployed', health: 'Healthy', healthy: true, images: ['ghcr.io/acme/shop:v2'], unhealthy: []})
    expect(status.json.result.chart).toMatch(/^shop-/u)
    expect(status.json.result.workloads).toEqual([{kind: 'Deployment', name: 'shop', ready: 2, desired: 2, images: ['ghcr.io/acme/shop:v2'], messages: []}])
    expect(status.json.result.inspect).toMatch(/^KUBECONFIG=\S+ helm status shop --namespace shop-staging$/u)
  })

  it('rollback without --to goes to the previous revision with helm rollback --wait; --to picks one', async () => {
    const out = await run(['deploy', 'rollback', 'staging', '--json'])
    expect(out.json?.error).toBeUndefined()
    expect(out.code).toBe(0)
    expect(out.json.result).toMatchObject({strategy: 'helm', release: 'shop', from: 2, to: 1, revision: '3', health: 'deployed'})
    expect(out.json.result.steps.map((s: {id: string}) => s.id)).toEqual(['preflight', 'lock', 'helm', 'unlock'])
    expect(image()).toBe('ghcr.io/acme/shop:v1')
    const picked = await run(['deploy', 'rollback', 'staging', '--to', '2', '--json'])
    expect(picked.code).toBe(0)
    expect(picked.json.result).toMatchObject({from: 3, to: 2, revision: '4'})
    expect(image()).toBe('ghcr.io/acme/shop:v2')
    const hist = await run(['deploy', 'history', 'staging', '--json'])
    expect(hist.json.result.entries[0]).toMatchObject({id: 4, status: 'deployed', image: 'ghcr.io/acme/shop:v2', description: 'Rollback to 2'})
  })

  it('a protected environment needs a confirmation (no terminal: exit 2 naming --yes), before helm runs', async () => {
    expect((await run(['deploy', 'production', '--yes', '--image-tag', 'v1', '--json'])).code).toBe(0)
    expect((await run(['deploy', 'production', '--yes', '--image-tag', 'v2', '--json'])).code).toBe(0)
    const out = await run(['deploy', 'rollback', 'production', '--json'])
    expect(out.code).toBe(2)
    expect(out.json.error.hint).toContain('--yes')
    const hist = await run(['deploy', 'history', 'production', '--json'])
    expect(hist.json.result.entries[0]).toMatchObject({id: 2, status: 'deployed'})
  })

  it('status of a degraded release names the Deployment and why; a timeout names what was not ready', async () => {
    world.kube.faults.neverReady('shop-staging', 'shop', {reason: 'CrashLoopBackOff', message: 'back-off restarting failed container'})
    for (let i = 0; i < 100 && (deployment()?.status?.readyReplicas ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 20))
    const status = await run(['deploy', 'status', 'staging', '--json'])
    expect(status.code).toBe(0)
    expect(status.json.result).toMatchObject({health: 'Degraded', healthy: false})
    expect(status.json.result.workloads[0]).toMatchObject({name: 'shop', ready: 0, desired: 2})
    expect(status.json.result.workloads[0].messages).toEqual(expect.arrayContaining(['Available: MinimumReplicasUnavailable: Deployment does not have minimum availability.', expect.stringMatching(/^pod shop-\S+ container app: CrashLoopBackOff: back-off restarting failed container$/u)]))

    const out = await run(['deploy', 'rollback', 'staging', '--timeout', '3s', '--json'])
    expect(out.code).toBe(7)
    expect(out.json.error.message).toMatch(/^The release was not ready within 3s; not ready: Deployment shop-staging\/shop 0\/2 ready \(.*CrashLoopBackOff/u)
    expect(out.json.error.hint).toContain('`idp deploy rollback staging`')
  })
})

import fs from 'node:fs'
import {Application, AppProject} from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'
import facts from '../support/doubles/contracts/argocd.json' with {type: 'json'}
import {type KubeApi, runDouble, startKubeApi, tempDir} from '../support/doubles/harness.js'

let api: KubeApi
let dir: string
let kubeconfig: string

async function kube(method: string, apiPath: string, body?: unknown): Promise<{status: number; body: any}> {
  const res = await fetch(`${api.hostUrl}${apiPath}`, {method, headers: {'content-type': 'application/json'}, body: body === undefined ? undefined : JSON.stringify(body)})
  return {status: res.status, body: await res.json()}
}

const appPath = (name = '') => `/apis/argoproj.io/v1alpha1/namespaces/argocd/applications${name ? `/${name}` : ''}`

beforeAll(async () => {
  api = await startKubeApi()
  dir = tempDir('idp-argocd-double-')
  kubeconfig = api.kubeconfig({namespace: 'argocd'})
  await kube('POST', '/api/v1/namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'argocd'}})
  const project = {apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', metadata: {name: 'shop', namespace: 'argocd'}, spec: {sourceRepos: ['*'], destinations: [{server: '*', namespace: '*'}]}}
  new AppProject(project).validate()
  expect((await kube('POST', '/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects', project)).status).toBe(201)
})

afterAll(async () => {
  await api?.stop()
  fs.rmSync(dir, {recursive: true, force: true})
})

// The stand-in's Argo CD controller completes syncs (about 20 ms); the double's own fallback
// controller would act only after a minute, so these tests show the double working with the stand-in's.
const argocd = (args: string[], env: Record<string, string | undefined> = {}) => runDouble('argocd', args, {KUBECONFIG: kubeconfig, HOME: dir, IDP_DOUBLE_ARGOCD_CONTROLLER_GRACE_MS: '60000', ...env})

function fatalLine(stderr: string): {level: string; msg: string; time: string} {
  const lines = stderr.trim().split('\n')
  return JSON.parse(lines.at(-1) ?? '')
}

const createArgs = (name: string) => ['app', 'create', name, '--core', '--repo', 'https://github.com/acme/shop', '--path', 'chart', '--dest-server', 'https://kubernetes.default.svc', '--dest-namespace', `shop-${name}`, '--project', 'shop', '--revision', 'main', '--sync-policy', 'none']

// Each run is its own process and these touch no cluster state, so they run side by side.
describe.concurrent('argocd double: flag and argument errors (real texts)', () => {
  it('prints flag errors to stdout as "Error: ..." with exit 1', async () => {
    expect(await argocd(['app', 'get', 'foo', '--bogus'])).toEqual({code: 1, stdout: 'Error: unknown flag: --bogus\n', stderr: ''})
  })

  it('rejects kubectl flags on leaf commands (they live on the group commands only)', async () => {
    expect(await argocd(['app', 'get', 'foo', '-n', 'ns'])).toEqual({code: 1, stdout: "Error: unknown shorthand flag: 'n' in -n\n", stderr: ''})
  })

  it('rejects a bad uint and a bad duration with Go texts', async () => {
    const [uint, duration] = await Promise.all([argocd(['app', 'wait', 'x', '--timeout', 'abc']), argocd(['app', 'create', 'x', '--sync-retry-backoff-duration', '5'])])
    expect(uint.stdout).toBe('Error: invalid argument "abc" for "--timeout" flag: strconv.ParseUint: parsing "abc": invalid syntax\n')
    expect(duration.stdout).toBe('Error: invalid argument "5" for "--sync-retry-backoff-duration" flag: time: missing unit in duration "5"\n')
  })

  it('treats `--bool false` as a positional argument', async () => {
    // `app create demo --upsert false`: two positional args, so no app name → help on stdout, exit 1
    const result = await argocd(['app', 'create', 'demo', '--upsert', 'false', '--core'])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('argocd app create APPNAME [flags]')
  })

  it('prints help and exits 1 on a missing app name', async () => {
    const result = await argocd(['app', 'get', '--core'])
    expect(result.code).toBe(facts.errors.wrongPositionalArgs.exitCode)
    expect(result.stdout).toContain('Usage:\n  argocd app get APPNAME [flags]')
  })

  it('reports an unknown command with the usage hint', async () => {
    expect(await argocd(['apps'])).toEqual({code: 1, stdout: 'Error: unknown command "apps" for "argocd"\n\nDid you mean this?\n\tapp\n\nRun \'argocd --help\' for usage.\n', stderr: ''})
  })

  it('fails without a server address unless --core', async () => {
    const result = await argocd(['app', 'list'])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(fatalLine(result.stderr)).toMatchObject({level: 'fatal', msg: 'Argo CD server address unspecified'})
  })

  it('prints the client version', async () => {
    const result = await argocd(['version', '--client', '--short'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^argocd: v${facts.version.VERSION.replaceAll('.', '\\.')}\\+[0-9a-f]{7}\\n$`, 'u'))
  })
})

describe('argocd double: --core against a Kubernetes API', () => {
  it('app create → valid Application → sync → wait → get -o json → list → delete', async () => {
    const created = await argocd(createArgs('web'))
    expect(created, created.stderr).toMatchObject({code: 0, stdout: "application 'web' created\n"})
    const stored = await kube('GET', appPath('web'))
    expect(stored.status).toBe(200)
    new Application(stored.body).validate()
    expect(stored.body.spec).toMatchObject({project: 'shop', source: {repoURL: 'https://github.com/acme/shop', path: 'chart', targetRevision: 'main'}, destination: {server: 'https://kubernetes.default.svc', namespace: 'shop-web'}})

    expect((await argocd(createArgs('web'))).stdout).toBe("application 'web' unchanged\n")
    const changed = [...createArgs('web').slice(0, -2), '--revision', 'v2']
    const refused = await argocd(changed)
    expect(refused.code).toBe(20)
    expect(fatalLine(refused.stderr).msg).toBe(facts.errors.appExistsDifferent)
    expect((await argocd([...changed, '--upsert'])).stdout).toBe("application 'web' updated\n")

    const synced = await argocd(['app', 'sync', 'web', '--core'])
    expect(synced.code, synced.stderr).toBe(0)
    const waited = await argocd(['app', 'wait', 'web', '--core', '--health', '--sync', '--timeout', '5'])
    expect(waited.code, waited.stderr).toBe(0)

    const got = await argocd(['app', 'get', 'web', '--core', '-o', 'json'])
    expect(got.code).toBe(0)
    const view = JSON.parse(got.stdout)
    expect(got.stdout).toBe(`${JSON.stringify(view, null, 2)}\n`)
    expect(view).not.toHaveProperty('kind')
    expect(view).not.toHaveProperty('apiVersion')
    expect(Object.keys(view)).toEqual(['metadata', 'spec', 'status'])
    expect(view.status.sync.status).toBe('Synced')
    expect(view.status.health.status).toBe('Healthy')
    expect(view.status.operationState.phase).toBe('Succeeded')
    new Application({apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', ...view}).validate()

    const listed = await argocd(['app', 'list', '--core', '-o', 'json'])
    expect(JSON.parse(listed.stdout).map((a: any) => a.metadata.name)).toEqual(['web'])

    expect(await argocd(['app', 'delete', 'web', '--core', '--yes'])).toMatchObject({code: 0, stdout: "application 'web' deleted\n"})
    expect((await kube('GET', appPath('web'))).status).toBe(404)
    expect((await argocd(['app', 'list', '--core', '-o', 'json'])).stdout).toBe('[]\n')
    const missing = await argocd(['app', 'get', 'web', '--core'])
    expect(missing.code).toBe(20)
    expect(fatalLine(missing.stderr).msg).toBe('rpc error: code = PermissionDenied desc = permission denied')
  })

  it('rejects an unknown project and a destination with both name and server', async () => {
    const [noProject, both] = await Promise.all([argocd([...createArgs('orphan').slice(0, -6), '--project', 'nope']), argocd([...createArgs('both'), '--dest-name', 'in-cluster'])])
    expect(noProject.code).toBe(20)
    expect(fatalLine(noProject.stderr).msg).toContain('application references project nope which does not exist')
    expect(both.code).toBe(20)
    expect(fatalLine(both.stderr).msg).toContain("application destination can't have both name and server defined")
  })

  it('app wait exits 20 when health turns Degraded, and on timeout', async () => {
    api.standIn.faults.argo('bad', 'Degraded', 'argocd')
    expect((await argocd(createArgs('bad'))).code).toBe(0)
    // Progressing with no operation pending (so no controller acts) when wait first reads it ...
    const store = api.standIn.store()
    const app = store.get('argoproj.io/v1alpha1', 'Application', 'bad', 'argocd')!
    store.put({...app, status: {...app.status, health: {status: 'Progressing'}}})
    const seen = api.standIn.requests().length
    const waiting = argocd(['app', 'wait', 'bad', '--core', '--health', '--timeout', '10'])
    // ... and synced only after that first read, so wait sees the transition instead of racing the controller.
    await vi.waitFor(() => expect(api.standIn.requests().slice(seen).some((r) => r.method === 'GET' && r.path.endsWith('/applications/bad'))).toBe(true), {timeout: 10_000, interval: 20})
    expect((await argocd(['app', 'sync', 'bad', '--core', '--async'])).code).toBe(0)
    const degraded = await waiting
    expect(degraded.code).toBe(20)
    expect(fatalLine(degraded.stderr).msg).toBe("application 'bad' health state has transitioned from Progressing to Degraded")

    // Already Degraded when wait starts: no fast failure, the timeout ends it.
    const timedOut = await argocd(['app', 'wait', 'bad', '--core', '--health', '--timeout', '1'])
    expect(timedOut.code).toBe(20)
    expect(timedOut.stdout).toContain('This is the state of the app after wait timed out:')
    expect(fatalLine(timedOut.stderr).msg).toBe('timed out (1s) waiting for app "bad" match desired state')
  })

  it('manages project roles and policies on the AppProject', async () => {
    expect(await argocd(['proj', 'role', 'create', 'shop', 'dev', '--core'])).toMatchObject({code: 0, stdout: "Role 'dev' created\n"})
    expect((await argocd(['proj', 'role', 'create', 'shop', 'dev', '--core'])).stdout).toBe("Role 'dev' already exists\n")
    expect((await argocd(['proj', 'role', 'add-policy', 'shop', 'dev', '--core', '-a', 'sync', '-o', '*', '-p', 'allow'])).code).toBe(0)
    let proj = (await kube('GET', '/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/shop')).body
    expect(proj.spec.roles).toEqual([{name: 'dev', policies: ['p, proj:shop:dev, applications, sync, shop/*, allow']}])
    new AppProject(proj).validate()
    expect((await argocd(['proj', 'role', 'remove-policy', 'shop', 'dev', '--core', '-a', 'sync', '-o', '*'])).code).toBe(0)
    proj = (await kube('GET', '/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/shop')).body
    expect(proj.spec.roles[0].policies).toEqual([])
    const noRole = await argocd(['proj', 'role', 'add-policy', 'shop', 'ghost', '--core', '-a', 'get'])
    expect(noRole.code).toBe(20)
    expect(fatalLine(noRole.stderr).msg).toBe("role 'ghost' does not exist in project 'shop'")
    expect((await argocd(['proj', 'role', 'delete', 'shop', 'dev', '--core'])).stdout).toBe("Role 'dev' deleted\n")
    expect((await argocd(['proj', 'role', 'delete', 'shop', 'dev', '--core'])).stdout).toBe("Role 'dev' does not exist in project\n")
  })
})

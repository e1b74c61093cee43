// idp status end to end: the built CLI against the Kubernetes stand-in (two clusters, one more that
// is down), real helm releases, an Application deployed by `idp deploy` through the argocd double,
// previews seeded as `env up` leaves them, and grants as `access grant` writes them.
import {exec, execFile, spawn} from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {grantObjects} from '../../src/lib/access/bindings.js'
import {createDeps} from '../../src/lib/cli/deps.js'
import {CancelledError} from '../../src/lib/cli/errors.js'
import {Output} from '../../src/lib/cli/output.js'
import {envMetadata} from '../../src/lib/env/labels.js'
import {status, type StatusResult} from '../../src/lib/status/status.js'
import {readCluster, slots} from '../../src/lib/status/read.js'
import {envKubeconfigPath} from '../../src/lib/env/paths.js'
import {RecordingRunner} from '../support/recording-runner.js'
import type {ToolRunner} from '../../src/lib/tools/types.js'
import {parseJson, repoRoot, runCli, runJs} from '../support/cli.js'
import {TextSink} from '../support/deps.js'
import {seedEnvironment} from '../support/env-seed.js'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'
import {isolatedUser, type IsolatedUser} from '../support/user-env.js'
import {DEPLOY_PROJECT} from '../fixtures/deploy/world.js'

let kube: KubeStandIn
let root: string
let repo: string
let user: IsolatedUser
let userHash: string
let env: NodeJS.ProcessEnv

async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const idp = (args: string[], extra: Record<string, string | undefined> = {}) => runCli([...args, '--dir', repo], {baseEnv: env, env: extra}).then((r) => ({...r, json: parseJson(r.stdout) as {status: number; result: StatusResult; warnings: string[]; error?: {message: string}}}))

const helm = (args: string[]) => promisify(exec)(['helm', ...args].map((a) => `'${a}'`).join(' '), {env: {...env, KUBECONFIG: user.userKubeconfig}})

function grant(options: {env: string; namespace: string; subject: string; role: string; expiresInMs: number; cluster?: string; service?: string}) {
  const now = Date.now()
  const {binding} = grantObjects({
    service: options.service ?? 'shop',
    env: options.env,
    namespace: options.namespace,
    role: {name: options.role, kind: 'ClusterRole', clusterRole: options.role === 'viewer' ? 'view' : 'edit'},
    subject: options.subject,
    kind: 'User',
    expiresAt: new Date(now + options.expiresInMs),
    grantedBy: 'lead@example.com',
    grantedAt: new Date(now - 3_600_000),
    reason: 'incident 42',
  })
  kube.store(options.cluster ?? 'host').create(binding as never)
}

beforeAll(async () => {
  kube = await startKubeStandIn({controllerDelayMs: 10})
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-status-'))
  user = isolatedUser(root, kube, {env: {GITHUB_SHA: 'abc1234def', GITHUB_REF_NAME: 'main'}})
  userHash = user.kubeconfigHash()
  // `idp` on PATH, so the commands status prints run as printed.
  const shim = path.join(root, 'bin', 'idp')
  fs.writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${runJs}" "$@"\n`, {mode: 0o755})
  env = {...user.env}

  kube.clusters.create('edge')
  const edgeKubeconfig = kube.kubeconfig('edge', {context: 'standin-edge', path: path.join(root, 'edge.kubeconfig')})
  const goneKubeconfig = path.join(root, 'gone.kubeconfig')
  fs.writeFileSync(
    goneKubeconfig,
    stringify({apiVersion: 'v1', kind: 'Config', clusters: [{name: 'gone', cluster: {server: `http://127.0.0.1:${await closedPort()}`}}], users: [{name: 'admin', user: {}}], contexts: [{name: 'gone-ctx', context: {cluster: 'gone', user: 'admin'}}], 'current-context': 'gone-ctx'}),
  )

  repo = path.join(root, 'shop')
  fs.cpSync(DEPLOY_PROJECT, repo, {recursive: true})
  fs.writeFileSync(
    path.join(repo, '.idp.yml'),
    `version: 1
service: {name: shop, owner: team-a}
image: {repository: ghcr.io/acme/shop, tag: "{{sha}}"}
clusters:
  dev: {context: standin-host}
  edge: {context: standin-edge, kubeconfig: ${edgeKubeconfig}}
  gone: {context: gone-ctx, kubeconfig: ${goneKubeconfig}}
environments:
  staging:
    cluster: dev
    namespace: shop-staging
    helm: {chart: ./chart, values: [chart/values-staging.yaml]}
  "pr-*": {cluster: dev, driver: namespace, ttl: 72h, helm: {chart: ./chart}}
  "e-*": {cluster: edge, driver: namespace, ttl: 72h, helm: {chart: ./chart}}
  "g-*": {cluster: gone, driver: namespace, helm: {chart: ./chart}}
deploy:
  strategy: argocd
  argocd: {namespace: argocd, project: shop, repoURL: https://github.com/acme/shop, path: chart, targetRevision: main}
`,
  )
  fs.writeFileSync(
    path.join(repo, 'catalog-info.yaml'),
    `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: shop
  description: The shop front
  links:
    - {url: https://grafana.example.com/d/shop, title: Dashboard}
    - {url: https://github.com/acme/shop}
spec: {type: service, owner: team-a, lifecycle: production, system: webshop}
`,
  )

  // staging: deployed for real through Argo CD (the argocd double, the stand-in's sync simulation).
  kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'argocd'}})
  kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'shop-staging'}})
  kube.store().create({apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', metadata: {name: 'shop', namespace: 'argocd'}, spec: {sourceRepos: ['*'], destinations: [{server: '*', namespace: '*'}]}})
  const deployed = await idp(['deploy', 'staging', '--image-tag', 'v7', '--json'])
  expect(deployed.json?.error).toBeUndefined()

  // Previews as `env up` leaves them: labelled namespaces and a real helm release in each.
  const now = new Date()
  seedEnvironment(kube, {service: 'shop', env: 'pr-1', owner: 'alice@example.com', pr: '1', url: 'https://pr-1.shop.example.com', sha: 'abc1234def', now})
  seedEnvironment(kube, {service: 'shop', env: 'pr-2', owner: 'bob@example.com', expiresInMs: -2 * 3_600_000, now})
  seedEnvironment(kube, {service: 'shop', env: 'pr-3', owner: 'carol@example.com', now})
  seedEnvironment(kube, {service: 'shop', env: 'e-1', owner: 'dan@example.com', cluster: 'edge', standInCluster: 'edge', now})
  kube.faults.neverReady('shop-pr-3', 'shop', {reason: 'CrashLoopBackOff', message: 'back-off restarting failed container'})
  await helm(['install', 'shop', path.join(repo, 'chart'), '--namespace', 'shop-pr-1', '--set', 'image.tag=pr1-sha'])
  await helm(['install', 'shop', path.join(repo, 'chart'), '--namespace', 'shop-pr-3', '--set', 'image.tag=pr3-sha'])

  // vcluster previews as `env up` leaves them: pr-5 with its vcluster (the vcluster double) and the
  // release installed inside it by real helm; pr-6 whose vcluster is gone (not reachable).
  seedEnvironment(kube, {service: 'shop', env: 'pr-5', owner: 'gina@example.com', driver: 'vcluster', now})
  seedEnvironment(kube, {service: 'shop', env: 'pr-6', owner: 'hal@example.com', driver: 'vcluster', now})
  const vcluster = (args: string[]) => promisify(execFile)('vcluster', args, {env: {...env, KUBECONFIG: user.userKubeconfig}})
  await vcluster(['create', 'pr-5', '--namespace', 'shop-pr-5', '--connect=false', '--background-proxy=false'])
  const inside = path.join(root, 'pr-5.kubeconfig')
  fs.writeFileSync(inside, (await vcluster(['connect', 'pr-5', '--namespace', 'shop-pr-5', '--print', '--background-proxy=false'])).stdout, {mode: 0o600})
  await promisify(execFile)('helm', ['install', 'shop', path.join(repo, 'chart'), '--namespace', 'default', '--set', 'image.tag=pr5-sha'], {env: {...env, KUBECONFIG: inside}})

  // Other services: cart of team-a, billing of team-b (the team label env up writes).
  for (const [service, team, name] of [['cart', 'team-a', 'pr-7'], ['billing', 'team-b', 'pr-9']] as const) {
    const {labels, annotations} = envMetadata({service, env: name, owner: 'erin@example.com', team, driver: 'namespace', cluster: 'dev', expiresAt: new Date(now.getTime() + 3_600_000), status: 'ready'})
    kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: `${service}-${name}`, labels, annotations}})
  }

  grant({env: 'pr-1', namespace: 'shop-pr-1', subject: 'alice@example.com', role: 'viewer', expiresInMs: 4 * 3_600_000})
  grant({env: 'staging', namespace: 'shop-staging', subject: 'bob@example.com', role: 'debugger', expiresInMs: -3_600_000})
  grant({env: 'pr-7', namespace: 'cart-pr-7', subject: 'frank@example.com', role: 'viewer', expiresInMs: -60_000, service: 'cart'})
  // Let the stand-in's controllers settle the Deployments (pr-3 keeps crash-looping).
  await new Promise((r) => setTimeout(r, 300))
}, 120_000)

afterAll(async () => {
  if (user) expect(user.kubeconfigHash()).toBe(userHash)
  await kube?.stop()
  if (root) fs.rmSync(root, {recursive: true, force: true})
})

describe('idp status', () => {
  it('shows healthy, degraded, expired and unreachable together, with what needs attention first', async () => {
    const tmpBefore = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('idp-vcluster-'))
    const before = kube.requests().length
    const out = await idp(['status', '--json'])
    expect(out.json.error).toBeUndefined()
    expect(out.code).toBe(0)
    const r = out.json.result
    expect(r.service).toEqual({
      name: 'shop',
      owner: 'team-a',
      lifecycle: 'production',
      system: 'webshop',
      description: 'The shop front',
      links: [{url: 'https://grafana.example.com/d/shop', title: 'Dashboard'}, {url: 'https://github.com/acme/shop'}],
      catalogFile: 'catalog-info.yaml',
    })
    const byEnv = Object.fromEntries(r.environments.map((e) => [e.env, e]))
    expect(Object.keys(byEnv)).toEqual(['staging', 'e-1', 'pr-1', 'pr-2', 'pr-3', 'pr-5', 'pr-6'])
    expect(byEnv.staging).toMatchObject({kind: 'configured', cluster: 'dev', namespace: 'shop-staging', delivery: 'argocd', health: 'Healthy', sync: 'Synced', healthy: true, revision: 'main', imageTag: 'v7', expired: false})
    expect(byEnv['pr-1']).toMatchObject({kind: 'preview', delivery: 'helm', health: 'Healthy', releaseStatus: 'deployed', revision: '1', imageTag: 'pr1-sha', chart: 'shop-0.1.0', chartVersion: '0.1.0', commit: 'abc1234def', owner: 'alice@example.com', url: 'https://pr-1.shop.example.com', workloads: [{name: 'shop', ready: 1, desired: 1}], expired: false})
    expect(byEnv['pr-3']).toMatchObject({delivery: 'helm', health: 'Degraded', healthy: false, workloads: [{name: 'shop', ready: 0, desired: 1}]})
    expect(byEnv['pr-3']!.problems[0]).toMatch(/^Deployment shop-pr-3\/shop 0\/1 ready \(.*CrashLoopBackOff/u)
    expect(byEnv['pr-2']).toMatchObject({delivery: 'none', health: 'NotDeployed', expired: true, owner: 'bob@example.com'})
    expect(byEnv['e-1']).toMatchObject({cluster: 'edge', health: 'NotDeployed', expired: false})
    // A vcluster preview: its release and Deployment read inside its vcluster, not the host namespace.
    expect(byEnv['pr-5']).toMatchObject({kind: 'preview', driver: 'vcluster', delivery: 'vcluster', health: 'Healthy', healthy: true, releaseStatus: 'deployed', revision: '1', imageTag: 'pr5-sha', chartVersion: '0.1.0', owner: 'gina@example.com', workloads: [{name: 'shop', ready: 1, desired: 1}]})
    expect(byEnv['pr-5']).not.toHaveProperty('warning')
    // Its vcluster is gone: a warning on that environment, health unknown, the rest of the view intact.
    expect(byEnv['pr-6']).toMatchObject({delivery: 'vcluster', health: 'Unknown', healthy: false, warning: expect.stringMatching(/^the vcluster could not be read \(health unknown\): .*pr-6/u)})
    expect(r.clusters.map((c) => [c.cluster, c.reachable])).toEqual([['dev', true], ['edge', true], ['gone', false]])

    // Attention: the degraded deployment, the expired preview, the expired grant, the cluster that is down, in that order.
    expect(r.attention.map((a) => [a.kind, a.env ?? a.cluster])).toEqual([
      ['deployment', 'pr-3'],
      ['expired-environment', 'pr-2'],
      ['expired-grant', 'staging'],
      ['cluster-unreachable', 'gone'],
    ])
    const d = ` --dir ${repo}`
    expect(r.attention.map((a) => a.command)).toEqual([`idp env status pr-3${d}`, `idp env gc${d}`, `idp access revoke --expired --env staging${d}`, `idp doctor${d}`])
    expect(r.attention[0]!.message).toMatch(/^shop in pr-3 on dev is Degraded: Deployment shop-pr-3\/shop 0\/1 ready/u)
    expect(r.attention[3]!.message).toMatch(/^cluster gone \(context gone-ctx\) is not reachable: .*ECONNREFUSED/u)
    // An unreachable cluster is a warning, never a failure.
    expect(out.json.warnings).toEqual([expect.stringMatching(/^Skipped cluster "gone": /u), expect.stringMatching(/^shop pr-6 on dev: the vcluster could not be read/u)])
    // The temporary kubeconfigs of the vclusters are gone (this machine did not run env up: `vcluster connect --print`).
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('idp-vcluster-'))).toEqual(tmpBefore)

    expect(r.grants.map((g) => [g.env, g.subject, g.role, g.expired])).toEqual([
      ['pr-1', 'alice@example.com', 'viewer', false],
      ['staging', 'bob@example.com', 'debugger', true],
    ])
    // Helm's release records stay inside idp: no values, no manifest.
    expect(out.stdout).not.toMatch(/manifest|"config"|replicas/u)

    // One list call per kind per reachable cluster, never one per environment.
    const seen = kube.requests().slice(before).filter((q) => q.method === 'GET')
    const per = (re: RegExp) => seen.filter((q) => re.test(q.path)).map((q) => q.path.split('/')[2])
    expect(per(/\/api\/v1\/namespaces$/u).sort()).toEqual(['edge', 'host'])
    expect(per(/\/rolebindings$/u).sort()).toEqual(['edge', 'host'])
    expect(per(/\/api\/v1\/secrets$/u).sort()).toEqual(['edge', 'host'])
    // helm's release Secrets of this service's release only, current records only.
    for (const q of seen.filter((x) => /\/secrets$/u.test(x.path))) expect(new URLSearchParams(q.query).get('labelSelector')).toBe('owner=helm,name=shop,status in (deployed,failed,pending-install,pending-upgrade,pending-rollback,uninstalling)')
    expect(per(/\/apis\/apps\/v1\/deployments$/u).sort()).toEqual(['edge', 'host'])
    expect(per(/\/applications$/u).sort()).toEqual(['host'])
    expect(per(/\/api\/v1\/pods$/u)).toEqual(['host'])
    // Per environment only for the vcluster previews: `vcluster connect` on the host (its StatefulSet
    // and kubeconfig Secret), then inside pr-5's vcluster one list of release Secrets and one of Deployments.
    const perNamespace = seen.filter((q) => /\/namespaces\/[^/]+\//u.test(q.path)).map((q) => q.path.replace(/^\/clusters\/vcluster-[^/]+/u, '/clusters/<vcluster>'))
    expect(perNamespace.filter((p) => !/\/namespaces\/shop-pr-[56]\//u.test(p) && !p.startsWith('/clusters/<vcluster>/')).sort()).toEqual([])
    expect(perNamespace.filter((p) => p.startsWith('/clusters/<vcluster>/')).sort()).toEqual(['/clusters/<vcluster>/api/v1/namespaces/default/secrets', '/clusters/<vcluster>/apis/apps/v1/namespaces/default/deployments'])
  })

  it('with ARGOCD_SERVER: the Applications through Argo CD\'s API server with one argocd app list, as deploy reaches it; a server that fails is a warning', async () => {
    const canary = 'argocd-token-canary-5b1e0c'
    const stderr = new TextSink()
    const deps = createDeps({env: {...env, CI: undefined, ARGOCD_SERVER: 'argocd.example.com', ARGOCD_AUTH_TOKEN: canary}, out: new Output({json: false, verbose: false, stdout: new TextSink(), stderr}), signal: new AbortController().signal, bin: 'idp', interactive: false})
    // The Argo CD server's answer: the Applications it holds (those of the cluster here, with a
    // revision of its own so the test sees where the view came from). Every other tool is real.
    const served = kube.store().list('argoproj.io/v1alpha1', 'Application', 'argocd').map((a) => ({...a, status: {...(a.status as object), sync: {...(a.status as {sync: object}).sync, revision: 'served-by-argocd-server'}}}))
    const argocdCalls: Array<{argv: readonly string[]; env?: NodeJS.ProcessEnv}> = []
    let answer: 'list' | 'double' = 'list'
    const runner: ToolRunner = {
      resolve: (tool) => deps.runner.resolve(tool),
      require: (tool) => deps.runner.require(tool),
      removedEnv: (env) => deps.runner.removedEnv(env),
      run: async (tool, argv, options) => {
        if (tool !== 'argocd') return deps.runner.run(tool, argv, options)
        argocdCalls.push({argv, ...(options?.env ? {env: options.env} : {})})
        // The double speaks only --core: asked for a server, it fails as an unreachable server would.
        if (answer === 'double') return deps.runner.run(tool, argv, options)
        return {tool, argv: [...argv], exitCode: 0, stdout: JSON.stringify(served), stderr: '', durationMs: 1}
      },
    }
    const before = kube.requests().length
    const result = await status({dir: repo, allServices: false, watch: false, json: true}, {...deps, runner})
    expect(argocdCalls.map((c) => c.argv)).toEqual([['app', 'list', '--output', 'json', '--selector', 'app.kubernetes.io/managed-by=idp,idp.dev/service=shop', '--app-namespace', 'argocd', '--server', 'argocd.example.com', '--grpc-web']])
    const staging = result.environments.find((e) => e.env === 'staging')!
    expect(staging).toMatchObject({cluster: 'dev', delivery: 'argocd', health: 'Healthy', sync: 'Synced', revision: 'served-by-argocd-server', imageTag: 'v7'})
    expect(result.argocdServer).toEqual({server: 'argocd.example.com', ok: true})
    // Not read as resources from the clusters.
    expect(kube.requests().slice(before).filter((q) => /applications/u.test(q.path))).toEqual([])
    expect(JSON.stringify(result) + stderr.text).not.toContain(canary)

    answer = 'double'
    const failed = await status({dir: repo, allServices: false, watch: false, json: true}, {...deps, runner})
    expect(failed.argocdServer).toMatchObject({server: 'argocd.example.com', ok: false, error: expect.any(String)})
    expect(failed.environments.find((e) => e.env === 'staging')).toMatchObject({delivery: 'none', health: 'Unknown', healthMessage: expect.stringMatching(/^Argo CD not read through argocd\.example\.com: /u)})
    expect(failed.environments.find((e) => e.env === 'pr-1')).toMatchObject({health: 'Healthy'})
    expect(stderr.text).toMatch(/Warning: Argo CD Applications not read through argocd\.example\.com: /u)
    for (const call of argocdCalls) expect(call.argv.join(' ')).not.toContain(canary)
    expect(JSON.stringify(failed) + stderr.text).not.toContain(canary)
  })

  it('the printed commands run as printed: the expired grant goes, the rest stays', async () => {
    const first = await idp(['status', '--json'])
    const revoke = first.json.result.attention.find((a) => a.kind === 'expired-grant')!
    await promisify(exec)(revoke.command, {env: {...env, PATH: `${path.join(root, 'bin')}${path.delimiter}${env.PATH}`}, cwd: os.tmpdir()})
    const after = await idp(['status', '--json'])
    expect(after.json.result.grants.map((g) => g.subject)).toEqual(['alice@example.com'])
    expect(after.json.result.attention.map((a) => a.kind)).toEqual(['deployment', 'expired-environment', 'cluster-unreachable'])
    // Put it back for the other tests.
    grant({env: 'staging', namespace: 'shop-staging', subject: 'bob@example.com', role: 'debugger', expiresInMs: -3_600_000})
  })

  it('for people: the service, the attention list with commands, the environments table and the grants', async () => {
    const out = await idp(['status'])
    expect(out.code).toBe(0)
    const text = out.stdout
    expect(text.split('\n')[0]).toBe('shop  owner team-a · production · system webshop')
    expect(text).toContain('  Dashboard: https://grafana.example.com/d/shop')
    expect(text).toContain('Needs attention (4):')
    expect(text.indexOf('is Degraded')).toBeLessThan(text.indexOf('awaiting env gc'))
    expect(text).toContain(`      → idp env gc --dir ${repo}`)
    expect(text).toMatch(/^✓ staging\s+dev\s+Healthy\/Synced\s+main\s+v7\s+-\s+/mu)
    expect(text).toMatch(/^✗ pr-3\s+dev\s+Degraded \(?0\/1/mu)
    expect(text).toMatch(/^✓ pr-1\s+dev\s+Healthy 1\/1\s+r1 abc1234\s+pr1-sha\s+0\.1\.0\s+alice@example\.com\s+\S+\s+in (2d23h|3d)\s+https:\/\/pr-1\.shop\.example\.com$/mu)
    expect(text).toMatch(/^staging\s+bob@example\.com\s+debugger\s+expired 1h ago\s+lead@example\.com$/mu)
    expect(text).toMatch(/^✓ pr-5\s+dev\s+Healthy 1\/1\s+r1\s+pr5-sha\s+0\.1\.0\s+gina@example\.com\s/mu)
    expect(text).toMatch(/^~ pr-6\s+dev\s+Unknown\s+-\s+/mu)
    expect(text).toMatch(/^\(pr-6 on dev: the vcluster could not be read \(health unknown\): /mu)
    expect(out.stderr).toMatch(/Warning: Skipped cluster "gone"/u)
  })

  it('no environment shown while a cluster was not read: says so, never a bare "No environments."', async () => {
    const out = await idp(['status', '--owner', 'nobody@example.com'])
    expect(out.code).toBe(0)
    expect(out.stdout).not.toMatch(/^No environments\.$/mu)
    expect(out.stdout).toMatch(/^No environments on dev, edge; cluster gone not reachable \(not read\)\.$/mu)
  })

  it('--all-services --owner team-a: the team view across services, by the team label', async () => {
    const out = await idp(['status', '--all-services', '--owner', 'team-a', '--json'])
    expect(out.code).toBe(0)
    const r = out.json.result
    expect(r.service).toBeNull()
    expect(r.scope).toEqual({allServices: true, owner: 'team-a'})
    // cart is team-a's (its label); billing is team-b's; shop's previews were seeded without a team label but shop is this repository's team-a service.
    const names = r.environments.map((e) => `${e.service}/${e.env}`)
    expect(names).toContain('cart/pr-7')
    expect(names).not.toContain('billing/pr-9')
    expect(names).toEqual(expect.arrayContaining(['shop/staging', 'shop/pr-1', 'shop/pr-3']))
    // The expired grant of cart is cart's to revoke, from cart's repository: no --dir of this one
    // (it would read shop's .idp.yml and act on shop's pr-7).
    const cartGrant = r.attention.find((a) => a.kind === 'expired-grant' && a.service === 'cart')!
    expect(cartGrant).toMatchObject({command: 'idp access revoke --expired --env pr-7', where: 'in the repository of service cart'})
    expect(r.attention.find((a) => a.kind === 'expired-environment')!.command).toBe(`idp env gc --all-services --dir ${repo}`)

    const b = await idp(['status', '--all-services', '--owner', 'team-b', '--json'])
    expect(b.json.result.environments.map((e) => `${e.service}/${e.env}`)).toEqual(['billing/pr-9'])
  })

  it('bad flags are usage errors before anything is read', async () => {
    const before = kube.requests().length
    const cases: Array<[string[], RegExp]> = [
      [['--watch', '--json'], /^--watch and --json do not go together/u],
      [['--interval', '5s'], /^--interval needs --watch/u],
      [['--watch', '--interval', '0s'], /^Invalid --interval "0s": must be longer than zero\./u],
      [['--watch', '--interval', '10ms'], /^Invalid --interval "10ms": not a duration\./u],
      [['--owner', ' '], /^--owner needs a team or a person/u],
    ]
    for (const [args, message] of cases) {
      const out = await idp(['status', ...args])
      expect(out.code).toBe(2)
      // Under --json the error is the envelope; otherwise it is on stderr.
      expect(args.includes('--json') ? out.json.error!.message : out.stderr.replace(/^Error: /u, '')).toMatch(message)
    }
    expect(kube.requests().length).toBe(before)
  })

  it('--watch without a terminal prints every item once, then only what changed, until Ctrl-C (exit 130)', async () => {
    const child = spawn(process.execPath, [runJs, 'status', '--watch', '--interval', '1s', '--dir', repo], {cwd: repoRoot, env: {...env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    const until = async (test: () => boolean, what: string) => {
      for (let i = 0; i < 150 && !test(); i++) await new Promise((r) => setTimeout(r, 100))
      if (!test()) throw new Error(`timed out waiting for ${what}; stdout so far:\n${stdout}`)
    }
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    try {
      await until(() => stdout.includes('cluster gone: '), 'the first round')
      const firstRound = stdout
      // Two quiet rounds print nothing.
      await new Promise((r) => setTimeout(r, 2300))
      expect(stdout).toBe(firstRound)
      // pr-3 recovers: its pod stops crash-looping.
      kube.faults.reset()
      await helm(['upgrade', 'shop', path.join(repo, 'chart'), '--namespace', 'shop-pr-3', '--set', 'image.tag=pr3-fixed'])
      await until(() => stdout.length > firstRound.length && /pr-3 on dev: Healthy/u.test(stdout.slice(firstRound.length)), 'the change')
      await new Promise((r) => setTimeout(r, 1500))
      child.kill('SIGINT')
      expect(await closed).toBe(130)
      const lines = stdout.trimEnd().split('\n')
      const first = firstRound.trimEnd().split('\n')
      for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (env|grant|cluster) .+: .+$/u)
      expect(first.map((l) => l.slice(21).split(':')[0])).toEqual(expect.arrayContaining(['env shop/pr-1 on dev', 'env shop/pr-3 on dev', 'env shop/staging on dev', 'cluster gone', 'grant viewer alice@example.com in pr-1 on dev']))
      expect(first.find((l) => l.includes('env shop/pr-3 on dev'))).toMatch(/: Degraded, release deployed, revision 1, image pr3-sha, chart 0\.1\.0, ready 0\/1$/u)
      // After the first round: only pr-3, the one item that changed (its rollout may show as a step first).
      const later = lines.slice(first.length)
      expect(later.length).toBeGreaterThan(0)
      for (const line of later) expect(line).toContain(' env shop/pr-3 on dev: ')
      expect(later.at(-1)).toMatch(/env shop\/pr-3 on dev: Healthy, release deployed, revision 2, image pr3-fixed, chart 0\.1\.0, ready 1\/1$/u)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 60_000)

  it('each vcluster is read under its own time limit: one that never answers is a warning on it alone; without the vcluster CLI (and no kubeconfig kept here) too', async () => {
    // pr-8: env up ran here and kept its vcluster's kubeconfig, whose server accepts connections and never answers.
    const hole = net.createServer(() => {})
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve))
    const {port} = hole.address() as net.AddressInfo
    const now = new Date()
    seedEnvironment(kube, {service: 'shop', env: 'pr-8', driver: 'vcluster', now})
    const deps = createDeps({env: {...env, CI: undefined}, out: new Output({json: false, verbose: false, stdout: new TextSink(), stderr: new TextSink()}), signal: new AbortController().signal, bin: 'idp', interactive: false})
    const kept = envKubeconfigPath(deps.stateDir, 'shop', 'pr-8')
    fs.mkdirSync(path.dirname(kept), {recursive: true, mode: 0o700})
    fs.writeFileSync(kept, stringify({apiVersion: 'v1', kind: 'Config', clusters: [{name: 'vc', cluster: {server: `http://127.0.0.1:${port}`}}], users: [{name: 'vc', user: {}}], contexts: [{name: 'vc', context: {cluster: 'vc', user: 'vc'}}], 'current-context': 'vc'}), {mode: 0o600})
    const read = (runner: ToolRunner) => readCluster({alias: 'dev', context: 'standin-host'}, {stateDir: deps.stateDir, processEnv: deps.env, service: 'shop', now, argocd: false, timeoutMs: 2000, vclusters: {runner, reads: slots(32), connects: slots(8)}, signal: deps.signal})
    try {
      const started = Date.now()
      const reading = await read(deps.runner)
      expect(reading.ok).toBe(true)
      expect(reading.vclusters.get('shop-pr-8')).toMatchObject({ok: false, error: 'no answer within 2 s'})
      expect(reading.vclusters.get('shop-pr-5')).toMatchObject({ok: true, releases: [expect.objectContaining({name: 'shop', status: 'deployed'})]})
      expect(reading.vclusters.get('shop-pr-6')).toMatchObject({ok: false, error: expect.stringMatching(/pr-6/u)})
      // The host's own lists were not held up past the limit by the vcluster that hangs.
      expect(Date.now() - started).toBeLessThan(10_000)

      const without = await read(new RecordingRunner({versions: {vcluster: null}}))
      expect(without.vclusters.get('shop-pr-5')).toMatchObject({ok: false, error: expect.stringMatching(/^vcluster is not installed/u)})
      // pr-8 needs no CLI (its kubeconfig is kept here): still its own time limit.
      expect(without.vclusters.get('shop-pr-8')).toMatchObject({ok: false, error: 'no answer within 2 s'})
    } finally {
      hole.close()
      fs.rmSync(kept, {force: true})
      kube.store().delete('v1', 'Namespace', 'shop-pr-8')
    }
  })

  it('--watch on a terminal redraws the whole screen in place every interval, in-process with the service\'s Deps, until Ctrl-C', async () => {
    const stdout = Object.assign(new TextSink(), {isTTY: true})
    const stderr = new TextSink()
    const controller = new AbortController()
    const created = createDeps({env: {...env, CI: undefined}, out: new Output({json: false, verbose: false, stdout, stderr}), signal: controller.signal, bin: 'idp', interactive: false})
    // Every `vcluster connect` the watch runs, by environment.
    const connects: string[] = []
    const runner: ToolRunner = {
      resolve: (tool) => created.runner.resolve(tool),
      require: (tool) => created.runner.require(tool),
      removedEnv: (e) => created.runner.removedEnv(e),
      run: (tool, argv, options) => {
        if (tool === 'vcluster' && argv[0] === 'connect') connects.push(argv.find((a) => /pr-\d/u.test(a)) ?? argv.join(' '))
        return created.runner.run(tool, argv, options)
      },
    }
    const deps = {...created, runner}
    const tmpBefore = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('idp-vcluster-'))
    const watching = status({dir: repo, allServices: false, watch: true, interval: '1s', json: false}, deps)
    watching.catch(() => {})
    const frames = () => stdout.text.split('\x1b[H\x1b[2J').slice(1)
    for (let i = 0; i < 150 && frames().length < 3; i++) await new Promise((r) => setTimeout(r, 100))
    // pr-5's vcluster, read well, stays connected across rounds: one `vcluster connect` for the whole watch;
    // pr-6's (gone) is tried again each round. Its kubeconfig lives in a temporary directory until the end.
    const rounds = frames().length
    expect(rounds).toBeGreaterThanOrEqual(3)
    expect(connects.filter((c) => c.includes('pr-5'))).toHaveLength(1)
    expect(connects.filter((c) => c.includes('pr-6')).length).toBeGreaterThanOrEqual(rounds)
    controller.abort(new CancelledError('Cancelled by SIGINT.'))
    await expect(watching).rejects.toBeInstanceOf(CancelledError)
    // Ctrl-C closed it: no temporary kubeconfig is left.
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('idp-vcluster-'))).toEqual(tmpBefore)
    expect(stdout.text.startsWith('\x1b[H\x1b[2J')).toBe(true)
    expect(frames().length).toBeGreaterThanOrEqual(2)
    for (const frame of frames()) {
      expect(frame.split('\n')[0]).toBe('shop  owner team-a · production · system webshop')
      // pr-3 was healed by the test before: the expired preview, the expired grant and the cluster that is down remain.
      expect(frame).toContain('Needs attention (3):')
      expect(frame).toContain(`      → idp doctor --dir ${repo}`)
      expect(frame).toMatch(/Every 1s, last read \d\d:\d\d:\d\dZ\. Ctrl-C to stop\.\n$/u)
    }
    // Warnings are in the view (the attention list), not repeated on stderr every round.
    expect(stderr.text).toBe('')
  }, 60_000)
})

// idp access against the Kubernetes stand-in over TLS, with real kubectl as the judge: a grant is
// proven by `kubectl auth can-i` run AS the granted user (a token kubeconfig), not by reading back
// what idp wrote.
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, runProcess} from '../support/cli.js'
import {seedEnvironment} from '../support/env-seed.js'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'
import {kubectlBinary} from '../support/tool-env.js'

let kube: KubeStandIn
let work: string
let home: string
let repo: string
let userKubeconfig: string
let aliceKubeconfig: string
let kubeconfigHash: string

const RBAC = 'rbac.authorization.k8s.io/v1'
const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

function idp(args: string[]) {
  return runCli([...args, '--dir', repo], {env: {HOME: home, KUBECONFIG: undefined, XDG_STATE_HOME: path.join(work, 'state'), GITHUB_ACTOR: 'tester', IDP_ENV: undefined}})
}

async function idpJson(args: string[]) {
  const run = await idp([...args, '--json'])
  return {...run, json: JSON.parse(run.stdout) as any}
}

/** Real kubectl, authenticated as alice with her bearer token: RBAC decides. */
async function aliceCan(verb: string, resource: string, namespace: string): Promise<string> {
  const run = await runProcess(kubectlBinary(), ['--kubeconfig', aliceKubeconfig, 'auth', 'can-i', verb, resource, '-n', namespace], {env: {HOME: home, KUBECONFIG: undefined}})
  expect(run.stderr).not.toMatch(/error|unable/iu)
  return run.stdout.trim()
}

const bindings = (namespace: string) => kube.store().list(RBAC, 'RoleBinding', namespace)

beforeAll(async () => {
  kube = await startKubeStandIn({tls: true, argocd: false})
  work = mkdtempSync(path.join(os.tmpdir(), 'idp-access-'))
  home = path.join(work, 'home')
  mkdirSync(home, {recursive: true})
  userKubeconfig = kube.kubeconfig('host', {path: path.join(home, '.kube', 'config')})
  kubeconfigHash = hash(userKubeconfig)
  aliceKubeconfig = kube.kubeconfig('host', {user: 'alice@example.com'})
  repo = path.join(work, 'repo')
  mkdirSync(repo)
  writeFileSync(
    path.join(repo, '.idp.yml'),
    `version: 1
service: {name: shop, owner: team-a}
clusters:
  dev: {context: standin-host}
environments:
  "pr-*": {cluster: dev, driver: namespace}
  staging: {cluster: dev, driver: namespace}
  production: {cluster: dev, protected: true}
access:
  roles:
    viewer: view
    admin: admin
    debugger:
      rules:
        - resources: [pods, pods/log]
          verbs: [get, list]
  policy: {maxTtl: 8h, requireReason: [admin], forbid: {production: [admin]}}
`,
  )
  for (const name of ['shop-staging', 'shop-production']) kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name}})
  seedEnvironment(kube, {service: 'shop', env: 'pr-1'})
}, 60_000)

afterAll(async () => {
  await kube?.stop()
  if (work) rmSync(work, {recursive: true, force: true})
})

describe('idp access', () => {
  it('grant view lets alice list pods in that namespace only; granting again renews; revoke takes it away', async () => {
    expect(await aliceCan('list', 'pods', 'shop-staging')).toBe('no')
    const granted = await idpJson(['access', 'grant', 'alice@example.com', '--role', 'viewer', '--env', 'staging', '--ttl', '1h'])
    expect(granted.code, granted.stderr).toBe(0)
    expect(granted.json.result).toMatchObject({env: 'staging', namespace: 'shop-staging', cluster: 'dev', role: 'viewer', roleRef: {kind: 'ClusterRole', name: 'view'}, grantedBy: 'tester', dryRun: false})
    expect(await Promise.all([aliceCan('list', 'pods', 'shop-staging'), aliceCan('delete', 'pods', 'shop-staging'), aliceCan('list', 'pods', 'shop-production')])).toEqual(['yes', 'no', 'no'])

    const [binding] = bindings('shop-staging')
    expect(binding?.metadata?.labels).toEqual({'app.kubernetes.io/managed-by': 'idp', 'idp.dev/service': 'shop', 'idp.dev/env': 'staging', 'idp.dev/access-role': 'viewer'})
    const firstExpiry = Date.parse(binding!.metadata!.annotations!['idp.dev/expires-at']!)
    expect(firstExpiry - Date.now()).toBeLessThanOrEqual(3_600_000)

    const check = await idpJson(['access', 'check', 'alice@example.com', '--env', 'staging', '--verb', 'list', '--resource', 'pods'])
    expect(check.json.result).toMatchObject({allowed: true, grant: {binding: granted.json.result.binding}})

    const again = await idp(['access', 'grant', 'alice@example.com', '--role', 'viewer', '--env', 'staging', '--ttl', '4h'])
    expect(again.code, again.stderr).toBe(0)
    expect(bindings('shop-staging')).toHaveLength(1)
    expect(Date.parse(bindings('shop-staging')[0]!.metadata!.annotations!['idp.dev/expires-at']!) - firstExpiry).toBeGreaterThan(2 * 3_600_000)

    const revoked = await idpJson(['access', 'revoke', 'alice@example.com', '--role', 'viewer', '--env', 'staging'])
    expect(revoked.json.result.revoked).toMatchObject([{binding: granted.json.result.binding, deleted: true}])
    expect(await aliceCan('list', 'pods', 'shop-staging')).toBe('no')
    const denied = await idp(['access', 'check', 'alice@example.com', '--env', 'staging', '--verb', 'list', '--resource', 'pods', '--exit-code'])
    expect(denied.code).toBe(1)
    expect(denied.stdout).toContain('no: alice@example.com may not list pods in staging')
    const gone = await idpJson(['access', 'revoke', 'alice@example.com', '--role', 'viewer', '--env', 'staging'])
    expect(gone.code).toBe(0)
    expect(gone.json.result.revoked).toMatchObject([{deleted: false, note: 'already gone'}])
  })

  it('refuses a forbidden role before touching the cluster (exit 2, the rule named, nothing created)', async () => {
    const before = kube.requests().length
    const run = await idpJson(['access', 'grant', 'alice@example.com', '--role', 'admin', '--env', 'production', '--reason', 'INC-1'])
    expect(run.code).toBe(2)
    expect(run.json.error).toMatchObject({code: 'USAGE', details: {rule: 'policy.forbid'}})
    expect(kube.requests().length).toBe(before)
    expect(bindings('shop-production')).toEqual([])
    const noReason = await idpJson(['access', 'grant', 'alice@example.com', '--role', 'admin', '--env', 'staging'])
    expect(noReason.json.error.details.rule).toBe('policy.requireReason')
    const tooLong = await idpJson(['access', 'grant', 'alice@example.com', '--role', 'viewer', '--env', 'staging', '--ttl', '9h'])
    expect(tooLong.json.error.details.rule).toBe('policy.maxTtl')
    expect(kube.requests().length).toBe(before)
  })

  it('a rules role creates a Role that grants exactly those rules; --dry-run changes nothing', async () => {
    const dry = await idp(['access', 'grant', 'alice@example.com', '--role', 'debugger', '--env', 'pr-1', '--dry-run'])
    expect(dry.stdout).toContain('server-side apply Role shop-pr-1/idp-role-debugger (1 rule)')
    expect(kube.store().list(RBAC, 'Role', 'shop-pr-1')).toEqual([])

    const run = await idp(['access', 'grant', 'alice@example.com', '--role', 'debugger', '--env', 'pr-1', '--reason', 'flaky test'])
    expect(run.code, run.stderr).toBe(0)
    const [role] = kube.store().list(RBAC, 'Role', 'shop-pr-1')
    expect(role?.metadata?.name).toBe('idp-role-debugger')
    expect(role?.rules).toEqual([{apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list']}])
    expect(await Promise.all([aliceCan('get', 'pods/log', 'shop-pr-1'), aliceCan('delete', 'pods', 'shop-pr-1'), aliceCan('list', 'deployments.apps', 'shop-pr-1')])).toEqual(['yes', 'no', 'no'])
    // idp's own answer agrees with the cluster's.
    const check = await idpJson(['access', 'check', 'alice@example.com', '--env', 'pr-1', '--verb', 'get', '--resource', 'pods/log'])
    expect(check.json.result).toMatchObject({allowed: true, grant: {role: 'debugger'}})
    const noExec = await idpJson(['access', 'check', 'alice@example.com', '--env', 'pr-1', '--verb', 'delete', '--resource', 'pods'])
    expect(noExec.json.result).toMatchObject({allowed: false})
    expect(noExec.code).toBe(0)
  })

  it('revoking the last grant of a rules role removes its Role too', async () => {
    kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'shop-pr-2', labels: {'app.kubernetes.io/managed-by': 'idp', 'idp.dev/service': 'shop', 'idp.dev/env': 'pr-2'}}})
    for (const user of ['dave', 'erin']) expect((await idp(['access', 'grant', user, '--role', 'debugger', '--env', 'pr-2'])).code).toBe(0)
    const first = await idpJson(['access', 'revoke', 'dave', '--role', 'debugger', '--env', 'pr-2'])
    expect(first.json.result.revoked).toMatchObject([{deleted: true}])
    expect(kube.store().list(RBAC, 'Role', 'shop-pr-2').map((r) => r.metadata!.name)).toEqual(['idp-role-debugger'])
    const last = await idpJson(['access', 'revoke', 'erin', '--all', '--env', 'pr-2'])
    expect(last.json.result.revoked).toMatchObject([{deleted: true, roleRemoved: 'idp-role-debugger'}])
    expect(kube.store().list(RBAC, 'Role', 'shop-pr-2')).toEqual([])
    expect(bindings('shop-pr-2')).toEqual([])
  })

  it('list shows grants in configured and preview environments; revoke --expired removes only expired idp grants', async () => {
    const grant = await idp(['access', 'grant', 'team-a', '--group', '--role', 'viewer', '--env', 'staging'])
    expect(grant.code, grant.stderr).toBe(0)
    const past = new Date(Date.now() - 3_600_000).toISOString()
    const labels = {'app.kubernetes.io/managed-by': 'idp', 'idp.dev/service': 'shop', 'idp.dev/env': 'staging', 'idp.dev/access-role': 'viewer'}
    const binding = (name: string, meta: {labels?: Record<string, string>; annotations?: Record<string, string>}) => ({
      apiVersion: RBAC, kind: 'RoleBinding', metadata: {name, namespace: 'shop-staging', ...meta},
      roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view'},
      subjects: [{apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'bob'}],
    })
    kube.store().create(binding('idp-viewer-bob', {labels, annotations: {'idp.dev/expires-at': past, 'idp.dev/granted-by': 'carol'}}))
    // Not idp's: same look, no managed-by label; and another service's grant.
    kube.store().create(binding('hand-made', {labels: {'idp.dev/access-role': 'viewer'}, annotations: {'idp.dev/expires-at': past}}))
    kube.store().create(binding('idp-viewer-cart', {labels: {...labels, 'idp.dev/service': 'cart'}, annotations: {'idp.dev/expires-at': past}}))

    const list = await idpJson(['access', 'list'])
    expect(list.code, list.stderr).toBe(0)
    expect(list.json.result.environments).toEqual(expect.arrayContaining([{env: 'staging', namespace: 'shop-staging', cluster: 'dev'}, {env: 'pr-1', namespace: 'shop-pr-1', cluster: 'dev'}]))
    const grants = list.json.result.grants as any[]
    expect(grants.map((g) => `${g.env}/${g.kind}/${g.subject}/${g.role}/${g.expired}`).sort()).toEqual(['pr-1/User/alice@example.com/debugger/false', 'staging/Group/team-a/viewer/false', 'staging/User/bob/viewer/true'])
    expect(grants.find((g) => g.subject === 'bob')).toEqual({env: 'staging', namespace: 'shop-staging', cluster: 'dev', binding: 'idp-viewer-bob', subject: 'bob', kind: 'User', role: 'viewer', roleRef: {kind: 'ClusterRole', name: 'view'}, expiresAt: past, expired: true, grantedBy: 'carol'})
    expect(grants.find((g) => g.role === 'debugger')).toMatchObject({grantedBy: 'tester', reason: 'flaky test'})

    const dry = await idpJson(['access', 'revoke', '--expired', '--dry-run'])
    expect(dry.json.result.revoked.map((r: any) => r.binding)).toEqual(['idp-viewer-bob'])
    const run = await idpJson(['access', 'revoke', '--expired'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.json.result.revoked).toMatchObject([{binding: 'idp-viewer-bob', deleted: true}])
    const left = bindings('shop-staging').map((b) => b.metadata!.name!)
    expect(left).toHaveLength(3)
    expect(left).toEqual(expect.arrayContaining(['hand-made', 'idp-viewer-cart', expect.stringMatching(/^idp-viewer-group-team-a-[0-9a-f]{8}$/u)]))

    const human = await idp(['access', 'list', '--env', 'staging'])
    expect(human.stdout).toMatch(/^ENV\s+SUBJECT\s+ROLE\s+EXPIRES\s+GRANTED BY\s+REASON\nstaging\s+group:team-a\s+viewer\s+\S+Z\s+tester\n$/u)
    const all = await idpJson(['access', 'revoke', 'team-a', '--group', '--all', '--env', 'staging'])
    expect(all.json.result.revoked).toMatchObject([{subject: 'team-a', role: 'viewer', deleted: true}])
    expect(bindings('shop-staging').map((b) => b.metadata!.name).sort()).toEqual(['hand-made', 'idp-viewer-cart'])
  })

  it('never changed ~/.kube/config', () => {
    expect(hash(userKubeconfig)).toBe(kubeconfigHash)
  })
})

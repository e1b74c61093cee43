// Kubernetes API calls share keep-alive connections (src/lib/kube/agents.ts): client-node 1.x
// alone opens a new TCP connection and TLS handshake for every call.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {parse, stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {RemoteError} from '../../src/lib/cli/errors.js'

import {closePooledAgents, pooledAgent} from '../../src/lib/kube/agents.js'
import {createKubeClients, kubeCall} from '../../src/lib/kube/client.js'
import {clearExecCredentials, execCredential} from '../../src/lib/kube/exec-credential.js'
import {checkReachable} from '../../src/lib/kube/reach.js'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'

let kube: KubeStandIn
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-kube-conn-'))

beforeAll(async () => {
  kube = await startKubeStandIn({tls: true})
})

afterAll(async () => {
  closePooledAgents()
  await kube?.stop()
  fs.rmSync(work, {recursive: true, force: true})
})

/** The stand-in's records of the requests made by `work`. */
async function recorded(work: () => Promise<void>) {
  const before = kube.requests().length
  await work()
  return kube.requests().slice(before)
}

describe('keep-alive connections to the API server', () => {
  it('the reachability check and the API calls of a command go over one TLS connection', async () => {
    closePooledAgents()
    const file = kube.kubeconfig()
    const requests = await recorded(async () => {
      expect((await checkReachable(file)).ok).toBe(true)
      const {core, coordination} = await createKubeClients(file)
      await core.createNamespace({body: {metadata: {name: 'pooled'}}})
      await core.readNamespace({name: 'pooled'})
      await coordination.createNamespacedLease({namespace: 'pooled', body: {metadata: {name: 'lock'}, spec: {holderIdentity: 'me'}}})
      await coordination.deleteNamespacedLease({namespace: 'pooled', name: 'lock'})
      await core.deleteNamespace({name: 'pooled'})
    })
    expect(requests.map((r) => `${r.method} ${r.path.replace(/^\/clusters\/host/, '')}`)).toEqual([
      'GET /version',
      'POST /api/v1/namespaces',
      'GET /api/v1/namespaces/pooled',
      'POST /apis/coordination.k8s.io/v1/namespaces/pooled/leases',
      'DELETE /apis/coordination.k8s.io/v1/namespaces/pooled/leases/lock',
      'DELETE /api/v1/namespaces/pooled',
    ])
    expect(new Set(requests.map((r) => r.connection)).size).toBe(1)
  })

  it('calls made at the same time use several connections, which later calls reuse', async () => {
    closePooledAgents()
    const {core} = await createKubeClients(kube.kubeconfig())
    const parallel = await recorded(async () => {
      await Promise.all([core.listNamespace(), core.listNamespace(), core.listNamespace()])
    })
    const used = new Set(parallel.map((r) => r.connection))
    expect(used.size).toBeGreaterThan(1)
    const later = await recorded(async () => {
      await core.listNamespace()
      await core.listNamespace()
    })
    for (const r of later) expect(used.has(r.connection)).toBe(true)
  })

  it('shares a pool only between the same TLS settings, whatever form they come in', () => {
    const ca = kube.caCertificate!
    const agent = pooledAgent('https:', {ca, rejectUnauthorized: true})
    expect(pooledAgent('https:', {ca: Buffer.from(ca), rejectUnauthorized: true})).toBe(agent)
    expect(pooledAgent('https:', {ca, rejectUnauthorized: true, servername: 'other'})).not.toBe(agent)
    expect(pooledAgent('https:', {ca, rejectUnauthorized: true, cert: 'CERT', key: 'KEY'})).not.toBe(agent)
    expect(pooledAgent('https:', {ca, rejectUnauthorized: false})).not.toBe(agent)
    expect(pooledAgent('http:')).not.toBe(agent)
    // Plain HTTP has one pool, whatever TLS settings a caller passes along.
    expect(pooledAgent('http:', {ca, rejectUnauthorized: true})).toBe(pooledAgent('http:'))
    expect((agent as import('node:https').Agent).options).toMatchObject({keepAlive: true, timeout: 15_000})
  })
})

/**
 * A credential plugin as `aws eks get-token` is one: a script that prints an ExecCredential with
 * the token (and an expiry, if given), and counts its runs and what it was given in a log.
 */
function pluginKubeconfig(name: string, options: {token: string; expires?: string; exit?: number; stderr?: string}) {
  const dir = path.join(work, name)
  fs.mkdirSync(dir, {recursive: true})
  const log = path.join(dir, 'runs.log')
  const credential = JSON.stringify({apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: {token: options.token, ...(options.expires ? {expirationTimestamp: options.expires} : {})}})
  fs.writeFileSync(
    path.join(dir, 'get-token'),
    `#!/bin/sh\nprintf '%s|%s|%s\\n' "$1" "$PROFILE_NAME" "$KUBERNETES_EXEC_INFO" >> '${log}'\n${options.exit ? `echo '${options.stderr ?? ''}' >&2\nexit ${options.exit}\n` : `echo '${credential}'\n`}`,
    {mode: 0o755},
  )
  // The stand-in's kubeconfig for alice, with the token swapped for the plugin (a relative command,
  // resolved against the kubeconfig's directory as kubectl does).
  const file = kube.kubeconfig('host', {user: 'alice', token: options.token, path: path.join(dir, 'kubeconfig.yaml')})
  const config = parse(fs.readFileSync(file, 'utf8')) as {users: Array<{user: Record<string, unknown>}>}
  config.users[0]!.user = {exec: {apiVersion: 'client.authentication.k8s.io/v1', command: path.join(dir, 'get-token'), args: ['--cluster', 'dev'], env: [{name: 'PROFILE_NAME', value: 'team-a'}], interactiveMode: 'Never', provideClusterInfo: true}}
  fs.writeFileSync(file, stringify(config), {mode: 0o600})
  const runs = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [])
  return {file, runs, exec: config.users[0]!.user.exec as Parameters<typeof execCredential>[0]}
}

describe("a kubeconfig's exec credential plugin", () => {
  it('runs once per process for all the API calls of every client set, with its env entries and the exec info, and the calls are made as its user', async () => {
    clearExecCredentials()
    const token = 'plugin-token-canary-5521'
    const {file, runs} = pluginKubeconfig('once', {token})
    const requests = await recorded(async () => {
      // Two client sets for the same file, as two handlers' caches make them.
      const first = await createKubeClients(file)
      const second = await createKubeClients(file)
      // alice may not list namespaces (403): what matters is who the server saw.
      const call = (request: Promise<unknown>) => request.catch(() => undefined)
      await call(first.core.listNamespace())
      await Promise.all([call(first.core.listNamespace()), call(second.core.listNamespace()), call(second.rbac.listClusterRole())])
      await call(second.core.listNamespace())
    })
    expect(requests).toHaveLength(5)
    expect(new Set(requests.map((r) => r.user))).toEqual(new Set(['alice']))
    expect(runs()).toHaveLength(1)
    const [arg, profile, info] = runs()[0]!.split('|')
    expect([arg, profile]).toEqual(['--cluster', 'team-a'])
    expect(JSON.parse(info!)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {interactive: false, cluster: {server: kube.serverUrl('host'), 'certificate-authority-data': Buffer.from(kube.caCertificate!).toString('base64')}},
    })
  })

  it('runs again once the credential has expired, not before', async () => {
    clearExecCredentials()
    const {file, runs, exec} = pluginKubeconfig('expiring', {token: 'plugin-token-exp', expires: '2030-01-01T00:00:00Z'})
    const context = {env: process.env, kubeconfig: file}
    const before = Date.parse('2029-12-31T23:59:00Z')
    await execCredential(exec, context, () => before)
    expect((await execCredential(exec, context, () => before)).expiresAt).toBe(Date.parse('2030-01-01T00:00:00Z'))
    expect(runs()).toHaveLength(1)
    await execCredential(exec, context, () => Date.parse('2030-01-01T00:00:01Z'))
    expect(runs()).toHaveLength(2)
  })

  it('a failing plugin is a clear error naming it and a command that reaches the same cluster; the next call tries again', async () => {
    clearExecCredentials()
    const {file, runs} = pluginKubeconfig('failing', {token: 'plugin-token-fail', exit: 1, stderr: 'error: the SSO session has expired, run aws sso login'})
    const {core} = await createKubeClients(file)
    const error = await kubeCall('list namespaces', () => core.listNamespace()).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).message).toMatch(/credential plugin `\S+get-token --cluster dev` exited 1: error: the SSO session has expired, run aws sso login/u)
    expect((error as RemoteError).hint).toBe(`Check it by hand through the same connection: \`KUBECONFIG=${file} kubectl version\`.`)
    await kubeCall('list namespaces', () => core.listNamespace()).catch(() => undefined)
    expect(runs()).toHaveLength(2)
  })
})

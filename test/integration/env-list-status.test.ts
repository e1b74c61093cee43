// idp env status (live facts through client-node, real helm and the vcluster double) and
// idp env kubeconfig (path, --write 0600, never over the user's kubeconfig).
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {envStatePaths, envStateDir} from '../../src/lib/env/paths.js'
import {doublesBinDir} from '../support/doubles/harness.js'
import {runIdp, seedEnvironment} from '../support/env-seed.js'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'
import {toolEnv} from '../support/tool-env.js'

let kube: KubeStandIn
let work: string
let home: string
let repo: string
let userKubeconfig: string

const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
const state = () => path.join(work, 'state')

function env(extra: Record<string, string | undefined> = {}) {
  const base = toolEnv()
  return {...base, PATH: [doublesBinDir, base.PATH].join(path.delimiter), HOME: home, KUBECONFIG: undefined, XDG_STATE_HOME: state(), ...extra}
}

beforeAll(async () => {
  kube = await startKubeStandIn({argocd: false, controllerDelayMs: 1})
  work = mkdtempSync(path.join(os.tmpdir(), 'idp-env-status-'))
  home = path.join(work, 'home')
  mkdirSync(path.join(home, '.kube'), {recursive: true})
  userKubeconfig = path.join(home, '.kube', 'config')
  kube.kubeconfig('host', {path: userKubeconfig})
  repo = path.join(work, 'repo')
  mkdirSync(repo)
  writeFileSync(path.join(repo, '.idp.yml'), `version: 1\nservice: {name: shop, owner: team-a}\nclusters:\n  dev: {context: standin-host}\nenvironments:\n  "pr-*": {cluster: dev, driver: namespace}\n`)
  seedEnvironment(kube, {service: 'shop', env: 'pr-1', url: 'https://pr-1.shop.example.com'})
  seedEnvironment(kube, {service: 'shop', env: 'pr-2', driver: 'vcluster'})
  const store = kube.store()
  store.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: 'shop', namespace: 'shop-pr-1'},
    spec: {replicas: 2, selector: {matchLabels: {app: 'shop'}}, template: {metadata: {labels: {app: 'shop'}}, spec: {containers: [{name: 'shop', image: 'shop:1'}]}}},
  })
  store.create({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {name: 'shop-pr-2', namespace: 'shop-pr-2', labels: {app: 'vcluster', release: 'shop-pr-2', chart: 'vcluster-0.26.0'}},
    spec: {replicas: 1, serviceName: 'shop-pr-2', selector: {matchLabels: {app: 'vcluster'}}, template: {metadata: {labels: {app: 'vcluster'}}, spec: {containers: [{name: 'syncer', image: 'vcluster:0.26.0'}]}}},
  })
  // Let the stand-in's controllers report the Deployment available.
  await new Promise((resolve) => setTimeout(resolve, 200))
})

afterAll(async () => {
  await kube?.stop()
  if (work) rmSync(work, {recursive: true, force: true})
})

describe('idp env status', () => {
  it('shows the record with Deployments (client-node) and helm releases (real helm)', async () => {
    const before = hash(userKubeconfig)
    const {code, stdout} = await runIdp(['env', 'status', 'pr-1', '--json', '--dir', repo], env())
    expect(code).toBe(0)
    const {result, warnings} = JSON.parse(stdout) as {result: {environment: {env: string; phase: string; url: string}; live: {deployments: unknown[]; helmReleases: unknown[]; vcluster?: unknown}}; warnings: string[]}
    expect(warnings).toEqual([])
    expect(result.environment).toMatchObject({env: 'pr-1', phase: 'Active', url: 'https://pr-1.shop.example.com'})
    expect(result.live.deployments).toEqual([{name: 'shop', desired: 2, ready: 2, available: 2, updated: 2}])
    expect(result.live.helmReleases).toEqual([])
    expect(result.live).not.toHaveProperty('vcluster')
    expect(hash(userKubeconfig)).toBe(before)
  })

  it('for the vcluster driver, adds what `vcluster list` says', async () => {
    const {code, stdout} = await runIdp(['env', 'status', 'pr-2', '--json', '--dir', repo], env())
    expect(code).toBe(0)
    const {result} = JSON.parse(stdout) as {result: {live: {vcluster: {Name: string; Namespace: string}}}}
    expect(result.live.vcluster).toMatchObject({Name: 'shop-pr-2', Namespace: 'shop-pr-2'})
  })

  it('a missing tool is a warning; the rest is still shown', async () => {
    const {code, stdout} = await runIdp(['env', 'status', 'pr-2', '--json', '--dir', repo], env({PATH: '/usr/bin:/bin'}))
    expect(code).toBe(0)
    const {result, warnings} = JSON.parse(stdout) as {result: {live: {deployments: unknown[]}}; warnings: string[]}
    expect(result.live.deployments).toEqual([])
    expect(warnings).toEqual(['helm is not installed: helm releases not shown.', 'vcluster is not installed: the vcluster status is not shown.'])
  })

  it('an unknown environment is exit 2 naming the ones that exist', async () => {
    const {code, stdout} = await runIdp(['env', 'status', 'pr-9', '--json', '--dir', repo], env())
    expect(code).toBe(2)
    expect(JSON.parse(stdout)).toMatchObject({
      status: 2,
      error: {code: 'USAGE', message: 'Environment "pr-9" of service shop not found on cluster dev.', hint: `Existing environments: pr-1, pr-2. Create pr-9 with \`idp env up pr-9 --dir ${repo}\`.`},
    })
  })

  it('an environment whose env up failed and was undone: exit 2, and the hint says how that run ended', async () => {
    // The journal an undone `env up` leaves on this machine (the environment itself is gone).
    const {writeJournal} = await import('../../src/lib/plan/journal.js')
    const dir = envStateDir(path.join(state(), 'idp'), 'shop', 'pr-8')
    await writeJournal(dir, {
      version: 1,
      key: 'journal',
      status: 'failed',
      startedAt: '2026-01-02T03:04:00.000Z',
      updatedAt: '2026-01-02T03:04:05.000Z',
      plan: {version: 1, kind: 'env-up', summary: 'Bring up pr-8', steps: [{id: 'helm', title: 'helm upgrade --install shop (./chart)'}]} as never,
      steps: [{id: 'helm', status: 'failed', error: 'helm exited with code 1: Error: boom'}, {id: 'namespace', status: 'undone'}] as never,
    })
    const {code, stdout} = await runIdp(['env', 'status', 'pr-8', '--json', '--dir', repo], env())
    expect(code).toBe(2)
    const {error} = JSON.parse(stdout) as {error: {message: string; hint: string; details: {lastRun: {command: string; status: string}}}}
    expect(error.message).toBe('Environment "pr-8" of service shop not found on cluster dev.')
    expect(error.hint).toBe(
      `Its last run on this machine: env up failed at "helm upgrade --install shop (./chart)": helm exited with code 1: Error: boom (2026-01-02T03:04:05.000Z, this machine). Existing environments: pr-1, pr-2. Create pr-8 with \`idp env up pr-8 --dir ${repo}\`.`,
    )
    expect(error.details.lastRun).toMatchObject({command: 'env up', status: 'failed'})
  })
})

describe('idp env kubeconfig', () => {
  it('without `env up` on this machine: exit 4 saying to run it', async () => {
    const {code, stdout} = await runIdp(['env', 'kubeconfig', 'pr-1', '--json', '--dir', repo], env())
    expect(code).toBe(4)
    expect(JSON.parse(stdout)).toMatchObject({status: 4, error: {code: 'PREREQUISITE', hint: expect.stringContaining(`Run \`idp env up pr-1 --dir ${repo}\``)}})
  })

  it('prints only the path; --write copies with mode 0600; never over the user\'s kubeconfig without --force', async () => {
    const {kubeconfig, dir} = envStatePaths(path.join(state(), 'idp'), 'shop', 'pr-1', 'dev')
    mkdirSync(dir, {recursive: true})
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n', {mode: 0o600})
    const printed = await runIdp(['env', 'kubeconfig', 'pr-1', '--dir', repo], env())
    expect(printed.code).toBe(0)
    expect(printed.stdout).toBe(`${kubeconfig}\n`)

    const target = path.join(work, 'copy', 'pr-1.kubeconfig')
    const written = await runIdp(['env', 'kubeconfig', 'pr-1', '--write', target, '--json', '--dir', repo], env())
    expect(written.code).toBe(0)
    expect(JSON.parse(written.stdout).result).toEqual({service: 'shop', env: 'pr-1', path: kubeconfig, written: target})
    expect(readFileSync(target, 'utf8')).toBe('apiVersion: v1\nkind: Config\n')
    expect(statSync(target).mode & 0o777).toBe(0o600)

    const again = await runIdp(['env', 'kubeconfig', 'pr-1', '--write', target, '--dir', repo], env())
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/Refusing to overwrite/u)

    const before = hash(userKubeconfig)
    const over = await runIdp(['env', 'kubeconfig', 'pr-1', '--write', userKubeconfig, '--json', '--dir', repo], env())
    expect(over.code).toBe(2)
    expect(JSON.parse(over.stdout).error.message).toBe(`Refusing to write over ${userKubeconfig}: it is one of your kubeconfig files.`)
    expect(hash(userKubeconfig)).toBe(before)
  })
})

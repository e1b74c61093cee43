// idp env up/down with the vcluster driver (the vcluster double) and helm 3, and the sticky PR
// comment against the GitHub stand-in.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createGitHubClient} from '../../src/lib/github/client.js'
import {createRepository} from '../../src/lib/github/repos.js'
import {type GitHubStandIn, startGitHubStandIn} from '../support/github-stand-in/index.js'
import {type EnvWorld, startEnvWorld} from '../fixtures/env/world.js'

const TOKEN = 'ghp_envtest0123456789abcdefABCDEF0123'
let world: EnvWorld
let gh: GitHubStandIn
let userHash: string

beforeAll(async () => {
  world = await startEnvWorld({helm: 3})
  userHash = world.kubeconfigHash()
  gh = await startGitHubStandIn({tokens: {[TOKEN]: 'alice'}, orgs: [{login: 'acme', members: {alice: 'admin'}}]})
  await createRepository(await createGitHubClient({token: TOKEN, baseUrl: gh.apiUrl}), {owner: 'acme', name: 'shop', visibility: 'private'})
})

afterAll(async () => {
  expect(world.kubeconfigHash()).toBe(userHash)
  await gh?.stop()
  await world?.stop()
})

describe('vcluster driver with helm 3', () => {
  const virtual = 'vcluster-shop-vc-1-vc-1'

  it('up creates the vcluster in the labelled namespace and installs the release inside it (--atomic on helm 3)', async () => {
    const up = await world.run(['env', 'up', 'vc-1', '--sha', 'abc1234', '--image-tag', 'v9', '--json'])
    expect(up.stderr).toBe('')
    expect(up.code).toBe(0)
    const {result} = up.json
    expect(result.driver).toBe('vcluster')
    const helm = result.plan.steps.find((s: {id: string}) => s.id === 'helm')
    expect(helm.argv).toContain('--atomic')
    expect(helm.argv).not.toContain('--rollback-on-failure')
    const create = result.plan.steps.find((s: {id: string}) => s.id === 'vcluster-create')
    expect(create.argv).toEqual(['create', 'vc-1', '--namespace', 'shop-vc-1', '--connect=false', '--background-proxy=false', '--chart-version', '0.26.0', '--upgrade', '--values', `${world.project}/vcluster.yaml`])
    expect(world.kube.store().get('v1', 'Namespace', 'shop-vc-1')?.metadata?.annotations?.['idp.dev/driver']).toBe('vcluster')
    expect(world.kube.store().get('apps/v1', 'StatefulSet', 'vc-1', 'shop-vc-1')).toBeDefined()
    // The release lives in the virtual cluster, not on the host.
    expect(world.kube.clusters.list()).toContain(virtual)
    expect(world.kube.store(virtual).get('apps/v1', 'Deployment', 'shop', 'default')?.spec?.template?.spec?.containers?.[0]?.image).toBe('ghcr.io/acme/shop:v9')
    expect(world.kube.store().get('apps/v1', 'Deployment', 'shop', 'shop-vc-1')).toBeUndefined()
  })

  it('up again upgrades the vcluster and the release in place', async () => {
    const up = await world.run(['env', 'up', 'vc-1', '--sha', 'abc1234', '--image-tag', 'v10', '--json'])
    expect(up.code).toBe(0)
    expect(up.json.result.updated).toBe(true)
    expect(world.kube.store(virtual).get('apps/v1', 'Deployment', 'shop', 'default')?.spec?.template?.spec?.containers?.[0]?.image).toBe('ghcr.io/acme/shop:v10')
  })

  it('env status reads inside the vcluster: the release and its Deployment there, not the empty host namespace', async () => {
    const status = await world.run(['env', 'status', 'vc-1', '--json'])
    expect(status.code, status.stderr).toBe(0)
    const {live} = status.json.result
    expect(live.workloads).toEqual({where: 'vcluster', namespace: 'default'})
    expect(live.helmReleases).toEqual([expect.objectContaining({name: 'shop', status: 'deployed', revision: '2'})])
    expect(live.deployments).toEqual([expect.objectContaining({name: 'shop'})])
    expect(status.json.warnings).toEqual([])
  })

  it('env status from another machine (no kept kubeconfig) connects with `vcluster connect --print` and leaves no file behind', async () => {
    const kept = (fs.readdirSync(world.stateDir, {recursive: true, encoding: 'utf8'}) as string[]).filter((f) => f.endsWith('kubeconfig'))
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-other-machine-'))
    const tmpBefore = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('idp-vcluster-'))
    const status = await world.run(['env', 'status', 'vc-1', '--json'], {env: {XDG_STATE_HOME: elsewhere}})
    expect(kept.length).toBeGreaterThan(0)
    expect(status.code, status.stderr).toBe(0)
    expect(status.json.result.live.workloads).toEqual({where: 'vcluster', namespace: 'default'})
    expect(status.json.result.live.helmReleases).toEqual([expect.objectContaining({name: 'shop', status: 'deployed'})])
    expect(status.json.result).not.toHaveProperty('kubeconfig')
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('idp-vcluster-'))).toEqual(tmpBefore)
    fs.rmSync(elsewhere, {recursive: true, force: true})
  })

  it('down deletes the vcluster and the namespace', async () => {
    const down = await world.run(['env', 'down', 'vc-1', '--json'])
    expect(down.code).toBe(0)
    expect(down.json.result.steps.map((s: {id: string}) => s.id)).toEqual(['preflight', 'lock', 'vcluster-delete', 'namespace-delete', 'local-files', 'unlock'])
    expect(world.kube.clusters.list()).not.toContain(virtual)
    const ns = world.kube.store().get('v1', 'Namespace', 'shop-vc-1')
    expect(ns === undefined || ns.status?.phase === 'Terminating').toBe(true)
  })
})

describe('sticky PR comment', () => {
  it('is created by up, edited by up again and by down; the token never shows', async () => {
    const pr = gh.openPullRequest('acme/shop')
    const env = {GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.apiUrl}
    const comments = () => gh.state.comments.filter((c) => c.repo === 'acme/shop' && c.issue === pr)

    const up = await world.run(['env', 'up', '--pr', String(pr), '--sha', 'abc1234', '--json'], {env})
    expect(up.code).toBe(0)
    expect(up.json.result.env).toBe(`pr-${pr}`)
    expect(up.json.result.prComment).toMatch(/issuecomment-/u)
    expect(comments()).toHaveLength(1)
    expect(comments()[0]!.body).toContain(`https://pr-${pr}.shop.example.com`)
    expect(comments()[0]!.body).toContain('**ready**')
    expect(comments()[0]!.body).toContain(`idp env down pr-${pr}`)
    expect(comments()[0]!.body).toContain(up.json.result.expiresAt)

    const again = await world.run(['env', 'up', '--pr', String(pr), '--sha', 'def5678', '--json'], {env})
    expect(again.code).toBe(0)
    expect(comments()).toHaveLength(1)
    expect(comments()[0]!.body).toContain('def5678')

    const down = await world.run(['env', 'down', '--pr', String(pr), '--json'], {env})
    expect(down.code).toBe(0)
    expect(comments()).toHaveLength(1)
    expect(comments()[0]!.body).toContain('**deleted**')
    for (const out of [up, again, down]) expect(out.stdout + out.stderr).not.toContain(TOKEN)
  })
})

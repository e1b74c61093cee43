// The golden paths' domain rules, tested in-process: each service called with its typed request
// and test Deps (a recording runner or none of the machine's tools, a scripted prompter or none,
// output captured), against the Kubernetes stand-in. The same rules seen through the CLI are in
// the env, deploy, access and create integration tests; here nothing spawns idp itself.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {parse, stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {accessCheck} from '../../src/lib/access/check.js'
import {accessGrant} from '../../src/lib/access/grant.js'
import {accessList} from '../../src/lib/access/list.js'
import {accessRevoke} from '../../src/lib/access/revoke.js'
import {CancelledError, PrerequisiteError, ToolError, UsageError} from '../../src/lib/cli/errors.js'
import {create} from '../../src/lib/create/create.js'
import {deploy} from '../../src/lib/deploy/deploy.js'
import {deployRollback} from '../../src/lib/deploy/rollback.js'
import {deployStatus} from '../../src/lib/deploy/status.js'
import {doctor} from '../../src/lib/doctor/doctor.js'
import {envDown} from '../../src/lib/env/down.js'
import {envGc} from '../../src/lib/env/gc.js'
import {envKubeconfig} from '../../src/lib/env/kubeconfig.js'
import {envList} from '../../src/lib/env/list.js'
import {envStatus, renderEnvStatus} from '../../src/lib/env/status.js'
import {envUp} from '../../src/lib/env/up.js'
import {scriptedPrompter, testDeps} from '../support/deps.js'
import {rejection} from '../support/rejection.js'
import {seedEnvironment} from '../support/env-seed.js'
import {RecordingRunner} from '../support/recording-runner.js'
import {DEPLOY_PROJECT} from '../fixtures/deploy/world.js'
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
const LEASES = 'coordination.k8s.io/v1'


/** A copy of a fixture project of its own, so one test's config changes stay its own. */
function project(from: string, edit?: (config: string) => string): string {
  const dir = fs.mkdtempSync(path.join(world.root, 'project-'))
  fs.cpSync(from, dir, {recursive: true})
  if (edit) fs.writeFileSync(path.join(dir, '.idp.yml'), edit(fs.readFileSync(path.join(dir, '.idp.yml'), 'utf8')))
  return dir
}

// The fixtures' image is on ghcr.io, out of reach: the image check has its own tests (image-check.test.ts).
const upRequest = (env: string, extra: Partial<Parameters<typeof envUp>[0]> = {}) => ({dir: world.project, env, sha: 'abc1234', timeout: '1m', dryRun: false, keepOnFailure: false, skipImageCheck: true, ...extra})
const toolRuns = (runner: RecordingRunner) => runner.calls.filter((c) => c.tool !== 'git').map((c) => `${c.tool} ${c.argv[0]}`)

describe('envUp', () => {
  it('a dry run returns the plan and changes nothing: no namespace, no lease, no tool run', async () => {
    const runner = new RecordingRunner()
    const result = await envUp(upRequest('pr-51', {dryRun: true}), testDeps({env: world.env, runner}).deps)
    expect(result.dryRun).toBe(true)
    expect(result.plan.steps.map((s) => s.id)).toEqual(['preflight', 'lock', 'namespace', 'kubeconfig', 'terraform-vars', 'terraform-state', 'terraform-init', 'terraform-apply', 'helm', 'record', 'unlock'])
    // Printed commands reach the same repository and config as this run: from another working
    // directory (a monorepo's root), `idp env down pr-51` alone would read another .idp.yml.
    expect(result.teardown).toBe(`idp env down pr-51 --dir ${world.project}`)
    const withConfig = await envUp(upRequest('pr-51', {dryRun: true}), testDeps({env: {...world.env, IDP_CONFIG: '.idp.yml'}, runner}).deps)
    expect(withConfig.teardown).toBe(`IDP_CONFIG=.idp.yml idp env down pr-51 --dir ${world.project}`)
    expect(toolRuns(runner)).toEqual([])
    expect(store().get('v1', 'Namespace', 'shop-pr-51')).toBeUndefined()
  })

  it('never adopts a namespace it did not create: a usage error before any change', async () => {
    store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'shop-ns-52', labels: {team: 'other'}}})
    const runner = new RecordingRunner()
    const error = await rejection(envUp(upRequest('ns-52'), testDeps({env: world.env, runner}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toContain('is not an idp environment of shop/ns-52')
    expect(error.details).toMatchObject({namespace: 'shop-ns-52', labels: {team: 'other'}})
    expect(store().get('v1', 'Namespace', 'shop-ns-52')?.metadata?.labels).toEqual({team: 'other'})
    expect(toolRuns(runner)).toEqual([])
    expect(store().get(LEASES, 'Lease', 'idp-shop-ns-52', 'default')).toBeUndefined()
  })

  it('with keepOnFailure, what was made stays but the lock is released, so the next up or down is not blocked', async () => {
    const runner = new RecordingRunner().when('helm', ['upgrade'], {exitCode: 1, stderr: 'Error: UPGRADE FAILED: context deadline exceeded'})
    const {deps, stderr} = testDeps({env: world.env, runner})
    const error = await rejection(envUp(upRequest('ns-53', {keepOnFailure: true}), deps))
    expect(error).toBeInstanceOf(ToolError)
    expect(error.hint).toContain('Nothing was undone (--keep-on-failure)')
    expect(store().get('v1', 'Namespace', 'shop-ns-53')?.metadata?.labels?.['idp.dev/env']).toBe('ns-53')
    expect(store().get(LEASES, 'Lease', 'idp-shop-ns-53', 'default')).toBeUndefined()
    expect(stderr.text).toContain('helm upgrade --install shop')
  })

  it('without keepOnFailure the same failure undoes everything, the lock included', async () => {
    const runner = new RecordingRunner().when('helm', ['upgrade'], {exitCode: 1, stderr: 'Error: UPGRADE FAILED: boom'})
    const error = await rejection(envUp(upRequest('ns-54'), testDeps({env: world.env, runner}).deps))
    expect(error).toBeInstanceOf(ToolError)
    const ns = store().get('v1', 'Namespace', 'shop-ns-54')
    expect(ns === undefined || ns.status?.phase === 'Terminating').toBe(true)
    expect(store().get(LEASES, 'Lease', 'idp-shop-ns-54', 'default')).toBeUndefined()
  })

  it('refuses a protected environment before it looks at the cluster', async () => {
    const dir = project(world.project, (text) => text.replace('"ns-*":\n    cluster: dev', '"ns-*":\n    cluster: dev\n    protected: true'))
    const runner = new RecordingRunner()
    const error = await rejection(envUp({...upRequest('ns-55'), dir}, testDeps({env: world.env, runner}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.hint).toBe(`Deploy to protected environments with \`idp deploy ns-55 --dir ${dir}\`.`)
    expect(toolRuns(runner)).toEqual([])
    expect(store().get('v1', 'Namespace', 'shop-ns-55')).toBeUndefined()
  })

  it('every missing prerequisite at once: a missing tool and an unreachable cluster in one error, before any change', async () => {
    const dir = project(world.project, (text) => text.replace('clusters:\n  dev: {context: standin-host}', 'clusters:\n  dev: {context: standin-host, kubeconfig: unreachable.yaml}'))
    fs.writeFileSync(path.join(dir, 'unreachable.yaml'), 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: standin-host, context: {cluster: c, user: u}}]\ncurrent-context: standin-host\n')
    const runner = new RecordingRunner({versions: {terraform: null}})
    const error = await rejection(envUp({...upRequest('pr-63'), dir}, testDeps({env: world.env, runner}).deps))
    expect(error).toBeInstanceOf(PrerequisiteError)
    expect(error.message).toMatch(/^2 prerequisites are not met:\n {2}- .*terraform.*\n {2}- .*127\.0\.0\.1:1/u)
    expect(toolRuns(runner)).toEqual([])
  })

  it('without ENV or --pr on a branch no preview pattern matches (main), a usage error that says which names work', async () => {
    const runner = new RecordingRunner()
    const onMain = await rejection(envUp(upRequest('', {env: undefined, dryRun: true}), testDeps({env: {...world.env, GITHUB_REF_NAME: 'main'}, runner}).deps))
    expect(onMain).toBeInstanceOf(UsageError)
    expect(onMain.message).toBe('The branch "main" names no preview environment: without ENV or --pr, env up uses the branch name ("main"), and the preview patterns in .idp.yml are pr-*, ns-*, vc-*.')
    expect(onMain.hint).toBe(`Name one: \`idp env up pr-1 --dir ${world.project}\`, or \`idp env up --pr 1 --dir ${world.project}\` for pull request 1.`)
    // A branch a pattern matches is still a name.
    const onBranch = await envUp(upRequest('', {env: undefined, dryRun: true}), testDeps({env: {...world.env, GITHUB_REF_NAME: 'ns-62'}, runner}).deps)
    expect(onBranch.plan.metadata.env).toBe('ns-62')
  })

  it('refuses a fixed environment (one deploy manages) before it looks at the cluster, naming deploy', async () => {
    const dir = project(world.project, (text) => text.replace('environments:\n', 'environments:\n  staging: {cluster: dev, driver: namespace, namespace: shop-staging, helm: {chart: ./chart}}\n'))
    const runner = new RecordingRunner()
    const error = await rejection(envUp({...upRequest('staging'), dir}, testDeps({env: world.env, runner}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toBe('Environment staging is a fixed environment, which `idp deploy` manages; `idp env up` creates preview environments, whose names match a pattern (pr-*, ns-*, vc-*).')
    expect(error.hint).toBe(`Deploy to it with \`idp deploy staging --dir ${dir}\`, or create a preview: \`idp env up pr-1 --dir ${dir}\`.`)
    expect(toolRuns(runner)).toEqual([])
    expect(store().get('v1', 'Namespace', 'shop-staging')).toBeUndefined()
  })

  it('a bad --sha or --image-tag (or an image.tag that renders to one) is a usage error before any change', async () => {
    const runner = new RecordingRunner()
    for (const [extra, message] of [
      [{sha: 'null'}, 'Invalid commit "null" (--sha)'],
      [{imageTag: '{a,b}'}, 'Invalid image tag "{a,b}" (--image-tag)'],
    ] as const) {
      const error = await rejection(envUp(upRequest('ns-57', extra), testDeps({env: world.env, runner}).deps))
      expect(error).toBeInstanceOf(UsageError)
      expect(error.message).toBe(`${message}.`)
    }
    const viaEnv = await rejection(envUp(upRequest('ns-57', {sha: undefined}), testDeps({env: {...world.env, GITHUB_SHA: 'not a sha!'}, runner}).deps))
    expect(viaEnv.message).toBe('Invalid image tag "not a sha!" (image.tag of .idp.yml).')
    expect(toolRuns(runner)).toEqual([])
    expect(store().get('v1', 'Namespace', 'shop-ns-57')).toBeUndefined()
  })

  it('a --timeout longer than a week is a usage error (a Node timer would fire at once)', async () => {
    const error = await rejection(envUp(upRequest('ns-58', {timeout: '30d'}), testDeps({env: world.env, runner: new RecordingRunner()}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toBe('Invalid duration "30d": must be at most 1w.')
  })

  it('a tool the environment needs that is missing stops a real run (exit 4) and is only a warning in a dry run', async () => {
    const runner = new RecordingRunner({versions: {terraform: null}})
    const error = await rejection(envUp(upRequest('pr-56'), testDeps({env: world.env, runner}).deps))
    expect(error).toBeInstanceOf(PrerequisiteError)
    expect(error.message).toContain('terraform')
    expect(store().get('v1', 'Namespace', 'shop-pr-56')).toBeUndefined()
    const dry = testDeps({env: world.env, runner})
    await envUp(upRequest('pr-56', {dryRun: true}), dry.deps)
    expect(dry.stderr.text).toMatch(/Warning:.*terraform: missing.*\(a real run stops here\)/u)
  })
})

describe("a cluster whose kubeconfig user has an exec credential plugin", () => {
  it('env up and env down run the plugin once between them (client-node alone ran it for every API call)', async () => {
    const dir = fs.mkdtempSync(path.join(world.root, 'plugin-'))
    const log = path.join(dir, 'runs.log')
    const file = world.kube.kubeconfig('host', {path: path.join(dir, 'kubeconfig.yaml')})
    const config = parse(fs.readFileSync(file, 'utf8')) as {users: Array<{user: {token?: string; exec?: unknown}}>}
    const credential = JSON.stringify({apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: {token: config.users[0]!.user.token}})
    fs.writeFileSync(path.join(dir, 'get-token'), `#!/bin/sh\necho run >> '${log}'\necho '${credential}'\n`, {mode: 0o755})
    config.users[0]!.user = {exec: {apiVersion: 'client.authentication.k8s.io/v1beta1', command: './get-token'}}
    fs.writeFileSync(file, stringify(config), {mode: 0o600})
    const repo = project(world.project, (text) => text.replace('dev: {context: standin-host}', `dev: {context: standin-host, kubeconfig: ${file}}`))

    const runner = new RecordingRunner()
    const up = await envUp({...upRequest('ns-70'), dir: repo}, testDeps({env: world.env, runner}).deps)
    expect(up.namespace).toBe('shop-ns-70')
    expect(store().get('v1', 'Namespace', 'shop-ns-70')?.metadata?.labels?.['idp.dev/env']).toBe('ns-70')
    await envDown({dir: repo, env: 'ns-70', timeout: '1m', dryRun: false, keepOnFailure: false}, testDeps({env: world.env, runner}).deps)
    expect(store().get('v1', 'Namespace', 'shop-ns-70')?.status?.phase ?? 'gone').not.toBe('Active')
    expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual(['run'])
  })
})

describe('envDown', () => {
  it('leaves a namespace idp does not own alone, with a warning', async () => {
    store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'shop-ns-61', labels: {team: 'other'}}})
    const runner = new RecordingRunner()
    const {deps, stderr} = testDeps({env: world.env, runner})
    const result = await envDown({dir: world.project, env: 'ns-61', timeout: '1m', dryRun: false, keepOnFailure: false}, deps)
    expect(result.found).toBe('foreign')
    expect(result.plan.steps.map((s) => s.id)).toEqual(['preflight'])
    expect(stderr.text).toContain('Warning: Namespace shop-ns-61 is not labelled as idp\'s environment shop/ns-61')
    expect(store().get('v1', 'Namespace', 'shop-ns-61')?.status?.phase).not.toBe('Terminating')
    expect(toolRuns(runner)).toEqual([])
  })

  it('refuses a protected environment before it looks at the cluster', async () => {
    const dir = project(world.project, (text) => text.replace('"ns-*":\n    cluster: dev', '"ns-*":\n    cluster: dev\n    protected: true'))
    seedEnvironment(world.kube, {service: 'shop', env: 'ns-63'})
    const runner = new RecordingRunner()
    const error = await rejection(envDown({dir, env: 'ns-63', timeout: '1m', dryRun: false, keepOnFailure: false}, testDeps({env: world.env, runner}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toContain('is protected')
    expect(toolRuns(runner)).toEqual([])
    expect(store().get('v1', 'Namespace', 'shop-ns-63')?.status?.phase).not.toBe('Terminating')
  })

  it('without its namespace (idp\'s record of it), no Terraform workspace is destroyed; the commands to do it by hand are printed', async () => {
    const runner = new RecordingRunner()
    const {deps, stderr} = testDeps({env: world.env, runner})
    const result = await envDown({dir: world.project, env: 'pr-64', timeout: '1m', dryRun: false, keepOnFailure: false}, deps)
    expect(result.found).toBe('absent')
    expect(runner.argvOf('terraform')).toEqual([])
    expect(result.plan.steps.map((s) => s.id)).not.toContain('terraform-destroy')
    expect(stderr.text).toContain('Terraform workspace shop-pr-64 was left alone')
    expect(stderr.text).toMatch(/cd \S+\/infra && TF_DATA_DIR=\S+ TF_WORKSPACE=shop-pr-64 terraform destroy /u)
    // The init among them names where the state is: the private host kubeconfig by path, the state namespace.
    expect(stderr.text).toMatch(/TF_WORKSPACE=default terraform init -input=false -no-color -reconfigure -backend-config=config_context=\S+ -backend-config=config_path=\S+\/clusters\/dev\/kubeconfig -backend-config=namespace=idp-system -backend-config=secret_suffix=idp-shop/u)
  })

  it('an environment already gone is a success that says so', async () => {
    const result = await envDown({dir: world.project, env: 'ns-62', timeout: '1m', dryRun: false, keepOnFailure: false}, testDeps({env: world.env, runner: new RecordingRunner()}).deps)
    expect(result).toMatchObject({found: 'absent', alreadyGone: true, namespace: 'shop-ns-62'})
  })
})

describe('envGc', () => {
  it('on a terminal, declining the confirmation removes nothing', async () => {
    seedEnvironment(world.kube, {service: 'shop', env: 'pr-71', expiresInMs: -3_600_000})
    const prompter = scriptedPrompter({confirm: [false]})
    const {deps, stderr} = testDeps({env: world.env, runner: new RecordingRunner(), prompter})
    const result = await envGc({dir: world.project, allServices: false, timeout: '1m', dryRun: false, keepOnFailure: false, yes: false}, deps)
    expect(prompter.asked).toEqual([expect.stringMatching(/^confirm: Remove \d+ environments?\?$/u)])
    expect(result.selected).toEqual([])
    expect(result.outcomes).toEqual([])
    expect(stderr.text).toContain('shop-pr-71')
    expect(store().get('v1', 'Namespace', 'shop-pr-71')?.status?.phase).not.toBe('Terminating')
  })

  it('an environment renewed after the listing (here: while the confirmation is on screen) is kept', async () => {
    seedEnvironment(world.kube, {service: 'shop', env: 'pr-72', expiresInMs: -3_600_000})
    const renewing = {
      ...scriptedPrompter({}),
      async confirm() {
        // `env up pr-72 --ttl 24h` from someone else, between gc's listing and its removal.
        const ns = store().get('v1', 'Namespace', 'shop-pr-72')!
        store().put({...ns, metadata: {...ns.metadata, resourceVersion: undefined, annotations: {...ns.metadata!.annotations, 'idp.dev/expires-at': new Date(Date.now() + 86_400_000).toISOString()}}})
        return true
      },
    }
    const result = await envGc({dir: world.project, allServices: false, timeout: '1m', dryRun: false, keepOnFailure: false, yes: false}, testDeps({env: world.env, runner: new RecordingRunner(), prompter: renewing}).deps)
    expect(result.outcomes.find((o) => o.env === 'pr-72')).toMatchObject({status: 'skipped', detail: expect.stringContaining('no longer selected when read again')})
    expect(store().get('v1', 'Namespace', 'shop-pr-72')?.status?.phase).not.toBe('Terminating')
    expect(store().get('coordination.k8s.io/v1', 'Lease', 'idp-shop-pr-72', 'default')).toBeUndefined()
  })

  it('without a terminal, removing needs --yes; nothing is removed without it', async () => {
    seedEnvironment(world.kube, {service: 'shop', env: 'pr-73', expiresInMs: -3_600_000})
    const error = await rejection(envGc({dir: world.project, allServices: false, timeout: '1m', dryRun: false, keepOnFailure: false, yes: false}, testDeps({env: world.env, runner: new RecordingRunner()}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toMatch(/needs --yes\.$/u)
    expect(store().get('v1', 'Namespace', 'shop-pr-73')?.status?.phase).not.toBe('Terminating')
  })

  it('--yes on a terminal does not ask', async () => {
    const prompter = scriptedPrompter({})
    const result = await envGc({dir: world.project, allServices: false, timeout: '1m', dryRun: false, keepOnFailure: false, yes: true}, testDeps({env: world.env, runner: new RecordingRunner(), prompter}).deps)
    expect(prompter.asked).toEqual([])
    // pr-71 went with the confirmed run above; pr-73 was left by the run without --yes.
    expect(result.outcomes.find((o) => o.env === 'pr-73')?.status).toBe('removed')
  })
})

describe('envStatus', () => {
  it('shows the last run on this machine from its journal: a kept failure, where it failed and how to clean up', async () => {
    // ns-53 is the environment whose helm step failed under keepOnFailure above.
    const result = await envStatus({dir: world.project, env: 'ns-53'}, testDeps({env: world.env, runner: new RecordingRunner()}).deps)
    expect(result.lastRun).toMatchObject({command: 'env up', status: 'failed', failedStep: {id: 'helm', error: expect.stringContaining('UPGRADE FAILED')}})
    expect(result.lastRun?.cleanup).toEqual(expect.arrayContaining([expect.stringMatching(/^KUBECONFIG=\S+ kubectl delete namespace shop-ns-53 --ignore-not-found$/u), expect.stringMatching(/^rm -rf \S+ns-53\/kubeconfig$/u)]))
    expect(renderEnvStatus(result, {bin: 'idp', cwd: world.project, now: new Date(), dir: world.project})).toMatch(/last run: {3}env up failed at "helm upgrade --install shop[^"]*": .*UPGRADE FAILED/u)
  })

  it('an environment that does not exist is a usage error naming the ones that do', async () => {
    seedEnvironment(world.kube, {service: 'shop', env: 'ns-81'})
    const error = await rejection(envStatus({dir: world.project, env: 'ns-89'}, testDeps({env: world.env, runner: new RecordingRunner()}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.details?.existing).toContain('ns-81')
    expect(error.hint).toContain('idp env up ns-89')
  })
})

describe('envList', () => {
  it('a cluster that cannot be read is a warning; the others are still listed', async () => {
    const dir = project(world.project, (text) => text.replace('clusters:\n  dev: {context: standin-host}', 'clusters:\n  dev: {context: standin-host}\n  gone: {context: no-such-context}'))
    seedEnvironment(world.kube, {service: 'shop', env: 'ns-85'})
    const {deps, stderr} = testDeps({env: world.env, runner: new RecordingRunner()})
    const result = await envList({dir, allServices: false}, deps)
    expect(result.environments.map((e) => e.env)).toContain('ns-85')
    expect(result.clusters).toEqual(expect.arrayContaining([expect.objectContaining({cluster: 'dev', ok: true}), expect.objectContaining({cluster: 'gone', ok: false})]))
    expect(result.warnings).toEqual([expect.stringContaining('Skipped cluster "gone"')])
    expect(stderr.text).toContain('Warning: Skipped cluster "gone"')
  })
})

describe('envKubeconfig', () => {
  it('refuses to write over one of the user\'s kubeconfig files before reading anything, unless forced', async () => {
    const error = await rejection(envKubeconfig({dir: world.project, env: 'ns-53', write: world.userKubeconfig, force: false}, testDeps({env: {...world.env, KUBECONFIG: world.userKubeconfig}}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toContain('it is one of your kubeconfig files')
    const copy = path.join(world.root, 'ns-53.kubeconfig')
    const {deps, stderr} = testDeps({env: world.env})
    const result = await envKubeconfig({dir: world.project, env: 'ns-53', write: copy, force: false}, deps)
    expect(result.written).toBe(copy)
    expect(fs.statSync(copy).mode & 0o777).toBe(0o600)
    expect(fs.readFileSync(copy, 'utf8')).toBe(fs.readFileSync(result.path, 'utf8'))
    expect(stderr.text).toContain(`Copied to ${copy} (mode 0600).`)
    expect(await rejection(envKubeconfig({dir: world.project, env: 'ns-53', write: copy, force: false}, deps))).toBeInstanceOf(UsageError)
  })
})

describe('deploy', () => {
  // Deploys read the commit from GitHub Actions' variables, as in CI.
  const env = () => ({...world.env, GITHUB_SHA: 'abc1234', GITHUB_REF_NAME: 'main'})
  const request = (extra: Partial<Parameters<typeof deploy>[0]> = {}) => ({dir: deployProject, env: 'production', timeout: '1m', degradedGrace: '30s', dryRun: false, keepOnFailure: false, yes: false, skipImageCheck: true, ...extra})
  let deployProject: string
  beforeAll(() => {
    deployProject = project(DEPLOY_PROJECT)
  })

  it('a protected environment needs a confirmation: without a terminal, a usage error naming --yes', async () => {
    const runner = new RecordingRunner()
    const error = await rejection(deploy(request(), testDeps({env: env(), runner}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.hint).toContain('--yes')
    expect(toolRuns(runner)).toEqual([])
  })

  it('declining the confirmation cancels with nothing changed; confirming goes on', async () => {
    const runner = new RecordingRunner()
    const declined = await rejection(deploy(request(), testDeps({env: env(), runner, prompter: scriptedPrompter({confirm: [false]})}).deps))
    expect(declined).toBeInstanceOf(CancelledError)
    expect(declined.exitCode).toBe(130)
    expect(toolRuns(runner)).toEqual([])
    const prompter = scriptedPrompter({confirm: [true]})
    const planned = await deploy(request({dryRun: true}), testDeps({env: env(), runner, prompter}).deps)
    // A dry run changes nothing, so it needs no confirmation.
    expect(prompter.asked).toEqual([])
    expect(planned.plan.steps.map((s) => s.id)).toEqual(['preflight', 'kubeconfig', 'check', 'app', 'sync', 'wait'])
  })

  it('never takes over an Argo CD Application it did not create: refused before anything is written', async () => {
    const foreign = JSON.stringify({metadata: {name: 'shop-staging', labels: {team: 'other'}}, spec: {}, status: {}})
    const runner = new RecordingRunner().when('argocd', ['app', 'get'], {stdout: foreign})
    const error = await rejection(deploy(request({env: 'staging'}), testDeps({env: env(), runner}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toContain('was not created by idp for shop/staging')
    expect(runner.argvOf('argocd').map((argv) => `${argv[0]} ${argv[1]}`)).toEqual(['app get'])
  })

  it('`idp deploy status|history|rollback` without ENV is a usage error; with an environment named like the verb, it says how to reach it (-- before the name)', async () => {
    const missing = await rejection(deployStatus({dir: deployProject}, testDeps({env: env(), runner: new RecordingRunner()}).deps))
    expect(missing).toBeInstanceOf(UsageError)
    expect(missing.message).toContain('Missing the environment')
    const named = project(DEPLOY_PROJECT, (config) => config.replace(/^ {2}staging:/mu, '  rollback:'))
    const runner = new RecordingRunner()
    const error = await rejection(deployRollback({dir: named, timeout: '1m', degradedGrace: '30s', dryRun: false, keepOnFailure: false, yes: false}, testDeps({env: env(), runner}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toContain('one of yours is named "rollback"')
    expect(error.hint).toContain(`idp deploy --dir ${named} -- rollback`)
    expect(toolRuns(runner)).toEqual([])
  })

  it('a vcluster environment is a preview: deploy refuses it and names env up', async () => {
    const error = await rejection(deploy(request({env: 'pr-3'}), testDeps({env: env(), runner: new RecordingRunner()}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.hint).toContain('idp env up pr-3')
  })
})

describe('accessGrant', () => {
  let dir: string
  beforeAll(() => {
    dir = project(world.project, (text) => `${text}\naccess:\n  roles: {viewer: view, admin: admin}\n  policy: {maxTtl: 8h, forbid: {"pr-*": [admin]}}\n`)
  })
  const request = (extra: Partial<Parameters<typeof accessGrant>[0]> = {}) => ({dir, user: 'alice@example.com', group: false, dryRun: true, ...extra})

  it('a missing role without a terminal is a usage error naming --role; on a terminal it is asked for', async () => {
    const error = await rejection(accessGrant(request({env: 'pr-91'}), testDeps({env: world.env, runner: new RecordingRunner()}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toBe('Missing required value: --role.')
    const prompter = scriptedPrompter({input: ['viewer', 'pr-91']})
    const result = await accessGrant(request(), testDeps({env: world.env, runner: new RecordingRunner(), prompter}).deps)
    expect(prompter.asked).toEqual(['input: Role', 'input: Environment'])
    expect(result).toMatchObject({role: 'viewer', env: 'pr-91', subject: 'alice@example.com', roleRef: {kind: 'ClusterRole', name: 'view'}, dryRun: true})
  })

  it('the policy is checked before any cluster is contacted', async () => {
    const error = await rejection(accessGrant(request({role: 'admin', env: 'pr-92', dryRun: false}), testDeps({env: {...world.env, KUBECONFIG: '/nonexistent'}, runner: new RecordingRunner()}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toMatch(/admin.*pr-92|pr-92.*admin/u)
    expect(store().list('rbac.authorization.k8s.io/v1', 'RoleBinding', 'shop-pr-92')).toEqual([])
  })
})

describe('access grants round trip: grant, list, check, revoke', () => {
  let dir: string
  beforeAll(() => {
    dir = project(world.project, (text) => `${text}\naccess:\n  roles: {viewer: view, debugger: {rules: [{apiGroups: [""], resources: [pods, pods/log], verbs: [get, list]}]}}\n`)
    seedEnvironment(world.kube, {service: 'shop', env: 'ns-93'})
  })

  it('a grant is listed and checked by role and by request; an expired one counts for nothing; revoke takes it away', async () => {
    const now = new Date()
    const at = (ms: number) => testDeps({env: world.env, runner: new RecordingRunner(), now: new Date(now.getTime() + ms)}).deps
    const granted = await accessGrant({dir, user: 'bob@example.com', group: false, role: 'debugger', env: 'ns-93', ttl: '1h', dryRun: false}, at(0))
    expect(granted).toMatchObject({binding: expect.stringMatching(/^idp-debugger-bob-example-com-[0-9a-f]{8}$/u), roleRef: {kind: 'Role', name: 'idp-role-debugger'}})
    const listed = await accessList({dir, env: 'ns-93'}, at(0))
    expect(listed.grants.map((g) => [g.subject, g.role, g.expired])).toEqual([['bob@example.com', 'debugger', false]])
    const check = (request: Partial<Parameters<typeof accessCheck>[0]>, ms = 0) => accessCheck({dir, user: 'bob@example.com', group: false, env: 'ns-93', ...request}, at(ms))
    expect(await check({verb: 'get', resource: 'pods/log'})).toMatchObject({allowed: true})
    expect(await check({verb: 'delete', resource: 'pods'})).toMatchObject({allowed: false})
    expect(await check({role: 'debugger'})).toMatchObject({allowed: true})
    // Two hours later the grant has expired: the cluster still honours it, idp does not count it.
    expect(await check({role: 'debugger'}, 2 * 3_600_000)).toMatchObject({allowed: false, reason: expect.stringContaining('expired')})
    const usage = await rejection(accessRevoke({dir, user: 'bob@example.com', group: false, all: false, expired: true, dryRun: false}, at(0)))
    expect(usage.message).toContain('--expired revokes every expired grant; it takes no USER')
    const revoked = await accessRevoke({dir, user: 'bob@example.com', group: false, role: 'debugger', all: false, expired: false, env: 'ns-93', dryRun: false}, at(0))
    expect(revoked.revoked).toEqual([expect.objectContaining({binding: expect.stringMatching(/^idp-debugger-bob-example-com-[0-9a-f]{8}$/u), deleted: true, roleRemoved: 'idp-role-debugger'})])
    expect(store().list('rbac.authorization.k8s.io/v1', 'RoleBinding', 'shop-ns-93')).toEqual([])
  })
})

describe('create', () => {
  const request = (dir: string, extra: Partial<Parameters<typeof create>[0]> = {}) => ({dir, name: 'svc', force: false, publish: false, dryRun: true, keepOnFailure: false, yes: false, set: ['owner=team-a', 'repoUrl=github.com?owner=acme&repo=svc'], ...extra})

  it('without a template and without a terminal: a usage error naming --template, nothing written', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-create-svc-'))
    const error = await rejection(create(request(dir), testDeps({env: world.env}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toBe('Missing required value: --template.')
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('on a terminal the template is chosen from the list; Ctrl-C at that prompt cancels with nothing written', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-create-svc-'))
    const prompter = scriptedPrompter({select: ['go-service'], input: []})
    const result = await create(request(dir, {yes: true}), testDeps({env: world.env, prompter}).deps)
    expect(prompter.asked[0]).toBe('select: Template')
    expect(result.template.name).toBe('go-service')
    expect(result.files).toContain('go.mod')
    const cancelled = await rejection(create(request(dir), testDeps({env: world.env, prompter: scriptedPrompter({select: [new CancelledError('Cancelled by the user.')]})}).deps))
    expect(cancelled.exitCode).toBe(130)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('the wizard asks the name first, then the template; a summary and a confirmation; saying no goes round again with the answers kept', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-create-svc-'))
    const {name: packageName, version} = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../package.json'), 'utf8')) as {name: string; version: string}
    const idpPackage = `${packageName}@${version}`
    const prompter = scriptedPrompter({
      input: ['shop', 'Shop API', 'team-a', 'github.com?owner=acme&repo=shop', idpPackage, 'Shop API v2', 'team-b', 'github.com?owner=acme&repo=shop', idpPackage],
      select: ['go-service', 'experimental', 'production'],
      number: [8080, 9090],
      confirm: [true, false, true, true],
    })
    const deps = testDeps({env: world.env, prompter})
    const result = await create({dir, force: false, publish: false, dryRun: true, keepOnFailure: false, yes: false}, deps.deps)
    expect(prompter.asked.slice(0, 3)).toEqual(['input: Name of the new service (its directory and DNS name)', 'select: Template', 'input: Description (Help others understand what this service is for.)'])
    expect(prompter.asked.filter((q) => q === 'confirm: Create it?')).toHaveLength(2)
    expect(result.directory).toBe(path.join(dir, 'shop'))
    expect(result.values).toMatchObject({name: 'shop', description: 'Shop API v2', owner: 'team-b', lifecycle: 'production', port: 9090, repoUrl: 'github.com?owner=acme&repo=shop'})
    const summary = deps.stderr.text
    expect(summary).toContain('About to create')
    expect(summary).toMatch(/Description\s+Shop API\n/u)
    expect(summary).toMatch(/Description\s+Shop API v2\n/u)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('a create that fails after the wizard keeps its answers (never a secret) and says so; the next run offers them as defaults; success forgets them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-create-svc-'))
    const tpl = path.join(dir, 'tpl')
    fs.mkdirSync(path.join(tpl, 'skeleton'), {recursive: true})
    fs.writeFileSync(path.join(tpl, 'skeleton', 'README.md'), '${{ values.owner }} on ${{ values.port }}\n')
    fs.writeFileSync(
      path.join(tpl, 'template.yaml'),
      `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: answers}
spec:
  type: service
  parameters:
    - required: [owner, apiKey]
      properties:
        owner: {title: Owner, type: string}
        apiKey: {title: API key, type: string, ui:field: Secret}
        port: {title: Port, type: integer, default: 8080}
  steps:
    - id: fetch
      action: fetch:template
      input:
        url: ./skeleton
        values:
          owner: \${{ parameters.owner }}
          port: \${{ parameters.port }}
`,
    )
    const secret = 'canary-wizard-secret-3c9a71'
    const run = (prompter: ReturnType<typeof scriptedPrompter>, dryRun = false) => {
      const t = testDeps({env: world.env, prompter})
      return {t, result: create({dir, name: 'shop', template: tpl, force: false, publish: false, dryRun, keepOnFailure: false, yes: false}, t.deps)}
    }
    // The target exists: the run fails after the wizard.
    fs.mkdirSync(path.join(dir, 'shop'))
    fs.writeFileSync(path.join(dir, 'shop', 'taken'), '')
    const first = run(scriptedPrompter({input: ['team-a'], password: [secret], number: [9090], confirm: [true]}))
    const error = await rejection(first.result)
    expect(error).toBeInstanceOf(UsageError)
    expect(error.hint).toContain(`Your answers were kept (secrets excepted): run \`idp create shop --template ${tpl} --dir ${dir}\` again to reuse them as defaults.`)
    const keptDir = path.join(first.t.deps.stateDir, 'create-answers')
    const keptText = fs.readdirSync(keptDir).map((file) => fs.readFileSync(path.join(keptDir, file), 'utf8')).join('\n')
    expect(keptText).toContain('team-a')
    expect(keptText).not.toContain(secret)
    expect(keptText).not.toContain('apiKey')

    // Next run of the same template and name: the answers are the defaults; the secret is asked again.
    fs.rmSync(path.join(dir, 'shop'), {recursive: true})
    const again = scriptedPrompter({input: ['team-a'], password: ['canary-wizard-secret-2'], number: [9090], confirm: [true]})
    const second = run(again, true)
    await second.result
    expect(again.defaults).toMatchObject({Owner: 'team-a', Port: 9090})
    expect(again.defaults['API key']).toBeUndefined()
    expect(second.t.stderr.text).toContain('Your answers from the last run, which failed, are the defaults.')
    // Another name: not offered.
    const other = scriptedPrompter({input: ['team-b'], password: ['x-secret-other'], number: [8080], confirm: [true]})
    await create({dir, name: 'cart', template: tpl, force: false, publish: false, dryRun: true, keepOnFailure: false, yes: false}, testDeps({env: world.env, prompter: other}).deps)
    expect(other.defaults).toMatchObject({Owner: undefined, Port: 8080})
    // A run that succeeds forgets them.
    const done = scriptedPrompter({input: ['team-a'], password: ['canary-wizard-secret-4'], number: [9090], confirm: [true]})
    const third = run(done)
    expect((await third.result).directory).toBe(path.join(dir, 'shop'))
    expect(fs.readdirSync(keptDir)).toEqual([])
  })

  it('no placeholder owner: without repoUrl a bundled template stops naming it, unless .idp.yml names repo.owner', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-create-svc-'))
    const missing = await rejection(create(request(dir, {template: 'typescript-service', set: ['owner=team-a']}), testDeps({env: world.env}).deps))
    expect(missing).toBeInstanceOf(UsageError)
    expect(missing.message).toBe('Missing required template parameter "repoUrl".')
    expect(missing.hint).toContain("--set repoUrl='github.com?owner=ORG&repo=NAME'")
    expect(fs.readdirSync(dir)).toEqual([])
    fs.writeFileSync(path.join(dir, '.idp.yml'), 'version: 1\nservice: {name: platform, owner: team-a}\nrepo: {owner: acme-corp}\nclusters: {}\nenvironments: {}\n')
    const result = await create(request(dir, {template: 'typescript-service', set: ['owner=team-a'], dryRun: false}), testDeps({env: world.env}).deps)
    expect(result.values.repoUrl).toBe('github.com?owner=acme-corp&repo=svc')
    const idpYml = fs.readFileSync(path.join(dir, 'svc', '.idp.yml'), 'utf8')
    expect(idpYml).toContain('repository: ghcr.io/acme-corp/svc')
    expect(idpYml).toContain('repoURL: https://github.com/acme-corp/svc')
    expect(fs.readFileSync(path.join(dir, 'svc', 'catalog-info.yaml'), 'utf8')).not.toContain('my-org')
  })
})

describe('doctor', () => {
  it('a missing tool the config needs fails with every check in the details, after showing the report', async () => {
    const runner = new RecordingRunner({versions: {helm: null}})
    const {deps, stderr} = testDeps({env: world.env, runner})
    const error = await rejection(doctor({dir: world.project}, deps))
    expect(error).toBeInstanceOf(PrerequisiteError)
    const checks = error.details?.checks as Array<{name: string; status: string}>
    expect(checks.find((c) => c.name === 'helm')).toMatchObject({status: 'fail'})
    expect(checks.find((c) => c.name === 'context standin-host')).toMatchObject({status: 'ok'})
    expect(stderr.text).toContain('Some required checks failed.')
    // The report is idp's own text: its hints come out whole, not through the credential patterns.
    expect(stderr.text).toContain('export GITHUB_TOKEN=$(gh auth token)')
  })
})

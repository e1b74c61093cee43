import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {ConfigError, TimeoutError, ToolError, UsageError} from '../../src/lib/cli/errors.js'
import {resolveEnvironment} from '../../src/lib/config/environments.js'
import {loadConfig} from '../../src/lib/config/load.js'
import {argocdConnection, deploySettings} from '../../src/lib/deploy/context.js'
import {createDeployHandlers} from '../../src/lib/deploy/handlers.js'
import {createDeployHandlers as handlersFor, waitForApplication} from '../../src/lib/deploy/handlers.js'
import {helmDeployed, withDeployOutcome} from '../../src/lib/deploy/outcome.js'
import {type ApplicationWait, argocdValuesFiles, type DeployFacts, deployPaths, planDeploy, planRollback} from '../../src/lib/deploy/plan.js'
import {formatPlan, planForJson} from '../../src/lib/plan/format.js'
import {validatePlan} from '../../src/lib/plan/graph.js'
import type {OpAction} from '../../src/lib/plan/types.js'
import {RecordingRunner} from '../support/recording-runner.js'

const PROJECT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'deploy', 'project')
const PATHS = deployPaths('/state/envs/shop/staging', '/state/clusters/dev/kubeconfig')

async function load() {
  const loaded = await loadConfig({dir: PROJECT, required: true})
  const env = (name: string) => resolveEnvironment(loaded.config, name, {root: loaded.root, vars: {sha: 'abc1234', branch: 'main'}})
  return {...loaded, env}
}

function facts(overrides: Partial<DeployFacts> = {}): DeployFacts {
  return {helmMajor: 4, argocd: {mode: 'core'}, paths: PATHS, ...overrides}
}

describe('planDeploy (argocd)', () => {
  it('core mode: preflight, private kubeconfig in Argo CD\'s namespace, then create --upsert, sync, wait; every argv in --json, no undo', async () => {
    const {config, root, env} = await load()
    const plan = planDeploy({env: env('staging'), strategy: 'argocd', argocd: config.deploy.argocd, imageTag: 'v1.2.3', timeoutMs: 300_000, graceMs: 30_000, root}, facts())
    validatePlan(plan, ['env.preflight', 'env.writeNamespaceKubeconfig', 'deploy.checkApplication', 'deploy.waitApplication'])
    const json = planForJson(plan)
    const step = (id: string) => json.steps.find((s) => s.id === id)!
    expect(json.steps.map((s) => s.id)).toEqual(['preflight', 'kubeconfig', 'check', 'app', 'sync', 'wait'])
    expect(step('check').action).toMatchObject({op: 'deploy.checkApplication', params: {tool: 'argocd', argv: ['app', 'get', 'shop-staging', '--output', 'json', '--app-namespace', 'argocd', '--core'], kubeconfig: '/state/envs/shop/staging/argocd-kubeconfig'}})
    expect(step('kubeconfig').action).toMatchObject({op: 'env.writeNamespaceKubeconfig', params: {hostKubeconfig: PATHS.hostKubeconfig, namespace: 'argocd', file: '/state/envs/shop/staging/argocd-kubeconfig'}})
    expect(step('app').tool).toBe('argocd')
    expect(step('app').argv).toEqual([
      'app', 'create', 'shop-staging', '--upsert', '--project', 'shop', '--repo', 'https://github.com/acme/shop', '--path', 'chart', '--revision', 'main',
      '--dest-server', 'https://kubernetes.default.svc', '--dest-namespace', 'shop-staging', '--app-namespace', 'argocd',
      '--values', 'values-staging.yaml', '--helm-set-string', 'env=staging', '--helm-set-string', 'image.tag=v1.2.3',
      '--label', 'app.kubernetes.io/managed-by=idp', '--label', 'idp.dev/env=staging', '--label', 'idp.dev/service=shop', '--label', 'idp.dev/team=team-a',
      '--sync-option', 'CreateNamespace=true', '--core',
    ])
    expect(step('sync').argv).toEqual(['app', 'sync', 'shop-staging', '--async', '--app-namespace', 'argocd', '--core'])
    // The wait reads the Application itself (argocd app wait hangs on one already healthy, argo-cd#12211).
    expect(step('wait').action).toMatchObject({op: 'deploy.waitApplication', params: {argv: ['app', 'get', 'shop-staging', '--output', 'json', '--app-namespace', 'argocd', '--core'], kubeconfig: '/state/envs/shop/staging/argocd-kubeconfig', timeoutMs: 300_000, graceMs: 30_000, pollMs: 2000, sync: true}})
    for (const id of ['app', 'sync']) expect(step(id).action).toMatchObject({kubeconfig: '/state/envs/shop/staging/argocd-kubeconfig'})
    expect(json.steps.some((s) => s.undo)).toBe(false)
    expect(plan.metadata).toMatchObject({app: 'shop-staging', appNamespace: 'argocd', targetRevision: 'main', strategy: 'argocd', rollback: expect.stringContaining('argocd app rollback shop-staging --app-namespace argocd --core')})
    expect(formatPlan(plan)).toContain('argocd app get shop-staging --output json --app-namespace argocd --core now and every 2s')
  })

  it('server mode (ARGOCD_SERVER): --server and --grpc-web, no kubeconfig, no cluster preflight, --revision wins, token never in argv', async () => {
    const {config, root, env} = await load()
    const connection = argocdConnection({ARGOCD_SERVER: 'argocd.example.com', ARGOCD_AUTH_TOKEN: 'tok-secret'})
    expect(connection).toEqual({mode: 'server', server: 'argocd.example.com'})
    expect(argocdConnection({})).toEqual({mode: 'core'})
    const plan = planForJson(planDeploy({env: env('production'), strategy: 'argocd', argocd: config.deploy.argocd, revision: 'v2.0.0', timeoutMs: 60_000, graceMs: 30_000, root}, facts({argocd: connection})))
    expect(plan.steps.map((s) => s.id)).toEqual(['check', 'app', 'sync', 'wait'])
    expect(plan.steps[0]!.dependsOn).toEqual([])
    expect(plan.steps[0]!.action).not.toHaveProperty('params.kubeconfig')
    expect(plan.steps[3]!.action).toMatchObject({op: 'deploy.waitApplication', params: {argv: ['app', 'get', 'shop-production', '--output', 'json', '--app-namespace', 'argocd', '--server', 'argocd.example.com', '--grpc-web']}})
    expect(plan.steps[3]!.action).not.toHaveProperty('params.kubeconfig')
    for (const s of plan.steps.slice(1, 3)) {
      expect(s.argv!.slice(-3)).toEqual(['--server', 'argocd.example.com', '--grpc-web'])
      expect(s.argv).not.toContain('--core')
      expect(s.action).not.toHaveProperty('kubeconfig')
      expect(JSON.stringify(s)).not.toContain('tok-secret')
    }
    const create = plan.steps[1]!.argv!
    expect(create.slice(create.indexOf('--revision'), create.indexOf('--revision') + 2)).toEqual(['--revision', 'v2.0.0'])
    expect(create).toEqual(expect.arrayContaining(['--dest-namespace', 'shop', '--values', 'values-production.yaml']))
  })

  it('values files become relative to deploy.argocd.path', () => {
    expect(argocdValuesFiles(['/r/chart/values-a.yaml', '/r/env/b.yaml'], '/r', 'chart')).toEqual(['values-a.yaml', '../env/b.yaml'])
    expect(argocdValuesFiles(['/r/values.yaml'], '/r', './')).toEqual(['values.yaml'])
  })
})

describe('planDeploy (helm)', () => {
  it('helm 4: preflight then upgrade --install --create-namespace --wait --rollback-on-failure on the host kubeconfig', async () => {
    const {root, env} = await load()
    const plan = planForJson(planDeploy({env: env('staging'), strategy: 'helm', imageTag: 'v9', timeoutMs: 120_000, graceMs: 30_000, root}, facts()))
    expect(plan.steps.map((s) => s.id)).toEqual(['preflight', 'helm'])
    const helm = plan.steps[1]!
    expect(helm.argv).toEqual([
      'upgrade', '--install', 'shop', `${PROJECT}/chart`, '--namespace', 'shop-staging', '--create-namespace',
      '--values', `${PROJECT}/chart/values-staging.yaml`, '--set-string', 'env=staging', '--set-string', 'image.tag=v9', '--wait', '--rollback-on-failure', '--timeout', '120s',
    ])
    expect(helm.action).toMatchObject({kubeconfig: PATHS.hostKubeconfig})
    expect(plan.metadata).toMatchObject({release: 'shop', rollback: 'KUBECONFIG=/state/clusters/dev/kubeconfig helm rollback shop --namespace shop-staging'})
  })

  it(".idp.yml's image.repository goes with the tag (helm --set-string, Argo CD --helm-set-string): the image that runs is the one checked", async () => {
    const {config, root, env} = await load()
    const imageRepository = 'registry.example.com/acme/shop'
    const helm = planForJson(planDeploy({env: env('staging'), strategy: 'helm', imageTag: 'v9', imageRepository, timeoutMs: 120_000, graceMs: 30_000, root}, facts())).steps[1]!
    expect(helm.argv!.join(' ')).toContain('--set-string env=staging --set-string image.repository=registry.example.com/acme/shop --set-string image.tag=v9 --wait')
    const argocd = planForJson(planDeploy({env: env('staging'), strategy: 'argocd', argocd: config.deploy.argocd, imageTag: 'v1.2.3', imageRepository, timeoutMs: 300_000, graceMs: 30_000, root}, facts()))
    expect(argocd.steps.find((s) => s.id === 'app')!.argv!.join(' ')).toContain('--helm-set-string image.repository=registry.example.com/acme/shop --helm-set-string image.tag=v1.2.3')
    // Without a tag the chart's own image stays: no repository alone.
    const untagged = planForJson(planDeploy({env: env('staging'), strategy: 'helm', imageRepository, timeoutMs: 120_000, graceMs: 30_000, root}, facts())).steps[1]!
    expect(untagged.argv!.join(' ')).not.toContain('image.repository')
  })

  it('helm: with a holder, the environment\'s Lease (the one env up takes) is held around the upgrade', async () => {
    const {root, env} = await load()
    const plan = planForJson(planDeploy({env: env('staging'), strategy: 'helm', timeoutMs: 60_000, graceMs: 30_000, root}, facts({holder: 'ci on box (pid 1)'})))
    expect(plan.steps.map((s) => s.id)).toEqual(['preflight', 'lock', 'helm', 'unlock'])
    expect(plan.steps.find((s) => s.id === 'lock')).toMatchObject({action: {op: 'env.lock', params: {name: 'idp-shop-staging', holder: 'ci on box (pid 1)'}}})
    expect(plan.steps.find((s) => s.id === 'helm')!.dependsOn).toEqual(['lock'])
    expect(plan.steps.find((s) => s.id === 'lock')!.undo?.[0]).toMatchObject({op: 'env.unlock'})
  })

  it('helm 3: --atomic instead of --rollback-on-failure', async () => {
    const {root, env} = await load()
    const plan = planForJson(planDeploy({env: env('staging'), strategy: 'helm', timeoutMs: 60_000, graceMs: 30_000, root}, facts({helmMajor: 3})))
    expect(plan.steps[1]!.argv).toContain('--atomic')
    expect(plan.steps[1]!.argv).not.toContain('--rollback-on-failure')
  })
})

describe('deploy.checkApplication', () => {
  const action: OpAction<'deploy.checkApplication'> = {kind: 'local', op: 'deploy.checkApplication', summary: '', params: {tool: 'argocd', argv: ['app', 'get', 'shop-staging', '--output', 'json'], name: 'shop-staging', service: 'shop', env: 'staging'}}
  const ctx = {signal: new AbortController().signal, results: new Map(), step: {id: 'check', title: '', action}}
  const appWith = (labels: Record<string, string>) => ({stdout: JSON.stringify({metadata: {name: 'shop-staging', labels}, spec: {}, status: {}})})
  const check = (runner: RecordingRunner) => createDeployHandlers({runner})['deploy.checkApplication'](action, ctx)

  it('a missing Application (argocd exit 20) is new; idp\'s own is updated; a foreign one is refused before anything changes', async () => {
    expect(await check(new RecordingRunner().when('argocd', ['app', 'get'], {exitCode: 20, stderr: '{"level":"fatal","msg":"rpc error: code = PermissionDenied desc = permission denied"}'}))).toEqual({exists: false})
    expect(await check(new RecordingRunner().when('argocd', ['app', 'get'], appWith({'app.kubernetes.io/managed-by': 'idp', 'idp.dev/service': 'shop', 'idp.dev/env': 'staging'})))).toEqual({exists: true})
    const refused = await check(new RecordingRunner().when('argocd', ['app', 'get'], appWith({team: 'other'}))).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(UsageError)
    expect((refused as UsageError).message).toContain('Argo CD Application shop-staging exists and was not created by idp for shop/staging')
  })
})

describe('deploy settings', () => {
  it('refuses vcluster previews, argocd without settings and helm without a chart, before anything runs', async () => {
    const {config, env} = await load()
    expect(() => deploySettings(config, env('pr-1'))).toThrow(UsageError)
    expect(() => deploySettings({...config, deploy: {strategy: 'argocd'}}, env('staging'))).toThrow(ConfigError)
    const noChart = {...env('staging')}
    delete noChart.helm
    expect(() => deploySettings({...config, deploy: {strategy: 'helm'}}, noChart)).toThrow(/has no helm chart/u)
    expect(deploySettings(config, env('staging'))).toMatchObject({strategy: 'argocd', argocd: {repoURL: 'https://github.com/acme/shop'}})
  })
})

describe('the shared Argo CD wait (deploy.waitApplication)', () => {
  const app = (health: string, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    JSON.stringify({
      metadata: {name: 'shop-staging', namespace: 'argocd'},
      spec: {},
      ...top,
      status: {
        sync: {status: 'Synced', revision: 'abc'},
        health: {status: health},
        operationState: {phase: 'Succeeded', message: 'successfully synced (all tasks run)'},
        resources: [{kind: 'Deployment', namespace: 'shop-staging', name: 'shop', status: 'Synced', health: {status: health, ...(health === 'Healthy' ? {} : {message: 'Deployment "shop" exceeded its progress deadline'})}}],
        ...extra,
      },
    })
  const params = (extra: Partial<ApplicationWait> = {}): ApplicationWait => ({tool: 'argocd', argv: ['app', 'get', 'shop-staging', '--output', 'json'], name: 'shop-staging', timeoutMs: 1000, graceMs: 30_000, pollMs: 10, sync: true, rollback: 'argocd app rollback shop-staging', inspect: 'argocd app get shop-staging', ...extra})
  /** A runner answering `app get` with each of `answers` in turn (the last one from then on). */
  const sequence = (answers: string[]) => {
    const runner = new RecordingRunner()
    let i = 0
    runner.when('argocd', ['app', 'get'], () => ({stdout: answers[Math.min(i++, answers.length - 1)]!}))
    return runner
  }
  const signal = new AbortController().signal

  it('an Application already synced and healthy returns after one look, without waiting', async () => {
    const runner = sequence([app('Healthy')])
    const started = Date.now()
    const result = await handlersFor({runner})['deploy.waitApplication']({kind: 'local', op: 'deploy.waitApplication', summary: '', params: params({timeoutMs: 60_000, pollMs: 5000})}, {signal, results: new Map(), step: {id: 'wait', title: '', action: {kind: 'local', op: 'deploy.waitApplication', summary: '', params: params()}}})
    expect(result).toEqual({health: 'Healthy', sync: 'Synced', revision: 'abc', operation: 'Succeeded'})
    expect(runner.argvOf('argocd')).toHaveLength(1)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('waits while the requested operation is pending, even if the old status says Healthy', async () => {
    const runner = sequence([app('Healthy', {}, {operation: {sync: {revision: 'main'}}}), app('Progressing'), app('Healthy')])
    await waitForApplication(runner, params(), signal)
    expect(runner.argvOf('argocd')).toHaveLength(3)
  })

  it('a Degraded within the grace period is part of the rollout; one that lasts longer fails (exit 5) with the resource messages', async () => {
    const brief = sequence([app('Degraded'), app('Degraded'), app('Healthy')])
    expect(argoHealth(await waitForApplication(brief, params({graceMs: 5000}), signal))).toBe('Healthy')
    const lasting = sequence([app('Degraded')])
    const error = (await waitForApplication(lasting, params({graceMs: 50, timeoutMs: 5000}), signal).catch((e: unknown) => e)) as ToolError
    expect(error).toBeInstanceOf(ToolError)
    expect(error.exitCode).toBe(5)
    expect(error.message).toBe('Application shop-staging is Degraded.')
    expect(error.hint).toContain('Deployment shop-staging/shop: Degraded (Deployment "shop" exceeded its progress deadline)')
    expect(error.hint).toContain('argocd app rollback shop-staging')
  })

  it('a timeout (exit 7) names what was still not ready; a failed sync says so at once', async () => {
    const error = (await waitForApplication(sequence([app('Progressing')]), params({timeoutMs: 100}), signal).catch((e: unknown) => e)) as TimeoutError
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error.exitCode).toBe(7)
    expect(error.message).toBe('Application shop-staging was not synced and healthy within 0s (health Progressing, sync Synced, operation Succeeded); not ready: Deployment shop-staging/shop: Progressing (Deployment "shop" exceeded its progress deadline).')
    expect(error.details).toMatchObject({notReady: ['Deployment shop-staging/shop: Progressing (Deployment "shop" exceeded its progress deadline)']})
    const failed = sequence([app('Missing', {operationState: {phase: 'Failed', message: 'one or more objects failed to apply'}})])
    const syncError = (await waitForApplication(failed, params(), signal).catch((e: unknown) => e)) as ToolError
    expect(syncError).toBeInstanceOf(ToolError)
    expect(syncError.message).toBe('Sync of Application shop-staging failed: one or more objects failed to apply.')
    expect(failed.argvOf('argocd')).toHaveLength(1)
  })

  it('a rollback waits for Healthy only: OutOfSync with git is what a rollback leaves', async () => {
    const runner = sequence([app('Healthy', {sync: {status: 'OutOfSync', revision: 'v1'}})])
    await waitForApplication(runner, params({sync: false}), signal)
    expect(runner.argvOf('argocd')).toHaveLength(1)
  })
})

describe('helm outcome', () => {
  it('reads the deployed status from helm upgrade text', () => {
    expect(helmDeployed('Release "shop" has been upgraded.\nNAME: shop\nNAMESPACE: shop-staging\nSTATUS: deployed\nREVISION: 3\n')).toEqual({revision: '3', health: 'deployed'})
  })

  it('a helm --wait that ran out of time is a TimeoutError naming what was not ready; other helm failures stay ToolErrors', async () => {
    const runner = new RecordingRunner()
      .when('helm', ['upgrade'], {exitCode: 1, stderr: 'Error: UPGRADE FAILED: release shop failed, and has been rolled back due to rollback-on-failure being set: context deadline exceeded\n'})
      .when('helm', ['upgrade', '--install', 'bad'], {exitCode: 1, stderr: 'Error: chart not found\n'})
    const wrapped = withDeployOutcome(runner, {timeoutSeconds: 60, rollback: 'helm rollback shop', notReady: async () => ['Deployment shop-staging/shop 0/1 ready (pod shop-1 container app: CrashLoopBackOff)']})
    const error = (await wrapped.run('helm', ['upgrade', '--install', 'shop']).catch((e: unknown) => e)) as TimeoutError
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error.message).toContain('not ready: Deployment shop-staging/shop 0/1 ready (pod shop-1 container app: CrashLoopBackOff)')
    await expect(wrapped.run('helm', ['upgrade', '--install', 'bad'])).rejects.toBeInstanceOf(ToolError)
  })
})

describe('planRollback', () => {
  it('argocd: preflight, kubeconfig, argocd app rollback NAME ID --timeout, then the shared wait for health only', async () => {
    const {config, env} = await load()
    const plan = planForJson(planRollback({env: env('staging'), strategy: 'argocd', argocd: config.deploy.argocd, to: 1, from: 2, timeoutMs: 120_000, graceMs: 30_000}, facts()))
    expect(plan.steps.map((s) => s.id)).toEqual(['preflight', 'kubeconfig', 'rollback', 'wait'])
    expect(plan.steps[2]!.argv).toEqual(['app', 'rollback', 'shop-staging', '1', '--timeout', '120', '--app-namespace', 'argocd', '--core'])
    expect(plan.steps[3]!.action).toMatchObject({op: 'deploy.waitApplication', params: {sync: false}})
  })

  it('helm: preflight, lock, helm rollback REL REV --wait --timeout, unlock', async () => {
    const {env} = await load()
    const plan = planForJson(planRollback({env: env('staging'), strategy: 'helm', to: 2, from: 3, timeoutMs: 60_000, graceMs: 30_000}, facts({holder: 'me'})))
    expect(plan.steps.map((s) => s.id)).toEqual(['preflight', 'lock', 'helm', 'unlock'])
    expect(plan.steps[2]!.argv).toEqual(['rollback', 'shop', '2', '--namespace', 'shop-staging', '--wait', '--timeout', '60s'])
  })
})

function argoHealth(app: {status?: {health?: {status?: string}}}): string | undefined {
  return app.status?.health?.status
}

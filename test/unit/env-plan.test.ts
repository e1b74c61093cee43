import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/lib/config/load.js'
import {resolveEnvironment} from '../../src/lib/config/environments.js'
import {defaultEnvName, sanitizeBranch} from '../../src/lib/env/context.js'
import {envStatePaths} from '../../src/lib/env/paths.js'
import {planEnvDown} from '../../src/lib/env/plan-down.js'
import {type EnvUpFacts, planEnvUp} from '../../src/lib/env/plan-up.js'
import {createEnvHandlers} from '../../src/lib/env/handlers.js'
import {applyPlan, type Handlers} from '../../src/lib/plan/apply.js'
import {formatPlan, planForJson} from '../../src/lib/plan/format.js'
import {validatePlan} from '../../src/lib/plan/graph.js'
import {RecordingRunner} from '../support/recording-runner.js'
import {FIXTURE_PROJECT} from '../fixtures/env/world.js'

const NOW = new Date('2030-01-01T00:00:00.000Z')

async function env(name: string) {
  const loaded = await loadConfig({dir: FIXTURE_PROJECT, required: true})
  return resolveEnvironment(loaded.config, name, {root: loaded.root, vars: {sha: 'abc1234'}})
}

function facts(overrides: Partial<EnvUpFacts> = {}): EnvUpFacts {
  return {helmMajor: 4, owner: 'alice@example.com', holder: 'alice on box (pid 1)', sha: 'abc1234', now: NOW, paths: envStatePaths('/state', 'shop', 'pr-7', 'dev'), ...overrides}
}

describe('planEnvUp', () => {
  it('lists every step with tool and argv in --dry-run --json, terraform and the kubeconfig side by side', async () => {
    const plan = planForJson(planEnvUp({env: await env('pr-7'), imageTag: 'v1', timeoutMs: 300_000}, facts()))
    expect(plan.steps.map((s) => s.id)).toEqual(['preflight', 'lock', 'namespace', 'kubeconfig', 'terraform-vars', 'terraform-init', 'terraform-apply', 'helm', 'record', 'unlock'])
    const step = (id: string) => plan.steps.find((s) => s.id === id)!
    // Concurrency: the kubeconfig and terraform both wait only for the namespace; helm waits for both.
    // (Terraform after the namespace: undo then destroys its resources before deleting the namespace.)
    expect(step('kubeconfig').dependsOn).toEqual(['namespace'])
    expect(step('terraform-vars').dependsOn).toEqual(['namespace'])
    expect(step('terraform-init').dependsOn).toEqual(['terraform-vars'])
    // The variables go as a JSON var file: each value keeps its type, whatever the variable's type.
    expect(step('terraform-vars').action).toMatchObject({kind: 'local', op: 'env.writeTfVars', params: {file: '/state/envs/shop/pr-7/terraform.tfvars.json', vars: {env: 'pr-7'}}})
    expect(step('helm').dependsOn).toEqual(['kubeconfig', 'terraform-apply'])
    // The workspace comes with every terraform call (TF_WORKSPACE; init creates it): no select step.
    const tfEnv = {TF_DATA_DIR: '/state/envs/shop/pr-7/terraform', TF_WORKSPACE: 'shop-pr-7'}
    expect(step('terraform-init').action).toMatchObject({tool: 'terraform', argv: ['init', '-input=false', '-no-color'], cwd: `${FIXTURE_PROJECT}/infra`, env: tfEnv})
    expect(step('terraform-apply').dependsOn).toEqual(['terraform-init'])
    // One apply, no saved plan: apply -json gives helm its values; `terraform output` after it only for sensitive outputs.
    expect(step('terraform-apply').action).toMatchObject({
      kind: 'local',
      op: 'env.terraformApply',
      params: {
        apply: {tool: 'terraform', argv: ['apply', '-lock-timeout=5m', '-input=false', '-no-color', '-auto-approve', '-json', '-var-file=/state/envs/shop/pr-7/terraform.tfvars.json'], cwd: `${FIXTURE_PROJECT}/infra`, env: tfEnv},
        outputs: {tool: 'terraform', argv: ['output', '-json', '-no-color'], env: tfEnv},
        file: '/state/envs/shop/pr-7/tf-values.yaml',
      },
    })
    // A fresh environment's workspace is destroyed and deleted (from default) if a later step fails,
    // then the data dir init made goes (after the workspace delete, which still reads it).
    expect(step('terraform-init').undo).toEqual([
      expect.objectContaining({argv: ['destroy', '-lock-timeout=5m', '-input=false', '-no-color', '-auto-approve', '-var-file=/state/envs/shop/pr-7/terraform.tfvars.json'], env: tfEnv}),
      expect.objectContaining({argv: ['workspace', 'delete', '-no-color', 'shop-pr-7'], env: {...tfEnv, TF_WORKSPACE: 'default'}}),
      {kind: 'local', op: 'env.removeFiles', summary: `remove ${tfEnv.TF_DATA_DIR}`, params: {files: [tfEnv.TF_DATA_DIR]}},
    ])
    expect(step('helm').tool).toBe('helm')
    expect(step('helm').argv).toEqual([
      'upgrade', '--install', 'shop', `${FIXTURE_PROJECT}/chart`, '--namespace', 'shop-pr-7',
      '--values', `${FIXTURE_PROJECT}/chart/values-preview.yaml`, '--values', '/state/envs/shop/pr-7/tf-values.yaml',
      '--set-string', 'env=pr-7', '--set-string', 'image.tag=v1', '--wait', '--rollback-on-failure', '--timeout', '300s',
    ])
    expect(step('helm').action).toMatchObject({kubeconfig: '/state/envs/shop/pr-7/kubeconfig'})
    // --dry-run shows every command the step may run, as commands to paste: apply, then the outputs.
    const text = formatPlan(planEnvUp({env: await env('pr-7'), timeoutMs: 300_000}, facts()))
    const cd = `cd ${FIXTURE_PROJECT}/infra && TF_DATA_DIR=/state/envs/shop/pr-7/terraform TF_WORKSPACE=shop-pr-7`
    expect(text).toContain(`${cd} terraform apply -lock-timeout=5m -input=false -no-color -auto-approve -json -var-file=/state/envs/shop/pr-7/terraform.tfvars.json; the outputs > /state/envs/shop/pr-7/tf-values.yaml`)
    expect(text).toContain(`only if an output is sensitive: ${cd} terraform output -json -no-color (values never printed)`)
    expect(text).not.toContain('tfplan')
    expect(text).not.toContain('workspace select')
  })

  it("gives helm .idp.yml's image.repository with the tag: the image that runs is the one checked", async () => {
    const plan = planEnvUp({env: await env('pr-7'), imageTag: 'v1', imageRepository: 'registry.example.com/acme/shop', timeoutMs: 300_000}, facts())
    const helm = plan.steps.find((s) => s.id === 'helm')!.action as {argv: string[]}
    expect(helm.argv.join(' ')).toContain('--set-string env=pr-7 --set-string image.repository=registry.example.com/acme/shop --set-string image.tag=v1 --wait')
    // Without a tag helm keeps the chart's image: no repository either.
    const untagged = planEnvUp({env: await env('pr-7'), imageRepository: 'registry.example.com/acme/shop', timeoutMs: 300_000}, facts())
    expect((untagged.steps.find((s) => s.id === 'helm')!.action as {argv: string[]}).argv.join(' ')).not.toContain('image.')
  })

  it('uses --atomic on helm 3', async () => {
    const plan = planEnvUp({env: await env('ns-1'), timeoutMs: 60_000}, facts({helmMajor: 3}))
    const helm = plan.steps.find((s) => s.id === 'helm')!.action
    expect(helm.kind === 'tool' && helm.argv).toContain('--atomic')
    expect(helm.kind === 'tool' && helm.argv).not.toContain('--rollback-on-failure')
  })

  it('vcluster driver: create with pinned chart and values, connect into the private kubeconfig, release into default', async () => {
    const plan = planForJson(planEnvUp({env: await env('vc-1'), timeoutMs: 60_000}, facts()))
    const step = (id: string) => plan.steps.find((s) => s.id === id)!
    expect(step('vcluster-create').argv).toEqual(['create', 'vc-1', '--namespace', 'shop-vc-1', '--connect=false', '--background-proxy=false', '--chart-version', '0.26.0', '--upgrade', '--values', `${FIXTURE_PROJECT}/vcluster.yaml`])
    expect(step('vcluster-create').undo?.[0]).toMatchObject({tool: 'vcluster', argv: ['delete', 'vc-1', '--namespace', 'shop-vc-1', '--delete-context=false', '--ignore-not-found']})
    expect(step('kubeconfig').action).toMatchObject({op: 'env.writeVclusterKubeconfig', params: {argv: ['connect', 'vc-1', '--namespace', 'shop-vc-1', '--print', '--background-proxy=false']}})
    expect(step('helm').argv).toContain('default')
    expect(plan.steps.some((s) => s.id.startsWith('terraform'))).toBe(false)
  })

  it('vcluster.server (templated) becomes vcluster connect --server, so the real CLI does not port-forward', async () => {
    const loaded = await loadConfig({dir: FIXTURE_PROJECT, required: true})
    const config = structuredClone(loaded.config)
    config.environments['vc-*']!.vcluster = {...config.environments['vc-*']!.vcluster!, server: 'https://{{env}}.vc.example.com'}
    const resolved = resolveEnvironment(config, 'vc-2', {root: loaded.root, vars: {sha: 'abc1234'}})
    expect(resolved.vcluster?.server).toBe('https://vc-2.vc.example.com')
    const kubeconfig = planForJson(planEnvUp({env: resolved, timeoutMs: 60_000}, facts())).steps.find((s) => s.id === 'kubeconfig')!
    expect(kubeconfig.action).toMatchObject({params: {argv: ['connect', 'vc-2', '--namespace', 'shop-vc-2', '--print', '--background-proxy=false', '--server', 'https://vc-2.vc.example.com']}})
  })

  it('ttl becomes expires-at from the injected clock; --ttl wins over the config', async () => {
    const plan = planEnvUp({env: await env('pr-7'), timeoutMs: 60_000}, facts())
    expect(plan.metadata?.expiresAt).toBe('2030-01-04T00:00:00.000Z')
    const ns = plan.steps.find((s) => s.id === 'namespace')!.action
    expect(ns.kind === 'api' && ns.op === 'kube.ensureNamespace' && ns.params.annotations['idp.dev/expires-at']).toBe('2030-01-04T00:00:00.000Z')
    expect(planEnvUp({env: await env('pr-7'), ttlMs: 3_600_000, timeoutMs: 60_000}, facts()).metadata?.expiresAt).toBe('2030-01-01T01:00:00.000Z')
  })

  it('an update of an existing environment undoes nothing but the lock', async () => {
    const plan = planEnvUp({env: await env('pr-7'), timeoutMs: 60_000}, facts({existing: 'ours'}))
    expect(plan.steps.filter((s) => s.undo).map((s) => s.id)).toEqual(['lock'])
    expect(() => validatePlan(plan)).not.toThrow()
  })

  it('runs with the recording runner: tools in dependency order, terraform before helm', async () => {
    const runner = new RecordingRunner()
    // Every op that needs a cluster answers as a live one would; terraform and helm go through the runner.
    const handlers: Partial<Handlers> = {
      ...createEnvHandlers({runner}),
      'env.preflight': async () => ({server: 'https://k8s.test', tools: {}}),
      'env.lock': async () => ({acquired: true}),
      'kube.ensureNamespace': async () => ({created: true}),
      'env.writeNamespaceKubeconfig': async (action) => ({file: action.params.file}),
      'env.recordResult': async (action) => ({status: action.params.status}),
      'env.unlock': async () => ({released: true}),
    }
    runner.when('terraform', ['apply'], {stdout: '{"@level":"info","@message":"Outputs: 1","type":"outputs","outputs":{"bucket":{"sensitive":false,"type":"string","value":"b"}}}'})
    const state = mkdtempSync(path.join(os.tmpdir(), 'idp-plan-'))
    try {
      await applyPlan(planEnvUp({env: await env('pr-7'), timeoutMs: 60_000}, facts({paths: envStatePaths(state, 'shop', 'pr-7', 'dev')})), {runner, handlers, renderer: 'silent'})
    } finally {
      rmSync(state, {recursive: true, force: true})
    }
    expect(runner.calls.map((c) => `${c.tool} ${c.argv[0]}`)).toEqual(['terraform init', 'terraform apply', 'helm upgrade'])
  })
})

describe('planEnvDown', () => {
  const downFacts = {holder: 'me', paths: envStatePaths('/state', 'shop', 'pr-7', 'dev')}

  it('tears down an environment of ours: helm, terraform destroy and workspace delete, namespace', async () => {
    const plan = planForJson(planEnvDown({env: await env('pr-7'), found: 'ours', timeoutMs: 60_000}, downFacts))
    expect(plan.steps.map((s) => s.id)).toEqual([
      'preflight', 'lock', 'helm-uninstall', 'terraform-vars', 'terraform-init', 'terraform-destroy', 'terraform-workspace-delete', 'namespace-delete', 'local-files', 'unlock',
    ])
    const tfEnv = {TF_DATA_DIR: '/state/envs/shop/pr-7/terraform', TF_WORKSPACE: 'shop-pr-7'}
    expect(plan.steps.find((s) => s.id === 'terraform-init')!.action).toMatchObject({argv: ['init', '-input=false', '-no-color'], env: tfEnv})
    expect(plan.steps.find((s) => s.id === 'terraform-destroy')!.action).toMatchObject({env: tfEnv})
    // Terraform will not delete the workspace TF_WORKSPACE selects: the delete runs from default.
    expect(plan.steps.find((s) => s.id === 'terraform-workspace-delete')!.action).toMatchObject({env: {...tfEnv, TF_WORKSPACE: 'default'}})
    expect(plan.steps.find((s) => s.id === 'helm-uninstall')!.argv).toEqual(['uninstall', 'shop', '--namespace', 'shop-pr-7', '--ignore-not-found'])
    expect(plan.steps.find((s) => s.id === 'terraform-workspace-delete')!.argv).toEqual(['workspace', 'delete', '-no-color', 'shop-pr-7'])
  })

  it('uses the driver recorded on the namespace, and touches nothing that is not ours', async () => {
    const vc = planEnvDown({env: await env('pr-7'), found: 'ours', driver: 'vcluster', timeoutMs: 60_000}, downFacts)
    expect(vc.steps.map((s) => s.id)).toContain('vcluster-delete')
    expect(vc.steps.map((s) => s.id)).not.toContain('helm-uninstall')
    const foreign = planEnvDown({env: await env('pr-7'), found: 'foreign', timeoutMs: 60_000}, downFacts)
    expect(foreign.steps.map((s) => s.id)).toEqual(['preflight'])
    const absent = planEnvDown({env: await env('ns-1'), found: 'absent', timeoutMs: 60_000}, downFacts)
    expect(absent.steps.map((s) => s.id)).toEqual(['preflight', 'lock', 'local-files', 'unlock'])
  })
})

describe('environment names', () => {
  it('defaults from --pr, then the branch (sanitised); rejects bad names before anything runs', () => {
    expect(defaultEnvName({pr: 42, branch: 'main'})).toBe('pr-42')
    expect(defaultEnvName({branch: 'feature/Add_Login'})).toBe('feature-add-login')
    expect(sanitizeBranch(`x/${'a'.repeat(80)}`)).toHaveLength(63)
    expect(() => defaultEnvName({env: 'Bad_Name'})).toThrow(/Invalid environment name/u)
    expect(() => defaultEnvName({})).toThrow(/Missing environment name/u)
  })
})

describe('where the Terraform state lives, in the plans', () => {
  const kube = {backend: 'kubernetes' as const, namespace: 'idp-system', explicitNamespace: false, suffix: 'idp-shop', secret: 'tfstate-shop-pr-7-idp-shop', lease: 'lock-tfstate-shop-pr-7-idp-shop', migrate: []}
  const ids = (plan: {steps: Array<{id: string}>}) => plan.steps.map((s) => s.id)

  it('the kubernetes backend: the state namespace first, then init in `default` with the backend config (a kubeconfig path, no credential)', async () => {
    const plan = planEnvUp({env: await env('pr-7'), timeoutMs: 300_000}, facts({terraformState: kube}))
    expect(ids(plan)).toEqual(['preflight', 'lock', 'namespace', 'kubeconfig', 'terraform-vars', 'terraform-state', 'terraform-init', 'terraform-apply', 'helm', 'record', 'unlock'])
    const step = (id: string) => plan.steps.find((s) => s.id === id)!
    expect(step('terraform-state').action).toMatchObject({kind: 'api', op: 'kube.ensureStateNamespace', params: {kubeconfig: '/state/clusters/dev/kubeconfig', namespace: 'idp-system', explicit: false}})
    expect(step('terraform-state').undo).toBeUndefined()
    expect(step('terraform-init').dependsOn).toEqual(['terraform-state'])
    expect(step('terraform-init').action).toMatchObject({
      argv: ['init', '-input=false', '-no-color', '-reconfigure', '-backend-config=config_context=standin-host', '-backend-config=config_path=/state/clusters/dev/kubeconfig', '-backend-config=namespace=idp-system', '-backend-config=secret_suffix=idp-shop'],
      env: {TF_DATA_DIR: '/state/envs/shop/pr-7/terraform', TF_WORKSPACE: 'default'},
    })
    const down = planEnvDown({env: await env('pr-7'), found: 'ours', timeoutMs: 60_000}, {holder: 'h', paths: facts().paths, terraformState: kube})
    expect(ids(down)).toEqual(expect.arrayContaining(['terraform-vars', 'terraform-state', 'terraform-init', 'terraform-destroy', 'terraform-workspace-delete']))
    expect(down.steps.find((s) => s.id === 'terraform-init')!.dependsOn).toEqual(['terraform-state'])
    // The empty state of `default` (init makes it) is tidied after the workspace is gone, before local files.
    const tidy = down.steps.find((s) => s.id === 'terraform-default-state')!
    expect(tidy.dependsOn).toEqual(['terraform-workspace-delete'])
    expect(tidy.action).toMatchObject({kind: 'api', op: 'kube.removeIdleDefaultState', params: {namespace: 'idp-system', suffix: 'idp-shop', secret: 'tfstate-default-idp-shop'}})
    expect(down.steps.find((s) => s.id === 'local-files')!.dependsOn).toContain('terraform-default-state')
  })

  it('local state left by an older idp moves in with -migrate-state -force-copy; a module\'s own backend gets no config', async () => {
    const migrate = [{workspace: 'shop-pr-7', file: '/repo/infra/terraform.tfstate.d/shop-pr-7/terraform.tfstate', secret: 'tfstate-shop-pr-7-idp-shop'}]
    const moving = planEnvUp({env: await env('pr-7'), timeoutMs: 300_000}, facts({terraformState: {...kube, migrate}}))
    expect(moving.steps.find((s) => s.id === 'terraform-init')!.action).toMatchObject({argv: expect.arrayContaining(['-migrate-state', '-force-copy'])})
    expect(formatPlan(moving)).toContain('local state of shop-pr-7 moves in only if the cluster has none of it')
    const own = planEnvUp({env: await env('pr-7'), timeoutMs: 300_000}, facts({terraformState: {backend: 'module', type: 's3', file: 'versions.tf'}}))
    expect(ids(own)).not.toContain('terraform-state')
    expect(own.steps.find((s) => s.id === 'terraform-init')!.action).toMatchObject({argv: ['init', '-input=false', '-no-color'], env: {TF_WORKSPACE: 'default'}})
  })
})

// idp env up/down end to end: the built CLI against the Kubernetes stand-in, real helm 4,
// real terraform (built-in resources, state in the kubernetes backend on the stand-in) and the
// vcluster double.
import fs from 'node:fs'
import path from 'node:path'
import {gunzipSync} from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type EnvWorld, startEnvWorld} from '../fixtures/env/world.js'

let world: EnvWorld
let userHash: string

beforeAll(async () => {
  world = await startEnvWorld()
  userHash = world.kubeconfigHash()
})

afterAll(async () => {
  // Whatever a test did, the user's kubeconfig (and its current context) must be as it was.
  expect(world.kubeconfigHash()).toBe(userHash)
  await world?.stop()
})

const namespace = (name: string) => world.kube.store().get('v1', 'Namespace', name)
const helmSecrets = (ns: string, clusterId = 'host') => world.kube.store(clusterId).list('v1', 'Secret', ns).filter((s) => s.metadata?.labels?.owner === 'helm')
const lease = (name: string) => world.kube.store().get('coordination.k8s.io/v1', 'Lease', name, 'default')
/** The Secret the kubernetes backend keeps a workspace's state in, and that state. */
const stateSecret = (workspace: string) => world.kube.store().get('v1', 'Secret', `tfstate-${workspace}-idp-shop`, 'idp-system')
const stateIn = (workspace: string) => JSON.parse(gunzipSync(Buffer.from(stateSecret(workspace)!.data!.tfstate, 'base64')).toString('utf8')) as {resources: Array<{name: string; instances: Array<{attributes: {input: {value: string}}}>}>}
const backendBlock = 'terraform {\n  backend "kubernetes" {}\n}'

describe('idp env up / down (namespace driver, terraform, helm 4)', () => {
  it('brings up pr-7: labelled namespace, terraform outputs as values, helm release, lock released', async () => {
    const seen = world.kube.requests().length
    const up = await world.run(['env', 'up', 'pr-7', '--sha', 'abc1234', '--ttl', '2h', '--json'])
    expect(up.stderr).toBe('')
    expect(up.code).toBe(0)
    const result = up.json.result
    expect(result).toMatchObject({env: 'pr-7', service: 'shop', namespace: 'shop-pr-7', cluster: 'dev', driver: 'namespace', url: 'https://pr-7.shop.example.com', updated: false, teardown: 'idp env down pr-7'})
    expect(result.kubeconfig).toBe(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'kubeconfig'))
    const expires = new Date(result.expiresAt).getTime() - Date.now()
    expect(expires).toBeGreaterThan(115 * 60_000)
    expect(expires).toBeLessThanOrEqual(120 * 60_000)
    expect(result.steps.map((s: {id: string; status: string}) => `${s.id}:${s.status}`)).toEqual([
      'preflight:done',
      'lock:done',
      'namespace:done',
      'kubeconfig:done',
      'terraform-vars:done',
      'terraform-state:done',
      'terraform-init:done',
      'terraform-apply:done',
      'helm:done',
      'record:done',
      'unlock:done',
    ])

    const ns = namespace('shop-pr-7')!
    expect(ns.metadata?.labels).toMatchObject({'app.kubernetes.io/managed-by': 'idp', 'idp.dev/service': 'shop', 'idp.dev/env': 'pr-7', 'idp.dev/pr': '7'})
    expect(ns.metadata?.annotations).toMatchObject({'idp.dev/owner': 'tester', 'idp.dev/git-sha': 'abc1234', 'idp.dev/driver': 'namespace', 'idp.dev/cluster': 'dev', 'idp.dev/status': 'ready', 'idp.dev/url': 'https://pr-7.shop.example.com', 'idp.dev/expires-at': result.expiresAt})
    // TF_WORKSPACE made init create the workspace, its state a Secret on the cluster (nothing in the
    // checkout); no `environment` file selects it. idp made the state namespace, labelled as its own.
    expect(stateIn('shop-pr-7').resources.map((r) => r.instances[0]!.attributes.input.value)).toEqual(['bucket-pr-7'])
    expect(stateSecret('shop-pr-7')!.metadata?.labels).toMatchObject({tfstate: 'true', tfstateWorkspace: 'shop-pr-7', tfstateSecretSuffix: 'idp-shop'})
    expect(namespace('idp-system')!.metadata?.labels).toMatchObject({'app.kubernetes.io/managed-by': 'idp'})
    expect(fs.existsSync(path.join(world.project, 'infra', 'terraform.tfstate.d'))).toBe(false)
    expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'terraform', 'environment'))).toBe(false)
    // The state lock is the backend's Lease, released (no holder) when apply ended.
    expect(world.kube.store().get('coordination.k8s.io/v1', 'Lease', 'lock-tfstate-shop-pr-7-idp-shop', 'idp-system')!.spec?.holderIdentity).toBeUndefined()
    // Init named the private host kubeconfig by path (no credential in argv) and the state's place.
    const init = result.plan.steps.find((s: {id: string}) => s.id === 'terraform-init').action.argv as string[]
    expect(init).toEqual(expect.arrayContaining(['-reconfigure', `-backend-config=config_path=${path.join(world.stateDir, 'idp', 'clusters', 'dev', 'kubeconfig')}`, '-backend-config=namespace=idp-system', '-backend-config=secret_suffix=idp-shop', '-backend-config=config_context=standin-host']))
    // apply -json leaves the sensitive output's value out: `terraform output` gave it, after the apply.
    expect(result.steps.find((s: {id: string}) => s.id === 'terraform-apply').result).toMatchObject({
      outputs: ['bucket', 'db_password'],
      sensitive: ['db_password'],
      outputCommand: true,
    })
    // No saved plan (it would hold the sensitive values too).
    expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'tfplan'))).toBe(false)
    // Terraform output reached helm as values; the image tag came from --sha via image.tag "{{sha}}".
    const cm = world.kube.store().get('v1', 'ConfigMap', 'shop-infra', 'shop-pr-7')!
    expect(cm.data).toEqual({env: 'pr-7', bucket: 'bucket-pr-7', imageTag: 'abc1234'})
    expect(world.kube.store().get('apps/v1', 'Deployment', 'shop', 'shop-pr-7')).toBeDefined()
    expect(helmSecrets('shop-pr-7').map((s) => s.metadata?.labels?.version)).toEqual(['1'])
    expect(lease('idp-shop-pr-7')).toBeUndefined()
    // The sensitive terraform output is in the 0600 values file, and nowhere in the output.
    const values = fs.readFileSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'tf-values.yaml'), 'utf8')
    expect(values).toContain('s3cr3t-pr-7-pw')
    expect(fs.statSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'tf-values.yaml')).mode & 0o777).toBe(0o600)
    expect(fs.statSync(result.kubeconfig).mode & 0o777).toBe(0o600)
    expect(up.stdout).not.toContain('s3cr3t')
    // The environment's kubeconfig defaults to the namespace.
    expect(fs.readFileSync(result.kubeconfig, 'utf8')).toContain('namespace: shop-pr-7')
    // idp asked the cluster for /version once (its reachability check, plain application/json): the
    // preflight step took that answer for the same private kubeconfig instead of asking again.
    const ours = world.kube.requests().slice(seen).filter((r) => r.method === 'GET' && r.path.endsWith('/version') && r.accept === 'application/json')
    expect(ours).toHaveLength(1)
  })

  it('up again updates in place (helm revision 2, created-at kept)', async () => {
    const before = namespace('shop-pr-7')!.metadata?.annotations?.['idp.dev/created-at']
    const up = await world.run(['env', 'up', 'pr-7', '--sha', 'def5678', '--json'])
    expect(up.code).toBe(0)
    expect(up.json.result.updated).toBe(true)
    // An update of a working environment must never tear it down on failure: no undo of it in the plan.
    const undoable = up.json.result.plan.steps.filter((s: {undo?: unknown[]}) => s.undo).map((s: {id: string}) => s.id)
    expect(undoable).toEqual(['lock'])
    expect(helmSecrets('shop-pr-7').map((s) => s.metadata?.labels?.version).sort()).toEqual(['1', '2'])
    const ns = namespace('shop-pr-7')!
    expect(ns.metadata?.annotations?.['idp.dev/git-sha']).toBe('def5678')
    expect(ns.metadata?.annotations?.['idp.dev/created-at']).toBe(before)
    expect(world.kube.store().get('v1', 'ConfigMap', 'shop-infra', 'shop-pr-7')!.data?.imageTag).toBe('def5678')
  })

  it('down removes the release, the terraform workspace and the namespace; down again says already gone', async () => {
    const down = await world.run(['env', 'down', 'pr-7', '--json'])
    expect(down.code).toBe(0)
    expect(down.json.result).toMatchObject({found: 'ours', alreadyGone: false})
    expect(down.json.result.steps.every((s: {status: string}) => s.status === 'done')).toBe(true)
    const ns = namespace('shop-pr-7')
    expect(ns === undefined || ns.status?.phase === 'Terminating').toBe(true)
    expect(helmSecrets('shop-pr-7')).toEqual([])
    // workspace delete removed the state Secret and its Lease; the state namespace stays (shared).
    expect(stateSecret('shop-pr-7')).toBeUndefined()
    expect(world.kube.store().get('coordination.k8s.io/v1', 'Lease', 'lock-tfstate-shop-pr-7-idp-shop', 'idp-system')).toBeUndefined()
    expect(namespace('idp-system')).toBeDefined()
    expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-7', 'kubeconfig'))).toBe(false)

    world.kube.store().delete('v1', 'Namespace', 'shop-pr-7')
    const again = await world.run(['env', 'down', 'pr-7'])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('already gone')
  })
})

describe('terraform workspaces and failures (real terraform)', () => {
  it('variables keep their values whatever their type: pr-9 for a `type = any` variable is the string, not "pr minus 9", on up, undo and down', async () => {
    const dir = path.join(world.project, 'infra-any')
    fs.mkdirSync(dir)
    fs.writeFileSync(
      path.join(dir, 'main.tf'),
      [backendBlock, 'variable "env" {', '  type = any', '}', 'variable "replicas" {', '  type = number', '}', 'resource "terraform_data" "x" { input = "${var.env}/${var.replicas}" }', 'output "name" { value = terraform_data.x.output }'].join('\n'),
    )
    fs.appendFileSync(path.join(world.project, '.idp.yml'), '  "any-*":\n    cluster: dev\n    driver: namespace\n    terraform: {dir: ./infra-any, vars: {env: "{{env}}", replicas: 2}}\n')
    const up = await world.run(['env', 'up', 'any-9', '--sha', 'abc1234', '--json'])
    expect(up.code, up.stderr).toBe(0)
    expect(up.json.result.steps.find((s: {id: string}) => s.id === 'terraform-apply').result).toMatchObject({outputs: ['name']})
    expect(stateIn('shop-any-9').resources[0]!.instances[0]!.attributes.input.value).toBe('any-9/2')
    expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'any-9', 'terraform'))).toBe(true)
    const down = await world.run(['env', 'down', 'any-9', '--json'])
    expect(down.code, down.stderr).toBe(0)
    expect(stateSecret('shop-any-9')).toBeUndefined()
    expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'any-9', 'terraform.tfvars.json'))).toBe(false)
    // Terraform's data dir of the environment (modules, provider links, the selected workspace) goes too.
    expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'any-9', 'terraform'))).toBe(false)
  })

  describe('sensitive outputs, known at plan time and computed during apply', () => {
    const dir = () => path.join(world.project, 'infra-secrets')
    const stepResult = (json: {result: {steps: Array<{id: string; result?: unknown}>}}) => json.result.steps.find((s) => s.id === 'terraform-apply')!.result
    const valuesFile = (env: string) => path.join(world.stateDir, 'idp', 'envs', 'shop', env, 'tf-values.yaml')

    beforeAll(() => {
      fs.mkdirSync(dir())
      fs.writeFileSync(
        path.join(dir(), 'main.tf'),
        [
          backendBlock,
          'variable "env" { type = string }',
          'resource "terraform_data" "db" { input = "db-${var.env}" }',
          'output "bucket" { value = "bucket-${var.env}" }',
          '# Known at plan time: the plan holds it.',
          'output "db_password" {',
          '  value     = "pw-${var.env}-known"',
          '  sensitive = true',
          '}',
          '# terraform_data.db.id is a UUID made during apply: unknown when planned (on the first apply).',
          'output "db_token" {',
          '  value     = "tok-${terraform_data.db.id}"',
          '  sensitive = true',
          '}',
        ].join('\n'),
      )
      fs.appendFileSync(path.join(world.project, '.idp.yml'), '  "sec-*":\n    cluster: dev\n    driver: namespace\n    helm: {chart: ./chart}\n    terraform: {dir: ./infra-secrets, vars: {env: "{{env}}"}}\n')
    })

    it('asks `terraform output` after the apply for the sensitive values; secrets only in the 0600 file', async () => {
      const up = await world.run(['env', 'up', 'sec-1', '--sha', 'abc1234', '--json', '--verbose'])
      expect(up.code).toBe(0)
      expect(stepResult(up.json)).toMatchObject({outputs: ['bucket', 'db_password', 'db_token'], sensitive: ['db_password', 'db_token'], outputCommand: true})
      const values = fs.readFileSync(valuesFile('sec-1'), 'utf8')
      const {infra} = JSON.parse(values) as {infra: {db_token: string; db_password: string}}
      const token = /^tok-[0-9a-f-]{36}$/u.exec(infra.db_token)?.[0]
      expect(token).toBeDefined()
      expect(infra.db_password).toBe('pw-sec-1-known')
      expect(fs.statSync(valuesFile('sec-1')).mode & 0o777).toBe(0o600)
      for (const secret of ['pw-sec-1-known', token!]) {
        expect(up.stdout).not.toContain(secret)
        expect(up.stderr).not.toContain(secret)
      }
      // --verbose shows the commands, never the values.
      expect(up.stderr).toMatch(/terraform apply -lock-timeout=5m -input=false -no-color -auto-approve -json -var-file=\S+\/sec-1\/terraform\.tfvars\.json /u)
      expect(up.stderr).toContain('terraform output -json -no-color')

      // Up again: nothing changes; the same values (the token made by the first apply is kept).
      const again = await world.run(['env', 'up', 'sec-1', '--sha', 'abc1234', '--json'])
      expect(again.code).toBe(0)
      expect(stepResult(again.json)).toMatchObject({sensitive: ['db_password', 'db_token'], outputCommand: true})
      expect(fs.readFileSync(valuesFile('sec-1'), 'utf8')).toBe(values)
      expect(again.stdout).not.toContain(token!)
      expect((await world.run(['env', 'down', 'sec-1'])).code).toBe(0)
    })
  })
  describe('an apply that fails half-way', () => {
    const failing = () => path.join(world.project, 'infra-fail')
    const module = (broken: boolean) =>
      [
        backendBlock,
        'variable "env" { type = string }',
        'resource "terraform_data" "made" { input = "made-${var.env}" }',
        ...(broken ? ['resource "terraform_data" "broken" {', '  depends_on = [terraform_data.made]', '  provisioner "local-exec" { command = "echo boom-${var.env} >&2; exit 3" }', '}'] : []),
        'output "bucket" { value = terraform_data.made.output }',
      ].join('\n')

    beforeAll(() => {
      fs.mkdirSync(failing())
      fs.writeFileSync(path.join(failing(), 'main.tf'), module(true))
      fs.appendFileSync(path.join(world.project, '.idp.yml'), '  "tf-*":\n    cluster: dev\n    driver: namespace\n    helm: {chart: ./chart}\n    terraform: {dir: ./infra-fail, vars: {env: "{{env}}"}}\n')
    })

    it('fails with terraform\'s own words (not JSON), then destroys what it made and deletes the workspace', async () => {
      const up = await world.run(['env', 'up', 'tf-1', '--sha', 'abc1234', '--json'])
      expect(up.code).toBe(5)
      const {error} = up.json
      expect(error.message).toMatch(/^terraform exited with code 1: Error: local-exec provisioner error/u)
      expect(error.details.step).toBe('terraform-apply')
      expect(error.details.stderrTail).toContain('exit status 3')
      expect(error.details.stderrTail).not.toContain('"@level"')
      expect(error.details.undone).toEqual(expect.arrayContaining(['terraform-init', 'namespace', 'lock']))
      expect(error.details.undoFailures).toBeUndefined()
      expect(stateSecret('shop-tf-1')).toBeUndefined()
      // The undo leaves no Terraform data dir behind either (as env down does not).
      expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'tf-1', 'terraform'))).toBe(false)
      // The generic "run `cd ... terraform apply ...` yourself" would name a place the undo removed.
      expect(error.hint).not.toMatch(/yourself to investigate/u)
      expect(error.hint).toMatch(/^What this run made was undone, .*--keep-on-failure/u)
    })

    it('up again once the module is fixed succeeds', async () => {
      fs.writeFileSync(path.join(failing(), 'main.tf'), module(false))
      const up = await world.run(['env', 'up', 'tf-1', '--sha', 'abc1234', '--json'])
      expect(up.code).toBe(0)
      expect(up.json.result.steps.find((s: {id: string}) => s.id === 'terraform-apply').result).toMatchObject({outputs: ['bucket'], sensitive: [], outputCommand: false})
      expect(fs.readFileSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'tf-1', 'tf-values.yaml'), 'utf8')).toContain('"bucket": "made-tf-1"')
      expect(stateSecret('shop-tf-1')).toBeDefined()
      expect((await world.run(['env', 'down', 'tf-1'])).code).toBe(0)
      expect(stateSecret('shop-tf-1')).toBeUndefined()
    })

    it('down after a failed up kept with --keep-on-failure destroys the half-made resources and the workspace', async () => {
      fs.writeFileSync(path.join(failing(), 'main.tf'), module(true))
      const up = await world.run(['env', 'up', 'tf-2', '--sha', 'abc1234', '--keep-on-failure', '--json'])
      expect(up.code).toBe(5)
      const cleanup: string[] = up.json.error.details.cleanup
      const dataDir = path.join(world.stateDir, 'idp', 'envs', 'shop', 'tf-2', 'terraform')
      const deleteAt = cleanup.findIndex((line) => line.endsWith('TF_WORKSPACE=default terraform workspace delete -no-color shop-tf-2'))
      expect(deleteAt).toBeGreaterThanOrEqual(0)
      // The complete clean-up: the data dir after the workspace delete that still needs it.
      expect(cleanup.findIndex((line) => line === `rm -rf ${dataDir}`)).toBeGreaterThan(deleteAt)
      // Kept: the command of the hint runs where idp ran it.
      expect(up.json.error.hint).toMatch(/yourself to investigate/u)
      expect(stateIn('shop-tf-2').resources.map((r) => r.name)).toContain('made')
      const down = await world.run(['env', 'down', 'tf-2', '--json'])
      expect(down.code).toBe(0)
      expect(stateSecret('shop-tf-2')).toBeUndefined()
    })
  })
})

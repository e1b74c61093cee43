// Terraform state travels with the environment (docs/environments.md, "Terraform state"): real
// terraform keeps it in the kubernetes backend on the stand-in (a Secret per workspace, a Lease as
// its lock), so `env down` and `env gc` from another machine (a fresh clone, an empty HOME, the
// same cluster) destroy what `env up` made. A destroy-time provisioner writes to a log outside
// every checkout: the proof that terraform destroyed the resource with the real state.
import {type ChildProcess, execFile, execFileSync, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {gunzipSync} from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {shellQuote} from '../../src/lib/plan/format.js'
import {parseJson, runCli} from '../support/cli.js'
import {isolatedUser} from '../support/user-env.js'
import {type EnvWorld, startEnvWorld} from '../fixtures/env/world.js'

let world: EnvWorld
let log: string
const machines: string[] = []

const git = (cwd: string, args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {cwd, env: world.env, stdio: 'pipe'})
const store = () => world.kube.store()
const stateSecret = (workspace: string, namespace = 'idp-system') => store().get('v1', 'Secret', `tfstate-${workspace}-idp-shop`, namespace)
const stateLease = (workspace: string) => store().get('coordination.k8s.io/v1', 'Lease', `lock-tfstate-${workspace}-idp-shop`, 'idp-system')
const resourcesIn = (workspace: string, namespace = 'idp-system') =>
  (JSON.parse(gunzipSync(Buffer.from(stateSecret(workspace, namespace)!.data!.tfstate, 'base64')).toString('utf8')) as {resources: Array<{name: string}>}).resources.map((r) => r.name)
/** A command line through sh, asynchronously: the stand-in answers from this process. */
function shell(line: string, env: NodeJS.ProcessEnv): Promise<{status: number; stderr: string}> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', line], {env, encoding: 'utf8'}, (error, _stdout, stderr) => resolve({status: error ? Number((error as {code?: unknown}).code ?? 1) : 0, stderr}))
  })
}
const destroyed = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '')
const writes = (since: number) => world.kube.requests().slice(since).filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method))

/** A module of built-in resources whose destroy leaves a line in the log; `slow`: its create takes seconds. */
function module(dir: string, options: {backend?: string; slow?: boolean; broken?: boolean} = {}) {
  fs.mkdirSync(path.join(world.project, dir), {recursive: true})
  fs.writeFileSync(
    path.join(world.project, dir, 'main.tf'),
    [
      ...(options.backend === undefined ? [] : ['terraform {', `  ${options.backend}`, '}']),
      'variable "env" { type = string }',
      'variable "log" { type = string }',
      'resource "terraform_data" "bucket" {',
      '  input            = "bucket-${var.env}"',
      '  triggers_replace = var.log',
      '  provisioner "local-exec" {',
      '    when    = destroy',
      '    command = "echo destroyed ${self.output} >> ${self.triggers_replace}"',
      '  }',
      ...(options.slow ? ['  provisioner "local-exec" { command = "sleep 6" }'] : []),
      '}',
      ...(options.broken ? ['resource "terraform_data" "broken" {', '  depends_on = [terraform_data.bucket]', '  provisioner "local-exec" { command = "exit 3" }', '}'] : []),
      'output "bucket" { value = terraform_data.bucket.output }',
    ].join('\n'),
  )
}

function environment(pattern: string, dir: string, extra = '') {
  fs.appendFileSync(path.join(world.project, '.idp.yml'), `  "${pattern}":\n    cluster: dev\n    driver: namespace\n    ttl: 1h\n    terraform: {dir: ./${dir}, vars: {env: "{{env}}", log: "${log}"}${extra}}\n`)
}

interface Machine {
  project: string
  stateDir: string
  run(args: string[], env?: Record<string, string | undefined>): Promise<{code: number | null; stdout: string; stderr: string; json?: any}>
}

/** Another machine: an empty HOME and state dir (its own ~/.kube/config for the same cluster) and a fresh clone of the project. */
function otherMachine(name: string): Machine {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `idp-tfstate-${name}-`))
  machines.push(root)
  const user = isolatedUser(root, world.kube)
  const project = path.join(root, 'project')
  execFileSync('git', ['clone', '--quiet', world.project, project], {env: user.env, stdio: 'pipe'})
  return {
    project,
    stateDir: user.stateDir,
    run: (args, env) => runCli([...args, '--dir', project], {cwd: project, baseEnv: user.env, env}).then((r) => ({...r, json: parseJson(r.stdout)})),
  }
}

/** Commit what the tests wrote, so a clone on another machine has it. */
function commit() {
  git(world.project, ['add', '-A'])
  spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'test'], {cwd: world.project, env: world.env})
}

beforeAll(async () => {
  world = await startEnvWorld()
  log = path.join(world.root, 'destroyed.log')
  fs.writeFileSync(path.join(world.project, '.gitignore'), 'terraform.tfstate.d/\n.terraform/\n')
  module('infra-st', {backend: 'backend "kubernetes" {}'})
  module('infra-slow', {backend: 'backend "kubernetes" {}', slow: true})
  module('infra-kf', {backend: 'backend "kubernetes" {}', broken: true})
  module('infra-local')
  module('infra-own', {backend: 'backend "local" {}'})
  module('infra-s3', {backend: 'backend "s3" {}'})
  module('infra-old')
  environment('st-*', 'infra-st')
  environment('lk-*', 'infra-slow')
  environment('kf-*', 'infra-kf')
  environment('lc-*', 'infra-local')
  environment('own-*', 'infra-own')
  environment('s3-*', 'infra-s3')
  environment('old-*', 'infra-old')
  environment('ex-*', 'infra-st', ', stateNamespace: team-state')
  git(world.project, ['init', '-q', '-b', 'main'])
  commit()
})

afterAll(async () => {
  for (const root of machines) fs.rmSync(root, {recursive: true, force: true})
  await world?.stop()
})

describe('the state namespace', () => {
  it('is refused, before any change, when it exists and idp did not create it', async () => {
    store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'idp-system'}})
    const since = world.kube.requests().length
    const up = await world.run(['env', 'up', 'st-0', '--json'])
    expect(up.code).toBe(4)
    expect(up.json.error.message).toContain('Namespace idp-system on cluster dev exists and was not created by idp')
    expect(up.json.error.hint).toContain('terraform.stateNamespace')
    expect(writes(since)).toEqual([])
    store().delete('v1', 'Namespace', 'idp-system')
  })

  it('named in .idp.yml (terraform.stateNamespace) is used as it is', async () => {
    store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'team-state', labels: {team: 'a'}}})
    const up = await world.run(['env', 'up', 'ex-1', '--json'])
    expect(up.code, up.stderr).toBe(0)
    expect(resourcesIn('shop-ex-1', 'team-state')).toEqual(['bucket'])
    expect(store().get('v1', 'Namespace', 'team-state')!.metadata?.labels).toEqual({team: 'a'})
    expect((await world.run(['env', 'down', 'ex-1'])).code).toBe(0)
    expect(stateSecret('shop-ex-1', 'team-state')).toBeUndefined()
  })
})

describe('state on the cluster: any machine that reaches it finds it', () => {
  it('env up on machine A, env down from machine B (fresh clone, empty HOME) destroys the resources and removes the state', async () => {
    const up = await world.run(['env', 'up', 'st-1', '--json'])
    expect(up.code, up.stderr).toBe(0)
    expect(up.stderr).toBe('')
    expect(store().get('v1', 'Namespace', 'idp-system')!.metadata?.labels).toMatchObject({'app.kubernetes.io/managed-by': 'idp'})
    expect(resourcesIn('shop-st-1')).toEqual(['bucket'])
    expect(fs.existsSync(path.join(world.project, 'infra-st', 'terraform.tfstate.d'))).toBe(false)
    expect(destroyed()).not.toContain('bucket-st-1')

    const b = otherMachine('b')
    expect(fs.existsSync(path.join(b.stateDir, 'idp'))).toBe(false)
    const down = await b.run(['env', 'down', 'st-1', '--json'])
    expect(down.code, down.stderr).toBe(0)
    expect(down.json.result.steps.map((s: {id: string; status: string}) => `${s.id}:${s.status}`)).toEqual(
      expect.arrayContaining(['terraform-state:done', 'terraform-init:done', 'terraform-destroy:done', 'terraform-workspace-delete:done']),
    )
    expect(destroyed()).toContain('destroyed bucket-st-1')
    expect(stateSecret('shop-st-1')).toBeUndefined()
    expect(stateLease('shop-st-1')).toBeUndefined()
  })

  it("the empty state of workspace default (every init makes it) goes with the service's last workspace, not before", async () => {
    const workspaces = () =>
      store()
        .list('v1', 'Secret', 'idp-system')
        .filter((s) => s.metadata?.labels?.tfstateSecretSuffix === 'idp-shop')
        .map((s) => s.metadata?.labels?.tfstateWorkspace)
        .sort()
    for (const env of ['st-3', 'st-4']) expect((await world.run(['env', 'up', env])).code).toBe(0)
    expect(workspaces()).toEqual(['default', 'shop-st-3', 'shop-st-4'])
    const first = await world.run(['env', 'down', 'st-3', '--json'])
    expect(first.code, first.stderr).toBe(0)
    expect(first.json.result.steps.map((s: {id: string; status: string}) => `${s.id}:${s.status}`)).toContain('terraform-default-state:done')
    expect(workspaces()).toEqual(['default', 'shop-st-4'])
    // Someone holds the default workspace's lock: its state stays, and down still succeeds.
    const lease = stateLease('default')!
    store().put({...lease, spec: {...(lease.spec as object), holderIdentity: 'someone'}})
    expect((await world.run(['env', 'down', 'st-4'])).code).toBe(0)
    expect(workspaces()).toEqual(['default'])
    store().put({...stateLease('default')!, spec: {...(stateLease('default')!.spec as object), holderIdentity: undefined}})
    // The next down of the service (an environment already gone: an empty destroy) tidies it.
    expect((await world.run(['env', 'up', 'st-5'])).code).toBe(0)
    expect((await world.run(['env', 'down', 'st-5'])).code).toBe(0)
    expect(workspaces()).toEqual([])
    expect(stateLease('default')).toBeUndefined()
  })

  it('env gc from another machine destroys an expired environment\'s resources and its state', async () => {
    const up = await world.run(['env', 'up', 'st-2', '--json'])
    expect(up.code, up.stderr).toBe(0)
    const ns = store().get('v1', 'Namespace', 'shop-st-2')!
    store().put({...ns, metadata: {...ns.metadata, annotations: {...ns.metadata?.annotations, 'idp.dev/expires-at': new Date(Date.now() - 60_000).toISOString()}}})

    const c = otherMachine('c')
    const gc = await c.run(['env', 'gc', '--yes', '--json'])
    expect(gc.code, gc.stderr).toBe(0)
    expect(gc.json.result.outcomes).toEqual([expect.objectContaining({env: 'st-2', status: 'removed'})])
    expect(destroyed()).toContain('destroyed bucket-st-2')
    expect(stateSecret('shop-st-2')).toBeUndefined()
  })

  it('a terraform run by hand on the same workspace is blocked by the state lock (the Lease) while env up applies', async () => {
    const b = otherMachine('lock')
    // B's private host kubeconfig, which the printed init names by path (env list writes it).
    expect((await b.run(['env', 'list'])).code).toBe(0)
    const dry = await b.run(['env', 'up', 'lk-1', '--dry-run', '--json'])
    const init = dry.json.result.plan.steps.find((s: {id: string}) => s.id === 'terraform-init').action
    const printed = (action: {cwd: string; env: Record<string, string>; argv: string[]}, argv = action.argv) =>
      `cd ${shellQuote([action.cwd])} && ${Object.entries(action.env).map(([k, v]) => `${k}=${shellQuote([v])}`).join(' ')} ${shellQuote(['terraform', ...argv])}`
    expect(printed(init)).toContain(`-backend-config=config_path=${path.join(b.stateDir, 'idp', 'clusters', 'dev', 'kubeconfig')}`)

    let child: ChildProcess | undefined
    const running = world.run(['env', 'up', 'lk-1', '--json'], {onSpawn: (c) => (child = c)})
    const deadline = Date.now() + 30_000
    while (!stateLease('shop-lk-1')?.spec?.holderIdentity && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(stateLease('shop-lk-1')?.spec?.holderIdentity).toBeTruthy()
    expect(child).toBeDefined()

    const env = {...world.env, TF_IN_AUTOMATION: '1'}
    expect((await shell(printed(init), env)).status).toBe(0)
    const apply = {...init, env: {...init.env, TF_WORKSPACE: 'shop-lk-1'}}
    const blocked = await shell(printed(apply, ['apply', '-lock-timeout=1s', '-input=false', '-no-color', '-auto-approve', '-var', 'env=lk-1', '-var', `log=${log}`]), env)
    expect(blocked.status).toBe(1)
    expect(blocked.stderr).toContain('Error acquiring the state lock')
    expect(blocked.stderr).toContain('the state is already locked by another terraform client')

    const up = await running
    expect(up.code, up.stderr).toBe(0)
    expect(resourcesIn('shop-lk-1')).toEqual(['bucket'])
    expect((await b.run(['env', 'down', 'lk-1'])).code).toBe(0)
    expect(destroyed()).toContain('destroyed bucket-lk-1')
  })

  it('the clean-up commands of a failed up kept with --keep-on-failure run as printed and reach the state on the cluster', async () => {
    const up = await world.run(['env', 'up', 'kf-1', '--keep-on-failure', '--json'])
    expect(up.code).toBe(5)
    const cleanup = up.json.error.details.cleanup as string[]
    expect(cleanup.join('\n')).toContain('TF_WORKSPACE=shop-kf-1 terraform destroy')
    expect(resourcesIn('shop-kf-1')).toContain('bucket')
    for (const line of cleanup.filter((l) => !l.startsWith('#'))) {
      const ran = await shell(line, world.env)
      expect(ran.status, `${line}\n${ran.stderr}`).toBe(0)
    }
    expect(destroyed()).toContain('destroyed bucket-kf-1')
    expect(stateSecret('shop-kf-1')).toBeUndefined()
  })
})

describe('modules that keep state elsewhere', () => {
  it('no backend block in CI: env up stops with exit 4 before any change, saying why and what to do', async () => {
    const since = world.kube.requests().length
    const up = await world.run(['env', 'up', 'lc-1', '--json'], {env: {CI: 'true'}})
    expect(up.code).toBe(4)
    expect(up.json.error.code).toBe('PREREQUISITE')
    expect(up.json.error.message).toContain('declares no backend')
    expect(up.json.error.message).toContain('lost with the runner')
    expect(up.json.error.hint).toContain('backend "kubernetes" {}')
    expect(writes(since)).toEqual([])
    expect(store().get('v1', 'Namespace', 'shop-lc-1')).toBeUndefined()
  })

  it('no backend block outside CI: local state as before, with a warning', async () => {
    const up = await world.run(['env', 'up', 'lc-2', '--json'], {env: {CI: undefined}})
    expect(up.code, up.stderr).toBe(0)
    expect(up.json.warnings.join('\n')).toContain('stays on this machine')
    expect(fs.existsSync(path.join(world.project, 'infra-local', 'terraform.tfstate.d', 'shop-lc-2', 'terraform.tfstate'))).toBe(true)
    expect(stateSecret('shop-lc-2')).toBeUndefined()
    const down = await world.run(['env', 'down', 'lc-2'], {env: {CI: undefined}})
    expect(down.code, down.stderr).toBe(0)
    expect(destroyed()).toContain('destroyed bucket-lc-2')
  })

  it('a module\'s own backend (an explicit local one) is left alone: no backend config from idp, not refused in CI', async () => {
    const up = await world.run(['env', 'up', 'own-1', '--json'])
    expect(up.code, up.stderr).toBe(0)
    const steps = up.json.result.plan.steps as Array<{id: string; argv?: string[]}>
    expect(steps.map((s) => s.id)).not.toContain('terraform-state')
    expect(steps.find((s) => s.id === 'terraform-init')!.argv!.some((a) => a.startsWith('-backend-config'))).toBe(false)
    expect(fs.existsSync(path.join(world.project, 'infra-own', 'terraform.tfstate.d', 'shop-own-1', 'terraform.tfstate'))).toBe(true)
    expect(stateSecret('shop-own-1')).toBeUndefined()
    expect((await world.run(['env', 'down', 'own-1'])).code).toBe(0)
    expect(destroyed()).toContain('destroyed bucket-own-1')
  })

  it('a module with a remote backend of its own (s3) gets no -backend-config either', async () => {
    const dry = await world.run(['env', 'up', 's3-1', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    const steps = dry.json.result.plan.steps as Array<{id: string; argv?: string[]}>
    expect(steps.map((s) => s.id)).not.toContain('terraform-state')
    expect(steps.find((s) => s.id === 'terraform-init')!.argv).toEqual(['init', '-input=false', '-no-color'])
  })
})

describe('environments an older idp made with local state', () => {
  it('move into the cluster with terraform init -migrate-state (only where the cluster has none), and down destroys them', async () => {
    for (const env of ['old-1', 'old-2']) expect((await world.run(['env', 'up', env], {env: {CI: undefined}})).code).toBe(0)
    const local = (env: string) => path.join(world.project, 'infra-old', 'terraform.tfstate.d', `shop-${env}`, 'terraform.tfstate')
    expect(JSON.parse(fs.readFileSync(local('old-2'), 'utf8')).resources).toHaveLength(1)
    // The module now declares the backend idp configures.
    fs.writeFileSync(path.join(world.project, 'infra-old', 'backend.tf'), 'terraform {\n  backend "kubernetes" {}\n}\n')

    // State of old-2 in the cluster too: idp will not pick one of the two.
    store().create({apiVersion: 'v1', kind: 'Secret', metadata: {name: 'tfstate-shop-old-2-idp-shop', namespace: 'idp-system'}, data: {}})
    const since = world.kube.requests().length
    const refused = await world.run(['env', 'down', 'old-1', '--json'])
    expect(refused.code).toBe(4)
    expect(refused.json.error.message).toContain('has state both in')
    expect(refused.json.error.hint).toContain('kubectl delete secret tfstate-shop-old-2-idp-shop --namespace idp-system')
    expect(writes(since)).toEqual([])
    store().delete('v1', 'Secret', 'tfstate-shop-old-2-idp-shop', 'idp-system')

    const down = await world.run(['env', 'down', 'old-1', '--json'])
    expect(down.code, down.stderr).toBe(0)
    expect(down.json.result.plan.steps.find((s: {id: string}) => s.id === 'terraform-init').argv).toEqual(expect.arrayContaining(['-migrate-state', '-force-copy']))
    expect(destroyed()).toContain('destroyed bucket-old-1')
    expect(stateSecret('shop-old-1')).toBeUndefined()
    // old-2 moved in with it; the local copies are emptied by terraform, so nothing moves twice.
    expect(resourcesIn('shop-old-2')).toEqual(['bucket'])
    expect(fs.existsSync(local('old-2')) ? fs.readFileSync(local('old-2'), 'utf8') : '').not.toContain('bucket-old-2')

    // And another machine (a clone with the module as it is now) finds it.
    commit()
    const b = otherMachine('old')
    const downB = await b.run(['env', 'down', 'old-2'])
    expect(downB.code, downB.stderr).toBe(0)
    expect(destroyed()).toContain('destroyed bucket-old-2')
    expect(stateSecret('shop-old-2')).toBeUndefined()
  })
})

import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {ToolError} from '../../src/lib/cli/errors.js'
import {argocdAppCreateArgs, argocdAppGetArgs, argocdAppListArgs, argocdAppSyncArgs, argocdAppWaitArgs} from '../../src/lib/tools/argocd.js'
import {gitAddAllArgs, gitCommitArgs, gitHeadSha, gitInitArgs, gitRemoteAddArgs} from '../../src/lib/tools/git.js'
import {helmUpgradeInstallArgs} from '../../src/lib/tools/helm.js'
import {createToolRunner} from '../../src/lib/tools/runner.js'
import {terraformApplyArgs, terraformInitArgs, terraformOutputArgs, terraformDestroyArgs, terraformUiOutputs, terraformWorkspaceDeleteArgs} from '../../src/lib/tools/terraform.js'
import type {RunOptions, ToolRunner} from '../../src/lib/tools/types.js'
import {helmMajor} from '../../src/lib/tools/versions.js'
import {vclusterConnectArgs, vclusterCreateArgs, vclusterDeleteArgs, vclusterListArgs} from '../../src/lib/tools/vcluster.js'
import {doublesBinDir} from '../support/doubles/harness.js'

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-wrappers-'))

/** The major version of the helm a runner finds, as the env and deploy services read it. */
const helmMajorOf = async (runner: ToolRunner) => helmMajor((await runner.resolve('helm')).version)

/** `terraform output -json` as plain name → value. */
async function terraformOutputs(runner: ToolRunner, o: {chdir: string}, options: RunOptions): Promise<Record<string, unknown>> {
  const {stdout} = await runner.run('terraform', terraformOutputArgs(o), options)
  return Object.fromEntries(Object.entries(JSON.parse(stdout || '{}') as Record<string, {value: unknown}>).map(([name, output]) => [name, output.value]))
}
afterAll(() => rmSync(work, {recursive: true, force: true}))

describe('helm argv', () => {
  const base = {release: 'shop', chart: './chart', namespace: 'shop-pr-1', values: ['chart/values-preview.yaml'], set: {'image.tag': 'abc,def', replicas: 2}, timeout: '5m0s'}

  it('uses --atomic on helm 3 and --rollback-on-failure on helm 4, deterministically', () => {
    expect(helmUpgradeInstallArgs({...base, major: 3})).toEqual([
      'upgrade', '--install', 'shop', './chart', '--namespace', 'shop-pr-1', '--values', 'chart/values-preview.yaml',
      '--set-string', 'image.tag=abc\\,def', '--set', 'replicas=2', '--wait', '--atomic', '--timeout', '5m0s',
    ])
    const v4 = helmUpgradeInstallArgs({...base, major: 4, set: {replicas: 2, 'image.tag': 'abc,def'}})
    expect(v4).toContain('--rollback-on-failure')
    expect(v4).not.toContain('--atomic')
    expect(v4.filter((a) => a.startsWith('replicas') || a.startsWith('image'))).toEqual(['image.tag=abc\\,def', 'replicas=2'])
  })

  it('detects the major version of the helm on PATH (the test world ships helm 4)', async () => {
    expect(await helmMajorOf(createToolRunner())).toBe(4)
  })

  it('the real helm 3 and 4 accept the upgrade flags (rendered with helm template)', async () => {
    const chart = path.join(work, 'chart')
    rmSync(chart, {recursive: true, force: true})
    const {mkdirSync} = await import('node:fs')
    mkdirSync(path.join(chart, 'templates'), {recursive: true})
    writeFileSync(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: chart\nversion: 0.1.0\n')
    writeFileSync(path.join(chart, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {tag: "{{ .Values.image.tag }}"}\n')
    const {helmBinary} = await import('../support/tool-env.js')
    for (const major of [3, 4] as const) {
      const runner = createToolRunner({pathEnv: [path.dirname(helmBinary(major)), '/usr/bin', '/bin'].join(path.delimiter)})
      expect(await helmMajorOf(runner)).toBe(major)
      // `helm template` takes the same flags as `upgrade --install` (--wait, --atomic or
      // --rollback-on-failure, --timeout...) and renders without a cluster.
      const upgrade = helmUpgradeInstallArgs({release: 'shop', chart, namespace: 'ns', set: {'image.tag': 'a,b'}, timeout: '2m0s', createNamespace: true, major})
      expect(upgrade.slice(0, 2)).toEqual(['upgrade', '--install'])
      const args = ['template', ...upgrade.slice(2)]
      const helmHome = {env: {HELM_CACHE_HOME: path.join(work, 'hc'), HELM_CONFIG_HOME: path.join(work, 'hf'), HELM_DATA_HOME: path.join(work, 'hd')}}
      const result = await runner.run('helm', args, helmHome)
      expect(result.stdout).toContain('tag: "a,b"')
      // Tags that YAML would read as null, a boolean or a number stay the strings they are.
      for (const tag of ['null', 'true', '0123']) {
        const typed = helmUpgradeInstallArgs({release: 'shop', chart, namespace: 'ns', set: {'image.tag': tag}, major})
        expect((await runner.run('helm', ['template', ...typed.slice(2)], helmHome)).stdout).toContain(`tag: "${tag}"`)
      }
    }
  })
})

describe('git argv with the real git', () => {
  it('initialises, commits with an identity and reads HEAD', async () => {
    const repo = path.join(work, 'repo')
    const {mkdirSync} = await import('node:fs')
    mkdirSync(repo, {recursive: true})
    const runner = createToolRunner({env: {GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}})
    await runner.run('git', gitInitArgs({branch: 'main'}), {cwd: repo})
    writeFileSync(path.join(repo, 'README.md'), '# shop\n')
    expect((await runner.run('git', ['status', '--porcelain'], {cwd: repo})).stdout).not.toBe('')
    await runner.run('git', gitAddAllArgs(), {cwd: repo})
    await runner.run('git', gitCommitArgs({message: 'Initial commit from idp', identity: {name: 'idp', email: 'idp@example.com'}}), {cwd: repo})
    expect(await gitHeadSha(runner, repo)).toMatch(/^[0-9a-f]{40}$/u)
    expect((await runner.run('git', ['status', '--porcelain'], {cwd: repo})).stdout).toBe('')
    expect((await runner.run('git', ['rev-parse', '--abbrev-ref', 'HEAD'], {cwd: repo})).stdout).toBe('main')
    await runner.run('git', gitRemoteAddArgs({url: 'https://github.com/acme/shop.git'}), {cwd: repo})
    expect((await runner.run('git', ['remote', 'get-url', 'origin'], {cwd: repo})).stdout).toBe('https://github.com/acme/shop.git')
  })
})

describe('terraform argv with the real terraform', () => {
  it('init (creating the TF_WORKSPACE workspace), apply -json with its outputs (twice), a failing apply, destroy, workspace delete: a built-in resource offline', async () => {
    const dir = path.join(work, 'infra')
    const {mkdirSync} = await import('node:fs')
    mkdirSync(dir, {recursive: true})
    writeFileSync(
      path.join(dir, 'main.tf'),
      'variable "env" {}\nvariable "owner" {}\nresource "terraform_data" "env" { input = "${var.env}-${var.owner}" }\noutput "name" { value = terraform_data.env.output }\n',
    )
    const cliConfig = path.join(work, 'terraformrc')
    writeFileSync(cliConfig, '')
    const runner = createToolRunner({env: {TF_CLI_CONFIG_FILE: cliConfig}})
    const ws = {env: {TF_WORKSPACE: 'shop-pr-1'}}
    const vars = {owner: 'team-a', env: 'pr-1'}
    expect(terraformApplyArgs({chdir: dir, vars, json: true})).toEqual([`-chdir=${dir}`, 'apply', '-input=false', '-no-color', '-auto-approve', '-json', '-var', 'env=pr-1', '-var', 'owner=team-a'])
    await runner.run('terraform', terraformInitArgs({chdir: dir}), ws)
    expect(existsSync(path.join(dir, 'terraform.tfstate.d', 'shop-pr-1'))).toBe(true)
    const applied = await runner.run('terraform', terraformApplyArgs({chdir: dir, vars, json: true}), ws)
    expect(terraformUiOutputs(applied.stdout)).toEqual({name: {sensitive: false, type: 'string', value: 'pr-1-team-a'}})
    expect(await terraformOutputs(runner, {chdir: dir}, ws)).toEqual({name: 'pr-1-team-a'})
    expect(existsSync(path.join(dir, 'terraform.tfstate.d', 'shop-pr-1', 'terraform.tfstate'))).toBe(true)
    // Applying again changes nothing and still reports the outputs.
    const again = await runner.run('terraform', terraformApplyArgs({chdir: dir, vars, json: true}), ws)
    expect(terraformUiOutputs(again.stdout)).toEqual({name: {sensitive: false, type: 'string', value: 'pr-1-team-a'}})

    // A failing apply: -json reports the error on stdout only, and the error says it in words.
    const failed = (await runner.run('terraform', terraformApplyArgs({chdir: dir, vars: {env: 'pr-1'}, json: true}), ws).catch((e: unknown) => e)) as ToolError
    expect(failed).toBeInstanceOf(ToolError)
    expect(failed.message).toBe('terraform exited with code 1: Error: No value for required variable')
    expect(String(failed.details?.stderrTail)).toContain('variable "owner"')
    expect(String(failed.details?.stderrTail)).not.toContain('"@level"')

    await runner.run('terraform', terraformDestroyArgs({chdir: dir, vars}), ws)
    expect(await terraformOutputs(runner, {chdir: dir}, ws)).toEqual({})
    // Terraform will not delete the workspace TF_WORKSPACE selects; from default it does.
    const refused = (await runner.run('terraform', terraformWorkspaceDeleteArgs({chdir: dir, workspace: 'shop-pr-1'}), ws).catch((e: unknown) => e)) as ToolError
    expect(refused).toBeInstanceOf(ToolError)
    await runner.run('terraform', terraformWorkspaceDeleteArgs({chdir: dir, workspace: 'shop-pr-1'}), {env: {TF_WORKSPACE: 'default'}})
    expect(existsSync(path.join(dir, 'terraform.tfstate.d', 'shop-pr-1'))).toBe(false)
  })

  it('a terraform failure is a ToolError with the boxed error line as message', async () => {
    const dir = path.join(work, 'broken')
    const {mkdirSync} = await import('node:fs')
    mkdirSync(dir, {recursive: true})
    writeFileSync(path.join(dir, 'main.tf'), 'resource "terraform_data" "x" {\n')
    const error = (await createToolRunner().run('terraform', terraformInitArgs({chdir: dir})).catch((e: unknown) => e)) as ToolError
    expect(error).toBeInstanceOf(ToolError)
    expect(error.message).toMatch(/^terraform exited with code 1: Error: /u)
  })
})

describe('vcluster and argocd argv against the contract-enforcing doubles', () => {
  const runner = createToolRunner({pathEnv: [doublesBinDir, process.env.PATH].join(path.delimiter)})
  const flagProblem = /unknown (?:shorthand )?flag|flag needs an argument|invalid argument|Invalid Args/u

  async function accepted(tool: 'vcluster' | 'argocd', argv: string[]): Promise<void> {
    try {
      await runner.run(tool, argv, {timeoutMs: 15_000, env: {KUBECONFIG: path.join(work, 'no-such-kubeconfig'), ARGOCD_SERVER: undefined}})
    } catch (error) {
      // Failing later (no cluster here) is fine; rejecting the argv is not.
      expect(error).toBeInstanceOf(ToolError)
      expect((error as ToolError).facts.stderrTail ?? '').not.toMatch(flagProblem)
    }
  }

  it('resolves the doubles with their real version output', async () => {
    expect(await runner.resolve('vcluster')).toMatchObject({status: 'ok', version: '0.37.0'})
    expect(await runner.resolve('argocd')).toMatchObject({status: 'ok'})
  })

  it('vcluster accepts every builder argv', async () => {
    await accepted('vcluster', vclusterCreateArgs({name: 'pr-1', namespace: 'shop-pr-1', values: ['v.yaml'], set: {'sync.toHost.ingresses.enabled': 'true'}, chartVersion: '0.26.0', upgrade: true, labels: {'idp.dev/env': 'pr-1'}}))
    await accepted('vcluster', vclusterConnectArgs({name: 'pr-1', namespace: 'shop-pr-1', server: 'https://pr-1.example.com', insecure: true}))
    await accepted('vcluster', vclusterDeleteArgs({name: 'pr-1', namespace: 'shop-pr-1', deleteNamespace: true, wait: false}))
    await accepted('vcluster', vclusterListArgs({namespace: 'shop-pr-1'}))
  })

  it('argocd accepts every builder argv', async () => {
    const globals = {core: true}
    await accepted('argocd', argocdAppCreateArgs({name: 'shop-pr-1', project: 'shop', repo: 'https://github.com/acme/shop', path: 'chart', revision: 'abc', destNamespace: 'shop-pr-1', valuesFiles: ['values.yaml'], helmSet: {'image.tag': 'abc'}, labels: {'idp.dev/env': 'pr-1'}, autoSync: true, createNamespace: true, globals}))
    await accepted('argocd', argocdAppSyncArgs({name: 'shop-pr-1', prune: true, timeoutSeconds: 300, globals}))
    await accepted('argocd', argocdAppWaitArgs({name: 'shop-pr-1', timeoutSeconds: 300, globals}))
    await accepted('argocd', argocdAppGetArgs({name: 'shop-pr-1', refresh: true, globals}))
    await accepted('argocd', argocdAppListArgs({selector: 'app.kubernetes.io/managed-by=idp,idp.dev/service=shop', appNamespace: 'argocd', globals}))
    // idp status's one call through an API server (ARGOCD_SERVER): the flags parse; the double then says it speaks --core only.
    await accepted('argocd', argocdAppListArgs({selector: 'app.kubernetes.io/managed-by=idp', globals: {server: 'argocd.example.com', grpcWeb: true}}))
  })

  it('the doubles do reject a wrong flag (so the checks above can fail)', async () => {
    const error = (await runner.run('vcluster', [...vclusterListArgs(), '--bogus']).catch((e: unknown) => e)) as ToolError
    expect(error.facts.stderrTail).toMatch(flagProblem)
    expect(error.message).toBe('vcluster exited with code 1: unknown flag: --bogus')
  })
})

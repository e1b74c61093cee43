import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {neededTools} from '../../src/lib/doctor/doctor.js'
import {kubectlCommand} from '../../src/lib/plan/format.js'
import {type CliRun, runCli} from '../support/cli.js'
import {startRegistry, type TestRegistry} from '../support/registry/index.js'

/** `idp doctor` as a user runs it: the CLI in a subprocess, on this machine's real tools. */
const root = path.resolve(import.meta.dirname, '../..')
const work = mkdtempSync(path.join(os.tmpdir(), 'idp-doctor-'))
let server: http.Server
let serverUrl = ''

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/version') res.writeHead(200, {'content-type': 'application/json'}).end('{"gitVersion":"v1.31.2"}')
    else res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
  rmSync(work, {recursive: true, force: true})
})

interface Check {
  name: string
  kind: string
  status: string
  required: boolean
  version?: string
  path?: string
  detail?: string
  hint?: string
}

function idp(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCli(args, {cwd: root, env: {GITHUB_TOKEN: undefined, GH_TOKEN: undefined, CI: undefined, ...env}})
}

function writeRepo(name: string, config: string, kubeconfig: string): string {
  const dir = path.join(work, name)
  mkdirSync(dir, {recursive: true})
  writeFileSync(path.join(dir, '.idp.yml'), config)
  writeFileSync(path.join(dir, 'kubeconfig.yaml'), kubeconfig)
  return dir
}

const kubeconfig = (server: string) => `apiVersion: v1
kind: Config
clusters: [{name: dev, cluster: {server: "${server}"}}]
users: [{name: dev, user: {token: kube-secret-token-77}}]
contexts: [{name: kind-dev, context: {cluster: dev, user: dev}}]
`

const fullConfig = `version: 1
service: {name: shop, owner: team-a}
repo: {provider: github, owner: acme}
clusters:
  dev: {context: kind-dev, kubeconfig: kubeconfig.yaml}
environments:
  "pr-*":
    cluster: dev
    driver: vcluster
    terraform: {dir: ./infra}
deploy:
  strategy: argocd
  argocd: {repoURL: https://github.com/acme/shop, path: chart}
`

describe('which tools the config needs', () => {
  it('only git without a config; more as the config uses them', () => {
    expect(Object.keys(neededTools(undefined))).toEqual(['git'])
    // kubectl only runs the commands idp prints: never required.
    expect(Object.keys(neededTools({environments: {staging: {cluster: 'dev', driver: 'namespace'}}, deploy: {strategy: 'helm'}} as never)).sort()).toEqual(['git', 'helm'])
  })
})

describe('idp doctor on this machine', () => {
  it('without a config: git, kubectl and terraform found; vcluster and argocd missing with install hints; exit 0', async () => {
    const empty = path.join(work, 'empty')
    mkdirSync(empty, {recursive: true})
    const {code, stdout} = await idp(['doctor', '--json', '--dir', empty], {PATH: '/usr/local/bin:/usr/bin:/bin'})
    expect(code).toBe(0)
    const {result} = JSON.parse(stdout) as {result: {checks: Check[]; ok: boolean}}
    expect(result.ok).toBe(true)
    const byName = Object.fromEntries(result.checks.map((c) => [c.name, c]))
    for (const tool of ['git', 'kubectl', 'terraform']) {
      expect(byName[tool]).toMatchObject({kind: 'tool', status: 'ok'})
      expect(byName[tool]!.version).toMatch(/^\d+\.\d+\.\d+$/u)
      expect(byName[tool]!.path).toMatch(/^\//u)
    }
    expect(byName.git!.required).toBe(true)
    expect(byName.vcluster).toMatchObject({status: 'warn', required: false})
    expect(byName.vcluster!.hint).toContain('vcluster')
    expect(byName.argocd).toMatchObject({status: 'warn', required: false})
    expect(byName.argocd!.hint).toContain('argo-cd.readthedocs.io')
    expect(byName.config).toMatchObject({status: 'warn', required: false})
  })

  it('with a config that needs vcluster, argocd and a token: exit 4, checks in the JSON error, contexts checked', async () => {
    const dir = writeRepo('full', fullConfig, kubeconfig(serverUrl))
    const {code, stdout} = await idp(['doctor', '--json', '--dir', dir], {PATH: '/usr/local/bin:/usr/bin:/bin'})
    expect(code).toBe(4)
    const envelope = JSON.parse(stdout) as {status: number; error: {code: string; message: string; details: {checks: Check[]; ok: boolean}}}
    expect(envelope.status).toBe(4)
    expect(envelope.error.code).toBe('PREREQUISITE')
    const byName = Object.fromEntries(envelope.error.details.checks.map((c) => [c.name, c]))
    expect(byName.vcluster).toMatchObject({status: 'fail', required: true})
    expect(byName.argocd).toMatchObject({status: 'fail', required: true})
    expect(byName.terraform).toMatchObject({status: 'ok', required: true})
    expect(byName['context kind-dev']).toMatchObject({kind: 'context', status: 'ok', version: 'v1.31.2'})
    // Nobody asked to publish: a missing GitHub token is a warning, not a failure.
    expect(byName['github token']).toMatchObject({status: 'warn', required: false})
    expect(byName.kubectl).toMatchObject({required: false})
    expect(envelope.error.message).toContain('vcluster')
    expect(envelope.error.message).not.toContain('github token')
    expect(stdout).not.toContain('kube-secret-token-77')
  })

  it('reports the token source but never its value, and an unreachable context as a failure (human table on stderr)', async () => {
    const dir = writeRepo('down', fullConfig, kubeconfig('http://127.0.0.1:1'))
    const token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'
    const {code, stdout, stderr} = await idp(['doctor', '--dir', dir], {GITHUB_TOKEN: token, PATH: '/usr/local/bin:/usr/bin:/bin'})
    expect(code).toBe(4)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/✓\s+github token\s+ok\s+set \(from GITHUB_TOKEN\)/u)
    expect(stderr).toMatch(/✗\s+context kind-dev\s+fail\s+unreachable/u)
    expect(stderr).toMatch(/✗\s+vcluster\s+fail\s+not found on PATH \(needed: an environment uses driver vcluster\)/u)
    expect(stderr).toContain('Error: ')
    expect(stderr + stdout).not.toContain(token)
  })

  it("the closing hint ('run idp doctor again') names --dir and --env, and run as printed from the same directory checks the same repository", async () => {
    const dir = writeRepo('again-hint', fullConfig, kubeconfig('http://127.0.0.1:1'))
    const elsewhere = path.join(work, 'elsewhere')
    mkdirSync(elsewhere, {recursive: true})
    const env = {PATH: '/usr/local/bin:/usr/bin:/bin', GITHUB_SHA: 'abc1234'}
    for (const extra of [[], ['--env', 'pr-1']]) {
      const first = await runCli(['doctor', '--json', '--dir', dir, ...extra], {cwd: elsewhere, env: {GITHUB_TOKEN: undefined, GH_TOKEN: undefined, ...env}})
      expect(first.code).toBe(4)
      const envelope = JSON.parse(first.stdout) as {error: {hint: string; details: {checks: Check[]}}}
      const command = /run `([^`]+)` again/u.exec(envelope.error.hint)?.[1]
      expect(command).toBe(['idp', 'doctor', ...extra, '--dir', dir].join(' '))
      // As printed (idp → the built CLI), from the directory the user was in: the same checks, not an empty directory's.
      const again = await runCli([...command!.split(' ').slice(1), '--json'], {cwd: elsewhere, env: {GITHUB_TOKEN: undefined, GH_TOKEN: undefined, ...env}})
      expect(again.code).toBe(4)
      const checks = (JSON.parse(again.stdout) as {error: {details: {checks: Check[]}}}).error.details.checks
      expect(checks.map((c) => `${c.name}:${c.status}`)).toEqual(envelope.error.details.checks.map((c) => `${c.name}:${c.status}`))
    }
  })

  it("the unreachable context's hint, run as printed from another directory with the shell's KUBECONFIG elsewhere, reaches the configured kubeconfig", async () => {
    const dir = writeRepo('down-hint', fullConfig, kubeconfig('http://127.0.0.1:1'))
    const {code, stdout} = await idp(['doctor', '--json', '--dir', dir], {PATH: '/usr/local/bin:/usr/bin:/bin', KUBECONFIG: path.join(work, 'decoy')})
    expect(code).toBe(4)
    const envelope = JSON.parse(stdout) as {error: {details: {checks: Check[]}}}
    const check = envelope.error.details.checks.find((c) => c.name === 'context kind-dev')!
    const command = /`([^`]+)`/u.exec(check.hint ?? '')?.[1]
    expect(command).toBe(`KUBECONFIG=${path.join(dir, 'kubeconfig.yaml')} kubectl --context kind-dev version`)
    const decoy = path.join(work, 'decoy')
    writeFileSync(decoy, kubeconfig('http://127.0.0.1:2').replace('kind-dev', 'other'))
    const run = spawnSync('sh', ['-c', command!], {cwd: os.tmpdir(), env: {PATH: '/usr/local/bin:/usr/bin:/bin', KUBECONFIG: decoy}, encoding: 'utf8', timeout: 20_000})
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain('127.0.0.1:1')
    expect(run.stderr).not.toContain('127.0.0.1:2')
  })

  it("a cluster without a kubeconfig of its own: the hint is kubectlCommand's, without KUBECONFIG, and reaches the shell's kubeconfig as doctor did", async () => {
    const dir = writeRepo('shell-kubeconfig', fullConfig.replace('dev: {context: kind-dev, kubeconfig: kubeconfig.yaml}', 'dev: {context: kind-dev}'), kubeconfig('http://127.0.0.1:1'))
    const shellKubeconfig = path.join(dir, 'kubeconfig.yaml')
    const {code, stdout} = await idp(['doctor', '--json', '--dir', dir], {PATH: '/usr/local/bin:/usr/bin:/bin', KUBECONFIG: shellKubeconfig})
    expect(code).toBe(4)
    const envelope = JSON.parse(stdout) as {error: {details: {checks: Check[]}}}
    const check = envelope.error.details.checks.find((c) => c.name === 'context kind-dev')!
    const command = /`([^`]+)`/u.exec(check.hint ?? '')?.[1]
    expect(command).toBe(kubectlCommand(undefined, ['--context', 'kind-dev', 'version']))
    const run = spawnSync('sh', ['-c', command!], {cwd: os.tmpdir(), env: {PATH: '/usr/local/bin:/usr/bin:/bin', KUBECONFIG: shellKubeconfig}, encoding: 'utf8', timeout: 20_000})
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain('127.0.0.1:1')
  })

  it('an invalid config is a config error (exit 3) that still lists the checks', async () => {
    const dir = writeRepo('invalid', 'version: 1\nservice: {name: Shop}\n', kubeconfig(serverUrl))
    const {code, stdout} = await idp(['doctor', '--json', '--dir', dir])
    expect(code).toBe(3)
    const envelope = JSON.parse(stdout) as {error: {code: string; details: {checks: Check[]}}}
    expect(envelope.error.code).toBe('CONFIG')
    expect(envelope.error.details.checks.find((c) => c.name === 'config')).toMatchObject({status: 'fail'})
    expect(envelope.error.details.checks.find((c) => c.name === 'git')).toMatchObject({status: 'ok'})
  })

  it('the GitHub token is required only when repo.publish is true', async () => {
    const dir = writeRepo('publish', fullConfig.replace('repo: {provider: github, owner: acme}', 'repo: {provider: github, owner: acme, publish: true}'), kubeconfig(serverUrl))
    const {code, stdout} = await idp(['doctor', '--json', '--dir', dir], {PATH: '/usr/local/bin:/usr/bin:/bin'})
    expect(code).toBe(4)
    const checks = (JSON.parse(stdout) as {error: {details: {checks: Check[]}}}).error.details.checks
    expect(checks.find((c) => c.name === 'github token')).toMatchObject({status: 'fail', required: true, detail: 'not set (repo.publish is true)'})
  })
})

describe('idp doctor --env ENV: what that environment needs, its image included', () => {
  let registry: TestRegistry
  beforeAll(async () => {
    registry = await startRegistry()
    await registry.push('acme/shop', 'abc1234')
  })
  afterAll(async () => {
    await registry?.stop()
  })

  const envConfig = () =>
    fullConfig.replace('repo: {provider: github, owner: acme}', `repo: {provider: github, owner: acme}\nimage: {repository: ${registry.host}/acme/shop, tag: "{{sha}}"}`).replace('clusters:', 'clusters:\n  prod: {context: prod-ctx, kubeconfig: kubeconfig.yaml}')

  it('a preview: its tools and its cluster only, the deploy tool optional; the image that exists is reported', async () => {
    const dir = writeRepo('env-ok', envConfig(), kubeconfig(serverUrl))
    const {code, stdout} = await idp(['doctor', '--env', 'pr-1', '--json', '--dir', dir], {PATH: '/usr/local/bin:/usr/bin:/bin', GITHUB_SHA: 'abc1234'})
    expect(code).toBe(4)
    const envelope = JSON.parse(stdout) as {error: {message: string; details: {checks: Check[]}}}
    const byName = Object.fromEntries(envelope.error.details.checks.map((c) => [c.name, c]))
    expect(byName.vcluster).toMatchObject({status: 'fail', required: true, detail: 'not found on PATH (needed: pr-1 uses driver vcluster)'})
    expect(byName.terraform).toMatchObject({status: 'ok', required: true})
    expect(byName.argocd).toMatchObject({required: false})
    expect(byName['context kind-dev']).toMatchObject({status: 'ok', required: true})
    // The other cluster is not this environment's: not checked.
    expect(byName['context prod-ctx']).toBeUndefined()
    expect(byName.image).toMatchObject({kind: 'image', status: 'ok', required: true})
    expect(byName.image!.detail).toContain(`${registry.host}/acme/shop:abc1234 exists`)
  })

  it('an image that was never pushed fails the check with the registry\'s answer and what to do', async () => {
    const dir = writeRepo('env-missing', envConfig(), kubeconfig(serverUrl))
    const {code, stdout} = await idp(['doctor', '--env', 'pr-1', '--json', '--dir', dir], {PATH: '/usr/local/bin:/usr/bin:/bin', GITHUB_SHA: 'dead999'})
    expect(code).toBe(4)
    const image = (JSON.parse(stdout) as {error: {details: {checks: Check[]}}}).error.details.checks.find((c) => c.name === 'image')
    expect(image).toMatchObject({status: 'fail', required: true})
    expect(image!.detail).toBe(`Image ${registry.host}/acme/shop:dead999 does not exist (${registry.host} answered 404 MANIFEST_UNKNOWN: no manifest for tag dead999). Did the build job push it?`)
  })

  it('an environment the file does not define is a usage error naming the configured ones', async () => {
    const dir = writeRepo('env-unknown', envConfig(), kubeconfig(serverUrl))
    const {code, stderr} = await idp(['doctor', '--env', 'staging', '--dir', dir], {GITHUB_SHA: 'abc1234'})
    expect(code).toBe(2)
    expect(stderr).toContain('No environment "staging" in .idp.yml. Configured: pr-*.')
  })
})

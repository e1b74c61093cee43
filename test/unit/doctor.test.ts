import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {neededTools} from '../../src/lib/doctor/doctor.js'
import {type CliRun, runCli} from '../support/cli.js'

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
    expect(Object.keys(neededTools({environments: {staging: {cluster: 'dev', driver: 'namespace'}}, deploy: {strategy: 'helm'}} as never)).sort()).toEqual(['git', 'helm', 'kubectl'])
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
    expect(byName['github token']).toMatchObject({status: 'fail', required: true})
    expect(envelope.error.message).toContain('vcluster')
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

  it('an invalid config is a config error (exit 3) that still lists the checks', async () => {
    const dir = writeRepo('invalid', 'version: 1\nservice: {name: Shop}\n', kubeconfig(serverUrl))
    const {code, stdout} = await idp(['doctor', '--json', '--dir', dir])
    expect(code).toBe(3)
    const envelope = JSON.parse(stdout) as {error: {code: string; details: {checks: Check[]}}}
    expect(envelope.error.code).toBe('CONFIG')
    expect(envelope.error.details.checks.find((c) => c.name === 'config')).toMatchObject({status: 'fail'})
    expect(envelope.error.details.checks.find((c) => c.name === 'git')).toMatchObject({status: 'ok'})
  })
})

// The idp GitHub Action (action.yml, action/main.mjs), run the way the runner runs it: `node
// action/main.mjs` with the inputs as INPUT_* variables and a $GITHUB_OUTPUT file, here against
// the env world (the Kubernetes stand-in, real helm and terraform) and the built CLI.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {commandArgs, displayArg, escapeData, escapeProperty, formatOutputs, logUntrusted, packageSpec, splitCommand} from '../../action/main.mjs'
import {type EnvWorld, startEnvWorld} from '../fixtures/env/world.js'
import {repoRoot, runProcess} from '../support/cli.js'
import {actionlint, actionMetadataErrors} from '../support/workflow-lint.js'

const entry = path.join(repoRoot, 'action', 'main.mjs')
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {name: string; version: string}
const actionYml = fs.readFileSync(path.join(repoRoot, 'action.yml'), 'utf8')

/** $GITHUB_OUTPUT's multi-line entries, checked for the exact format the runner reads. */
function readOutputs(file: string): Record<string, string> {
  const text = fs.readFileSync(file, 'utf8')
  const out: Record<string, string> = {}
  const entry = /^([\w-]+)<<(ghadelimiter_[0-9a-f-]{36})\n([\s\S]*?)\n\2\n/u
  let rest = text
  while (rest.length > 0) {
    const match = entry.exec(rest)
    expect(match, `not an output entry: ${rest.slice(0, 80)}`).not.toBeNull()
    const [whole, name, , value] = match as RegExpExecArray
    out[name as string] = value as string
    rest = rest.slice(whole.length)
  }
  return out
}

describe('action.yml', () => {
  it('is valid action metadata (the action schema), a Node 24 action whose entry exists', () => {
    expect(actionMetadataErrors(actionYml)).toEqual([])
    const doc = parse(actionYml) as {runs: {using: string; main: string}; inputs: Record<string, {required?: boolean}>; outputs: Record<string, unknown>}
    expect(doc.runs.using).toBe('node24')
    expect(fs.existsSync(path.join(repoRoot, doc.runs.main))).toBe(true)
    expect(Object.keys(doc.inputs)).toEqual(['command', 'working-directory', 'version', 'package'])
    expect(doc.inputs.command?.required).toBe(true)
    expect(Object.keys(doc.outputs)).toEqual(['url', 'kubeconfig', 'expires-at', 'environment', 'status', 'result'])
  })

  it('the schema check is real: an unknown key, a missing description and an unknown runtime are reported', () => {
    expect(actionMetadataErrors(actionYml.replace('branding:', 'brandingx:')).join('\n')).toMatch(/brandingx/u)
    expect(actionMetadataErrors(actionYml.replace(/^description: .*\n/mu, '')).join('\n')).toMatch(/description/u)
    expect(actionMetadataErrors(actionYml.replace('using: node24', 'using: node99'))).toContain('runs.using is "node99", not one of node20, node24, composite, docker')
  })

  it('a workflow using it passes actionlint', async () => {
    const workflow = [
      'on: pull_request',
      'jobs:',
      '  up:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1',
      '      - id: idp',
      '        uses: acme/idp@v0.1.0',
      '        with:',
      '          command: env up --pr ${{ github.event.pull_request.number }}',
      '        env:',
      '          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}',
      '      - run: echo "$URL"',
      '        env:',
      '          URL: ${{ steps.idp.outputs.url }}',
      '',
    ].join('\n')
    expect(await actionlint(workflow, 'preview.yml')).toEqual([])
  })
})

/**
 * The workflow commands the runner would act on in a step's log, as actions/runner reads it
 * (ActionCommandManager): a line that starts with `::` after leading whitespace, or holds a
 * legacy `##[command]` anywhere; none while `::stop-commands::TOKEN` is in force, until `::TOKEN::`.
 */
function workflowCommands(log: string): string[] {
  const commands: string[] = []
  let stopToken: string | undefined
  for (const raw of log.split(/\r\n|\r|\n/u)) {
    const line = raw.trimStart()
    const v2 = /^::([^\s:]+)(?: [^:]*)?::/u.exec(line)
    const name = v2?.[1] ?? /##\[([^\s\]]+)/u.exec(raw)?.[1]
    if (!name) continue
    if (stopToken !== undefined) {
      if (name === stopToken) stopToken = undefined
      continue
    }
    if (name === 'stop-commands') stopToken = line.slice('::stop-commands::'.length)
    else commands.push(line)
  }
  return commands
}

describe('action/main.mjs: workflow commands from untrusted text', () => {
  const hostile = ['pr-1\n::add-mask::secret', '::warning::x', '##[add-path]/tmp/evil', 'a\r::error::y', '50%', 'two words']

  it('escapes messages and properties as @actions/core does', () => {
    expect(escapeData('50% a\r\nb')).toBe('50%25 a%0D%0Ab')
    expect(escapeProperty('idp env:up, x\n')).toBe('idp env%3Aup%2C x%0A')
  })

  it('logs arguments on one line, between stop-commands and a random token: the runner takes no command from them', () => {
    const lines: string[] = []
    logUntrusted([`idp ${hostile.map(displayArg).join(' ')}`], (line) => lines.push(line))
    expect(lines).toHaveLength(3)
    expect(lines[1]).toBe(`idp "pr-1\\n::add-mask::secret" ::warning::x "##[add-path]/tmp/evil" "a\\r::error::y" 50% "two words"`)
    expect(workflowCommands(lines.join('\n'))).toEqual([])
    // Without the guard the runner would act on them: the checker is real.
    expect(workflowCommands(`idp ${hostile.join(' ')}`)).toEqual(['::add-mask::secret ::warning::x ##[add-path]/tmp/evil a', '::error::y 50% two words'])
    expect(workflowCommands('echo ##[add-path]/tmp/evil')).toEqual(['echo ##[add-path]/tmp/evil'])
    const tokens = new Set<string>()
    for (let i = 0; i < 3; i++) logUntrusted(['x'], (line) => line.startsWith('::stop-commands::') && tokens.add(line))
    expect(tokens.size).toBe(3)
  })

  it('a hostile output value stays inside its heredoc: a fresh random delimiter, so no line of it is read as another output', () => {
    const text = formatOutputs({url: 'https://x\nkubeconfig<<EOF\n/etc/passwd\nEOF', environment: 'ghadelimiter_guess\nstatus=0'})
    const delimiters = [...text.matchAll(/^[\w-]+<<(ghadelimiter_[0-9a-f-]{36})$/gmu)].map((m) => m[1])
    expect(delimiters).toHaveLength(2)
    expect(new Set(delimiters).size).toBe(2)
    expect(text).toBe(`url<<${delimiters[0]}\nhttps://x\nkubeconfig<<EOF\n/etc/passwd\nEOF\n${delimiters[0]}\nenvironment<<${delimiters[1]}\nghadelimiter_guess\nstatus=0\n${delimiters[1]}\n`)
  })
})

describe('action/main.mjs: inputs', () => {
  it('splits the command without a shell: quotes group, nothing expands', () => {
    expect(splitCommand(`env up --pr 42`)).toEqual(['env', 'up', '--pr', '42'])
    expect(splitCommand(`  access grant 'a b@x.com' --role "dev \\"x\\"" $HOME;rm\\ -rf `)).toEqual(['access', 'grant', 'a b@x.com', '--role', 'dev "x"', '$HOME;rm -rf'])
    expect(splitCommand(`env up ''`)).toEqual(['env', 'up', ''])
    expect(() => splitCommand(`env up "pr-1`)).toThrow(/unterminated " quote/u)
    expect(() => splitCommand(`env up 'pr-1`)).toThrow(/unterminated ' quote/u)
  })

  it('drops a leading "idp" and adds --json once', () => {
    expect(commandArgs('idp env up --pr 1')).toEqual(['env', 'up', '--pr', '1', '--json'])
    expect(commandArgs('env list --json')).toEqual(['env', 'list', '--json'])
    expect(() => commandArgs('  ')).toThrow(/command input is empty/u)
  })

  it('runs this release by default, else one exact version: a range is refused', () => {
    expect(packageSpec({})).toEqual({name: pkg.name, version: pkg.version, spec: `${pkg.name}@${pkg.version}`, own: true})
    expect(packageSpec({INPUT_VERSION: 'v0.3.1', INPUT_PACKAGE: '@acme/idp-cli'})).toEqual({name: '@acme/idp-cli', version: '0.3.1', spec: '@acme/idp-cli@0.3.1', own: false})
    for (const version of ['^0.1.0', '0.1', 'latest', '0.1.0 || 1.0.0']) expect(() => packageSpec({INPUT_VERSION: version}), version).toThrow(/not an exact version/u)
    expect(() => packageSpec({INPUT_PACKAGE: 'idp-cli@1.0.0'})).toThrow(/not an npm package name/u)
  })

  it('writes outputs in the multi-line syntax, a fresh delimiter each', () => {
    const text = formatOutputs({url: 'https://x', note: 'two\nlines', skipped: undefined})
    const [first, second] = text.match(/ghadelimiter_[0-9a-f-]{36}/gu)!.filter((d, i, all) => all.indexOf(d) === i)
    expect(text).toBe(`url<<${first}\nhttps://x\n${first}\nnote<<${second}\ntwo\nlines\n${second}\n`)
  })
})

describe('action/main.mjs: a run', () => {
  let world: EnvWorld
  let tmp = ''
  beforeAll(async () => {
    world = await startEnvWorld()
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-action-'))
  })
  afterAll(async () => {
    await world?.stop()
    if (tmp) fs.rmSync(tmp, {recursive: true, force: true})
  })

  const runAction = (inputs: Record<string, string>, name: string) => {
    const output = path.join(tmp, `${name}.output`)
    fs.writeFileSync(output, '')
    const env: Record<string, string> = {GITHUB_OUTPUT: output, RUNNER_TEMP: tmp, GITHUB_WORKSPACE: world.root}
    for (const [key, value] of Object.entries(inputs)) env[`INPUT_${key.toUpperCase()}`] = value
    return runProcess(process.execPath, [entry], {cwd: world.root, baseEnv: world.env, env}).then((r) => ({...r, output}))
  }

  it('env up: exit 0, and url, kubeconfig, expires-at and the environment as outputs; no credential anywhere', async () => {
    const run = await runAction({command: 'env up pr-7 --sha abc1234', 'working-directory': 'project'}, 'up')
    expect(run.stderr).not.toMatch(/::error/u)
    expect(run.code).toBe(0)
    const outputs = readOutputs(run.output)
    expect(Object.keys(outputs)).toEqual(['url', 'kubeconfig', 'expires-at', 'environment', 'status', 'result'])
    expect(outputs.url).toBe('https://pr-7.shop.example.com')
    expect(outputs.environment).toBe('pr-7')
    expect(outputs.status).toBe('0')
    expect(fs.existsSync(outputs.kubeconfig!)).toBe(true)
    expect(Date.parse(outputs['expires-at']!) - Date.now()).toBeGreaterThan(71 * 3600_000)
    const envelope = JSON.parse(fs.readFileSync(outputs.result!, 'utf8')) as {status: number; result: {kubeconfig: string; env: string}}
    expect(envelope.result).toMatchObject({env: 'pr-7', kubeconfig: outputs.kubeconfig})
    expect(run.stdout).toContain('idp env up pr-7 --sha abc1234 --json')
    expect(run.stdout).toContain('url: https://pr-7.shop.example.com')
    // The cluster's token is in the kubeconfig file, and only there.
    const token = (parse(fs.readFileSync(outputs.kubeconfig!, 'utf8')) as {users: Array<{user: {token?: string}}>}).users[0]?.user.token
    expect(token).toBeTruthy()
    for (const text of [run.stdout, run.stderr, fs.readFileSync(run.output, 'utf8'), fs.readFileSync(outputs.result!, 'utf8')]) expect(text).not.toContain(token)
  })

  it("a failing command: idp's exit code, its message and hint as an ::error, status output, no url", async () => {
    const run = await runAction({command: 'env up Bad_Name', 'working-directory': 'project'}, 'bad')
    expect(run.code).toBe(2)
    expect(run.stdout).toContain('::error title=idp env up::Invalid environment name "Bad_Name"')
    expect(run.stdout).toContain('%0AHint: ')
    const outputs = readOutputs(run.output)
    expect(outputs.status).toBe('2')
    expect(outputs.url).toBeUndefined()
  })

  it('a command whose arguments hold newlines and workflow commands: the log carries none of them as a command', async () => {
    const run = await runAction({command: `env up 'pr-1\n::add-mask::canary-mask' --sha "##[add-path]/tmp/evil"`, 'working-directory': 'project'}, 'hostile')
    expect(run.code).toBe(2)
    expect(run.stdout).toContain('idp env up "pr-1\\n::add-mask::canary-mask" --sha "##[add-path]/tmp/evil" --json')
    const commands = workflowCommands(run.stdout)
    expect(commands).toHaveLength(1)
    expect(commands[0]).toMatch(/^::error title=idp env up::Invalid environment name "pr-1%0A::add-mask::canary-mask"/u)
  })

  it('bad input fails before idp runs: exit 2, nothing in the outputs', async () => {
    const cases: Array<Record<string, string>> = [{command: 'env up "pr-1'}, {command: ''}, {command: 'env list', version: '^0.1.0'}, {command: 'env list', 'working-directory': 'nowhere'}]
    for (const inputs of cases) {
      const run = await runAction(inputs, 'input')
      expect(run.code, JSON.stringify(inputs)).toBe(2)
      expect(run.stdout).toMatch(/^::error title=idp::/mu)
      expect(fs.readFileSync(run.output, 'utf8')).toBe('')
    }
  })

  it('another release than its own is installed from npm, exactly that version (npm offline here: the error names it)', async () => {
    const cache = path.join(tmp, 'tool-cache')
    const run = await runProcess(process.execPath, [entry], {
      cwd: world.project,
      baseEnv: world.env,
      env: {INPUT_COMMAND: 'config validate', INPUT_VERSION: '9.9.9', GITHUB_OUTPUT: path.join(tmp, 'offline.output'), RUNNER_TOOL_CACHE: cache, npm_config_offline: 'true', npm_config_cache: path.join(tmp, 'npm-cache')},
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(`Installing ${pkg.name}@9.9.9`)
    expect(run.stdout).toContain(`::error title=idp::Could not install ${pkg.name}@9.9.9 (npm install --prefix ${path.join(cache, 'idp', `${pkg.name}@9.9.9`)} --no-save --no-package-lock --no-audit --no-fund --ignore-scripts ${pkg.name}@9.9.9 exited 1).`)
  })
})

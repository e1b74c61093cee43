import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {spawn} from 'node:child_process'

import {type CliRun, runCli, runJs} from '../support/cli.js'

/** The CLI contract (docs/cli-contract.md), through the built `bin/run.js` as a user runs it. */
let home: string

function idp(args: string[]): Promise<CliRun> {
  return runCli(args, {cwd: home, env: {HOME: home, CI: 'true'}})
}

beforeAll(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'idp-e2e-'))
})

afterAll(() => rmSync(home, {recursive: true, force: true}))

describe('idp CLI contract', () => {
  it('--version answers with the package version', async () => {
    const r = await idp(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^idp\/0\.\d+\.\d+ /u)
  })

  it('--help lists every golden-path topic and command', async () => {
    const r = await idp(['--help'])
    expect(r.code).toBe(0)
    for (const topic of ['create', 'env', 'deploy', 'access', 'doctor', 'config', 'templates']) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${topic}\\s`, 'mu'))
    }
  })

  it('an unknown flag is a usage error (exit 2) with one JSON document on stdout under --json', async () => {
    const r = await idp(['config', 'validate', '--bogus', '--json'])
    expect(r.code).toBe(2)
    const doc = JSON.parse(r.stdout)
    expect(doc).toMatchObject({status: 2, error: {code: 'USAGE'}})
    expect(doc.error.message).toContain('--bogus')
  })

  it('an unknown command is a usage error with "did you mean", in human form and as JSON', async () => {
    const human = await idp(['deplyo', 'staging'])
    expect(human.code).toBe(2)
    expect(human.stderr).toContain('Did you mean "idp deploy"?')
    const json = await idp(['env', 'upp', '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({status: 2, error: {code: 'USAGE', details: {suggestion: 'env up'}}})
  })

  it('a bad name is a usage error before any side effect, in human form on stderr', async () => {
    const r = await idp(['create', 'Not_A_Label', '--template', 'typescript-service', '--dir', home])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('Not_A_Label')
    expect(r.stderr).toContain('hint:')
    expect(existsSync(path.join(home, 'Not_A_Label'))).toBe(false)
  })

  it('without a TTY (CI) a missing value is a usage error naming the flag, never a prompt', async () => {
    const r = await idp(['create', '--template', 'typescript-service', '--dir', home, '--json'])
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout).error.message).toMatch(/name/iu)
  })

  it('a flag beats the environment: every switch an IDP_* variable can turn on has a --no- form that turns it off', async () => {
    const manifest = JSON.parse(readFileSync(path.resolve('oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, {type: string; env?: string; allowNo?: boolean}>}>}
    const missing = Object.entries(manifest.commands).flatMap(([id, command]) =>
      Object.entries(command.flags)
        // --no-input is itself the "off" switch of prompting.
        .filter(([name, flag]) => flag.type === 'boolean' && flag.env && name !== 'no-input' && !flag.allowNo)
        .map(([name, flag]) => `${id} --${name} (${flag.env})`),
    )
    expect(missing).toEqual([])
    // IDP_DRY_RUN=true in the shell, --no-dry-run on the command line: the service is created.
    const r = await runCli(['create', 'flagwins', '--template', 'typescript-service', '--dir', home, '--set', 'repoUrl=github.com?owner=acme&repo=flagwins', '--no-dry-run', '--json'], {cwd: home, env: {HOME: home, CI: 'true', IDP_DRY_RUN: 'true'}})
    expect(r.code, r.stderr).toBe(0)
    expect(existsSync(path.join(home, 'flagwins', '.git'))).toBe(true)
    const planned = await runCli(['create', 'planned', '--template', 'typescript-service', '--dir', home, '--set', 'repoUrl=github.com?owner=acme&repo=planned', '--json'], {cwd: home, env: {HOME: home, CI: 'true', IDP_DRY_RUN: 'true'}})
    expect(planned.code).toBe(0)
    expect(existsSync(path.join(home, 'planned'))).toBe(false)
  })

  it('success is {status: 0, result, warnings} with nothing else on stdout', async () => {
    const r = await idp(['templates', 'list', '--json'])
    expect(r.code).toBe(0)
    const doc = JSON.parse(r.stdout)
    expect(doc.status).toBe(0)
    expect(Array.isArray(doc.warnings)).toBe(true)
    expect(JSON.stringify(doc.result)).toContain('typescript-service')
  })

  it('Ctrl-C at a prompt in a real terminal exits 130 with "Cancelled", like Ctrl-C anywhere else', async () => {
    // `script` gives the CLI a pseudo-terminal (stdin a TTY, so idp asks); the key goes through it.
    const env: NodeJS.ProcessEnv = {...process.env, HOME: home, NO_COLOR: '1', TERM: 'dumb'}
    delete env.CI
    const child = spawn('script', ['-qfec', `'${process.execPath}' '${runJs}' access grant alice --dir '${home}'`, '/dev/null'], {cwd: home, env, stdio: ['pipe', 'pipe', 'pipe']})
    let screen = ''
    const asked = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        screen += chunk.toString()
        if (screen.includes('Role')) resolve()
      })
    })
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    await asked
    child.stdin.write('\u0003')
    expect(await exited).toBe(130)
    expect(screen).toContain('Cancelled by the user.')
    expect(screen).not.toContain('bug in idp')
  })
})

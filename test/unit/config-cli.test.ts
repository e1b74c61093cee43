import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {afterEach, describe, expect, it, vi} from 'vitest'

import ConfigSchema from '../../src/commands/config/schema.js'
import ConfigValidate from '../../src/commands/config/validate.js'

const root = path.resolve(import.meta.dirname, '../..')
const fixture = (name: string) => path.join(root, 'test/fixtures/config', name)

/** Run a command class in-process (from source), capturing stdout, stderr and the exit code. */
async function run(command: {run: (argv: string[], root: string) => Promise<unknown>}, argv: string[]) {
  const stdout: string[] = []
  const stderr: string[] = []
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => stdout.push(String(chunk)) > 0)
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => stderr.push(String(chunk)) > 0)
  const before = process.exitCode
  try {
    await command.run(argv, root)
    return {stdout: stdout.join(''), stderr: stderr.join(''), exitCode: process.exitCode ?? 0}
  } finally {
    out.mockRestore()
    err.mockRestore()
    process.exitCode = before
  }
}

afterEach(() => vi.restoreAllMocks())

describe('idp config validate (in-process)', () => {
  it('prints a one-line summary for a valid file', async () => {
    const result = await run(ConfigValidate, ['--dir', root, '--file', '.idp.yml.example'])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toBe('✓ .idp.yml.example is valid (service shop, 3 environments, 2 clusters)\n')
  })

  it('returns the summary in the JSON envelope', async () => {
    const result = await run(ConfigValidate, ['--dir', root, '--file', '.idp.yml.example', '--json'])
    expect(JSON.parse(result.stdout)).toEqual({status: 0, result: {file: '.idp.yml.example', valid: true, summary: {service: 'shop', environments: 3, clusters: 2}}, warnings: []})
  })

  it('lists every problem on stderr with file:line:col and exits 3', async () => {
    const result = await run(ConfigValidate, ['--dir', fixture('broken')])
    expect(result.exitCode).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('test/fixtures/config/broken/.idp.yml:4:3  service.ownr: unknown key "ownr"')
    expect(result.stderr).toContain('did you mean owner?')
    expect(result.stderr).toContain('.idp.yml:9:14  environments.pr-*.cluster: unknown cluster "dve"')
    expect(result.stderr).toContain('hint:')
  })
})

describe('idp config schema (in-process)', () => {
  it('prints the raw JSON Schema on stdout by default', async () => {
    const result = await run(ConfigSchema, [])
    expect(result.exitCode).toBe(0)
    const schema = JSON.parse(result.stdout)
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(schema.properties.environments).toBeDefined()
  })

  it('wraps it in the envelope with --json and writes it with --output', async () => {
    const json = JSON.parse((await run(ConfigSchema, ['--json'])).stdout)
    expect(json.status).toBe(0)
    expect(json.result.schema.title).toBe('idp configuration (.idp.yml)')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-schema-'))
    try {
      const result = await run(ConfigSchema, ['--dir', dir, '--output', 'idp.schema.json'])
      expect(result.exitCode).toBe(0)
      expect(JSON.parse(readFileSync(path.join(dir, 'idp.schema.json'), 'utf8'))).toEqual(json.result.schema)
      const failed = await run(ConfigSchema, ['--dir', dir, '--output', 'missing/dir/idp.schema.json'])
      expect(failed.exitCode).toBe(2)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('bin/run.js config validate (built CLI)', () => {
  const exec = promisify(execFile)

  it('exits 3 with error.code CONFIG and the problems with line numbers', async () => {
    // The built CLI is what users run; `npm run build` must have run before the tests.
    expect(existsSync(path.join(root, 'dist/commands/config/validate.js')), 'dist/ is missing: run `npm run build` before the tests').toBe(true)
    const error = await exec(process.execPath, [path.join(root, 'bin/run.js'), 'config', 'validate', '--dir', fixture('broken'), '--json'], {cwd: root}).catch((e: unknown) => e)
    const {code, stdout} = error as {code: number; stdout: string}
    expect(code).toBe(3)
    const envelope = JSON.parse(stdout)
    expect(envelope.status).toBe(3)
    expect(envelope.error.code).toBe('CONFIG')
    const problems = envelope.error.details.problems as {line: number; column: number; path: string}[]
    expect(problems.map((p) => `${p.line}:${p.column} ${p.path}`)).toContain('4:3 service.ownr')
    expect(problems).toHaveLength(7)
  })
})

describe('bin/run.js config example (built CLI)', () => {
  const exec = promisify(execFile)
  const idp = (args: string[], cwd: string) => exec(process.execPath, [path.join(root, 'bin/run.js'), ...args], {cwd, env: {PATH: process.env.PATH, HOME: cwd}}).catch((e: unknown) => e as {code: number; stdout: string; stderr: string})

  it('prints the annotated example shipped with idp from any directory, writes it to a new file only, and the file validates', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-config-example-'))
    try {
      const shipped = readFileSync(path.join(root, '.idp.yml.example'), 'utf8')
      const printed = (await idp(['config', 'example'], dir)) as {stdout: string}
      expect(printed.stdout).toBe(shipped)
      const written = (await idp(['config', 'example', '--output', '.idp.yml'], dir)) as {stdout: string}
      expect(written.stdout).toBe('Wrote the annotated example of .idp.yml to .idp.yml\n')
      expect(readFileSync(path.join(dir, '.idp.yml'), 'utf8')).toBe(shipped)
      const valid = (await idp(['config', 'validate', '--file', '.idp.yml', '--dir', dir], dir)) as {stdout: string}
      expect(valid.stdout).toMatch(/^✓ \.idp\.yml is valid/u)
      // Never over an existing file: exit 2, the file as it was.
      writeFileSync(path.join(dir, '.idp.yml'), 'version: 1\n')
      const again = (await idp(['config', 'example', '--output', '.idp.yml', '--json'], dir)) as {code: number; stdout: string}
      expect(again.code).toBe(2)
      expect(JSON.parse(again.stdout).error.message).toMatch(/^Cannot write \.idp\.yml: it already exists\./u)
      expect(readFileSync(path.join(dir, '.idp.yml'), 'utf8')).toBe('version: 1\n')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

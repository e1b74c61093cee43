import {mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {ConfigError} from '../../src/lib/cli/errors.js'
import {loadConfig} from '../../src/lib/config/load.js'
import {gitRoot} from '../../src/lib/tools/git-files.js'

const valid = (name: string) => `version: 1\nservice: {name: ${name}, owner: team-a}\n`
const fixtures = path.resolve(import.meta.dirname, '../fixtures/config')

let tmp: string
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'idp-config-'))
})
afterEach(() => rmSync(tmp, {recursive: true, force: true}))

const write = (file: string, text: string) => {
  mkdirSync(path.dirname(path.join(tmp, file)), {recursive: true})
  writeFileSync(path.join(tmp, file), text)
}

describe('loadConfig', () => {
  it('searches upward from dir and stops at the git root', async () => {
    write('.idp.yml', valid('outside'))
    mkdirSync(path.join(tmp, 'repo/.git'), {recursive: true})
    mkdirSync(path.join(tmp, 'repo/a/b'), {recursive: true})
    expect(gitRoot(path.join(tmp, 'repo/a/b'))).toBe(path.join(tmp, 'repo'))
    expect(await loadConfig({dir: path.join(tmp, 'repo/a/b')})).toBeUndefined()

    write('repo/.idp.yml', valid('repo'))
    const loaded = await loadConfig({dir: path.join(tmp, 'repo/a/b')})
    expect(loaded).toMatchObject({filepath: path.join(tmp, 'repo/.idp.yml'), root: path.join(tmp, 'repo')})
    expect(loaded?.config.service.name).toBe('repo')

    write('repo/a/.idp.yaml', valid('nearest'))
    expect((await loadConfig({dir: path.join(tmp, 'repo/a/b')}))?.config.service.name).toBe('nearest')
  })

  it('prefers .idp.yml over .idp.yaml in the same directory', async () => {
    mkdirSync(path.join(tmp, '.git'))
    write('.idp.yaml', valid('yaml'))
    write('.idp.yml', valid('yml'))
    expect((await loadConfig({dir: tmp}))?.config.service.name).toBe('yml')
  })

  it('searches only dir itself outside a git repository', async () => {
    write('.idp.yml', valid('parent'))
    mkdirSync(path.join(tmp, 'sub'))
    // tmp is not inside a repository (os.tmpdir() has no .git above it on these machines).
    expect(gitRoot(tmp)).toBeUndefined()
    expect(await loadConfig({dir: path.join(tmp, 'sub')})).toBeUndefined()
    expect((await loadConfig({dir: tmp}))?.config.service.name).toBe('parent')
  })

  it('finds the config of the repository fixtures by walking up', async () => {
    const loaded = await loadConfig({dir: path.join(fixtures, 'nested/app')})
    expect(loaded?.filepath).toBe(path.join(fixtures, 'nested/.idp.yaml'))
    expect(loaded?.config.service.name).toBe('nested')
  })

  it('throws a ConfigError with a hint when required and nothing is found', async () => {
    mkdirSync(path.join(tmp, '.git'))
    const error = await loadConfig({dir: tmp, required: true}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).message).toMatch(/^No \.idp\.yml found in /u)
    expect((error as ConfigError).hint).toBe('Scaffold a service with `idp create`, or write one: `idp config example` shows every key, explained.')
  })

  it('reports all problems of the found file, with its path', async () => {
    mkdirSync(path.join(tmp, '.git'))
    write('.idp.yml', 'version: 1\nservice:\n  name: Shop\n  ownr: a\n')
    const error = (await loadConfig({dir: tmp}).catch((e: unknown) => e)) as ConfigError
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.problems.map((p) => `${p.line}:${p.column} ${p.path}`)).toEqual(['2:1 service.owner', '3:9 service.name', '4:3 service.ownr'])
    expect(error.problems[0]?.file).toBe(path.join(tmp, '.idp.yml'))
  })

  it('treats an empty file as a config with missing keys, not as no config', async () => {
    mkdirSync(path.join(tmp, '.git'))
    write('.idp.yml', '')
    const error = (await loadConfig({dir: tmp}).catch((e: unknown) => e)) as ConfigError
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.problems.map((p) => p.path)).toEqual(['version', 'service'])
  })

  it('skips a name that is not a readable file (a directory, a dangling link) and goes on searching', async () => {
    mkdirSync(path.join(tmp, '.git'))
    mkdirSync(path.join(tmp, 'a/.idp.yml'), {recursive: true})
    write('a/.idp.yaml', valid('beside-a-directory'))
    expect(await loadConfig({dir: path.join(tmp, 'a')})).toMatchObject({filepath: path.join(tmp, 'a/.idp.yaml'), root: path.join(tmp, 'a')})

    mkdirSync(path.join(tmp, 'b'))
    symlinkSync(path.join(tmp, 'nowhere.yml'), path.join(tmp, 'b/.idp.yml'))
    write('.idp.yml', valid('root'))
    expect((await loadConfig({dir: path.join(tmp, 'b')}))?.filepath).toBe(path.join(tmp, '.idp.yml'))
  })

  it('searches from the directory of --dir when --dir names a file', async () => {
    mkdirSync(path.join(tmp, '.git'))
    write('.idp.yml', valid('root'))
    write('README.md', '# x\n')
    expect((await loadConfig({dir: path.join(tmp, 'README.md')}))?.config.service.name).toBe('root')
  })

  it('reports a config file that exists but cannot be read, instead of using another one', async () => {
    mkdirSync(path.join(tmp, '.git'))
    write('.idp.yaml', valid('other'))
    // A symlink loop cannot be read by anyone (unlike chmod 000, which root reads anyway).
    symlinkSync('.idp.yml', path.join(tmp, '.idp.yml'))
    const error = (await loadConfig({dir: tmp}).catch((e: unknown) => e)) as ConfigError
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toMatch(/^Cannot read config file .*\.idp\.yml: ELOOP/u)
    expect(error.hint).toMatch(/Make .*\.idp\.yml readable, or name another file with --file\./u)
  })

  it('reads an explicit file relative to dir, and never executes one', async () => {
    write('conf/custom.yml', valid('custom'))
    expect((await loadConfig({dir: tmp, file: 'conf/custom.yml'}))?.root).toBe(path.join(tmp, 'conf'))
    write('evil.js', 'globalThis.idpExecuted = true\nexport default {}\n')
    await expect(loadConfig({dir: tmp, file: 'evil.js'})).rejects.toBeInstanceOf(ConfigError)
    expect((globalThis as {idpExecuted?: boolean}).idpExecuted).toBeUndefined()
    await expect(loadConfig({dir: tmp, file: 'missing.yml'})).rejects.toThrow(/Cannot read config file .*missing\.yml: it does not exist/u)
    await expect(loadConfig({dir: tmp, file: 'conf'})).rejects.toThrow(/it is a directory/u)
  })

  it('refuses a .idp.yml that is a link to a file outside the repository, without quoting it', async () => {
    write('private/id_rsa', '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-line\n')
    mkdirSync(path.join(tmp, 'repo/.git'), {recursive: true})
    symlinkSync(path.join(tmp, 'private/id_rsa'), path.join(tmp, 'repo/.idp.yml'))
    const error = await loadConfig({dir: path.join(tmp, 'repo'), required: true}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).message).toContain('is a link to')
    expect(JSON.stringify(error)).not.toContain('secret-line')
    expect(`${(error as ConfigError).message}${(error as ConfigError).hint}`).not.toContain('secret-line')
    // A link inside the repository is fine.
    write('repo/config/idp.yml', valid('linked'))
    rmSync(path.join(tmp, 'repo/.idp.yml'))
    symlinkSync('config/idp.yml', path.join(tmp, 'repo/.idp.yml'))
    expect((await loadConfig({dir: path.join(tmp, 'repo')}))?.config.service.name).toBe('linked')
  })

  it('refuses a config file over 1 MB before parsing it', async () => {
    write('.idp.yml', `${valid('big')}# ${'x'.repeat(1024 * 1024)}\n`)
    const error = await loadConfig({dir: tmp}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).message).toMatch(/\.idp\.yml is too large: a config file may be at most 1048576 bytes \(1 MiB\)\./u)
  })

  it('IDP_CONFIG names the file for every command that loads the config; --file wins over it', async () => {
    write('.idp.yml', valid('default'))
    write('alt.idp.yml', valid('alternative'))
    expect((await loadConfig({dir: tmp, env: {IDP_CONFIG: 'alt.idp.yml'}}))?.config.service.name).toBe('alternative')
    expect((await loadConfig({dir: tmp, file: '.idp.yml', env: {IDP_CONFIG: 'alt.idp.yml'}}))?.config.service.name).toBe('default')
  })
})

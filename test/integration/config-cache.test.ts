import {copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {parseConfigText} from '../../src/lib/config/validate.js'
import {parseJson, repoRoot, runCli} from '../support/cli.js'

/**
 * The validated .idp.yml is remembered per file, keyed by the text and the build (issue 6). These
 * tests run the built CLI, which has a build id; from source nothing is remembered.
 */
const work = mkdtempSync(path.join(os.tmpdir(), 'idp-config-cache-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))

const example = path.join(repoRoot, '.idp.yml.example')

function project(name: string): {dir: string; cache: string; env: Record<string, string>} {
  const dir = path.join(work, name)
  mkdirSync(dir)
  copyFileSync(example, path.join(dir, '.idp.yml'))
  const cache = path.join(work, `${name}-cache`)
  return {dir, cache, env: {XDG_CACHE_HOME: cache}}
}

const entries = (cache: string) => {
  const dir = path.join(cache, 'idp', 'config')
  try {
    return readdirSync(dir).map((name) => path.join(dir, name))
  } catch {
    return []
  }
}

type Validated = {result: {summary: {service: string; environments: number}}}

describe('the validated config cache', () => {
  it('answers an unchanged file from the entry, and checks an edited one again', async () => {
    const p = project('a')
    const first = await runCli(['config', 'validate', '--json', '--dir', p.dir], {env: p.env})
    expect(first.code).toBe(0)
    const [entry] = entries(p.cache)
    expect(entry).toBeDefined()
    expect(statSync(entry!).mode & 0o777).toBe(0o600)
    const stored = JSON.parse(readFileSync(entry!, 'utf8')) as {key: string; file: string; value: {service: {name: string}}}
    expect(stored.file).toBe(path.join(p.dir, '.idp.yml'))

    // A value no parse of the file gives: seen only if the entry is what answers.
    stored.value.service.name = 'from-the-cache'
    writeFileSync(entry!, JSON.stringify(stored))
    const second = await runCli(['config', 'validate', '--json', '--dir', p.dir], {env: p.env})
    expect((parseJson(second.stdout) as Validated).result.summary.service).toBe('from-the-cache')

    // Any edit, even a comment, is new text: checked in full, and the entry replaced.
    writeFileSync(path.join(p.dir, '.idp.yml'), `${readFileSync(example, 'utf8')}\n# edited\n`)
    const third = await runCli(['config', 'validate', '--json', '--dir', p.dir], {env: p.env})
    expect((parseJson(third.stdout) as Validated).result.summary).toEqual((parseJson(first.stdout) as Validated).result.summary)
    expect(entries(p.cache)).toHaveLength(1)
    expect((JSON.parse(readFileSync(entry!, 'utf8')) as {key: string}).key).not.toBe(stored.key)
  })

  it('never remembers an invalid file, and survives a corrupt or unwritable cache', async () => {
    const p = project('b')
    writeFileSync(path.join(p.dir, '.idp.yml'), 'version: 1\nservice: {name: Bad_Name}\n')
    const invalid = await runCli(['config', 'validate', '--json', '--dir', p.dir], {env: p.env})
    expect(invalid.code).toBe(3)
    expect(entries(p.cache)).toEqual([])

    copyFileSync(example, path.join(p.dir, '.idp.yml'))
    expect((await runCli(['config', 'validate', '--dir', p.dir], {env: p.env})).code).toBe(0)
    writeFileSync(entries(p.cache)[0]!, '{not json')
    const afterCorruption = await runCli(['config', 'validate', '--json', '--dir', p.dir], {env: p.env})
    expect(afterCorruption.code).toBe(0)

    // A cache directory that cannot be created (a file in its place): validation still works.
    const blocked = path.join(work, 'blocked')
    writeFileSync(blocked, 'not a directory')
    const unwritable = await runCli(['config', 'validate', '--json', '--dir', p.dir], {env: {XDG_CACHE_HOME: blocked}})
    expect(unwritable.code).toBe(0)
  })

  it('stores exactly what a fresh check returns (the config survives JSON unchanged)', () => {
    for (const file of [example, path.join(repoRoot, 'test/fixtures/env/project/.idp.yml'), path.join(repoRoot, 'test/fixtures/deploy/project/.idp.yml')]) {
      const config = parseConfigText(readFileSync(file, 'utf8'), file)
      expect(JSON.parse(JSON.stringify(config))).toStrictEqual(config)
    }
  })
})

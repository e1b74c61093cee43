import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, afterEach, describe, expect, it, vi} from 'vitest'

import {cacheKey, defineCache, entryFile, fileIdentity, isRecord, keep, readKeptSync} from '../../src/lib/cli/cache.js'

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-cache-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))
afterEach(() => {
  vi.useRealTimers()
  vi.doUnmock('../../src/lib/cli/build.js')
  vi.resetModules()
})

let dirs = 0
const freshDir = () => path.join(work, `d${++dirs}`)

/** The cache module as a build with id `build` has it (undefined: running from source). */
async function cacheOfBuild(build: string | undefined): Promise<typeof import('../../src/lib/cli/cache.js')> {
  vi.resetModules()
  vi.doMock('../../src/lib/cli/build.js', () => ({BUILD_ID: build}))
  return import('../../src/lib/cli/cache.js')
}

const things = defineCache<{n: number}>({version: 3, valid: (value) => isRecord(value) && typeof value.n === 'number'})

describe('cache keys', () => {
  it('are the same for the same inputs, and differ when any input, its place or the build differs', async () => {
    expect(cacheKey('a', 'b')).toBe(cacheKey('a', 'b'))
    expect(cacheKey('a', 'b')).toMatch(/^[0-9a-f]{64}$/u)
    const others = [cacheKey('a', 'c'), cacheKey('b', 'a'), cacheKey('ab'), cacheKey('a', 'b', ''), cacheKey('a')]
    expect(new Set([cacheKey('a', 'b'), ...others]).size).toBe(others.length + 1)

    const one = await cacheOfBuild('build-one')
    const two = await cacheOfBuild('build-two')
    const source = await cacheOfBuild(undefined)
    expect(one.cacheKey('a')).toBe((await cacheOfBuild('build-one')).cacheKey('a'))
    expect(new Set([one.cacheKey('a'), two.cacheKey('a'), source.cacheKey('a')]).size).toBe(3)
  })

  it('never hold their inputs as text', () => {
    const secret = 'token-0123456789abcdef'
    expect(cacheKey(secret)).not.toContain(secret)
    expect(path.basename(entryFile(work, `/home/u/${secret}`))).toMatch(/^[0-9a-f]{32}\.json$/u)
    expect(entryFile(work, '/a')).toBe(entryFile(work, '/a'))
    expect(entryFile(work, '/a')).not.toBe(entryFile(work, '/b'))
  })

  it('see a file rewritten, replaced or chmod-ed as another file (its identity)', () => {
    const file = path.join(work, 'identity')
    writeFileSync(file, 'one')
    const identity = () => fileIdentity(statSync(file, {bigint: true}))
    const first = identity()
    expect(identity()).toBe(first)
    chmodSync(file, 0o600)
    const chmodded = identity()
    expect(chmodded).not.toBe(first)
    writeFileSync(file, 'two')
    expect(identity()).not.toBe(chmodded)
  })
})

describe('cache entries', () => {
  it('answer with the value kept under the same key, and nothing under another', async () => {
    const file = path.join(freshDir(), 'entry.json')
    const key = cacheKey('input')
    expect(await things.write(file, key, {n: 1}, {file: '/where/it/came/from'})).toBe(true)
    expect(await things.read(file, key)).toEqual({n: 1})
    expect(await things.read(file, cacheKey('other input'))).toBeUndefined()
    // Fields about the entry sit beside it, for people, and never stand in for what is checked.
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({file: '/where/it/came/from', version: 3, key, value: {n: 1}})
    await things.write(file, key, {n: 2}, {version: 99, key: 'forged', value: {n: 3}})
    expect(await things.read(file, key)).toEqual({n: 2})
  })

  it('treat a missing, corrupt, foreign or older entry as a miss, never an error', async () => {
    const dir = freshDir()
    mkdirSync(dir)
    const key = cacheKey('input')
    const misses: Record<string, string> = {
      'not JSON': '{"version": 3, "key"',
      empty: '',
      null: 'null',
      'an array': '[]',
      'a string': '"value"',
      'an older layout': JSON.stringify({version: 2, key, value: {n: 1}}),
      'no layout': JSON.stringify({key, value: {n: 1}}),
      'another key (build, inputs)': JSON.stringify({version: 3, key: cacheKey('other'), value: {n: 1}}),
      'no value': JSON.stringify({version: 3, key}),
      'a value of the wrong shape': JSON.stringify({version: 3, key, value: {n: 'one'}}),
    }
    for (const [name, text] of Object.entries(misses)) {
      const file = path.join(dir, `${name}.json`)
      writeFileSync(file, text)
      await expect(things.read(file, key), name).resolves.toBeUndefined()
    }
    await expect(things.read(path.join(dir, 'absent.json'), key)).resolves.toBeUndefined()
    await expect(things.read(dir, key)).resolves.toBeUndefined()
    expect(things.check(undefined, key)).toBeUndefined()
    expect(things.check({version: 3, key, value: {n: 1}}, key)).toEqual({n: 1})
  })

  it('kept by another build are a miss for this one', async () => {
    const file = path.join(freshDir(), 'entry.json')
    const one = await cacheOfBuild('build-one')
    const kept = one.defineCache<string>({version: 1})
    await kept.write(file, one.cacheKey('input'), 'answer')
    expect(await kept.read(file, one.cacheKey('input'))).toBe('answer')
    const two = await cacheOfBuild('build-two')
    expect(await two.defineCache<string>({version: 1}).read(file, two.cacheKey('input'))).toBeUndefined()
  })

  it('are written 0600 in a 0700 directory whatever the umask, with no temporary file left', async () => {
    for (const umask of [0, 0o022, 0o077]) {
      const previous = process.umask(umask)
      try {
        const dir = freshDir()
        const file = path.join(dir, 'nested', 'entry.json')
        expect(await things.write(file, cacheKey('x'), {n: 1})).toBe(true)
        expect(await things.write(file, cacheKey('x'), {n: 2})).toBe(true)
        expect(statSync(file).mode & 0o777).toBe(0o600)
        expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700)
        expect(readdirSync(path.dirname(file))).toEqual(['entry.json'])
        expect(await things.read(file, cacheKey('x'))).toEqual({n: 2})
      } finally {
        process.umask(previous)
      }
    }
    // A directory that was there, open to others, is made private.
    const open = freshDir()
    mkdirSync(open, {mode: 0o755})
    chmodSync(open, 0o755)
    await things.write(path.join(open, 'entry.json'), cacheKey('x'), {n: 1})
    expect(statSync(open).mode & 0o777).toBe(0o700)
  })

  it('that cannot be written only say so: the command goes on, nothing is left half-written', async () => {
    // The cache directory cannot be created: a file stands in its place.
    const blocked = path.join(work, 'blocked')
    writeFileSync(blocked, 'not a directory')
    await expect(things.write(path.join(blocked, 'config', 'entry.json'), cacheKey('x'), {n: 1})).resolves.toBe(false)
    await expect(keep(path.join(blocked, 'code.bin'), new Uint8Array([1, 2, 3]))).resolves.toBe(false)
    // The rename fails (the entry's name is taken by a directory): no temporary file beside it.
    const dir = freshDir()
    mkdirSync(path.join(dir, 'entry.json'), {recursive: true})
    await expect(things.write(path.join(dir, 'entry.json'), cacheKey('x'), {n: 1})).resolves.toBe(false)
    expect(readdirSync(dir)).toEqual(['entry.json'])
  })

  it('of bytes (compiled code) are kept whole and read back synchronously, a missing one as a miss', async () => {
    const file = path.join(freshDir(), 'code', 'oclif-build-variant.bin')
    expect(readKeptSync(file)).toBeUndefined()
    expect(await keep(file, Buffer.from([0, 1, 2, 255]))).toBe(true)
    expect(readKeptSync(file)).toEqual(Buffer.from([0, 1, 2, 255]))
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readdirSync(path.dirname(file))).toEqual(['oclif-build-variant.bin'])
  })
})

describe('in-memory memos', () => {
  it('answer per slot under the same key while fresh, with the same checks as files', () => {
    vi.useFakeTimers()
    const memo = things.memo(60_000)
    const key = cacheKey('copy text hash')
    expect(memo.get('/state/a.json', key)).toBeUndefined()
    memo.set('/state/a.json', key, {n: 1})
    expect(memo.get('/state/a.json', key)).toEqual({n: 1})
    expect(memo.get('/state/a.json', cacheKey('changed text'))).toBeUndefined()
    expect(memo.get('/state/b.json', key)).toBeUndefined()
    // A new answer for the slot replaces the old one.
    memo.set('/state/a.json', cacheKey('changed text'), {n: 2})
    expect(memo.get('/state/a.json', key)).toBeUndefined()
    expect(memo.get('/state/a.json', cacheKey('changed text'))).toEqual({n: 2})
    vi.advanceTimersByTime(60_001)
    expect(memo.get('/state/a.json', cacheKey('changed text'))).toBeUndefined()
  })
})

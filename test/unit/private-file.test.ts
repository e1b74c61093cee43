import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {writePrivateFile} from '../../src/lib/cli/paths.js'

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-private-file-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))

describe('writePrivateFile (journals, private kubeconfigs, caches)', () => {
  it('writes 0600 in a 0700 directory whatever the umask, and replaces a file whole', async () => {
    const previous = process.umask(0)
    try {
      const file = path.join(work, 'a', 'b', 'secret.json')
      await writePrivateFile(file, 'one')
      await writePrivateFile(file, 'two')
      expect(readFileSync(file, 'utf8')).toBe('two')
      expect(statSync(file).mode & 0o777).toBe(0o600)
      expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700)
      expect(readdirSync(path.dirname(file))).toEqual(['secret.json'])
    } finally {
      process.umask(previous)
    }
  })

  it("leaves a directory the user chose as it is, and leaves no temporary file when it fails", async () => {
    const chosen = path.join(work, 'chosen')
    mkdirSync(chosen, {mode: 0o755})
    await writePrivateFile(path.join(chosen, 'kubeconfig'), 'x', {userDir: true})
    expect(statSync(chosen).mode & 0o777).toBe(0o755)
    expect(statSync(path.join(chosen, 'kubeconfig')).mode & 0o777).toBe(0o600)

    // The target is a directory: the rename fails, and nothing is left beside it.
    mkdirSync(path.join(chosen, 'taken'))
    await expect(writePrivateFile(path.join(chosen, 'taken'), 'x', {userDir: true})).rejects.toThrow()
    expect(readdirSync(chosen).sort()).toEqual(['kubeconfig', 'taken'])
  })
})

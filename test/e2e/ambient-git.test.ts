import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {toolError} from '../../src/lib/tools/tool-error.js'
import {runCli} from '../support/cli.js'

/**
 * A shell that holds GIT_DIR / GIT_WORK_TREE (set by a git hook, a script, `git rebase -x`, a
 * dotfiles setup): idp names the repository by its directory, so they must not send idp's git
 * commands, and its commit, to another repository.
 */
const root = mkdtempSync(path.join(os.tmpdir(), 'idp-ambient-git-'))
afterAll(() => rmSync(root, {recursive: true, force: true}))

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, {cwd, encoding: 'utf8', env: {PATH: process.env.PATH, HOME: root, GIT_CONFIG_NOSYSTEM: '1'}}).trim()

describe('git variables in the shell', () => {
  it('create with GIT_DIR and GIT_WORK_TREE of another repository: the new service gets the commit, the other repository is untouched', async () => {
    const other = path.join(root, 'other')
    git(root, 'init', '-q', other)
    const out = path.join(root, 'out')
    const run = await runCli(['create', 'svc', '--template', 'typescript-service', '--dir', out, '--set', 'repoUrl=github.com?owner=acme&repo=svc', '--no-input', '--json'], {
      env: {HOME: root, GIT_DIR: path.join(other, '.git'), GIT_WORK_TREE: other, GIT_INDEX_FILE: path.join(other, '.git', 'index')},
    })
    expect(run.code, run.stderr).toBe(0)
    expect(git(path.join(out, 'svc'), 'log', '--oneline')).toMatch(/Create svc from the typescript-service template/u)
    expect(() => git(other, 'rev-parse', '--verify', '-q', 'HEAD')).toThrow()
    expect(git(other, 'status', '--porcelain')).toBe('')
  })

  it('a failed git command is printed with `env -u` for the variables idp removed, so it runs as idp ran it', () => {
    const error = toolError('git', ['-c', 'core.hooksPath=/dev/null', 'init'], {exitCode: 128, stdout: '', stderr: 'fatal: something odd'}, {cwd: '/work/svc', unset: ['GIT_DIR', 'GIT_WORK_TREE']})
    expect(error.hint).toBe('Run `cd /work/svc && env -u GIT_DIR -u GIT_WORK_TREE git -c core.hooksPath=/dev/null init` yourself to investigate (secrets shown as *** must be filled in), or re-run idp with --verbose.')
  })
})

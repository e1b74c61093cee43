import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {gitFacts} from '../../src/lib/env/context.js'
import {gitConfigIdentity} from '../../src/lib/tools/git.js'
import {createToolRunner} from '../../src/lib/tools/runner.js'
import {readGitHead} from '../../src/lib/tools/git-files.js'
import {RecordingRunner} from '../support/recording-runner.js'

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-git-files-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))

const gitEnv = {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e'}
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, {cwd, env: gitEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim()
/** What git itself says: the branch (undefined when detached) and the commit (undefined before the first). */
function gitSays(cwd: string): {branch?: string; sha?: string} {
  let branch: string | undefined
  try {
    branch = git(cwd, 'symbolic-ref', '--quiet', '--short', 'HEAD')
  } catch {}
  let sha: string | undefined
  try {
    sha = git(cwd, 'rev-parse', '--verify', '--quiet', 'HEAD')
  } catch {}
  return {...(branch ? {branch} : {}), ...(sha ? {sha} : {})}
}

function repo(name: string): string {
  const dir = path.join(work, name)
  mkdirSync(dir, {recursive: true})
  git(dir, 'init', '--quiet', '--initial-branch', 'feature/Login-Page')
  return dir
}

describe('reading HEAD from the repository files', () => {
  it('agrees with git on a branch with no commit, with commits, from a sub-directory, after pack-refs and detached', async () => {
    const dir = repo('plain')
    expect(await readGitHead(dir)).toEqual({repository: true, ...gitSays(dir)})
    expect(gitSays(dir)).toEqual({branch: 'feature/Login-Page'})

    writeFileSync(path.join(dir, 'a.txt'), 'a')
    git(dir, 'add', '.')
    git(dir, 'commit', '--quiet', '-m', 'one')
    const sub = path.join(dir, 'src', 'deep')
    mkdirSync(sub, {recursive: true})
    expect(await readGitHead(sub)).toEqual({repository: true, ...gitSays(sub)})
    expect(gitSays(sub).sha).toMatch(/^[0-9a-f]{40}$/u)

    git(dir, 'pack-refs', '--all')
    expect(await readGitHead(dir)).toEqual({repository: true, ...gitSays(dir)})

    git(dir, 'checkout', '--quiet', '--detach')
    expect(await readGitHead(dir)).toEqual({repository: true, ...gitSays(dir)})
    expect(gitSays(dir).branch).toBeUndefined()
  })

  it('agrees with git in a linked worktree', async () => {
    const dir = repo('main-tree')
    writeFileSync(path.join(dir, 'a.txt'), 'a')
    git(dir, 'add', '.')
    git(dir, 'commit', '--quiet', '-m', 'one')
    const linked = path.join(work, 'linked')
    git(dir, 'worktree', 'add', '--quiet', '-b', 'pr-7', linked)
    writeFileSync(path.join(linked, 'b.txt'), 'b')
    git(linked, 'add', '.')
    git(linked, 'commit', '--quiet', '-m', 'two')
    expect(await readGitHead(linked)).toEqual({repository: true, ...gitSays(linked)})
    expect(gitSays(linked).branch).toBe('pr-7')
    expect(gitSays(linked).sha).not.toBe(gitSays(dir).sha)
  })

  it('says "not a repository" outside one, and leaves unusual set-ups to git', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'idp-no-repo-'))
    try {
      expect(await readGitHead(outside)).toEqual({repository: false})
    } finally {
      rmSync(outside, {recursive: true, force: true})
    }
    const dir = repo('unusual')
    expect(await readGitHead(dir, {GIT_DIR: path.join(dir, '.git')})).toBeUndefined()
    // A HEAD pointing outside refs/heads (or reftable's refs/heads/.invalid) is git's to read.
    writeFileSync(path.join(dir, '.git', 'HEAD'), 'ref: refs/heads/.invalid\n')
    expect(await readGitHead(dir)).toBeUndefined()
  })
})

describe('gitFacts', () => {
  it('reads branch and commit without starting git in a plain repository, and asks git only for the identity', async () => {
    const dir = repo('facts')
    writeFileSync(path.join(dir, 'a.txt'), 'a')
    git(dir, 'add', '.')
    git(dir, 'commit', '--quiet', '-m', 'one')
    const runner = new RecordingRunner()
    const facts = await gitFacts(runner, dir, {USER: 'someone'})
    expect(facts).toMatchObject({branch: 'feature/Login-Page', sha: gitSays(dir).sha})
    // One git process for the identity (both keys, as git resolves them).
    expect(runner.calls.map((c) => c.argv)).toEqual([['config', '--get-regexp', '^user\\.(name|email)$']])

    // CI says who and what: nothing to ask at all.
    const quiet = new RecordingRunner()
    expect(await gitFacts(quiet, dir, {GITHUB_ACTOR: 'octocat', GITHUB_REF_NAME: 'main', GITHUB_SHA: 'f'.repeat(40)})).toEqual({branch: 'main', sha: 'f'.repeat(40), owner: 'octocat'})
    expect(quiet.calls).toEqual([])
  })

  it('reads the identity as git resolves it: the last value set wins, repository over global', async () => {
    const dir = repo('facts-identity')
    const home = path.join(dir, '..', 'facts-identity-home')
    mkdirSync(home, {recursive: true})
    writeFileSync(path.join(home, '.gitconfig'), '[user]\n\tname = Global Name\n\temail = global@example.com\n')
    const env = {HOME: home, GIT_CONFIG_GLOBAL: path.join(home, '.gitconfig'), GIT_CONFIG_NOSYSTEM: '1'}
    const runner = createToolRunner({env})
    expect(await gitConfigIdentity(runner, dir)).toEqual({name: 'Global Name', email: 'global@example.com'})
    git(dir, 'config', 'user.email', 'repo@example.com')
    expect(await gitConfigIdentity(runner, dir)).toEqual({name: 'Global Name', email: 'repo@example.com'})
    expect(await gitFacts(runner, dir, {...env})).toMatchObject({owner: 'repo@example.com'})
    // Nothing set: no identity, and no error.
    rmSync(path.join(home, '.gitconfig'))
    git(dir, 'config', '--unset', 'user.email')
    expect(await gitConfigIdentity(runner, dir)).toEqual({})
  })

  it('asks git when the layout is not one it reads (GIT_DIR set)', async () => {
    const dir = repo('facts-git-dir')
    const runner = new RecordingRunner()
    await gitFacts(runner, dir, {GITHUB_ACTOR: 'octocat', GIT_DIR: path.join(dir, '.git')})
    expect(runner.calls.map((c) => c.argv.join(' '))).toEqual(['rev-parse --abbrev-ref HEAD', 'rev-parse --verify --quiet HEAD'])
  })
})

import {execFileSync} from 'node:child_process'
import {mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'

import {ToolError} from '../../src/lib/cli/errors.js'
import {createHandlers} from '../../src/lib/create/handlers.js'
import {prepareCreate} from '../../src/lib/create/prepare.js'
import {gitConfigIdentity} from '../../src/lib/tools/git.js'
import {resolveTemplate} from '../../src/lib/create/sources.js'
import {applyPlan} from '../../src/lib/plan/apply.js'
import {createToolRunner} from '../../src/lib/tools/runner.js'
import {rejection} from '../support/rejection.js'

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/templates/backstage-style')
const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
})
const tmp = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'idp-create-it-'))
  dirs.push(d)
  return d
}

/** A machine with no git identity: HOME and XDG config empty, no system config. */
async function freshMachine() {
  const home = await tmp()
  const env = {HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: path.join(home, '.gitconfig')}
  return {env, runner: createToolRunner({env})}
}

function git(cwd: string, env: Record<string, string>, ...args: string[]): string {
  return execFileSync('git', args, {cwd, env: {...process.env, ...env}, encoding: 'utf8'}).trim()
}

describe('idp create with the real git binary', () => {
  it('renders the fixture, one commit, clean tree, author idp <idp@localhost> on an empty HOME', async () => {
    const {env, runner} = await freshMachine()
    const base = await tmp()
    const template = await resolveTemplate(FIXTURE)
    const identity = await gitConfigIdentity(runner, base)
    expect(identity).toEqual({})
    const prepared = await prepareCreate({
      template,
      name: 'my-svc',
      baseDir: base,
      set: ['owner=team-a', 'repoUrl=github.com?owner=acme&repo=my-svc'],
      git: {configName: identity.name, configEmail: identity.email},
      publish: {requested: false, apiUrl: 'https://api.github.com', serverUrl: 'https://github.com'},
    })
    const {handlers} = createHandlers({runner})
    const result = await applyPlan(prepared.plan, {runner, handlers, renderer: 'silent'})
    expect(result.steps.every((s) => s.status === 'done')).toBe(true)

    const dir = prepared.directory
    expect(git(dir, env, 'rev-list', '--count', 'HEAD')).toBe('1')
    expect(git(dir, env, 'status', '--porcelain')).toBe('')
    expect(git(dir, env, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%s')).toBe('idp <idp@localhost>|idp <idp@localhost>|Initial commit from idp template backstage-style')
    expect(git(dir, env, 'symbolic-ref', '--short', 'HEAD')).toBe('trunk')
    const tracked = git(dir, env, 'ls-files').split('\n').sort()
    expect(tracked).toEqual(['.github/workflows/ci.yaml', 'README.md', 'assets/logo.png', 'catalog-info.yaml', 'docs/index.md', 'my-svc/index.js', 'plain/NOTICE.txt', 'scripts/run.sh'])
    // The executable bit survives into git.
    expect(git(dir, env, 'ls-files', '-s', 'scripts/run.sh')).toMatch(/^100755 /u)
  })

  it('uses --author-name/--author-email and a configured branch', async () => {
    const {env, runner} = await freshMachine()
    const base = await tmp()
    const template = await resolveTemplate(FIXTURE)
    const prepared = await prepareCreate({
      template,
      name: 'svc-b',
      baseDir: base,
      set: ['owner=team-a', 'repoUrl=github.com?owner=acme&repo=svc-b'],
      git: {authorName: 'Jane Doe', authorEmail: 'jane@example.com', branch: 'develop'},
      publish: {requested: false, apiUrl: 'https://api.github.com', serverUrl: 'https://github.com'},
    })
    const {handlers} = createHandlers({runner})
    await applyPlan(prepared.plan, {runner, handlers, renderer: 'silent'})
    expect(git(prepared.directory, env, 'log', '-1', '--format=%an <%ae>')).toBe('Jane Doe <jane@example.com>')
    expect(git(prepared.directory, env, 'symbolic-ref', '--short', 'HEAD')).toBe('develop')
  })

  it('a failing git step undoes the render: the target directory is gone', async () => {
    const {runner} = await freshMachine()
    const base = await tmp()
    const template = await resolveTemplate(FIXTURE)
    const prepared = await prepareCreate({
      template,
      name: 'svc-c',
      baseDir: base,
      set: ['owner=team-a', 'repoUrl=github.com?owner=acme&repo=svc-c'],
      git: {},
      publish: {requested: false, apiUrl: 'https://api.github.com', serverUrl: 'https://github.com'},
    })
    // An invalid branch name makes `git init` fail after the files were written (prepareCreate
    // refuses one, so the plan is changed by hand: the executor is what is tested here).
    const init = prepared.plan.steps.find((step) => step.id === 'git-init')!.action
    if (init.kind === 'tool') init.argv = ['init', '--initial-branch', 'bad..branch']
    const {handlers} = createHandlers({runner})
    await expect(applyPlan(prepared.plan, {runner, handlers, renderer: 'silent'})).rejects.toBeInstanceOf(ToolError)
    expect(await readdir(base)).toEqual([])
  })

  it('--keep-on-failure into an existing directory prints the command that removes exactly what the run made, and it does', async () => {
    const {runner} = await freshMachine()
    const base = await tmp()
    const target = path.join(base, 'svc-d')
    await mkdir(path.join(target, 'docs'), {recursive: true})
    await writeFile(path.join(target, 'docs', 'mine.md'), 'mine')
    const prepared = await prepareCreate({
      template: await resolveTemplate(FIXTURE),
      name: 'svc-d',
      baseDir: base,
      force: true,
      set: ['owner=team-a', "repoUrl=github.com?owner=acme&repo=svc-d"],
      git: {},
      publish: {requested: false, apiUrl: 'https://api.github.com', serverUrl: 'https://github.com'},
    })
    // The commit fails after the render and git init (an unknown option), the executor keeps both.
    const commit = prepared.plan.steps.find((step) => step.id === 'git-commit')!.action
    if (commit.kind === 'tool') commit.argv = ['commit', '--no-such-option']
    const {handlers, describe} = createHandlers({runner})
    const error = await rejection(applyPlan(prepared.plan, {runner, handlers, describe, keepOnFailure: true, renderer: 'silent'}))
    const cleanup = (error.details as {cleanup: string[]}).cleanup
    expect(cleanup).toHaveLength(1)
    expect(cleanup[0]).toMatch(/^rm -rf \//u)
    expect(cleanup[0]).toContain(path.join(target, '.git'))
    // docs/ was the user's: the file the run made in it is named, the directory is not.
    expect(cleanup[0]).toContain(path.join(target, 'docs', 'index.md'))
    expect(cleanup[0]!.split(' ')).not.toContain(path.join(target, 'docs'))
    expect((await readdir(target)).length).toBeGreaterThan(3)
    execFileSync('sh', ['-c', cleanup[0]!], {cwd: os.tmpdir()})
    expect((await readdir(target)).sort()).toEqual(['docs'])
    expect(await readdir(path.join(target, 'docs'))).toEqual(['mine.md'])
  })
})

describe('idp create --publish without a GitHub token (built CLI)', () => {
  it('a real run stops with exit 4 before anything is written; --dry-run warns and still shows the publish steps', async () => {
    const {runCli} = await import('../support/cli.js')
    const home = await tmp()
    const argv = ['create', 'pubx', '--template', 'typescript-service', '--dir', home, '--set', 'repoUrl=github.com?owner=acme&repo=pubx', '--publish', '--no-input']
    const env = {HOME: home, GITHUB_TOKEN: undefined, GH_TOKEN: undefined}
    const real = await runCli([...argv, '--json'], {env})
    expect(real.code).toBe(4)
    expect(JSON.parse(real.stdout).error.message).toBe('--publish needs a GitHub token, but neither GITHUB_TOKEN nor GH_TOKEN is set.')
    expect(await readdir(home)).toEqual([])
    const dry = await runCli([...argv, '--dry-run'], {env})
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stderr).toContain('--publish needs a GitHub token (GITHUB_TOKEN or GH_TOKEN) for a real run; neither is set.')
    expect(dry.stdout).toContain('Create GitHub repository acme/pubx (private)  [github API]')
    expect(dry.stdout).toContain('Dry run: nothing was changed.')
    expect(await readdir(home)).toEqual([])
  })
})

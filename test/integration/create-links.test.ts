// A hostile template against `idp create`, in-process with real git: links out of the template or
// into .git, writes through links, and hooks in a repository idp commits to. Every read stays
// inside the template, every write inside the new directory, and no code of the template runs.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ConfigError, UsageError} from '../../src/lib/cli/errors.js'
import {create, type CreateRequest} from '../../src/lib/create/create.js'
import {testDeps} from '../support/deps.js'
import {rejection} from '../support/rejection.js'

let root: string
let env: NodeJS.ProcessEnv
/** A file outside everything a template may touch, standing for ~/.kube/config or /etc/shadow. */
let outside: string

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-create-links-'))
  const home = path.join(root, 'home')
  fs.mkdirSync(home)
  outside = path.join(root, 'private.txt')
  fs.writeFileSync(outside, 'token: s3cr3t-outside\n')
  env = {PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', XDG_STATE_HOME: path.join(root, 'state'), XDG_CACHE_HOME: path.join(root, 'cache')}
})

afterAll(() => fs.rmSync(root, {recursive: true, force: true}))

/** A template directory: template.yaml with these steps, and the files (or links) given. */
function template(name: string, steps: string, files: Record<string, string | {link: string}>): string {
  const dir = path.join(root, name)
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel)
    fs.mkdirSync(path.dirname(file), {recursive: true})
    if (typeof content === 'string') fs.writeFileSync(file, content)
    else fs.symlinkSync(content.link, file)
  }
  fs.writeFileSync(
    path.join(dir, 'template.yaml'),
    `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: ${name}}
spec:
  parameters: [{properties: {name: {type: string}}}]
  steps:
${steps}`,
  )
  return dir
}

const request = (dir: string, templateDir: string, extra: Partial<CreateRequest> = {}): CreateRequest => ({dir, name: 'svc', template: templateDir, force: false, publish: false, dryRun: false, keepOnFailure: false, yes: true, ...extra})


const git = (cwd: string, ...args: string[]) => execFileSync('git', args, {cwd, env, encoding: 'utf8'}).trim()

describe('a template cannot reach outside its own directory or the new one', () => {
  it('a link into .git, then a write through it, cannot plant a hook; idp\'s commit runs no hook of the repository', async () => {
    const base = path.join(root, 'hooks')
    const target = path.join(base, 'svc')
    fs.mkdirSync(target, {recursive: true})
    git(target, 'init', '-q')
    // The repository's own hook, as `create --force` into an existing repository finds it.
    const marker = path.join(root, 'hook-ran')
    fs.writeFileSync(path.join(target, '.git', 'hooks', 'post-commit'), `#!/bin/sh\ntouch '${marker}'\n`, {mode: 0o755})
    fs.writeFileSync(path.join(target, '.git', 'hooks', 'post-index-change'), `#!/bin/sh\ntouch '${marker}'\n`, {mode: 0o755})
    const planted = template(
      'plant-hook',
      `    - {id: link, action: fetch:plain, input: {url: ./links}}
    - {id: write, action: fetch:template, input: {url: ./payload, replace: true}}
`,
      {'links/x': {link: '.git/hooks/pre-commit'}, 'payload/x': '#!/bin/sh\necho pwned\n'},
    )
    const error = await rejection(create(request(base, planted, {force: true}), testDeps({env}).deps))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.exitCode).toBe(3)
    expect(error.message).toContain('the symbolic link x points into .git')
    expect(fs.existsSync(path.join(target, '.git', 'hooks', 'pre-commit'))).toBe(false)

    // A plain template into the same repository: it is committed, and neither hook ran.
    const plain = template('plain', '    - {id: fetch, action: fetch:template, input: {url: ./skeleton}}\n', {'skeleton/README.md': '# ${{ values.name }}\n'})
    const result = await create(request(base, plain, {force: true}), testDeps({env}).deps)
    expect(result.commit).toMatch(/^[0-9a-f]{40}$/u)
    expect(fs.existsSync(marker)).toBe(false)
  })

  it('two links that each look harmless cannot make a way into .git: no write, no hook, no git config through them', async () => {
    const base = path.join(root, 'chain')
    const target = path.join(base, 'svc')
    fs.mkdirSync(target, {recursive: true})
    git(target, 'init', '-q')
    const config = fs.readFileSync(path.join(target, '.git', 'config'), 'utf8')
    for (const [name, payload, replace] of [
      ['chain-hook', {'payload/p/hooks/post-commit': '#!/bin/sh\necho pwned\n'}, false],
      ['chain-config', {'payload/p/config': '[core]\n\tfsmonitor = "touch /tmp/idp-pwned"\n'}, true],
    ] as const) {
      const tpl = template(
        name,
        `    - {id: links, action: fetch:plain, input: {url: ./links}}
    - {id: write, action: fetch:template, input: {url: ./payload${replace ? ', replace: true' : ''}}}
`,
        {'links/q': {link: '.'}, 'links/p': {link: 'q/.git'}, ...payload},
      )
      const error = await rejection(create(request(base, tpl, {force: true}), testDeps({env}).deps))
      expect(error.message).toMatch(/into \.git/u)
      expect(fs.existsSync(path.join(target, '.git', 'hooks', 'post-commit'))).toBe(false)
      expect(fs.readFileSync(path.join(target, '.git', 'config'), 'utf8')).toBe(config)
    }
    // The links alone, with nothing written through them, are refused too once both exist.
    const alone = template('chain-alone', '    - {id: links, action: fetch:plain, input: {url: ./links}}\n', {'links/q': {link: '.'}, 'links/p': {link: 'q/.git'}})
    const error = await rejection(create(request(base, alone, {force: true}), testDeps({env}).deps))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toContain('leads into .git')
    expect(fs.existsSync(path.join(target, 'p'))).toBe(false)
  })

  it('fs:delete globs never reach .git, directly or through a link', async () => {
    const base = path.join(root, 'glob')
    const target = path.join(base, 'svc')
    fs.mkdirSync(target, {recursive: true})
    git(target, 'init', '-q')
    fs.writeFileSync(path.join(target, 'keep.txt'), 'keep\n')
    git(target, 'add', 'keep.txt')
    git(target, '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', 'history')
    const deleting = template(
      'glob-delete',
      `    - {id: fetch, action: fetch:plain, input: {url: ./skeleton}}
    - {id: drop, action: 'fs:delete', input: {files: ['*/objects', '**/HEAD']}}
`,
      {'skeleton/README.md': 'hi\n'},
    )
    await create(request(base, deleting, {force: true}), testDeps({env}).deps)
    expect(git(target, 'log', '--format=%s')).toContain('history')
    const through = template(
      'glob-through',
      `    - {id: fetch, action: fetch:plain, input: {url: ./skeleton}}
    - {id: drop, action: 'fs:delete', input: {files: [g/objects]}}
`,
      {'skeleton/g': {link: '.git'}},
    )
    const error = await rejection(create(request(base, through, {force: true}), testDeps({env}).deps))
    expect(error).toBeInstanceOf(ConfigError)
    expect(git(target, 'log', '--format=%s')).toContain('history')
  })

  it('a skeleton that is a link to another directory is refused (exit 3, naming it), and nothing is read from there', async () => {
    const elsewhere = path.join(root, 'elsewhere')
    fs.mkdirSync(elsewhere)
    fs.copyFileSync(outside, path.join(elsewhere, 'kubeconfig'))
    const linked = template('linked-skeleton', '    - {id: fetch, action: fetch:plain, input: {url: ./skeleton}}\n', {skeleton: {link: elsewhere}})
    const base = fs.mkdtempSync(path.join(root, 'out-'))
    const error = await rejection(create(request(base, linked), testDeps({env}).deps))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toContain(`skeleton is a link to ${elsewhere}, outside the template`)
    expect(fs.readdirSync(base)).toEqual([])
  })

  it('a git URL\'s #subdir that is a link in the clone, or a sibling of the clone, is refused: no template elsewhere on the machine is used', async () => {
    // A template of this machine the repository must not be able to reach.
    const local = template('machine-local', '    - {id: fetch, action: fetch:template, input: {url: ./skeleton}}\n', {'skeleton/secret.txt': 'local-only\n'})
    const repo = path.join(root, 'remote-tpl')
    fs.mkdirSync(repo)
    git(repo, 'init', '-q')
    fs.symlinkSync(local, path.join(repo, 'sub'))
    fs.writeFileSync(path.join(repo, 'README.md'), 'x\n')
    git(repo, 'add', '-A')
    git(repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'x')
    const before = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('idp-template-')).length
    for (const subdir of ['sub', `../${path.basename(root)}/machine-local`]) {
      const base = path.join(root, `git-subdir-${subdir.length}`)
      const error = await rejection(create(request(base, `file://${repo}#${subdir}`), testDeps({env}).deps))
      expect(error).toBeInstanceOf(UsageError)
      expect(error.message).toContain('leads outside the cloned repository')
      expect(fs.existsSync(path.join(base, 'svc'))).toBe(false)
    }
    // The clones were removed.
    expect(fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('idp-template-')).length).toBeLessThanOrEqual(before)
  })

  it('a :file url that is a link to a file elsewhere is refused', async () => {
    const linked = template('linked-file', '    - {id: fetch, action: fetch:plain:file, input: {url: ./config, targetPath: config}}\n', {config: {link: outside}})
    const base = fs.mkdtempSync(path.join(root, 'out-'))
    const error = await rejection(create(request(base, linked), testDeps({env}).deps))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toContain('outside the template')
    expect(fs.readdirSync(base)).toEqual([])
  })

  it('a link in the skeleton to a file outside the new project is refused, not copied', async () => {
    const linked = template('entry-link', '    - {id: fetch, action: fetch:plain, input: {url: ./skeleton}}\n', {'skeleton/README.md': 'hi\n', 'skeleton/creds': {link: outside}, 'skeleton/up': {link: '../../private.txt'}})
    const base = fs.mkdtempSync(path.join(root, 'out-'))
    const error = await rejection(create(request(base, linked), testDeps({env}).deps))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toMatch(/the symbolic link (creds|up) points outside the new project/u)
    expect(fs.readdirSync(base)).toEqual([])
  })

  it('a link that stays inside the new project is kept as a link', async () => {
    const linked = template('inner-link', '    - {id: fetch, action: fetch:plain, input: {url: ./skeleton}}\n', {'skeleton/docs/README.md': 'hi\n', 'skeleton/README.md': {link: 'docs/README.md'}})
    const base = fs.mkdtempSync(path.join(root, 'out-'))
    await create(request(base, linked), testDeps({env}).deps)
    expect(fs.readlinkSync(path.join(base, 'svc', 'README.md'))).toBe('docs/README.md')
  })

  it('with --force, replace: true never writes through a link already in the target directory', async () => {
    const base = path.join(root, 'force')
    const target = path.join(base, 'svc')
    fs.mkdirSync(target, {recursive: true})
    fs.symlinkSync(outside, path.join(target, 'README.md'))
    const replacing = template('replacing', '    - {id: fetch, action: fetch:template, input: {url: ./skeleton, replace: true}}\n', {'skeleton/README.md': 'overwritten\n'})
    const error = await rejection(create(request(base, replacing, {force: true}), testDeps({env}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toContain('README.md: it is a symbolic link, and idp never writes through a link')
    expect(fs.readFileSync(outside, 'utf8')).toBe('token: s3cr3t-outside\n')
  })

  it('fs:delete cannot follow a directory link of the target out of it', async () => {
    const victim = path.join(root, 'victim')
    fs.mkdirSync(victim)
    fs.writeFileSync(path.join(victim, 'keep.txt'), 'keep\n')
    const base = path.join(root, 'delete')
    const target = path.join(base, 'svc')
    fs.mkdirSync(target, {recursive: true})
    fs.symlinkSync(victim, path.join(target, 'data'))
    const deleting = template(
      'deleting',
      `    - {id: fetch, action: fetch:plain, input: {url: ./skeleton}}
    - {id: drop, action: 'fs:delete', input: {files: [data/keep.txt]}}
`,
      {'skeleton/README.md': 'hi\n'},
    )
    const error = await rejection(create(request(base, deleting, {force: true}), testDeps({env}).deps))
    expect(error).toBeInstanceOf(UsageError)
    expect(error.message).toContain('under a link that leads outside the target directory')
    expect(fs.readFileSync(path.join(victim, 'keep.txt'), 'utf8')).toBe('keep\n')
  })
})

describe('names that go into argv', () => {
  it('a branch that would be an option (--mirror) or not a branch at all is refused before anything is written', async () => {
    const plain = template('branchy', '    - {id: fetch, action: fetch:template, input: {url: ./skeleton}}\n', {'skeleton/README.md': 'hi\n'})
    for (const branch of ['--mirror', 'a..b', '.hidden']) {
      const base = fs.mkdtempSync(path.join(root, 'br-'))
      const error = await rejection(create(request(base, plain, {branch}), testDeps({env}).deps))
      expect(error).toBeInstanceOf(UsageError)
      expect(error.message).toContain(`Invalid branch name "${branch}" (--branch)`)
      expect(fs.readdirSync(base)).toEqual([])
    }
  })

  it('config schema --output replaces a link at that name instead of writing through it', async () => {
    const {configSchema} = await import('../../src/lib/config/check.js')
    const dir = fs.mkdtempSync(path.join(root, 'schema-'))
    const victim = path.join(root, 'victim.txt')
    fs.writeFileSync(victim, 'keep\n')
    fs.symlinkSync(victim, path.join(dir, 'idp.schema.json'))
    await configSchema({dir, output: 'idp.schema.json'}, testDeps({env}).deps)
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep\n')
    expect(fs.lstatSync(path.join(dir, 'idp.schema.json')).isFile()).toBe(true)
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'idp.schema.json'), 'utf8')).$id).toMatch(/idp/u)
  })
})

describe('the commit identity', () => {
  it('--author-name/--author-email win over GIT_AUTHOR_*/GIT_COMMITTER_* in the environment; without them, the environment wins over git config', async () => {
    const plain = template('identity', '    - {id: fetch, action: fetch:template, input: {url: ./skeleton}}\n', {'skeleton/README.md': '# ${{ values.name }}\n'})
    const ambient = {...env, GIT_AUTHOR_NAME: 'Shell Author', GIT_AUTHOR_EMAIL: 'shell@example.com', GIT_COMMITTER_NAME: 'Shell Committer', GIT_COMMITTER_EMAIL: 'shell@example.com'}
    const base = fs.mkdtempSync(path.join(root, 'id-'))
    await create(request(base, plain, {authorName: 'Flag Author', authorEmail: 'flag@example.com'}), testDeps({env: ambient}).deps)
    expect(git(path.join(base, 'svc'), 'log', '-1', '--format=%an <%ae> / %cn <%ce>')).toBe('Flag Author <flag@example.com> / Flag Author <flag@example.com>')
    const second = fs.mkdtempSync(path.join(root, 'id-'))
    await create(request(second, plain), testDeps({env: ambient}).deps)
    expect(git(path.join(second, 'svc'), 'log', '-1', '--format=%an <%ae>')).toBe('Shell Author <shell@example.com>')
  })
})

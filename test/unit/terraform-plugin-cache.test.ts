// Terraform's plugin cache (tools/terraform-plugin-cache.ts): whose setting wins, what the plans
// and printed commands carry, and the lock between idp processes (cli/file-lock.ts) that makes
// two `terraform init`s on one cache safe. Real terraform runs in
// test/integration/env-tf-plugin-cache.test.ts.
import {type ChildProcess, spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {acquireFileLock} from '../../src/lib/cli/file-lock.js'
import {CancelledError, TimeoutError} from '../../src/lib/cli/errors.js'
import {loadConfig} from '../../src/lib/config/load.js'
import {resolveEnvironment} from '../../src/lib/config/environments.js'
import {envStatePaths, withPluginCache} from '../../src/lib/env/paths.js'
import {planEnvDown} from '../../src/lib/env/plan-down.js'
import {planEnvUp, terraformInitAction} from '../../src/lib/env/plan-up.js'
import {commandLine, formatPlan} from '../../src/lib/plan/format.js'
import {terraformSubcommand} from '../../src/lib/tools/runner.js'
import {idpPluginCacheDir, idpPluginCacheFor, pluginCacheDirOf, pluginCacheLockFile, userPluginCache} from '../../src/lib/tools/terraform-plugin-cache.js'
import {FIXTURE_PROJECT} from '../fixtures/env/world.js'
import {repoRoot} from '../support/tool-env.js'

let root: string
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-tf-cache-'))
})
afterEach(() => {
  fs.rmSync(root, {recursive: true, force: true})
})

/** A user with a HOME, a cache directory and no Terraform setting of their own. */
function user(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const home = path.join(root, 'home')
  fs.mkdirSync(home, {recursive: true})
  return {HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), ...extra}
}

describe("whose plugin cache: the user's setup wins", () => {
  it('none of their own: idp gives its own, in its cache directory', async () => {
    const env = user()
    expect(await userPluginCache(env)).toBeUndefined()
    expect(await idpPluginCacheFor(env)).toBe(path.join(root, 'home', '.cache', 'idp', 'terraform-plugins'))
    expect(idpPluginCacheDir(env)).toBe(path.join(root, 'home', '.cache', 'idp', 'terraform-plugins'))
  })

  it('TF_PLUGIN_CACHE_DIR, even empty (cache off): idp adds none', async () => {
    expect(await idpPluginCacheFor(user({TF_PLUGIN_CACHE_DIR: '/theirs'}))).toBeUndefined()
    expect(await userPluginCache(user({TF_PLUGIN_CACHE_DIR: ''}))).toEqual({from: 'env', dir: ''})
    expect(await idpPluginCacheFor(user({TF_PLUGIN_CACHE_DIR: ''}))).toBeUndefined()
  })

  it('plugin_cache_dir of ~/.terraformrc, of TF_CLI_CONFIG_FILE (which replaces ~/.terraformrc), of ~/.terraform.d/*.tfrc', async () => {
    const env = user()
    fs.writeFileSync(path.join(env.HOME!, '.terraformrc'), 'plugin_cache_dir = "/home/me/.terraform.d/plugin-cache"\n')
    expect(await userPluginCache(env)).toEqual({from: 'cli-config', dir: '/home/me/.terraform.d/plugin-cache', file: path.join(env.HOME!, '.terraformrc')})
    expect(await idpPluginCacheFor(env)).toBeUndefined()
    // TF_CLI_CONFIG_FILE is read instead of ~/.terraformrc: a mirror-only config leaves the cache to idp.
    const mirrorOnly = path.join(root, 'mirror.tfrc')
    fs.writeFileSync(mirrorOnly, 'provider_installation {\n  filesystem_mirror {\n    path = "/opt/tf-plugins"\n  }\n}\n')
    expect(await idpPluginCacheFor({...env, TF_CLI_CONFIG_FILE: mirrorOnly})).toBe(idpPluginCacheDir(env))
    fs.mkdirSync(path.join(env.HOME!, '.terraform.d'))
    fs.writeFileSync(path.join(env.HOME!, '.terraform.d', 'cache.tfrc.json'), JSON.stringify({plugin_cache_dir: '/json/cache'}))
    expect(await userPluginCache({...env, TF_CLI_CONFIG_FILE: mirrorOnly})).toMatchObject({from: 'cli-config', dir: '/json/cache'})
  })

  it('reads the attribute, not a comment or a string that mentions it', () => {
    expect(pluginCacheDirOf('# plugin_cache_dir = "/no"\n// plugin_cache_dir = "/no"\n/* plugin_cache_dir = "/no" */\n', 'a.tfrc')).toBeUndefined()
    expect(pluginCacheDirOf('x = "plugin_cache_dir = \\"/no\\""\n', 'a.tfrc')).toBeUndefined()
    expect(pluginCacheDirOf('  plugin_cache_dir   =   "/yes/dir" # mine\n', 'a.tfrc')).toBe('/yes/dir')
    expect(pluginCacheDirOf('plugin_cache_dir = ""\n', 'a.tfrc')).toBeUndefined()
    expect(pluginCacheDirOf('{"plugin_cache_dir": "/j"}', 'a.tfrc.json')).toBe('/j')
  })
})

describe('the plans and the printed commands carry the cache', () => {
  async function pr7() {
    const loaded = await loadConfig({dir: FIXTURE_PROJECT, required: true})
    return resolveEnvironment(loaded.config, 'pr-7', {root: loaded.root, vars: {sha: 'abc1234'}})
  }

  it('every terraform action of up and down has TF_PLUGIN_CACHE_DIR; the command line a person pastes says it', async () => {
    const env = await pr7()
    const paths = await withPluginCache(envStatePaths('/state', 'shop', 'pr-7', 'dev'), user(), true)
    const cache = path.join(root, 'home', '.cache', 'idp', 'terraform-plugins')
    expect(paths.tfPluginCache).toBe(cache)
    const up = planEnvUp({env, timeoutMs: 60_000}, {helmMajor: 4, owner: 'a', holder: 'h', now: new Date(0), paths})
    const init = up.steps.find((step) => step.id === 'terraform-init')!
    // The init step's undo ends by removing the data dir (a local op, no terraform).
    const tools = [init.action, ...(init.undo ?? []).filter((action) => action.kind === 'tool')]
    const apply = up.steps.find((step) => step.id === 'terraform-apply')!.action
    if (apply.kind !== 'local' || apply.op !== 'env.terraformApply') throw new Error('apply is an env.terraformApply op')
    tools.push(apply.params.apply, apply.params.outputs)
    const down = planEnvDown({env, found: 'ours', timeoutMs: 60_000}, {holder: 'h', paths})
    tools.push(...down.steps.filter((step) => step.action.kind === 'tool' && step.action.tool === 'terraform').map((step) => step.action))
    expect(tools.length).toBeGreaterThanOrEqual(7)
    for (const action of tools) expect(action).toMatchObject({kind: 'tool', tool: 'terraform', env: {TF_PLUGIN_CACHE_DIR: cache}})
    expect(commandLine(terraformInitAction(env, paths, undefined))).toBe(`cd ${FIXTURE_PROJECT}/infra && TF_DATA_DIR=/state/envs/shop/pr-7/terraform TF_WORKSPACE=shop-pr-7 TF_PLUGIN_CACHE_DIR=${cache} terraform init -input=false -no-color`)
    expect(formatPlan(up)).toContain(`$ cd ${FIXTURE_PROJECT}/infra && TF_DATA_DIR=/state/envs/shop/pr-7/terraform TF_WORKSPACE=shop-pr-7 TF_PLUGIN_CACHE_DIR=${cache} terraform init -input=false -no-color`)
  })

  it("with the user's own cache the actions carry none (terraform reads theirs)", async () => {
    const env = await pr7()
    const paths = await withPluginCache(envStatePaths('/state', 'shop', 'pr-7', 'dev'), user({TF_PLUGIN_CACHE_DIR: '/theirs'}), true)
    expect(paths.tfPluginCache).toBeUndefined()
    expect(terraformInitAction(env, paths, undefined).env).toEqual({TF_DATA_DIR: '/state/envs/shop/pr-7/terraform', TF_WORKSPACE: 'shop-pr-7'})
  })

  it('the runner knows an init under global options', () => {
    expect(terraformSubcommand(['-chdir=infra', 'init', '-input=false'])).toBe('init')
    expect(terraformSubcommand(['apply', '-auto-approve'])).toBe('apply')
    expect(pluginCacheLockFile(user(), '/a/b')).toMatch(/\/home\/\.cache\/idp\/locks\/terraform-plugin-cache-[0-9a-f]{16}\.lock$/u)
  })
})

describe('the lock between idp processes (file-lock.ts)', () => {
  /** A process that takes the lock, records when it held it, holds it `holdMs`, and lets go. */
  function contender(file: string, record: string, holdMs: number): ChildProcess {
    const script = [
      `import {acquireFileLock} from ${JSON.stringify(path.join(repoRoot, 'src', 'lib', 'cli', 'file-lock.ts'))}`,
      `import {appendFileSync} from 'node:fs'`,
      `const release = await acquireFileLock(${JSON.stringify(file)}, {what: 'test', pollMs: 20})`,
      `const start = Date.now()`,
      `await new Promise((resolve) => setTimeout(resolve, ${holdMs}))`,
      `appendFileSync(${JSON.stringify(record)}, JSON.stringify({pid: process.pid, start, end: Date.now()}) + '\\n')`,
      `await release()`,
    ].join('\n')
    return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: repoRoot, stdio: 'inherit'})
  }

  it('three processes at once: each holds it alone, one after the other', async () => {
    const file = path.join(root, 'locks', 'x.lock')
    const record = path.join(root, 'record')
    const children = [0, 1, 2].map(() => contender(file, record, 300))
    const codes = await Promise.all(children.map((child) => new Promise((resolve) => child.on('exit', resolve))))
    expect(codes).toEqual([0, 0, 0])
    const spans = fs.readFileSync(record, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as {start: number; end: number}).sort((a, b) => a.start - b.start)
    expect(spans).toHaveLength(3)
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end)
    expect(fs.existsSync(file)).toBe(false)
  }, 60_000)

  it('a lock left by a process that is gone is taken over; a live one is waited for, then taken', async () => {
    const file = path.join(root, 'x.lock')
    // A pid that is not running: a child that has exited.
    const dead = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => dead.on('exit', resolve))
    fs.writeFileSync(file, JSON.stringify({pid: dead.pid, host: os.hostname(), nonce: 'old', at: new Date().toISOString()}))
    const release = await acquireFileLock(file, {what: 'test'})
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({pid: process.pid, what: 'test'})

    let waitedFor: number | undefined
    const second = acquireFileLock(file, {what: 'second', pollMs: 10, onWait: (holder) => (waitedFor = holder?.pid)})
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(waitedFor).toBe(process.pid)
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({what: 'test'})
    await release()
    const releaseSecond = await second
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({what: 'second'})
    await releaseSecond()
    expect(fs.existsSync(file)).toBe(false)
  })

  it('a lock not touched for staleMs (another host, a frozen holder) is stale; waiting stops on Ctrl-C and at the deadline', async () => {
    const file = path.join(root, 'x.lock')
    fs.writeFileSync(file, JSON.stringify({pid: 1, host: 'elsewhere', nonce: 'n', at: new Date().toISOString()}))
    const old = new Date(Date.now() - 10_000)
    fs.utimesSync(file, old, old)
    const release = await acquireFileLock(file, {what: 'test', staleMs: 5000})
    await release()

    fs.writeFileSync(file, JSON.stringify({pid: 1, host: 'elsewhere', nonce: 'n', at: new Date().toISOString()}))
    const controller = new AbortController()
    const waiting = acquireFileLock(file, {what: 'test', pollMs: 10, signal: controller.signal})
    setTimeout(() => controller.abort(), 50)
    await expect(waiting).rejects.toBeInstanceOf(CancelledError)
    const timedOut = acquireFileLock(file, {what: 'test', pollMs: 10, timeoutMs: 100})
    await expect(timedOut).rejects.toBeInstanceOf(TimeoutError)
    await expect(acquireFileLock(file, {what: 'test', pollMs: 10, timeoutMs: 100})).rejects.toThrow(/held by process 1 on elsewhere/u)
    // Someone else's lock is never removed by a release of ours.
    expect(fs.existsSync(file)).toBe(true)
  })
})

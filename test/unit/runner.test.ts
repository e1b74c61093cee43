import {execFileSync, spawn} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeEach, describe, expect, it, vi} from 'vitest'

import {entryFile} from '../../src/lib/cli/cache.js'
import {CancelledError, PrerequisiteError, TimeoutError, ToolError} from '../../src/lib/cli/errors.js'
import {clearSecretsForTests, registerSecret} from '../../src/lib/cli/redact.js'
import {clearToolCacheForTests, createToolRunner, findExecutable} from '../../src/lib/tools/runner.js'
import {headline} from '../../src/lib/tools/tool-error.js'

// execa as the runner loads it, noting whether idp was already listening for SIGINT when each
// child was started (the child's group is detached: a Ctrl-C before the listener would orphan it).
const sigintListenersAtSpawn: number[] = []
vi.mock('execa', async (importOriginal) => {
  const real = await importOriginal<typeof import('execa')>()
  return {
    ...real,
    execa: ((...args: unknown[]) => {
      sigintListenersAtSpawn.push(process.listenerCount('SIGINT'))
      return (real.execa as (...a: unknown[]) => unknown)(...args)
    }) as unknown as typeof real.execa,
  }
})

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-runner-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))
beforeEach(() => {
  clearToolCacheForTests()
  clearSecretsForTests()
})

/**
 * A fake tool: answers its version command like the real one, otherwise runs the shell code in
 * $FAKE_SCRIPT (so each test scripts the child's behaviour with real processes).
 */
function fakeTool(dir: string, tool: string, versionOutput: string): void {
  mkdirSync(dir, {recursive: true})
  const file = path.join(dir, tool)
  writeFileSync(file, `#!/bin/sh\ncase "$*" in\n  "version --short"|"version -json"|"--version") echo '${versionOutput}'; exit 0;;\nesac\neval "$FAKE_SCRIPT"\n`)
  chmodSync(file, 0o755)
}

const bin = path.join(work, 'bin')
fakeTool(bin, 'helm', 'v3.18.0+gcc58e3f')
fakeTool(bin, 'terraform', '{"terraform_version":"1.9.8"}')
const oldBin = path.join(work, 'old')
fakeTool(oldBin, 'terraform', '{"terraform_version":"1.2.0"}')
fakeTool(oldBin, 'vcluster', 'something unexpected')
const systemPath = process.env.PATH ?? ''
/** The fakes plus the shell utilities their scripts use (sleep, seq), and nothing else. */
const fakePath = [bin, '/usr/bin', '/bin'].join(path.delimiter)

/** The process's state and start time (clock ticks since boot) from /proc, or undefined when it is gone. */
function procStat(pid: number): {state: string; start: string} | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields after the name start at field 3 (state); starttime is field 22.
    return {state: fields[0] ?? '', start: fields[19] ?? ''}
  } catch {
    return undefined
  }
}

/**
 * Running: kill(pid, 0) succeeds and it is not a zombie waiting for PID 1 to reap it. With `start` (from procStat while it ran), only the same process counts:
 * the CI container's pid_max is 32768 and the suite starts thousands of processes, so a pid can be
 * given to a new process seconds after ours died.
 */
function alive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  if (!existsSync('/proc/self/stat')) return true
  const stat = procStat(pid)
  if (!stat || /^[ZX]$/u.test(stat.state)) return false
  return start === undefined || stat.start === start
}

async function waitFor(check: () => boolean, ms = 5000, explain?: () => string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met in time${explain ? `: ${explain()}` : ''}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

function pidsIn(file: string): number[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : []
}

describe('resolving tools', () => {
  it('never takes a binary from the current directory or a relative PATH entry', async () => {
    const repo = path.join(work, 'repo')
    fakeTool(repo, 'git', 'git version 9.9.9')
    fakeTool(path.join(repo, 'relbin'), 'git', 'git version 8.8.8')
    const previous = process.cwd()
    process.chdir(repo)
    try {
      const pathEnv = ['.', '', 'relbin', './relbin', systemPath].join(path.delimiter)
      expect(await findExecutable('git', pathEnv)).not.toContain(repo)
      const runner = createToolRunner({pathEnv})
      const info = await runner.resolve('git')
      expect(info.path).not.toContain(repo)
      expect(info.version).not.toBe('9.9.9')
      expect(info.version).not.toBe('8.8.8')
      const result = await runner.run('git', ['--version'])
      expect(result.stdout).toMatch(/^git version 2\./u)
      // With only relative entries, git is simply not found.
      expect((await createToolRunner({pathEnv: '.:relbin'}).resolve('git')).status).toBe('missing')
    } finally {
      process.chdir(previous)
    }
  })

  it('skips non-executable files', async () => {
    const dir = path.join(work, 'noexec')
    fakeTool(dir, 'argocd', 'argocd: v3.5.1+abc')
    chmodSync(path.join(dir, 'argocd'), 0o644)
    expect(await findExecutable('argocd', dir)).toBeUndefined()
  })

  it('reports a missing tool as a PrerequisiteError with an install hint', async () => {
    const runner = createToolRunner({pathEnv: bin})
    expect((await runner.resolve('argocd')).status).toBe('missing')
    const error = await runner.run('argocd', ['app', 'list']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PrerequisiteError)
    expect((error as PrerequisiteError).exitCode).toBe(4)
    expect((error as PrerequisiteError).message).toMatch(/argocd is not installed/u)
    expect((error as PrerequisiteError).hint).toContain('argo-cd.readthedocs.io')
  })

  it('a missing working directory is named as such, not as a missing tool with an install hint', async () => {
    const runner = createToolRunner({pathEnv: fakePath})
    const missing = path.join(work, 'never-made')
    const error = await runner.run('helm', ['list'], {cwd: missing}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ToolError)
    expect((error as ToolError).message).toBe(`Could not start helm: its working directory ${missing} does not exist.`)
    expect((error as ToolError).hint).toBe(`helm itself is installed (${path.join(bin, 'helm')}); an earlier step was expected to create ${missing}.`)
  })

  it('reports a too-old tool with the version found, and an unreadable version as unknown', async () => {
    const runner = createToolRunner({pathEnv: oldBin})
    const error = (await runner.require('terraform').catch((e: unknown) => e)) as PrerequisiteError
    expect(error).toBeInstanceOf(PrerequisiteError)
    expect(error.message).toBe(`terraform 1.2.0 at ${path.join(oldBin, 'terraform')} is too old: idp needs terraform >= 1.5.`)
    expect(error.hint).toContain('developer.hashicorp.com')
    const info = await runner.resolve('vcluster')
    expect(info).toMatchObject({status: 'unknown-version', path: path.join(oldBin, 'vcluster')})
  })
})

describe('remembering versions across runs', () => {
  // A real binary (git: small and on every machine), copied so the test can change the file.
  const realGit = (dir: string, name = 'git') => {
    mkdirSync(dir, {recursive: true})
    const file = path.join(dir, name)
    copyFileSync(execFileSync('sh', ['-c', 'command -v git'], {encoding: 'utf8'}).trim(), file)
    chmodSync(file, 0o755)
    return file
  }
  /** The kept versions of a cache directory, one entry file per binary, by the binary's path. */
  const readCache = (dir: string) =>
    Object.fromEntries(
      readdirSync(dir).map((name) => {
        const entry = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as {binary: string; value: string}
        return [entry.binary, {...entry, file: path.join(dir, name)}]
      }),
    )

  it('answers from the cache while the binary is the same file, and asks again once it changes', async () => {
    const dir = path.join(work, 'cached-git')
    const git = realGit(dir)
    const cache = path.join(work, 'cache-a', 'tool-versions')
    const first = await createToolRunner({pathEnv: dir, versionCache: cache}).resolve('git')
    expect(first.version).toMatch(/^2\./u)
    const kept = readCache(cache)[git]!
    expect(kept.value).toBe(first.version)
    expect(statSync(kept.file).mode & 0o777).toBe(0o600)
    expect(statSync(cache).mode & 0o777).toBe(0o700)

    // A version no real probe would print: if it comes back, the binary was not asked.
    const {file, ...entry} = kept
    writeFileSync(file, JSON.stringify({...entry, value: '2.99.0'}))
    clearToolCacheForTests()
    expect((await createToolRunner({pathEnv: dir, versionCache: cache}).resolve('git')).version).toBe('2.99.0')

    // An upgrade replaces the file (new inode/mtime): the cached answer no longer applies.
    clearToolCacheForTests()
    const replacement = realGit(path.join(work, 'cached-git-new'))
    renameSync(replacement, git)
    expect((await createToolRunner({pathEnv: dir, versionCache: cache}).resolve('git')).version).toBe(first.version)
    expect(readCache(cache)[git]?.value).toBe(first.version)
    expect(readdirSync(cache)).toHaveLength(1)
  })

  it('never remembers scripts or binaries under another name (version managers answer per directory)', async () => {
    const cache = path.join(work, 'cache-b', 'tool-versions')
    // A script (like tfenv or an asdf shim).
    expect((await createToolRunner({pathEnv: bin, versionCache: cache}).resolve('terraform')).version).toBe('1.9.8')
    // A link to a multiplexer binary (like mise or aqua-proxy).
    const multiplexer = realGit(path.join(work, 'mux'), 'mux')
    const shims = path.join(work, 'shims')
    mkdirSync(shims)
    symlinkSync(multiplexer, path.join(shims, 'git'))
    expect((await createToolRunner({pathEnv: shims, versionCache: cache}).resolve('git')).version).toMatch(/^2\./u)
    expect(existsSync(cache)).toBe(false)
  })

  it('keeps no file with versionCache: false, and survives a corrupt cache file', async () => {
    const dir = path.join(work, 'cached-git-2')
    const git = realGit(dir)
    const cache = path.join(work, 'cache-c', 'tool-versions')
    await createToolRunner({pathEnv: dir, versionCache: false}).resolve('git')
    expect(existsSync(cache)).toBe(false)
    mkdirSync(cache, {recursive: true})
    writeFileSync(entryFile(cache, realpathSync(git)), '{not json')
    clearToolCacheForTests()
    expect((await createToolRunner({pathEnv: dir, versionCache: cache}).resolve('git')).version).toMatch(/^2\./u)
    expect(Object.keys(readCache(cache))).toEqual([realpathSync(git)])
  })

  it('asks again when the entry was kept by another idp build or in an older layout', async () => {
    const dir = path.join(work, 'cached-git-3')
    const git = realGit(dir)
    const cache = path.join(work, 'cache-d', 'tool-versions')
    const first = await createToolRunner({pathEnv: dir, versionCache: cache}).resolve('git')
    const {file, ...entry} = readCache(cache)[git]!
    for (const foreign of [{...entry, key: 'another-build', value: '2.99.0'}, {...entry, version: 2, value: '2.99.0'}, {binaries: {[git]: {toolVersion: '2.99.0'}}}]) {
      writeFileSync(file, JSON.stringify(foreign))
      clearToolCacheForTests()
      expect((await createToolRunner({pathEnv: dir, versionCache: cache}).resolve('git')).version).toBe(first.version)
      expect(readCache(cache)[git]?.value).toBe(first.version)
    }
  })
})

describe('running tools', () => {
  it('passes KUBECONFIG, TF_IN_AUTOMATION and extra env to the child', async () => {
    const runner = createToolRunner({pathEnv: fakePath, env: {FROM_RUNNER: 'r'}})
    const result = await runner.run('terraform', ['plan'], {
      kubeconfig: '/tmp/private-kubeconfig',
      env: {FAKE_SCRIPT: 'echo "$TF_IN_AUTOMATION|$KUBECONFIG|$FROM_RUNNER|$1"'},
    })
    expect(result.stdout).toBe('1|/tmp/private-kubeconfig|r|plan')
    expect(result.exitCode).toBe(0)
  })

  it('redacts secret flags in argv and logs, and registered secrets in stdout, stderr and errors', async () => {
    const lines: string[] = []
    const runner = createToolRunner({pathEnv: fakePath, logger: (line) => lines.push(line)})
    registerSecret('s3cr3t-value')
    const result = await runner.run('helm', ['repo', 'add', 'x', 'https://charts', '--password=hunter22', '--token', 'tok-abc-123'], {
      env: {FAKE_SCRIPT: 'echo "got s3cr3t-value"; echo "err s3cr3t-value" >&2', MY_API_TOKEN: 'env-secret-9'},
    })
    expect(result.argv).toEqual(['repo', 'add', 'x', 'https://charts', '--password=***', '--token', '***'])
    expect(result.stdout).toBe('got ***')
    expect(result.stderr).toBe('err ***')
    const logged = lines.join('\n')
    expect(logged).toContain('--password=***')
    expect(logged).toContain('MY_API_TOKEN=***')
    expect(logged).not.toMatch(/hunter22|tok-abc-123|env-secret-9/u)

    const error = (await runner
      .run('helm', ['install', '--token', 'tok-abc-123'], {env: {FAKE_SCRIPT: 'echo "Error: bad token s3cr3t-value" >&2; exit 1'}})
      .catch((e: unknown) => e)) as ToolError
    expect(error).toBeInstanceOf(ToolError)
    expect(JSON.stringify({m: error.message, f: error.facts, d: error.details})).not.toMatch(/s3cr3t-value|tok-abc-123/u)
    expect(error.facts.stderrTail).toBe('Error: bad token ***')
  })

  it('turns a non-zero exit into a ToolError with argv, exit code, stderr tail and a pattern hint', async () => {
    const runner = createToolRunner({pathEnv: fakePath})
    const script = 'for i in $(seq 1 30); do echo "line $i" >&2; done; echo "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress" >&2; exit 1'
    const error = (await runner
      .run('helm', ['upgrade', '--install', 'shop', './chart', '--namespace', 'shop-pr-1', '--wait'], {env: {FAKE_SCRIPT: script}})
      .catch((e: unknown) => e)) as ToolError
    expect(error).toBeInstanceOf(ToolError)
    expect(error.exitCode).toBe(5)
    expect(error.message).toBe('helm exited with code 1: Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress')
    expect(error.facts).toMatchObject({tool: 'helm', argv: ['upgrade', '--install', 'shop', './chart', '--namespace', 'shop-pr-1', '--wait'], exitCode: 1})
    const tail = error.facts.stderrTail!.split('\n')
    expect(tail).toHaveLength(20)
    expect(tail[0]).toBe('line 12')
    expect(error.hint).toContain('helm history shop -n shop-pr-1')
    expect(error.hint).toContain('helm rollback shop')
  })

  it('accepts allowed exit codes and falls back to a generic hint', async () => {
    const runner = createToolRunner({pathEnv: fakePath})
    const ok = await runner.run('helm', ['status', 'x'], {env: {FAKE_SCRIPT: 'exit 3'}, allowedExitCodes: [3]})
    expect(ok.exitCode).toBe(3)
    const error = (await runner.run('helm', ['status', 'x'], {env: {FAKE_SCRIPT: 'echo weird >&2; exit 2'}}).catch((e: unknown) => e)) as ToolError
    expect(error.hint).toContain('helm status x')
  })

  it('picks the meaningful line of terraform, vcluster and argocd errors', () => {
    expect(headline('╷\n│ Error: Error acquiring the state lock\n│ \n│ Lock Info:\n│   ID:        abc\n╵')).toBe('Error: Error acquiring the state lock')
    expect(headline('\u001B[0;1;37m12:00:00 \u001B[0m\u001B[0;1;31mfatal \u001B[0munknown flag: --foo')).toBe('unknown flag: --foo')
    expect(headline('{"level":"fatal","msg":"rpc error: code = PermissionDenied desc = permission denied","time":"x"}')).toBe('rpc error: code = PermissionDenied desc = permission denied')
  })

  it('streams redacted lines to onLine', async () => {
    const runner = createToolRunner({pathEnv: fakePath})
    registerSecret('line-secret')
    const seen: string[] = []
    await runner.run('helm', ['x'], {env: {FAKE_SCRIPT: 'echo one; echo two line-secret >&2; echo three'}, onLine: (line, stream) => seen.push(`${stream}:${line}`)})
    expect(seen.sort()).toEqual(['stderr:two ***', 'stdout:one', 'stdout:three'])
  })
})

describe('stopping process trees', () => {
  const tree = (pids: string) => `sh -c 'sleep 60 & echo $! >> ${pids}; (trap "" TERM; sleep 60) & echo $! >> ${pids}; echo $$ >> ${pids}; wait'`

  it('a timeout is a TimeoutError (exit 7) and leaves no process behind', async () => {
    const pids = path.join(work, 'timeout.pids')
    const runner = createToolRunner({pathEnv: fakePath, killGraceMs: 300})
    const started = Date.now()
    const error = (await runner.run('helm', ['upgrade', 'slow'], {env: {FAKE_SCRIPT: tree(pids)}, timeoutMs: 500}).catch((e: unknown) => e)) as TimeoutError
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error.exitCode).toBe(7)
    expect(error.message).toBe('helm did not finish within 500ms and was stopped: helm upgrade slow')
    expect(Date.now() - started).toBeLessThan(10_000)
    const list = pidsIn(pids)
    expect(list).toHaveLength(3)
    // Including the child that ignores SIGTERM: it got SIGKILL after the grace period.
    for (const pid of list) expect(alive(pid)).toBe(false)
  })

  it('aborting is a CancelledError (exit 130) and kills the whole tree', async () => {
    const pids = path.join(work, 'abort.pids')
    const runner = createToolRunner({pathEnv: fakePath, killGraceMs: 300})
    const controller = new AbortController()
    const running = runner.run('helm', ['install'], {env: {FAKE_SCRIPT: tree(pids)}, signal: controller.signal}).catch((e: unknown) => e)
    await waitFor(() => pidsIn(pids).length === 3)
    for (const pid of pidsIn(pids)) expect(alive(pid)).toBe(true)
    controller.abort()
    const error = (await running) as CancelledError
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.exitCode).toBe(130)
    for (const pid of pidsIn(pids)) expect(alive(pid)).toBe(false)
    // Already aborted: nothing starts.
    await expect(runner.run('helm', ['install'], {env: {FAKE_SCRIPT: 'exit 0'}, signal: controller.signal})).rejects.toBeInstanceOf(CancelledError)
  })

  it('listens for SIGINT before each child is started, and stops listening once none runs', async () => {
    const runner = createToolRunner({pathEnv: fakePath, versionCache: false})
    const before = process.listenerCount('SIGINT')
    sigintListenersAtSpawn.length = 0
    await runner.run('helm', ['status'], {env: {FAKE_SCRIPT: 'exit 0'}})
    // The version probe and the command itself.
    expect(sigintListenersAtSpawn).toEqual([before + 1, before + 1])
    expect(process.listenerCount('SIGINT')).toBe(before)
  })

  it('SIGINT to the idp process kills the children and then the process exits', async () => {
    const pids = path.join(work, 'sigint.pids')
    const script = path.join(work, 'sigint.mts')
    const runnerModule = path.resolve(import.meta.dirname, '../../src/lib/tools/runner.ts')
    writeFileSync(
      script,
      `import {createToolRunner} from ${JSON.stringify(runnerModule)}\n` +
        `const runner = createToolRunner({pathEnv: ${JSON.stringify(fakePath)}, killGraceMs: 300})\n` +
        `await runner.run('helm', ['install'], {env: {FAKE_SCRIPT: ${JSON.stringify(tree(pids))}}}).catch(() => {})\n` +
        `setTimeout(() => {}, 60_000)\n`,
    )
    const child = spawn(process.execPath, ['--import', 'tsx', script], {stdio: 'ignore', cwd: path.resolve(import.meta.dirname, '../..')})
    const exited = new Promise<{code: number | null; signal: string | null}>((resolve) => child.on('exit', (code, signal) => resolve({code, signal})))
    await waitFor(() => pidsIn(pids).length === 3, 20_000)
    const started = new Map(pidsIn(pids).map((pid) => [pid, procStat(pid)?.start]))
    child.kill('SIGINT')
    const {signal} = await exited
    // Default SIGINT behaviour is kept once the children are gone.
    expect(signal).toBe('SIGINT')
    // The whole tree was sent SIGKILL before the exit; on a loaded machine the kernel may take a
    // moment to finish the last of them, so allow it one, and no more.
    const left = () => [...started].filter(([pid, start]) => alive(pid, start)).map(([pid]) => `${pid} (${procStat(pid)?.state ?? 'gone'})`)
    await waitFor(() => left().length === 0, 3000, () => `still running: ${left().join('; ')}`)
  })
})

import {constants as fsConstants, readdirSync, readFileSync} from 'node:fs'
import {access, open, realpath, stat} from 'node:fs/promises'
import path from 'node:path'

import {cacheKey, cachePath, defineCache, entryFile, fileIdentity} from '../cli/cache.js'
import {CancelledError, TimeoutError, ToolError} from '../cli/errors.js'
import {acquireFileLock, type ReleaseLock} from '../cli/file-lock.js'
import {loadExeca} from '../cli/lazy.js'
import {redact, redactArgv, registerSecret, SECRET_ENV_VARS} from '../cli/redact.js'
import {ensurePrivateDir} from '../cli/paths.js'
import {removedToolEnv} from './git.js'
import {effectivePluginCache, idpPluginCacheDir, pluginCacheLockFile} from './terraform-plugin-cache.js'
import {formatCommand, STDERR_TAIL_LINES, stripAnsi, tailLines, toolError} from './tool-error.js'
import type {RunOptions, ToolInfo, ToolName, ToolRunner} from './types.js'
import {assertUsable, TOOL_SPECS, toolInfo} from './versions.js'

/**
 * The only module that starts processes. Everything idp runs goes through here so that PATH
 * lookup, versions, KUBECONFIG, redaction, timeouts and process-tree clean-up are done once.
 */
export interface ToolRunnerOptions {
  /** Extra environment for every child (merged over process.env). */
  env?: Record<string, string | undefined>
  /** PATH to search (default: process.env.PATH); also given to children. */
  pathEnv?: string
  /** Receives one redacted line per command started and finished (for --verbose). */
  logger?: (line: string) => void
  /** Time between SIGTERM and SIGKILL when stopping a process tree. */
  killGraceMs?: number
  /** Time allowed for `tool --version`. */
  versionTimeoutMs?: number
  /**
   * The directory that remembers versions across runs (default: tool-versions in idp's cache
   * directory); false to always ask the binary.
   */
  versionCache?: string | false
}

const isWindows = process.platform === 'win32'
const SECRET_ENV_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY/iu

function isSecretEnv(name: string): boolean {
  return SECRET_ENV_VARS.includes(name) || SECRET_ENV_NAME.test(name)
}

/**
 * Find `name` on PATH like a shell would, except that empty, `.` and relative entries are
 * skipped: a binary planted in the repository being worked on must never run.
 */
export async function findExecutable(name: string, pathEnv: string | undefined): Promise<string | undefined> {
  const extensions = isWindows ? ['', ...(process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').filter(Boolean)] : ['']
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    if (dir === '' || dir === '.' || !path.isAbsolute(dir)) continue
    for (const extension of extensions) {
      const candidate = path.join(dir, name + extension)
      try {
        const info = await stat(candidate)
        if (!info.isFile()) continue
        if (!isWindows) await access(candidate, fsConstants.X_OK)
        return candidate
      } catch {}
    }
  }
  return undefined
}

// ---- Process trees -----------------------------------------------------------------------

/** Children started detached, in their own process group (pgid = pid), so the group can be killed. */
interface ActiveChild {
  pid: number
  cancel: (signal: NodeJS.Signals) => void
}

const active = new Set<ActiveChild>()
let handlersInstalled = false

function groupAlive(pid: number): boolean {
  try {
    process.kill(isWindows ? pid : -pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  return process.platform === 'linux' ? groupHasLiveMember(pid) : true
}

/**
 * Killed grandchildren are re-parented to PID 1, which in containers may reap them late; until
 * then they are zombies that still count for kill(-pgid, 0). A zombie runs nothing, so look
 * for members that are not zombies.
 */
function groupHasLiveMember(pgid: number): boolean {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return true
  }
  for (const entry of entries) {
    if (!/^\d+$/u.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true
    } catch {}
  }
  return false
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(isWindows ? pid : -pid, signal)
  } catch {}
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** SIGTERM the whole group, SIGKILL what is left after the grace period, and wait until it is gone. */
async function terminateGroup(pid: number, graceMs: number): Promise<void> {
  signalGroup(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (groupAlive(pid) && Date.now() < deadline) await sleep(50)
  if (!groupAlive(pid)) return
  signalGroup(pid, 'SIGKILL')
  const killDeadline = Date.now() + 2000
  while (groupAlive(pid) && Date.now() < killDeadline) await sleep(50)
}

function onProcessSignal(signal: NodeJS.Signals): void {
  for (const child of active) child.cancel(signal)
  // Our listener replaced Node's default (exit on the signal). When nobody else listens (a
  // library user, not BaseCommand), restore the default once the children are stopped.
  if (process.listenerCount(signal) === 1) {
    const started = Date.now()
    const reraise = () => {
      if (active.size > 0 && Date.now() - started < 10_000) {
        setTimeout(reraise, 25)
        return
      }
      uninstallHandlers()
      process.kill(process.pid, signal)
    }
    reraise()
  }
}

function onProcessExit(): void {
  // Synchronous last resort (e.g. process.exit on a second Ctrl-C): no waiting possible.
  for (const child of active) signalGroup(child.pid, 'SIGTERM')
}

function installHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('SIGINT', onProcessSignal)
  process.on('SIGTERM', onProcessSignal)
  process.on('exit', onProcessExit)
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return
  handlersInstalled = false
  process.off('SIGINT', onProcessSignal)
  process.off('SIGTERM', onProcessSignal)
  process.off('exit', onProcessExit)
}

// ---- Spawning -----------------------------------------------------------------------------

interface SpawnOptions {
  cwd?: string
  env: Record<string, string | undefined>
  /** False: `env` is the whole environment (default true: `env` is added to idp's). */
  extendEnv?: boolean
  input?: string
  timeoutMs?: number
  signal?: AbortSignal
  graceMs: number
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void
}

export interface SpawnOutcome {
  exitCode?: number
  signal?: string
  stdout: string
  stderr: string
  durationMs: number
  stoppedBy?: 'timeout' | 'abort' | 'signal'
  stopSignal?: NodeJS.Signals
  spawnError?: string
}

function lineSplitter(emit: (line: string) => void): {push: (chunk: Buffer | string) => void; flush: () => void} {
  let pending = ''
  return {
    push(chunk) {
      pending += chunk.toString()
      const lines = pending.split(/\r?\n/u)
      pending = lines.pop() ?? ''
      for (const line of lines) emit(line)
    },
    flush() {
      if (pending) emit(pending)
      pending = ''
    },
  }
}

async function spawnTree(file: string, args: readonly string[], options: SpawnOptions): Promise<SpawnOutcome> {
  const started = Date.now()
  // Loaded on the first process start: a command that finds every answer cached starts none.
  const {execa} = await loadExeca()
  // Listen before the child exists: its group is detached, so a Ctrl-C that killed idp with the
  // default action before the listener was in place would leave it running (seen on a loaded
  // machine, where the child's tree ran before idp returned from spawn()).
  installHandlers()
  let subprocess: ReturnType<typeof execa>
  try {
    subprocess = execa(file, [...args], {
      cwd: options.cwd,
      env: options.env,
      extendEnv: options.extendEnv ?? true,
      ...(options.input === undefined ? {stdin: 'ignore' as const} : {input: options.input}),
      detached: !isWindows,
      reject: false,
      windowsHide: true,
      stripFinalNewline: true,
    })
  } catch (error) {
    if (active.size === 0) uninstallHandlers()
    throw error
  }

  let stoppedBy: SpawnOutcome['stoppedBy']
  let stopSignal: NodeJS.Signals | undefined
  let terminating: Promise<void> | undefined
  const stop = (why: NonNullable<SpawnOutcome['stoppedBy']>, signal?: NodeJS.Signals) => {
    if (stoppedBy) return
    stoppedBy = why
    stopSignal = signal
    if (subprocess.pid !== undefined) terminating = terminateGroup(subprocess.pid, options.graceMs)
  }

  const child: ActiveChild | undefined = subprocess.pid === undefined ? undefined : {pid: subprocess.pid, cancel: (signal) => stop('signal', signal)}
  if (child) active.add(child)
  const timer = options.timeoutMs ? setTimeout(() => stop('timeout'), options.timeoutMs) : undefined
  const onAbort = () => stop('abort')
  options.signal?.addEventListener('abort', onAbort, {once: true})
  // A Ctrl-C that came while the process was being started (loading execa, a version probe) has
  // already fired: stop the child now rather than let it run to the end.
  if (options.signal?.aborted) onAbort()

  const splitters: Array<{flush: () => void}> = []
  if (options.onLine) {
    const onLine = options.onLine
    for (const name of ['stdout', 'stderr'] as const) {
      const splitter = lineSplitter((line) => onLine(redact(stripAnsi(line)), name))
      subprocess[name]?.on('data', (chunk: Buffer) => splitter.push(chunk))
      splitters.push(splitter)
    }
  }

  try {
    const result = await subprocess
    for (const splitter of splitters) splitter.flush()
    await terminating
    return {
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      durationMs: Date.now() - started,
      stoppedBy,
      stopSignal,
      spawnError: result.failed && result.exitCode === undefined && !result.signal && !stoppedBy ? result.shortMessage : undefined,
    }
  } finally {
    if (timer) clearTimeout(timer)
    options.signal?.removeEventListener('abort', onAbort)
    if (child) active.delete(child)
    if (active.size === 0) uninstallHandlers()
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

// ---- Versions across runs -----------------------------------------------------------------

/**
 * A version probe is a process start (helm and terraform take 50-80 ms), paid by every command
 * before its plan. The answer of a given binary never changes, so it is kept per binary file,
 * keyed by the file's identity (device, inode, size, mtime, ctime) and idp's build (which parses
 * the answer): an upgrade, a reinstall or a chmod makes it a new file. Only real binaries named after the tool are remembered: a script
 * (tfenv, asdf shims) or a multiplexer (mise, aqua) may answer differently per directory. One
 * entry file per binary, so idp processes probing different tools never undo each other's writes.
 */
const toolVersions = defineCache<string>({version: 3, valid: (value) => typeof value === 'string'})

interface BinaryEntry {
  /** The binary, links resolved. */
  binary: string
  file: string
  key: string
}

async function binaryEntry(tool: ToolName, file: string, dir: string): Promise<BinaryEntry | undefined> {
  try {
    const real = await realpath(file)
    const base = path.basename(real).toLowerCase().replace(/\.exe$/u, '')
    if (!base.startsWith(tool)) return undefined
    const handle = await open(real, 'r')
    try {
      const head = Buffer.alloc(2)
      await handle.read(head, 0, 2, 0)
      if (head.toString('latin1') === '#!') return undefined
      const identity = fileIdentity(await handle.stat({bigint: true}))
      return {binary: real, file: entryFile(dir, real), key: cacheKey(tool, real, identity)}
    } finally {
      await handle.close()
    }
  } catch {
    return undefined
  }
}

// ---- A kubeconfig's credential plugin -------------------------------------------------------

/**
 * Start a kubeconfig's exec credential plugin (`users[].user.exec`): not one of idp's tools, but
 * started the same way, so Ctrl-C and idp's exit handlers stop its process tree too. A bare
 * command is looked up on the PATH of `env` as kubectl does, never in the working directory.
 * stdout is the credential: returned as is, and nothing here logs it.
 */
export async function runCredentialPlugin(command: string, args: readonly string[], options: {env: Record<string, string | undefined>; timeoutMs: number}): Promise<{exitCode?: number; stdout: string; stderr: string; stoppedBy?: string; spawnError?: string}> {
  const file = command.includes('/') ? command : await findExecutable(command, options.env.PATH)
  if (!file) return {stdout: '', stderr: '', spawnError: `${command} was not found on PATH`}
  // Like every tool: none of git's repository variables (a plugin may run git).
  const env = {...options.env}
  for (const name of removedToolEnv({...process.env, ...options.env})) env[name] = undefined
  return spawnTree(file, args, {env, timeoutMs: options.timeoutMs, graceMs: 3000})
}

// ---- idp's own scripts ----------------------------------------------------------------------

/**
 * Run one of idp's own scripts in a separate Node process, started like a tool (its own process
 * group, stopped by Ctrl-C, the signal, the deadline and idp's exit handlers): the input on
 * stdin, the answer on stdout. For work that runs code idp does not control — a template's
 * loops and filters (create/render-bound.ts) — under a deadline and a heap limit the process
 * enforces whatever the code allocates.
 */
export async function runNodeScript(script: string, options: {input: string; timeoutMs: number; maxOldSpaceMb: number; signal?: AbortSignal}): Promise<SpawnOutcome> {
  return spawnTree(process.execPath, [`--max-old-space-size=${options.maxOldSpaceMb}`, script], {
    // Not idp's environment (tokens: GITHUB_TOKEN, VAULT_TOKEN, ...; the user's NODE_OPTIONS, a
    // --require or another heap size): only what Node and rendering read, and idp's pid, so the
    // script can tell when idp is gone.
    env: nodeScriptEnv(process.env),
    extendEnv: false,
    input: options.input,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    graceMs: 1000,
  })
}

/** Variables a script idp runs keeps from idp's environment: time zone and locale, nothing else. */
const NODE_SCRIPT_ENV = ['TZ', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_COLLATE', 'LC_NUMERIC', 'LC_TIME', 'LC_MESSAGES', 'SYSTEMROOT', 'SystemRoot']

/** The whole environment of a script idp runs with runNodeScript (no PATH, no HOME, no token). */
export function nodeScriptEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const kept: Record<string, string> = {NODE_OPTIONS: '', IDP_PARENT_PID: String(process.pid)}
  for (const name of NODE_SCRIPT_ENV) if (env[name] !== undefined) kept[name] = env[name]!
  return kept
}

// ---- Terraform's plugin cache ----------------------------------------------------------------

/** The subcommand of a terraform argv: the first word after the global options (-chdir=...). */
export function terraformSubcommand(args: readonly string[]): string | undefined {
  return args.find((arg) => !arg.startsWith('-'))
}

/**
 * Terraform does not lock its plugin cache, and two `terraform init`s installing into it at once
 * may leave a broken entry. An init that uses one (idp's, or the user's own) waits for any other
 * idp's init on the same cache (terraform-plugin-cache.ts); idp's own cache directory is created
 * (0700) first. The whole environment of the child says which cache it uses.
 */
async function lockPluginCache(env: Record<string, string | undefined>, options: {signal?: AbortSignal; timeoutMs?: number; log: (line: string) => void}): Promise<ReleaseLock | undefined> {
  const whole: NodeJS.ProcessEnv = {...process.env}
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete whole[name]
    else whole[name] = value
  }
  const dir = await effectivePluginCache(whole)
  if (!dir) return undefined
  if (path.resolve(dir) === path.resolve(idpPluginCacheDir(whole))) await ensurePrivateDir(dir)
  const file = pluginCacheLockFile(whole, dir)
  return acquireFileLock(file, {
    what: `terraform init with the plugin cache ${dir}`,
    signal: options.signal,
    ...(options.timeoutMs === undefined ? {} : {timeoutMs: options.timeoutMs}),
    onWait: (holder) => options.log(`waiting for ${holder ? `process ${holder.pid}` : 'another idp process'} to finish its terraform init with the plugin cache ${dir} (lock ${file})`),
  })
}

// ---- The runner ---------------------------------------------------------------------------

const versionCache = new Map<string, Promise<ToolInfo>>()

export function clearToolCacheForTests(): void {
  versionCache.clear()
}

export function createToolRunner(options: ToolRunnerOptions = {}): ToolRunner {
  const pathEnv = options.pathEnv ?? process.env.PATH ?? ''
  const graceMs = options.killGraceMs ?? 3000
  const log = options.logger ?? (() => {})
  const keptDir = options.versionCache === false ? undefined : (options.versionCache ?? cachePath('tool-versions'))

  function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    const env: Record<string, string | undefined> = {...options.env, ...extra}
    if (options.pathEnv !== undefined) env.PATH = options.pathEnv
    for (const [name, value] of Object.entries(env)) if (value && isSecretEnv(name)) registerSecret(value)
    return env
  }

  async function probe(tool: ToolName): Promise<ToolInfo> {
    const spec = TOOL_SPECS[tool]
    const file = await findExecutable(tool, pathEnv)
    if (!file) return toolInfo(tool)
    const kept = keptDir ? await binaryEntry(tool, file, keptDir) : undefined
    const known = kept && (await toolVersions.read(kept.file, kept.key))
    if (known) return toolInfo(tool, {path: file, version: known})
    const outcome = await spawnTree(file, spec.versionArgs, {env: baseEnv(), timeoutMs: options.versionTimeoutMs ?? 10_000, graceMs})
    const version = outcome.exitCode === 0 ? spec.parseVersion(outcome.stdout, outcome.stderr) : undefined
    if (kept && version) await toolVersions.write(kept.file, kept.key, version, {binary: kept.binary})
    return toolInfo(tool, {path: file, version})
  }

  const runner: ToolRunner = {
    resolve(tool) {
      const key = `${pathEnv}\u0000${tool}`
      let cached = versionCache.get(key)
      if (!cached) {
        cached = probe(tool)
        versionCache.set(key, cached)
      }
      return cached
    },

    async require(tool) {
      const info = assertUsable(await runner.resolve(tool))
      if (info.status === 'unknown-version') log(`warning: could not read the version of ${info.path}; assuming it is compatible (${tool} ${info.minimum}).`)
      return info
    },

    removedEnv(actionEnv) {
      return removedToolEnv({...process.env, ...options.env}, actionEnv)
    },

    async run(tool, args, runOptions: RunOptions = {}) {
      const argv = redactArgv(args)
      if (runOptions.signal?.aborted) throw new CancelledError(`Cancelled before running ${formatCommand(tool, argv)}.`)
      const info = await runner.require(tool)
      const extra: Record<string, string | undefined> = {...runOptions.env}
      if (runOptions.kubeconfig) extra.KUBECONFIG = runOptions.kubeconfig
      if (tool === 'terraform') extra.TF_IN_AUTOMATION = '1'
      // A prompt for credentials would hang a non-interactive run; fail instead.
      if (tool === 'git') extra.GIT_TERMINAL_PROMPT ??= '0'
      const env = baseEnv(extra)
      // git works on the repository of its working directory, never one the shell's GIT_DIR names,
      // and so does the git that terraform (module sources) or helm (plugins) run: removed for
      // every tool; a printed command says `env -u` for those the environment holds.
      const unset = runner.removedEnv(runOptions.env)
      for (const name of unset) env[name] = undefined

      const shownEnv = Object.keys(extra)
        .map((name) => `${name}=${isSecretEnv(name) ? '***' : redact(extra[name] ?? '')}`)
        .join(' ')
      log(`$ ${formatCommand(tool, argv)}${runOptions.cwd ? `  (in ${runOptions.cwd})` : ''}${shownEnv ? `  [env ${shownEnv}]` : ''}`)

      const release = tool === 'terraform' && terraformSubcommand(args) === 'init' ? await lockPluginCache(env, {signal: runOptions.signal, timeoutMs: runOptions.timeoutMs, log}) : undefined
      let outcome: SpawnOutcome
      try {
        outcome = await spawnTree(info.path!, args, {
          cwd: runOptions.cwd,
          env,
          input: runOptions.input,
          timeoutMs: runOptions.timeoutMs,
          signal: runOptions.signal,
          graceMs,
          onLine: runOptions.onLine && (runOptions.rawStdout ? (line, stream) => stream === 'stderr' && runOptions.onLine!(line, stream) : runOptions.onLine),
        })
      } finally {
        await release?.()
      }
      log(`  ${tool} ${outcome.stoppedBy ? `stopped (${outcome.stoppedBy})` : `exited ${outcome.exitCode ?? outcome.signal}`} after ${outcome.durationMs}ms`)

      const command = formatCommand(tool, argv)
      if (outcome.stoppedBy === 'timeout') {
        throw new TimeoutError(`${tool} did not finish within ${formatMs(runOptions.timeoutMs!)} and was stopped: ${command}`, {
          hint: `Its whole process tree was stopped. Look at what it was waiting for (output below with --verbose), or allow more time.`,
          details: {tool, argv, timeoutMs: runOptions.timeoutMs, stderrTail: tailLines(redact(outcome.stderr), STDERR_TAIL_LINES)},
        })
      }
      if (outcome.stoppedBy) {
        throw new CancelledError(`Cancelled${outcome.stopSignal ? ` by ${outcome.stopSignal}` : ''}: stopped ${command}.`, {details: {tool, argv}})
      }
      if (outcome.spawnError) {
        // A missing working directory fails the spawn with the same ENOENT as a missing binary,
        // but the binary was found above: say which one is missing.
        const cwdInfo = runOptions.cwd === undefined ? undefined : await stat(runOptions.cwd).catch(() => null)
        if (cwdInfo === null || (cwdInfo && !cwdInfo.isDirectory())) {
          throw new ToolError(`Could not start ${tool}: its working directory ${runOptions.cwd} ${cwdInfo === null ? 'does not exist' : 'is not a directory'}.`, {tool, argv}, {
            hint: `${tool} itself is installed (${info.path}); an earlier step was expected to create ${runOptions.cwd}.`,
          })
        }
        throw new ToolError(`Could not start ${tool} (${info.path}): ${redact(outcome.spawnError)}`, {tool, argv}, {hint: info.installHint})
      }
      const exitCode = outcome.exitCode ?? -1
      if (outcome.exitCode === undefined || (exitCode !== 0 && !(runOptions.allowedExitCodes ?? []).includes(exitCode))) {
        throw toolError(tool, argv, outcome, {cwd: runOptions.cwd, kubeconfig: runOptions.kubeconfig, env: runOptions.env, unset})
      }
      return {
        tool,
        argv,
        exitCode,
        stdout: runOptions.rawStdout ? outcome.stdout : redact(outcome.stdout),
        stderr: redact(outcome.stderr),
        durationMs: outcome.durationMs,
      }
    },
  }
  return runner
}

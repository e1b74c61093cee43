import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import path from 'node:path'

/** One way for tests to run the CLI as a user does: the built `bin/run.js` in a child process. */
export const repoRoot = path.resolve(import.meta.dirname, '..', '..')
export const runJs = path.join(repoRoot, 'bin', 'run.js')

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  /** Over `baseEnv`; `undefined` removes a variable. NO_COLOR and CI are set unless given. */
  env?: Record<string, string | undefined>
  /** The environment to start from (default: process.env). */
  baseEnv?: NodeJS.ProcessEnv
  cwd?: string
  /** Sees the child as soon as it runs (e.g. to send it SIGINT). */
  onSpawn?: (child: ChildProcess) => void
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  if (!existsSync(path.join(repoRoot, 'dist')) || !existsSync(path.join(repoRoot, 'oclif.manifest.json'))) {
    return Promise.reject(new Error('dist/ is missing: run `npm run build` before the tests (npm test does).'))
  }
  return runProcess(process.execPath, [runJs, ...args], {...options, cwd: options.cwd ?? repoRoot, env: {NO_COLOR: '1', CI: '1', ...options.env}})
}

/** Run any program to completion, collecting its output; never rejects on a non-zero exit. */
export function runProcess(command: string, args: string[], options: CliOptions = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {...(options.baseEnv ?? process.env)}
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe']})
    options.onSpawn?.(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

/** stdout as JSON when it is one JSON document (the --json envelope), else undefined. */
export function parseJson(stdout: string): unknown {
  try {
    return JSON.parse(stdout)
  } catch {
    return undefined
  }
}

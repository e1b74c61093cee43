/**
 * A real Backstage backend (the catalog plugin, @backstage/backend-defaults) for tests: installed
 * from the npm registry by test/support/setup-backstage.mjs, started here in its own Node process
 * on a loopback port with an in-memory SQLite database, a static external-access token (what
 * BACKSTAGE_TOKEN holds for idp) and a GitHub integration pointed at the GitHub stand-in, so the
 * catalog reads a registered catalog-info.yaml through the stand-in's contents API.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {installDir, setupBackstage} from './setup-backstage.mjs'

export interface BackstageOptions {
  /** The GitHub stand-in the catalog reads repositories from, and a token it accepts. */
  github?: {serverUrl: string; apiUrl: string; token: string}
  /** How long the backend may take to become ready (default 90 s: the 2-core CI machine). */
  readyTimeoutMs?: number
}

export interface BackstageBackend {
  baseUrl: string
  /** The static external-access token (backend.auth.externalAccess). */
  token: string
  /** Milliseconds from spawn to a ready /.backstage/health/v1/readiness. */
  startMs: number
  /** The backend's log so far (for a failing test's message). */
  logs(): string
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export async function startBackstage(options: BackstageOptions = {}): Promise<BackstageBackend> {
  setupBackstage({quiet: true})
  const dir = await mkdtemp(path.join(tmpdir(), 'idp-backstage-'))
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const token = `bs-${randomBytes(18).toString('hex')}`
  const config = {
    app: {baseUrl},
    backend: {
      baseUrl,
      listen: {host: '127.0.0.1', port},
      database: {client: 'better-sqlite3', connection: ':memory:'},
      auth: {externalAccess: [{type: 'static', options: {token, subject: 'idp-tests'}}]},
    },
    integrations: options.github
      ? {github: [{host: new URL(options.github.serverUrl).host, apiBaseUrl: options.github.apiUrl, token: options.github.token}]}
      : {},
    catalog: {rules: [{allow: ['Component', 'System', 'API', 'Resource', 'Location', 'Group', 'User', 'Domain']}]},
  }
  const configFile = path.join(dir, 'app-config.yaml')
  // JSON is YAML.
  await writeFile(configFile, JSON.stringify(config, null, 2))
  const started = Date.now()
  const child: ChildProcess = spawn(process.execPath, [path.join(installDir, 'backend.mjs'), '--config', configFile], {
    cwd: installDir,
    env: {...process.env, NODE_ENV: 'production', NO_COLOR: '1'},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-200_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let alive = true
  void exited.then(() => (alive = false))

  const stop = async () => {
    if (alive) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    await rm(dir, {recursive: true, force: true})
  }

  const deadline = started + (options.readyTimeoutMs ?? 90_000)
  for (;;) {
    if (!alive) {
      await stop()
      throw new Error(`The Backstage backend exited before it was ready:\n${log.slice(-4000)}`)
    }
    const ready = await fetch(`${baseUrl}/.backstage/health/v1/readiness`).then(
      (r) => r.ok,
      () => false,
    )
    if (ready) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`The Backstage backend was not ready within ${options.readyTimeoutMs ?? 90_000} ms:\n${log.slice(-4000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return {baseUrl, token, startMs: Date.now() - started, logs: () => log, stop}
}

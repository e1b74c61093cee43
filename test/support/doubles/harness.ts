// Test helpers for the vcluster/argocd doubles: the Kubernetes API stand-in to run them against
// and a runner that captures stdout, stderr and the exit code.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {type CliRun, runProcess} from '../cli.js'
import {type KubeStandIn, startKubeStandIn} from '../kube-stand-in/index.js'

export const doublesBinDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bin')

export interface KubeApi {
  /** The stand-in itself: faults (e.g. faults.argo(name, 'Degraded')), requests(), store(). */
  standIn: KubeStandIn
  url: string
  hostUrl: string
  /** An admin kubeconfig for the host cluster, context "host" (the doubles name vcluster contexts after it). */
  kubeconfig(options?: {namespace?: string}): string
  stop(): Promise<void>
}

/** The shared Kubernetes API stand-in, with its simulated controllers (StatefulSets, Argo CD Applications). */
export async function startKubeApi(): Promise<KubeApi> {
  const standIn = await startKubeStandIn()
  return {
    standIn,
    url: standIn.url,
    hostUrl: standIn.serverUrl('host'),
    kubeconfig: (options = {}) => standIn.kubeconfig('host', {context: 'host', ...options}),
    stop: () => standIn.stop(),
  }
}

export function runDouble(tool: 'vcluster' | 'argocd', args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runProcess(path.join(doublesBinDir, tool), args, {
    env: {ARGOCD_SERVER: undefined, ARGOCD_OPTS: undefined, ARGOCD_AUTH_TOKEN: undefined, PATH: [doublesBinDir, process.env.PATH].join(path.delimiter), ...env},
  })
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

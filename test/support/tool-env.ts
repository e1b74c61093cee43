// Where the test world's real binaries live and the environment to run them in. Tests pass
// toolEnv() to every child process so helm and kubectl never read or write the user's own
// cache, config or plugins (HOME stays as it is; HELM_* and TF_CLI_CONFIG_FILE point at ours).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const toolsDir = path.join(repoRoot, '.tools')
export const toolsBinDir = path.join(toolsDir, 'bin')
export const terraformConfigFile = path.join(toolsDir, 'terraformrc')

/** Set by global-setup so every worker shares one throw-away helm home per run. */
export const HELM_HOME_ENV = 'IDP_TEST_HELM_HOME'
/** Every process the suite starts inherits this marker; global teardown looks for leftovers by it. */
export const RUN_MARKER_ENV = 'IDP_TEST_RUN_ID'

export function helmBinary(major: 3 | 4 = 4): string {
  return path.join(toolsDir, major === 3 ? 'helm3' : 'helm4', 'helm')
}

export function kubectlBinary(): string {
  return path.join(toolsDir, 'kubectl', 'kubectl')
}

let processHelmHome: string | undefined

function defaultHelmHome(): string {
  const shared = process.env[HELM_HOME_ENV]
  if (shared) return shared
  // Outside vitest (a bench, a script): one temp home per process, removed on exit.
  if (!processHelmHome) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-helm-home-'))
    processHelmHome = dir
    process.once('exit', () => fs.rmSync(dir, {recursive: true, force: true}))
  }
  return processHelmHome
}

/** The HELM_* variables for a helm home under `dir` (created on demand). */
export function helmHomeEnv(dir: string): Record<string, string> {
  const env = {
    HELM_CACHE_HOME: path.join(dir, 'cache'),
    HELM_CONFIG_HOME: path.join(dir, 'config'),
    HELM_DATA_HOME: path.join(dir, 'data'),
  }
  for (const d of Object.values(env)) fs.mkdirSync(d, {recursive: true})
  return env
}

export interface ToolEnvOptions {
  /** A helm home of the test's own (e.g. to inspect its repository cache); default: the run's shared one. */
  helmHome?: string
  /** KUBECONFIG for the child; left unset unless given. */
  kubeconfig?: string
  /** Extra variables, applied last. */
  env?: Record<string, string | undefined>
}

/** process.env with .tools/bin first on PATH, a private helm home and the tests' Terraform CLI config. */
export function toolEnv(options: ToolEnvOptions = {}): NodeJS.ProcessEnv {
  const currentPath = process.env.PATH ?? ''
  const pathValue = currentPath.split(path.delimiter).includes(toolsBinDir)
    ? currentPath
    : [toolsBinDir, currentPath].filter(Boolean).join(path.delimiter)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: pathValue,
    TF_CLI_CONFIG_FILE: terraformConfigFile,
    TF_IN_AUTOMATION: '1',
    ...helmHomeEnv(options.helmHome ?? defaultHelmHome()),
    // kubectl caches discovery under ~/.kube/cache unless told otherwise.
    KUBECACHEDIR: path.join(options.helmHome ?? defaultHelmHome(), 'kube-cache'),
  }
  if (options.kubeconfig) env.KUBECONFIG = options.kubeconfig
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

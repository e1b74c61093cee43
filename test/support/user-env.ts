import {createHash} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {doublesBinDir} from './doubles/harness.js'
import type {KubeStandIn} from './kube-stand-in/index.js'
import {helmBinary, toolEnv, toolsBinDir} from './tool-env.js'

/** Variables a developer's shell or a CI runner may carry that would change what idp does. */
const AMBIENT = [
  'KUBECONFIG', 'GITHUB_TOKEN', 'GH_TOKEN', 'GITHUB_SHA', 'GITHUB_REF_NAME', 'GITHUB_HEAD_REF', 'GITHUB_REPOSITORY',
  'GITHUB_EVENT_PATH', 'GITHUB_EVENT_NAME', 'ARGOCD_SERVER', 'ARGOCD_AUTH_TOKEN', 'ARGOCD_OPTS',
  'IDP_PR', 'IDP_YES', 'IDP_REVISION', 'IDP_IMAGE_TAG', 'IDP_TIMEOUT', 'IDP_REGISTRY_USERNAME', 'IDP_REGISTRY_PASSWORD', 'IDP_REGISTRY_HOST', 'IDP_VAULT_ALLOW_HTTP', 'IDP_BACKSTAGE_ALLOW_HTTP',
]

export interface IsolatedUser {
  home: string
  stateDir: string
  /** ~/.kube/config of this user: the stand-in's host cluster. */
  userKubeconfig: string
  /** The environment the CLI runs with: a fresh HOME and state dir, the chosen helm, the doubles and real tools on PATH. */
  env: NodeJS.ProcessEnv
  /** sha256 of ~/.kube/config, to prove idp never changed it. */
  kubeconfigHash(): string
}

/** A user with nothing of the machine's: used by the env and deploy test worlds. */
export function isolatedUser(root: string, kube: KubeStandIn, options: {helm?: 3 | 4; env?: Record<string, string | undefined>} = {}): IsolatedUser {
  const home = path.join(root, 'home')
  const stateDir = path.join(root, 'state')
  const userKubeconfig = kube.kubeconfig('host', {path: path.join(home, '.kube', 'config')})
  const binDir = path.join(root, 'bin')
  fs.mkdirSync(binDir)
  fs.symlinkSync(helmBinary(options.helm ?? 4), path.join(binDir, 'helm'))
  const env = toolEnv({
    env: {
      ...Object.fromEntries(AMBIENT.map((name) => [name, undefined])),
      HOME: home,
      XDG_STATE_HOME: stateDir,
      XDG_CACHE_HOME: path.join(home, '.cache'),
      XDG_CONFIG_HOME: path.join(home, '.config'),
      GIT_CONFIG_NOSYSTEM: '1',
      PATH: [binDir, doublesBinDir, toolsBinDir, process.env.PATH].join(path.delimiter),
      CI: '1',
      GITHUB_ACTOR: 'tester',
      // The fixtures' image is on ghcr.io, which no test reaches: the registry preflight is tested
      // against a real registry (test/integration/image-check.test.ts), which turns this off.
      IDP_SKIP_IMAGE_CHECK: 'true',
      ...options.env,
    },
  })
  return {home, stateDir, userKubeconfig, env, kubeconfigHash: () => createHash('sha256').update(fs.readFileSync(userKubeconfig)).digest('hex')}
}

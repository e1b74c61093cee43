/**
 * `idp env kubeconfig`: the path of the private kubeconfig `idp env up` wrote for an environment,
 * or a copy of it (0600) where the user asks. It never writes over one of the user's kubeconfig
 * files, or any existing file, unless forced.
 */
import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'

import {type Human, idpCommandOf, type Service} from '../cli/deps.js'
import {PrerequisiteError, UsageError} from '../cli/errors.js'
import {assertDnsLabel} from '../cli/names.js'
import {writePrivateFile} from '../cli/paths.js'
import {loadConfig} from '../config/load.js'
import {kubeconfigPaths} from '../kube/kubeconfig.js'
import {envKubeconfigPath} from './paths.js'

export interface EnvKubeconfigRequest {
  dir: string
  env: string
  /** Copy it to this file (relative to the working directory). */
  write?: string
  /** Let `write` replace an existing file, even one of the user's kubeconfig files. */
  force: boolean
}

export interface EnvKubeconfigResult {
  service: string
  env: string
  /** The private kubeconfig idp keeps for the environment. */
  path: string
  /** Where it was copied. */
  written?: string
}

export const envKubeconfig: Service<EnvKubeconfigRequest, EnvKubeconfigResult> = async (request, deps) => {
  const name = assertDnsLabel(request.env, 'environment name')
  const target = request.write === undefined ? undefined : path.resolve(request.write)
  if (target && !request.force) {
    // Checked before anything else is read: refusing is the one safe answer here.
    if (kubeconfigPaths({env: deps.env}).includes(target)) {
      throw new UsageError(`Refusing to write over ${target}: it is one of your kubeconfig files.`, {
        hint: 'idp never changes your kubeconfig. Write to another file, or pass --force if you really mean to replace it.',
      })
    }
    const exists = await stat(target).then(
      () => true,
      () => false,
    )
    if (exists) throw new UsageError(`Refusing to overwrite ${target}.`, {hint: 'Choose a new file, or pass --force to replace it.'})
  }
  const {config} = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const service = config.service.name
  const file = envKubeconfigPath(deps.stateDir, service, name)
  let content: string
  try {
    content = await readFile(file, 'utf8')
  } catch {
    throw new PrerequisiteError(`No kubeconfig for environment ${name} of ${service} on this machine (${file}).`, {
      hint: `Run \`${idpCommandOf(deps, request.dir, ['env', 'up', name])}\`: it writes the kubeconfig (running it again on an existing environment updates it in place). \`${idpCommandOf(deps, request.dir, ['env', 'list'])}\` shows which environments exist.`,
    })
  }
  if (!target) return {service, env: name, path: file}
  await writePrivateFile(target, content, {userDir: true})
  // On stderr: stdout carries only the path, so $(idp env kubeconfig ENV) works.
  deps.out.info(`Copied to ${target} (mode 0600).`)
  return {service, env: name, path: file, written: target}
}

export const renderEnvKubeconfig: Human<EnvKubeconfigResult> = (result) => result.path

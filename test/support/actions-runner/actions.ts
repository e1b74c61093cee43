// The local equivalents of the actions the generated workflows use, one explicit mapping each.
// An action not listed here fails the run (runner.ts), and so does an input a mapping does not
// declare. Each says in `describe` what it stands for.
import {execFile, execFileSync} from 'node:child_process'
import {promisify} from 'node:util'
import fs from 'node:fs'
import path from 'node:path'

import type {ActionContext, ActionMapping, ActionMappings} from './runner.js'

export interface ImageRegistry {
  /** host:port of the registry stand-in. */
  host: string
  /** Push a tiny image (config, one layer, an OCI manifest) through the registry's HTTP API; returns its digest. */
  push(repository: string, tag: string): Promise<string>
}

export interface LocalActionsOptions {
  /** Registry host in a workflow (ghcr.io) → the registry that stands in for it. */
  registries: Record<string, ImageRegistry>
  /** What configure-aws-credentials exports: region and credentials, and the endpoints of the S3/STS stand-in. */
  aws?: {env: Record<string, string>}
}

export interface PushedImage {
  /** As the workflow named it: ghcr.io/acme/shop:abc123 */
  reference: string
  /** Where it went: 127.0.0.1:PORT/acme/shop:abc123 */
  pushedTo: string
  digest: string
  context: string
}

/** Is this program on the step's PATH? */
function onPath(env: Record<string, string>, name: string): string {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name)
    if (dir && fs.existsSync(candidate)) return candidate
  }
  throw new Error(`${name} is not on the runner's PATH: the mapping stands for a setup action that finds it installed`)
}

/** git, asynchronously: the GitHub stand-in it talks to answers from this process. */
async function git(cwd: string, args: string[], env: Record<string, string>): Promise<string> {
  const {stdout} = await promisify(execFile)('git', args, {cwd, env, encoding: 'utf8'})
  return stdout.trim()
}

/** A setup-* action whose tool is already installed on the runner: check it is on PATH and runs. */
function toolOnPath(tool: string, versionArgs: string[], inputs: readonly string[], check?: (c: ActionContext) => void): ActionMapping {
  return {
    inputs,
    describe: `${tool} already on the runner's PATH`,
    async run(c) {
      check?.(c)
      const binary = onPath(c.env, tool)
      c.log(`${binary}: ${execFileSync(binary, versionArgs, {env: c.env, encoding: 'utf8'}).split('\n')[0]}`)
    },
  }
}

export function localActions(options: LocalActionsOptions): {actions: ActionMappings; pushed: PushedImage[]} {
  const pushed: PushedImage[] = []
  const registryOf = (host: string): ImageRegistry => {
    const registry = options.registries[host]
    if (!registry) throw new Error(`no registry stands in for ${host} (known: ${Object.keys(options.registries).join(', ')})`)
    return registry
  }

  const actions: ActionMappings = {
    // actions/checkout on a pull_request event: fetch GITHUB_REF (refs/pull/N/merge) with the
    // run's token as an HTTP header (persist-credentials), check out GITHUB_SHA detached.
    'actions/checkout': {
      inputs: [],
      describe: 'git clone of the pull request (GITHUB_REF at GITHUB_SHA) into GITHUB_WORKSPACE',
      async run(c) {
        const env = {...c.env, GIT_TERMINAL_PROMPT: '0'}
        const remote = `${c.github.serverUrl}/${c.github.repository}`
        const header = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${c.token}`).toString('base64')}`
        const local = c.github.ref.replace(/^refs\/pull\//u, 'refs/remotes/pull/')
        await git(c.workspace, ['init', '-q'], env)
        await git(c.workspace, ['remote', 'add', 'origin', remote], env)
        await git(c.workspace, ['config', '--local', `http.${c.github.serverUrl}/.extraheader`, header], env)
        await git(c.workspace, ['-c', 'protocol.version=2', 'fetch', '--no-tags', '--prune', '--no-recurse-submodules', '--depth=1', 'origin', `+${c.github.ref}:${local}`], env)
        const fetched = await git(c.workspace, ['rev-parse', local], env)
        if (fetched !== c.github.sha) throw new Error(`${c.github.ref} is at ${fetched}, not GITHUB_SHA ${c.github.sha}`)
        await git(c.workspace, ['checkout', '--progress', '--force', local], env)
        c.log(`HEAD is now at ${await git(c.workspace, ['log', '-1', '--format=%H %s'], env)}`)
      },
    },
    'docker/setup-buildx-action': {inputs: [], describe: 'nothing to set up: images are pushed through the registry API', async run() {}},
    'docker/login-action': {
      inputs: ['registry', 'username', 'password'],
      describe: 'login checked (registry known, username and password given); the stand-in registry needs none',
      async run(c) {
        registryOf(c.inputs.registry ?? 'docker.io')
        if (!c.inputs.username || !c.inputs.password) throw new Error('Username and password required')
        c.log(`Login Succeeded (${c.inputs.registry})`)
      },
    },
    'docker/build-push-action': {
      inputs: ['context', 'push', 'tags', 'cache-from', 'cache-to'],
      describe: 'an image manifest for each tag pushed to the registry standing in for its host',
      async run(c) {
        const context = path.resolve(c.workspace, c.inputs.context ?? '.')
        if (!fs.existsSync(path.join(context, 'Dockerfile'))) throw new Error(`no Dockerfile in the build context ${context}`)
        const tags = (c.inputs.tags ?? '').split(/[\n,]/u).map((t) => t.trim()).filter(Boolean)
        if (tags.length === 0) {
          // buildx: "tag is needed when pushing to registry"; without push an untagged build is fine.
          if (c.inputs.push === 'true') throw new Error('ERROR: tag is needed when pushing to registry')
          c.log(`built ${context} (no tags, not pushed)`)
          return
        }
        for (const reference of tags) {
          const match = /^([^/]+\.[^/]+|localhost(?::\d+)?)\/([a-z0-9._/-]+):([\w][\w.-]{0,127})$/u.exec(reference)
          if (!match) throw new Error(`invalid tag ${JSON.stringify(reference)}: expected registry/repository:tag in lowercase`)
          const [, host, repository, tag] = match
          const registry = registryOf(host!)
          if (c.inputs.push !== 'true') {
            c.log(`built ${reference} (not pushed)`)
            continue
          }
          const digest = await registry.push(repository!, tag!)
          pushed.push({reference, pushedTo: `${registry.host}/${repository}:${tag}`, digest, context})
          c.log(`pushed ${reference} as ${registry.host}/${repository}:${tag} ${digest}`)
        }
      },
    },
    // The runner's Node on PATH; its npm prefix is the job's own tool cache directory, on PATH,
    // as setup-node's toolcache Node is (so `npm install --global` lands on PATH).
    'actions/setup-node': {
      inputs: ['node-version', 'cache'],
      describe: "the runner's node on PATH, a per-job npm prefix (NPM_CONFIG_PREFIX) on PATH",
      async run(c) {
        const node = onPath(c.env, 'node')
        const version = execFileSync(node, ['--version'], {encoding: 'utf8'}).trim()
        const prefix = path.join(c.env.RUNNER_TOOL_CACHE!, 'node', version.replace(/^v/u, ''), 'x64')
        fs.mkdirSync(path.join(prefix, 'bin'), {recursive: true})
        c.exportVariable('NPM_CONFIG_PREFIX', prefix)
        c.addPath(path.join(prefix, 'bin'))
        c.log(`node ${version} (the workflow asks for ${c.inputs['node-version'] ?? 'any'}); npm prefix ${prefix}`)
      },
    },
    'azure/setup-helm': toolOnPath('helm', ['version', '--short'], ['version']),
    'loft-sh/setup-vcluster': toolOnPath('vcluster', ['--version'], ['version']),
    'hashicorp/setup-terraform': toolOnPath('terraform', ['version'], ['terraform_version', 'terraform_wrapper'], (c) => {
      if (c.inputs.terraform_wrapper !== 'false') throw new Error('terraform_wrapper is not modelled: the workflow must set terraform_wrapper: false')
    }),
    'aws-actions/configure-aws-credentials': {
      inputs: ['role-to-assume', 'aws-region'],
      describe: "the S3/STS stand-in's credentials and endpoints exported (AWS_ENDPOINT_URL_*), region from aws-region",
      async run(c) {
        if (!options.aws) throw new Error('no AWS stand-in is configured for this run')
        if (!c.inputs['aws-region']) throw new Error('Input required and not supplied: aws-region')
        if (!c.inputs['role-to-assume']) throw new Error('role-to-assume is empty')
        for (const [name, value] of Object.entries({...options.aws.env, AWS_REGION: c.inputs['aws-region'], AWS_DEFAULT_REGION: c.inputs['aws-region']})) c.exportVariable(name, value)
        c.log(`assumed ${c.inputs['role-to-assume']} (stand-in credentials)`)
      },
    },
  }
  return {actions, pushed}
}

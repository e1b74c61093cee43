// The registry preflight of `idp env up` and `idp deploy`, end to end: the built CLI, the
// Kubernetes stand-in, real helm and terraform, and a real OCI registry (Debian's docker-registry
// on a loopback port) that .idp.yml's image.repository points at. The image must exist before
// anything changes.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type DeployWorld, startDeployWorld} from '../fixtures/deploy/world.js'
import {type EnvWorld, startEnvWorld} from '../fixtures/env/world.js'
import {startRegistry, type TestRegistry} from '../support/registry/index.js'
import {filesUnder} from '../support/files.js'

// The worlds skip the check (their fixtures' image is on ghcr.io); these tests turn it back on.
const CHECK = {IDP_SKIP_IMAGE_CHECK: undefined}
const CANARY = 'canary-registry-secret-93c1e7'

let open: TestRegistry
let basic: TestRegistry

beforeAll(async () => {
  ;[open, basic] = await Promise.all([startRegistry(), startRegistry({kind: 'htpasswd', users: [{username: 'ci', password: CANARY}]})])
  await Promise.all([open.push('acme/shop', 'abc1234'), basic.push('acme/shop', 'abc1234')])
})

afterAll(async () => {
  await Promise.all([open?.stop(), basic?.stop()])
})

/** Point image.repository of a project's .idp.yml at another registry. */
function useRegistry(project: string, host: string): void {
  const file = path.join(project, '.idp.yml')
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/image: \{repository: [^,]+,/u, `image: {repository: ${host}/acme/shop,`))
}

/** Every file under a directory, concatenated (journals, kubeconfigs, values files). */
function allFiles(dir: string): string {
  if (!fs.existsSync(dir)) return ''
  return filesUnder(dir)
    .map((file) => fs.readFileSync(file, 'utf8'))
    .join('\n')
}

describe('idp env up', () => {
  let world: EnvWorld
  const store = () => world.kube.store()
  const changes = (from: number) => world.kube.requests().slice(from).filter((r) => r.method !== 'GET')

  beforeAll(async () => {
    world = await startEnvWorld()
    useRegistry(world.project, open.host)
  })
  afterAll(async () => {
    await world?.stop()
  })

  it('the image is in the registry: env up proceeds and reports its digest', async () => {
    const digest = await open.push('acme/shop', 'feed123')
    const up = await world.run(['env', 'up', 'ns-img', '--sha', 'feed123', '--json'], {env: CHECK})
    expect(up.stderr).toBe('')
    expect(up.code).toBe(0)
    expect(up.json.result.image).toEqual({image: `${open.host}/acme/shop:feed123`, status: 'present', digest, mediaType: 'application/vnd.oci.image.manifest.v1+json'})
    expect(store().get('apps/v1', 'Deployment', 'shop', 'shop-ns-img')).toBeDefined()
  })

  it('the tag was never pushed: exit 4 naming the image, before any change (no namespace, release, lock or terraform workspace)', async () => {
    const seen = world.kube.requests().length
    const up = await world.run(['env', 'up', 'pr-9', '--sha', 'dead999', '--json'], {env: CHECK})
    expect(up.code).toBe(4)
    expect(up.json.error.code).toBe('PREREQUISITE')
    expect(up.json.error.message).toBe(`Image ${open.host}/acme/shop:dead999 does not exist (${open.host} answered 404 MANIFEST_UNKNOWN: no manifest for tag dead999). Did the build job push it?`)
    expect(up.json.error.hint).toContain('--skip-image-check')
    expect(up.json.error.details).toMatchObject({image: `${open.host}/acme/shop:dead999`, registryStatus: 404, registryCode: 'MANIFEST_UNKNOWN'})
    expect(changes(seen)).toEqual([])
    expect(store().get('v1', 'Namespace', 'shop-pr-9')).toBeUndefined()
    expect(store().list('v1', 'Secret', 'shop-pr-9')).toEqual([])
    expect(store().get('coordination.k8s.io/v1', 'Lease', 'idp-shop-pr-9', 'default')).toBeUndefined()
    expect(fs.existsSync(path.join(world.project, 'infra', 'terraform.tfstate.d', 'shop-pr-9'))).toBe(false)
    expect(fs.existsSync(path.join(world.stateDir, 'idp', 'envs', 'shop', 'pr-9'))).toBe(false)
  })

  it('the human error says the same on stderr', async () => {
    const up = await world.run(['env', 'up', 'pr-9', '--sha', 'dead999'], {env: CHECK})
    expect(up.code).toBe(4)
    expect(up.stdout).toBe('')
    expect(up.stderr).toContain(`Image ${open.host}/acme/shop:dead999 does not exist`)
    expect(up.stderr).toContain('Did the build job push it?')
  })

  it('--dry-run reports the missing image as a warning and prints the plan (exit 0)', async () => {
    const up = await world.run(['env', 'up', 'pr-9', '--sha', 'dead999', '--dry-run', '--json'], {env: CHECK})
    expect(up.code).toBe(0)
    expect(up.json.result.image).toMatchObject({image: `${open.host}/acme/shop:dead999`, status: 'missing'})
    expect(up.json.result.plan.steps.length).toBeGreaterThan(3)
    expect(up.json.warnings).toEqual([expect.stringMatching(/^Image .*acme\/shop:dead999 does not exist .*Did the build job push it\? \(a real run stops here\)$/u)])
    const human = await world.run(['env', 'up', 'pr-9', '--sha', 'dead999', '--dry-run'], {env: CHECK})
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('Plan: Bring up environment pr-9 of shop')
    expect(human.stderr).toContain('does not exist')
  })

  it('--skip-image-check (or IDP_SKIP_IMAGE_CHECK=true) does not ask the registry', async () => {
    for (const [args, env] of [
      [['--skip-image-check'], CHECK],
      [[], {IDP_SKIP_IMAGE_CHECK: 'true'}],
    ] as const) {
      const up = await world.run(['env', 'up', 'pr-9', '--sha', 'dead999', '--dry-run', '--json', ...args], {env})
      expect(up.code).toBe(0)
      expect(up.json.result.image).toEqual({image: `${open.host}/acme/shop:dead999`, status: 'skipped', reason: '--skip-image-check'})
      expect(up.json.warnings).toEqual([])
    }
  })

  it('a missing tool and a missing image are reported together (exit 4)', async () => {
    const up = await world.run(['env', 'up', 'ns-both', '--sha', 'dead999', '--json'], {env: {...CHECK, PATH: '/usr/bin:/bin'}})
    expect(up.code).toBe(4)
    expect(up.json.error.message).toMatch(/^2 prerequisites are not met:\n {2}- .*helm.*\n {2}- Image .*acme\/shop:dead999 does not exist/u)
    expect(up.json.error.details.problems.map((p: {code: string}) => p.code)).toEqual(['PREREQUISITE', 'PREREQUISITE'])
    expect(store().get('v1', 'Namespace', 'shop-ns-both')).toBeUndefined()
  })

  it('an unreachable registry: exit 6 before any change', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const {port: free} = server.address() as net.AddressInfo
        server.close(() => resolve(free))
      })
    })
    useRegistry(world.project, `127.0.0.1:${port}`)
    try {
      const seen = world.kube.requests().length
      const up = await world.run(['env', 'up', 'ns-unreach', '--sha', 'abc1234', '--json'], {env: CHECK})
      expect(up.code).toBe(6)
      expect(up.json.error.code).toBe('REMOTE')
      expect(up.json.error.message).toContain(`Registry 127.0.0.1:${port} is unreachable (ECONNREFUSED`)
      expect(changes(seen)).toEqual([])
    } finally {
      useRegistry(world.project, open.host)
    }
  })

  it('Ctrl-C while the registry does not answer: exit 130, nothing created', async () => {
    const sockets = new Set<net.Socket>()
    const silent = net.createServer((socket) => sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    useRegistry(world.project, `127.0.0.1:${(silent.address() as net.AddressInfo).port}`)
    try {
      const up = await world.run(['env', 'up', 'ns-ctrlc', '--sha', 'abc1234'], {
        env: CHECK,
        onSpawn: (child) => {
          // Interrupt once the CLI has connected to the registry.
          silent.once('connection', () => setTimeout(() => child.kill('SIGINT'), 100))
        },
      })
      expect(up.code).toBe(130)
      expect(up.stderr).toContain('Cancelled')
      expect(store().get('v1', 'Namespace', 'shop-ns-ctrlc')).toBeUndefined()
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
      useRegistry(world.project, open.host)
    }
  })

  describe('a registry with htpasswd (Basic) auth', () => {
    beforeAll(() => useRegistry(world.project, basic.host))
    afterAll(() => useRegistry(world.project, open.host))

    it('without credentials: exit 4 saying which variables to set', async () => {
      const up = await world.run(['env', 'up', 'ns-auth', '--sha', 'abc1234', '--json'], {env: CHECK})
      expect(up.code).toBe(4)
      expect(up.json.error.message).toContain(`Registry ${basic.host} needs credentials to read acme/shop (401)`)
      expect(up.json.error.hint).toBe(`Set IDP_REGISTRY_USERNAME and IDP_REGISTRY_PASSWORD (a password or token with pull access to ${basic.host}) and IDP_REGISTRY_HOST (${basic.host}) in the environment. Pass --skip-image-check (IDP_SKIP_IMAGE_CHECK=true) only if the cluster pulls from a registry this machine cannot reach.`)
      expect(store().get('v1', 'Namespace', 'shop-ns-auth')).toBeUndefined()
    })

    it('with IDP_REGISTRY_USERNAME/PASSWORD: proceeds; the password appears in no output, no --json and no file idp wrote', async () => {
      const env = {...CHECK, IDP_REGISTRY_USERNAME: 'ci', IDP_REGISTRY_PASSWORD: CANARY, IDP_REGISTRY_HOST: basic.host}
      const json = await world.run(['env', 'up', 'ns-auth', '--sha', 'abc1234', '--json'], {env})
      expect(json.code).toBe(0)
      expect(json.json.result.image).toMatchObject({status: 'present'})
      const verbose = await world.run(['env', 'up', 'ns-auth', '--sha', 'abc1234', '--verbose'], {env})
      expect(verbose.code).toBe(0)
      const wrong = await world.run(['env', 'up', 'ns-auth', '--sha', 'abc1234', '--json', '--verbose'], {env: {...env, IDP_REGISTRY_PASSWORD: `${CANARY}-wrong`}})
      expect(wrong.code).toBe(4)
      expect(wrong.json.error.message).toContain('refused the credentials from IDP_REGISTRY_USERNAME/IDP_REGISTRY_PASSWORD')
      const basicHeader = Buffer.from(`ci:${CANARY}`).toString('base64')
      for (const text of [json.stdout, json.stderr, verbose.stdout, verbose.stderr, wrong.stdout, wrong.stderr, allFiles(world.stateDir), allFiles(world.home)]) {
        expect(text).not.toContain(CANARY)
        expect(text).not.toContain(basicHeader)
      }
    })
  })
})

describe('idp deploy', () => {
  let world: DeployWorld
  const store = () => world.kube.store()

  beforeAll(async () => {
    world = await startDeployWorld()
    useRegistry(world.projects.helm, open.host)
    useRegistry(world.projects.argocd, open.host)
  })
  afterAll(async () => {
    await world?.stop()
  })

  it('the image (image.tag from the commit) is not in the registry: exit 4 before any change', async () => {
    const seen = world.kube.requests().length
    const out = await world.run(['deploy', 'staging', '--image-tag', 'v9.9.9', '--json'], {project: 'helm', env: CHECK})
    expect(out.code).toBe(4)
    expect(out.json.error.message).toContain(`Image ${open.host}/acme/shop:v9.9.9 does not exist`)
    expect(out.json.error.message).toContain('Did the build job push it?')
    expect(world.kube.requests().slice(seen).filter((r) => r.method !== 'GET')).toEqual([])
    expect(store().list('v1', 'Secret', 'shop-staging')).toEqual([])
  })

  it('the image exists: the helm deploy proceeds and reports it', async () => {
    const out = await world.run(['deploy', 'staging', '--json'], {project: 'helm', env: CHECK})
    expect(out.code).toBe(0)
    expect(out.json.result).toMatchObject({imageTag: 'abc1234', image: {image: `${open.host}/acme/shop:abc1234`, status: 'present'}})
  })

  it('argocd strategy, --dry-run: the missing image is a warning, the plan is printed', async () => {
    const out = await world.run(['deploy', 'staging', '--image-tag', 'v9.9.9', '--dry-run', '--json'], {env: CHECK})
    expect(out.code).toBe(0)
    expect(out.json.result.image).toMatchObject({status: 'missing'})
    expect(out.json.warnings).toEqual([expect.stringContaining('does not exist')])
    expect(out.json.result.plan.steps.map((s: {id: string}) => s.id)).toContain('app')
  })
})

// One copy of each Terraform provider, not one per environment (docs/environments.md, "Terraform
// providers"): the built CLI, real terraform installing the real hashicorp/aws (~700 MB) from a
// packed mirror made of the machine's offline one (as a registry download, terraform unpacks it),
// the Kubernetes stand-in. Two `env up`s: the second environment's data dir links to the one
// copy in idp's plugin cache; two at once: one waits for the other's init, both succeed; the
// user's own TF_PLUGIN_CACHE_DIR wins; the dependency lock file is what terraform writes without
// a cache.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type EnvWorld, startEnvWorld} from '../fixtures/env/world.js'
import {mirrorConfig, type PackedProvider, packedAwsMirror, unpackedMirror} from '../support/tf-packed-mirror.js'
import {toolEnv} from '../support/tool-env.js'

let world: EnvWorld
let aws: PackedProvider
let rc: string

const lockFile = () => path.join(world.project, 'infra', '.terraform.lock.hcl')
const dataDir = (env: string) => path.join(world.stateDir, 'idp', 'envs', 'shop', env, 'terraform')
const providerIn = (root: string) => path.join(root, 'registry.terraform.io', 'hashicorp', 'aws', aws.version, aws.platform)
const binaryIn = (dir: string) => path.join(dir, fs.readdirSync(dir).find((name) => name.startsWith('terraform-provider-aws'))!)

/** Bytes of the regular files under `dir`, links not followed (what `du` counts for the directory itself). */
function ownBytes(dir: string): number {
  let sum = 0
  for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) sum += ownBytes(full)
    else if (entry.isFile()) sum += fs.statSync(full).size
  }
  return sum
}

beforeAll(async () => {
  aws = await packedAwsMirror()
  world = await startEnvWorld()
  rc = mirrorConfig(path.join(world.root, 'terraformrc'), aws.mirror)
  // The fixture's module, plus the provider every bundled template's infra uses.
  fs.writeFileSync(path.join(world.project, 'infra', 'versions.tf'), 'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "~> 5.0"\n    }\n  }\n}\n')
}, 180_000)

afterAll(async () => {
  await world?.stop()
})

describe('terraform providers: one copy in idp plugin cache', () => {
  it('the second environment links to the provider the first one installed; the lock file is as without a cache', async () => {
    const env = {TF_CLI_CONFIG_FILE: rc}
    const first = await world.run(['env', 'up', 'pr-1', '--sha', 'abc1234', '--json'], {env})
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const second = await world.run(['env', 'up', 'pr-2', '--sha', 'abc1234', '--json'], {env})
    expect(second.code).toBe(0)

    // One copy, in idp's cache directory.
    const cache = path.join(world.home, '.cache', 'idp', 'terraform-plugins')
    const cached = binaryIn(providerIn(cache))
    expect(fs.lstatSync(cached).isFile()).toBe(true)
    expect(fs.statSync(cached).size).toBeGreaterThan(aws.unpackedBytes * 0.9)
    for (const name of ['pr-1', 'pr-2']) {
      const linked = providerIn(path.join(dataDir(name), 'providers'))
      expect(fs.lstatSync(linked).isSymbolicLink()).toBe(true)
      expect(fs.realpathSync(linked)).toBe(fs.realpathSync(providerIn(cache)))
      expect(fs.statSync(binaryIn(linked)).ino).toBe(fs.statSync(cached).ino)
      // The data dir itself holds no provider: kilobytes, not hundreds of megabytes.
      expect(ownBytes(dataDir(name))).toBeLessThan(1024 * 1024)
    }
    // The plan says so, and a printed command carries it: the init step's environment.
    const init = (first.json.result.plan.steps as Array<{id: string; action: {env?: Record<string, string>}}>).find((step) => step.id === 'terraform-init')!
    expect(init.action.env).toMatchObject({TF_PLUGIN_CACHE_DIR: cache})

    // The dependency lock file is what terraform writes with no cache (the unpacked mirror, its own data dir).
    const plain = path.join(world.root, 'plain')
    fs.cpSync(path.join(world.project, 'infra'), plain, {recursive: true})
    fs.rmSync(path.join(plain, '.terraform.lock.hcl'))
    fs.writeFileSync(path.join(plain, 'main.tf'), fs.readFileSync(path.join(plain, 'main.tf'), 'utf8').replace(/backend "kubernetes" \{\}/u, ''))
    execFileSync('terraform', ['init', '-input=false', '-no-color'], {cwd: plain, env: toolEnv({env: {TF_CLI_CONFIG_FILE: mirrorConfig(path.join(world.root, 'plain.rc'), unpackedMirror()), TF_DATA_DIR: path.join(world.root, 'plain-data')}}), stdio: 'pipe'})
    expect(fs.readFileSync(lockFile(), 'utf8')).toBe(fs.readFileSync(path.join(plain, '.terraform.lock.hcl'), 'utf8'))

    // env down leaves the shared cache alone.
    const down = await world.run(['env', 'down', 'pr-1', '--json'], {env})
    expect(down.code).toBe(0)
    // Its own data dir is gone (links removed, not followed): the cache keeps the provider.
    expect(fs.existsSync(dataDir('pr-1'))).toBe(false)
    expect(fs.statSync(cached).size).toBeGreaterThan(aws.unpackedBytes * 0.9)
    expect(fs.realpathSync(providerIn(path.join(dataDir('pr-2'), 'providers')))).toBe(fs.realpathSync(providerIn(cache)))
  }, 300_000)

  it('two env ups at once into an empty cache: one init waits for the other, both succeed, one copy', async () => {
    // A fresh cache and no lock file: both inits would install the provider into the cache.
    const cacheHome = path.join(world.root, 'cache-concurrent')
    fs.rmSync(lockFile(), {force: true})
    const env = {TF_CLI_CONFIG_FILE: rc, XDG_CACHE_HOME: cacheHome}
    const [a, b] = await Promise.all([world.run(['env', 'up', 'pr-3', '--sha', 'abc1234', '--json', '--verbose'], {env}), world.run(['env', 'up', 'pr-4', '--sha', 'abc1234', '--json', '--verbose'], {env})])
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    const waited = [a, b].filter((run) => /waiting for process \d+ to finish its terraform init with the plugin cache/u.test(run.stderr))
    expect(waited).toHaveLength(1)
    const cache = path.join(cacheHome, 'idp', 'terraform-plugins')
    expect(fs.lstatSync(binaryIn(providerIn(cache))).isFile()).toBe(true)
    for (const name of ['pr-3', 'pr-4']) expect(fs.realpathSync(providerIn(path.join(dataDir(name), 'providers')))).toBe(fs.realpathSync(providerIn(cache)))
    // The lock is gone once both are done.
    expect(fs.readdirSync(path.join(cacheHome, 'idp', 'locks')).filter((name) => name.endsWith('.lock'))).toEqual([])
    expect(fs.readFileSync(lockFile(), 'utf8')).toMatch(/provider "registry.terraform.io\/hashicorp\/aws"[\s\S]*h1:/u)
  }, 300_000)

  it("the user's TF_PLUGIN_CACHE_DIR wins: idp adds none, terraform uses theirs", async () => {
    const theirs = path.join(world.root, 'their-plugin-cache')
    fs.mkdirSync(theirs)
    const cacheHome = path.join(world.root, 'cache-user')
    const env = {TF_CLI_CONFIG_FILE: rc, XDG_CACHE_HOME: cacheHome, TF_PLUGIN_CACHE_DIR: theirs}
    const up = await world.run(['env', 'up', 'pr-5', '--sha', 'abc1234', '--json'], {env})
    expect(up.code, up.stderr).toBe(0)
    const init = (up.json.result.plan.steps as Array<{id: string; action: {env?: Record<string, string>}}>).find((step) => step.id === 'terraform-init')!
    expect(init.action.env).not.toHaveProperty('TF_PLUGIN_CACHE_DIR')
    expect(fs.realpathSync(providerIn(path.join(dataDir('pr-5'), 'providers')))).toBe(fs.realpathSync(providerIn(theirs)))
    expect(fs.existsSync(path.join(cacheHome, 'idp', 'terraform-plugins'))).toBe(false)
  }, 300_000)
})

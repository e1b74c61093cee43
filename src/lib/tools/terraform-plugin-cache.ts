/**
 * One copy of each Terraform provider on the machine, not one per environment: idp runs
 * terraform with a working directory (TF_DATA_DIR) per environment, and without a plugin cache
 * `terraform init` unpacks every provider into each (hashicorp/aws alone is ~700 MB). So unless
 * the user has a plugin cache of their own, idp gives terraform one, Terraform's own
 * mechanism (TF_PLUGIN_CACHE_DIR), in idp's cache directory: `terraform-plugins/`.
 *
 * - The user's setup wins: TF_PLUGIN_CACHE_DIR in the environment (even empty, which turns the
 *   cache off), or `plugin_cache_dir` in their CLI configuration (TF_CLI_CONFIG_FILE, else
 *   ~/.terraformrc, and *.tfrc in ~/.terraform.d, as terraform reads them).
 * - Terraform does not lock the cache: two `terraform init`s installing into it at once may
 *   break an entry. The ToolRunner runs every `terraform init` that uses a plugin cache under a
 *   lock between idp processes (pluginCacheLockFile), whoever's cache it is.
 * - The dependency lock file stays Terraform's: idp does not set
 *   TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE, so Terraform (>= 1.4) links a cache entry
 *   only when .terraform.lock.hcl records a checksum it matches, and otherwise installs from the
 *   origin (registry or mirror) into the cache, checking and recording the checksums as it would
 *   without a cache.
 */
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'

import {cachePathOf, digest} from '../cli/cache.js'

export const PLUGIN_CACHE_ENV = 'TF_PLUGIN_CACHE_DIR'

/** Where terraform's plugin cache is, and who said so. */
export type PluginCacheSetting =
  | {from: 'idp'; dir: string}
  /** The environment's TF_PLUGIN_CACHE_DIR; empty: the user turned the cache off. */
  | {from: 'env'; dir: string}
  | {from: 'cli-config'; dir: string; file: string}

/** idp's plugin cache: `terraform-plugins` in idp's cache directory. */
export function idpPluginCacheDir(env: NodeJS.ProcessEnv): string {
  return cachePathOf(env, 'terraform-plugins')
}

/** The lock idp's processes take around a `terraform init` that uses the plugin cache `dir`. */
export function pluginCacheLockFile(env: NodeJS.ProcessEnv, dir: string): string {
  return cachePathOf(env, 'locks', `terraform-plugin-cache-${digest(path.resolve(dir)).slice(0, 16)}.lock`)
}

/** Comments out of HCL text (`#`, `//`, `/* *\/`), strings kept as they are. */
function withoutComments(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === '"') {
      const start = i
      for (i++; i < text.length && text[i] !== '"' && text[i] !== '\n'; i++) if (text[i] === '\\') i++
      out += text.slice(start, i + 1)
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++
      out += '\n'
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end === -1 ? text.length : end + 1
      out += ' '
    } else out += c
  }
  return out
}

/** The plugin_cache_dir a CLI configuration file sets (HCL or .json), or undefined. */
export function pluginCacheDirOf(text: string, file: string): string | undefined {
  if (file.endsWith('.json')) {
    try {
      const value = (JSON.parse(text) as {plugin_cache_dir?: unknown}).plugin_cache_dir
      return typeof value === 'string' && value !== '' ? value : undefined
    } catch {
      return undefined
    }
  }
  // A top-level attribute: at the start of a line (blocks such as provider_installation hold no such attribute).
  const match = /^[ \t]*plugin_cache_dir[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"/mu.exec(withoutComments(text))
  return match?.[1] ? match[1].replaceAll(/\\(.)/gu, '$1') : undefined
}

/** The CLI configuration files terraform reads, in its order: the main file, then the config directory's. */
async function cliConfigFiles(env: NodeJS.ProcessEnv): Promise<string[]> {
  const home = env.HOME ?? env.USERPROFILE
  const files: string[] = []
  if (env.TF_CLI_CONFIG_FILE) files.push(env.TF_CLI_CONFIG_FILE)
  else if (home) files.push(path.join(home, process.platform === 'win32' ? 'terraform.rc' : '.terraformrc'))
  if (home) {
    const dir = path.join(home, '.terraform.d')
    const names = await readdir(dir).catch(() => [] as string[])
    files.push(...names.filter((name) => name.endsWith('.tfrc') || name.endsWith('.tfrc.json')).sort().map((name) => path.join(dir, name)))
  }
  return files
}

/** The plugin cache the user set up: TF_PLUGIN_CACHE_DIR (even empty), else plugin_cache_dir of a CLI configuration file. */
export async function userPluginCache(env: NodeJS.ProcessEnv): Promise<PluginCacheSetting | undefined> {
  if (env[PLUGIN_CACHE_ENV] !== undefined) return {from: 'env', dir: env[PLUGIN_CACHE_ENV]}
  let found: PluginCacheSetting | undefined
  for (const file of await cliConfigFiles(env)) {
    const text = await readFile(file, 'utf8').catch(() => undefined)
    const dir = text === undefined ? undefined : pluginCacheDirOf(text, file)
    // Later files override earlier ones, as terraform merges them.
    if (dir) found = {from: 'cli-config', dir, file}
  }
  return found
}

/**
 * The plugin cache idp gives terraform (its TF_PLUGIN_CACHE_DIR), or undefined when the user has
 * one of their own or turned it off: then idp adds nothing to terraform's environment.
 */
export async function idpPluginCacheFor(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return (await userPluginCache(env)) ? undefined : idpPluginCacheDir(env)
}

/** The plugin cache a terraform process with this (whole) environment uses; undefined: none. */
export async function effectivePluginCache(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const setting = await userPluginCache(env)
  return setting?.dir || undefined
}

/**
 * Answers idp keeps so as not to work them out again: tool versions per binary, the validated
 * .idp.yml, V8's compiled code of the vendored scripts, the private copy of a host kubeconfig
 * (across runs, on disk), and the reachability of a cluster (within one run, in memory). A kept
 * answer is only ever a shortcut, so every cache follows the same three rules:
 *
 * - Its key is a hash of everything the answer depends on, the idp build included (another build
 *   may work it out differently). Secrets never reach a key or a file name as text, only hashed.
 * - An entry is checked before use: its layout version, its key, its shape. Anything else (no
 *   file, a corrupt or foreign file, an older layout, another build) is a miss, never an error.
 * - It is written whole or not at all, 0600 in a 0700 directory (writePrivateFile), and a write
 *   that fails costs the next run the work again, never the command its result.
 *
 * dist/vendor/loader.cjs, which bin/run.js requires before anything else, is built from this
 * module too: it must stay small, synchronous where the loader reads, and import no dependency.
 */
import {createHash} from 'node:crypto'
import type {BigIntStats} from 'node:fs'
import {readFileSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {BUILD_ID} from './build.js'
import {cacheDir, writePrivateFile} from './paths.js'

/**
 * sha256 (hex) of the parts joined by NUL: no path, name, version or identity holds one, and free
 * text (a config) comes last, so two lists of parts never join to the same text.
 */
export function digest(...parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex')
}

/** The key of an answer worked out from `inputs` by this build (from source: "source"). */
export function cacheKey(...inputs: readonly string[]): string {
  return digest(BUILD_ID ?? 'source', ...inputs)
}

/** A file under idp's cache directory (`$XDG_CACHE_HOME/idp`). */
export function cachePath(...parts: string[]): string {
  return cachePathOf(process.env, ...parts)
}

/** cachePath as `env` places idp's cache directory (a service's deps.env, a tool's environment). */
export function cachePathOf(env: NodeJS.ProcessEnv, ...parts: string[]): string {
  return path.join(cacheDir(env), ...parts)
}

/**
 * The file of one entry in `dir`, named by a hash of what it is for (a binary, a config file), so
 * no user path reaches a file name and a slot is reused, not added, when its answer changes.
 */
export function entryFile(dir: string, slot: string): string {
  return path.join(dir, `${digest(slot).slice(0, 32)}.json`)
}

/** A valid check for entries whose value is a JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A file's identity, as an input of a key: device, inode, size, and modification and change
 * times in nanoseconds. A rewrite, a replacement (new inode) or a chmod (new ctime) makes a new
 * identity, and so a miss.
 */
export function fileIdentity(info: BigIntStats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`
}

/**
 * The bytes kept in `file`, or undefined for a miss. Synchronous for the code-cache loader, which
 * needs the data before it compiles and runs ahead of any event loop work.
 */
export function readKeptSync(file: string): Buffer | undefined {
  try {
    return readFileSync(file)
  } catch {
    return undefined
  }
}

/** Keep `data` in `file`: whether it was written. Never throws: a cache is only a shortcut. */
export async function keep(file: string, data: string | Uint8Array): Promise<boolean> {
  try {
    await writePrivateFile(file, data)
    return true
  } catch {
    return false
  }
}

/** What a cache keeps per entry; `about` fields beside these say, for people, what it came from. */
export interface CacheEntry<T> {
  version: number
  key: string
  value: T
}

export interface CacheOptions {
  /** The layout of the entries: bumped when it changes, so an entry of an older idp is a miss. */
  version: number
  /** The cache's own check of a kept value (its shape); any value passes without one. */
  valid?: (value: unknown) => boolean
}

/** Answers kept within this process: the same checks as a file's, plus an age limit. */
export interface Memo<T> {
  get(slot: string, key: string): T | undefined
  set(slot: string, key: string, value: T): void
}

export interface Cache<T> {
  /** The value of a kept entry when it is of this layout, this key and a valid shape. */
  check(entry: unknown, key: string): T | undefined
  /** The value kept in `file` under `key`; undefined for a miss of any kind. */
  read(file: string, key: string): Promise<T | undefined>
  /** Keep `value` under `key` in `file`, whole; whether it was written. Never throws. */
  write(file: string, key: string, value: T, about?: Record<string, unknown>): Promise<boolean>
  /** One entry per slot, in memory, each answering for `freshMs` after it was set. */
  memo(freshMs?: number): Memo<T>
}

export function defineCache<T>(options: CacheOptions): Cache<T> {
  const check = (entry: unknown, key: string): T | undefined => {
    if (!entry || typeof entry !== 'object') return undefined
    const {version, key: kept, value} = entry as Partial<CacheEntry<unknown>>
    if (version !== options.version || kept !== key || value === undefined) return undefined
    return !options.valid || options.valid(value) ? (value as T) : undefined
  }
  return {
    check,
    async read(file, key) {
      try {
        return check(JSON.parse(await readFile(file, 'utf8')), key)
      } catch {
        return undefined
      }
    },
    write(file, key, value, about = {}) {
      const entry: CacheEntry<T> = {version: options.version, key, value}
      return keep(file, `${JSON.stringify({...about, ...entry})}\n`)
    },
    memo(freshMs = Number.POSITIVE_INFINITY) {
      const entries = new Map<string, {entry: CacheEntry<T>; at: number}>()
      return {
        get: (slot, key) => {
          const kept = entries.get(slot)
          return kept && Date.now() - kept.at <= freshMs ? check(kept.entry, key) : undefined
        },
        set: (slot, key, value) => void entries.set(slot, {entry: {version: options.version, key, value}, at: Date.now()}),
      }
    },
  }
}

import {realpath} from 'node:fs/promises'
import path from 'node:path'

import {BUILD_ID} from '../cli/build.js'
import {cacheKey, cachePath, defineCache, entryFile, isRecord} from '../cli/cache.js'
import {ConfigError} from '../cli/errors.js'
import {displayPath, MAX_INPUT_BYTES, readBoundedText} from '../cli/paths.js'
import {gitRoot} from '../tools/git-files.js'
import type {IdpConfig} from './schema.js'

/** File names searched for, in this order, in each directory. */
export const CONFIG_FILE_NAMES = ['.idp.yml', '.idp.yaml'] as const

export interface LoadedConfig {
  config: IdpConfig
  /** Absolute path of the file. */
  filepath: string
  /** Directory of the file: relative paths in the config are relative to it. */
  root: string
}

export interface LoadConfigOptions {
  /** Where the search starts (usually --dir). */
  dir: string
  /** An explicit file (relative to `dir`); no search then. */
  file?: string
  /** Throw a ConfigError when no file is found, instead of returning undefined. */
  required?: boolean
  /** Its IDP_CONFIG names the file (relative to `dir`) when `file` does not: for every command alike. */
  env?: NodeJS.ProcessEnv
}

/**
 * Find and validate `.idp.yml`: `file` if given, else the first of CONFIG_FILE_NAMES in `dir`
 * and its parents up to the git root (a repository's config never comes from outside it; outside
 * a repository only `dir` itself is searched). Every problem in the file is reported in one
 * ConfigError.
 */
export async function loadConfig(options: LoadConfigOptions & {required: true}): Promise<LoadedConfig>
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig | undefined>
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig | undefined> {
  const dir = path.resolve(options.dir)
  const file = options.file || options.env?.IDP_CONFIG || undefined
  if (file) {
    const filepath = path.resolve(dir, file)
    const text = await readConfigFile(filepath, {hint: 'Check the --file path (it is relative to --dir), or drop --file to search for .idp.yml.'})
    return {config: await parseConfig(text, filepath), filepath, root: path.dirname(filepath)}
  }

  // A plain search of two names rather than a config-loader library (cosmiconfig until issue 6):
  // loading it cost ~13 ms (hyperfine median; 11 ms min, 19 ms mean) at every start, for nothing
  // but these two YAML names. Only YAML is ever read, so nothing in a repository runs as code.
  // What was found must really be inside the repository (outside one: inside --dir).
  const within = gitRoot(dir) ?? dir
  for (const candidate of searchDirs(dir)) {
    for (const name of CONFIG_FILE_NAMES) {
      const filepath = path.join(candidate, name)
      const text = await readConfigFile(filepath, {missingOk: true, within, hint: `Make ${displayPath(filepath)} readable, or name another file with --file.`})
      if (text !== undefined) return {config: await parseConfig(text, filepath), filepath, root: candidate}
    }
  }

  if (!options.required) return undefined
  throw new ConfigError(`No .idp.yml found in ${displayPath(dir)}${gitRoot(dir) && gitRoot(dir) !== dir ? ` or its parents up to ${displayPath(gitRoot(dir)!)}` : ''}.`, [], {
    hint: 'Scaffold a service with `idp create`, or write one: `idp config example` shows every key, explained.',
  })
}

/**
 * The text of a config file. With `missingOk` (searching), a name that is absent or not a file
 * gives undefined; any other failure (permissions, a symlink loop) is a ConfigError naming the
 * file, never a silent skip to another config.
 */
/** Far above any real .idp.yml (a few KB); an 80 MB one took 46 s and 2.7 GB to refuse. */
export const MAX_CONFIG_BYTES = MAX_INPUT_BYTES

interface ReadOptions {
  hint: string
  /** A config found by searching (not named with --file) must really be a file inside this directory, links resolved. */
  within?: string
}

async function readConfigFile(filepath: string, options: ReadOptions & {missingOk: true}): Promise<string | undefined>
async function readConfigFile(filepath: string, options: ReadOptions & {missingOk?: false}): Promise<string>
async function readConfigFile(filepath: string, options: ReadOptions & {missingOk?: boolean}): Promise<string | undefined> {
  try {
    if (options.within) {
      // A repository's .idp.yml that is a link to a file elsewhere (a private key, a kubeconfig)
      // would have that file's lines quoted in every config error: refused before it is read.
      const [real, root] = await Promise.all([realpath(filepath), realpath(options.within)])
      const rel = path.relative(root, real)
      if (rel.startsWith('..') || path.isAbsolute(rel)) {
        throw new ConfigError(`${displayPath(filepath)} is a link to ${real}, outside the repository; idp does not read it.`, [], {hint: 'Make .idp.yml a file of the repository (or name the file you mean with --file).'})
      }
    }
    return await readBoundedText(filepath, MAX_CONFIG_BYTES)
  } catch (error) {
    if (error instanceof ConfigError) throw error
    if ((error as NodeJS.ErrnoException).code === 'EFBIG') {
      throw new ConfigError(`${displayPath(filepath)} is too large: a config file may be at most ${MAX_CONFIG_BYTES} bytes (1 MiB).`, [], {hint: options.hint})
    }
    // A directory (or a FIFO, a device) of that name is not a config file.
    const code = (error as NodeJS.ErrnoException).code === 'ENOTFILE' ? 'EISDIR' : (error as NodeJS.ErrnoException).code
    if (options.missingOk && (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR')) return undefined
    throw new ConfigError(`Cannot read config file ${displayPath(filepath)}: ${code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a directory or not a regular file' : (error as Error).message}.`, [], {
      hint: options.hint,
    })
  }
}


function* searchDirs(dir: string): Generator<string> {
  const stop = gitRoot(dir)
  let current = dir
  yield current
  if (!stop) return
  while (current !== stop) {
    current = path.dirname(current)
    yield current
  }
}

const validConfigs = defineCache<IdpConfig>({version: 2, valid: isRecord})

/**
 * Parse and validate a config's text, remembering the result per file: YAML with positions and the
 * schema are most of what a dry run costs (issue 6), and the same text checked by the same build
 * always gives the same config. The entry is keyed by a hash of the text and of the build (its
 * sources and locked dependencies), so any edit, upgrade or rebuild means a full check; only a
 * valid config is remembered. Without a build id (running from source) nothing is kept: a source
 * edit would not change the key.
 */
async function parseConfig(text: string, filepath: string): Promise<IdpConfig> {
  const key = cacheKey(text)
  const file = BUILD_ID === undefined ? undefined : entryFile(cachePath('config'), filepath)
  const kept = file && (await validConfigs.read(file, key))
  if (kept) return kept
  const {parseConfigText} = await import('./validate.js')
  const config = parseConfigText(text, displayPath(filepath))
  if (file) await validConfigs.write(file, key, config, {file: filepath})
  return config
}

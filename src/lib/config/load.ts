import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {cosmiconfig} from 'cosmiconfig'

import {ConfigError} from '../cli/errors.js'
import type {IdpConfig} from './schema.js'
import {displayPath, parseConfigText} from './validate.js'

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
  const validated = new WeakSet<object>()
  const load = (filepath: string, content: string) => {
    const config = parseConfigText(content, displayPath(filepath))
    validated.add(config)
    return config
  }
  // cosmiconfig per directory ('none'), walking up ourselves: its 'global' strategy would also read
  // ~/.config/idp/config.*, which is not where a service's config lives.
  const explorer = cosmiconfig('idp', {
    searchPlaces: [...CONFIG_FILE_NAMES],
    loaders: {'.yml': load, '.yaml': load},
    searchStrategy: 'none',
    cache: false,
    ignoreEmptySearchPlaces: false,
  })

  if (options.file) {
    // Read directly, not through cosmiconfig: its loaders would execute a .js/.ts file given here.
    const filepath = path.resolve(dir, options.file)
    let text: string
    try {
      text = await readFile(filepath, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      throw new ConfigError(`Cannot read config file ${displayPath(filepath)}: ${code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message}.`, [], {
        hint: 'Check the --file path (it is relative to --dir), or drop --file to search for .idp.yml.',
      })
    }
    return {config: parseConfigText(text, displayPath(filepath)), filepath, root: path.dirname(filepath)}
  }

  let result: {filepath: string; config?: unknown} | null = null
  for (const candidate of searchDirs(dir)) {
    result = await explorer.search(candidate)
    if (result) break
  }

  if (!result) {
    if (!options.required) return undefined
    throw new ConfigError(`No .idp.yml found in ${displayPath(dir)}${gitRoot(dir) && gitRoot(dir) !== dir ? ` or its parents up to ${displayPath(gitRoot(dir)!)}` : ''}.`, [], {
      hint: 'Create one: see .idp.yml.example, or scaffold a service with `idp create`.',
    })
  }
  const filepath = path.resolve(result.filepath)
  let config = result.config as IdpConfig | undefined
  // An empty file (cosmiconfig skips the loader) or a file another loader read: validate it ourselves.
  if (!config || !validated.has(config)) config = parseConfigText(await readFile(filepath, 'utf8'), displayPath(filepath))
  return {config, filepath, root: path.dirname(filepath)}
}

/** The nearest directory at or above `dir` that holds `.git` (a directory, or a file in worktrees). */
export function gitRoot(dir: string): string | undefined {
  let current = path.resolve(dir)
  for (;;) {
    if (existsSync(path.join(current, '.git'))) return current
    const parent = path.dirname(current)
    if (parent === current) return undefined
    current = parent
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

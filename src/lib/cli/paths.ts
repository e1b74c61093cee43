import {randomBytes} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {chmod, mkdir, readFile, rename, rm, stat, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {InternalError} from './errors.js'

/**
 * Where idp keeps its own files (XDG base directories). State holds private kubeconfigs and
 * the apply journal, so it is created 0700: other users on the machine must not read it.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME)) return path.join(env.XDG_STATE_HOME, 'idp')
  if (process.platform === 'win32' && env.LOCALAPPDATA) return path.join(env.LOCALAPPDATA, 'idp', 'state')
  return path.join(home(env), '.local', 'state', 'idp')
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return path.join(env.XDG_CACHE_HOME, 'idp')
  if (process.platform === 'win32' && env.LOCALAPPDATA) return path.join(env.LOCALAPPDATA, 'idp', 'cache')
  return path.join(home(env), '.cache', 'idp')
}

/** Paths relative to the working directory read best in a terminal and stay clickable. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const relative = path.relative(cwd, file)
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file
}

function home(env: NodeJS.ProcessEnv): string {
  return env.HOME || os.homedir()
}

/** Create a private directory (0700) if needed and return it. */
export async function ensurePrivateDir(dir: string): Promise<string> {
  await mkdir(dir, {recursive: true, mode: 0o700})
  // mkdir's mode only applies to directories it creates and is masked by the umask.
  await chmod(dir, 0o700)
  return dir
}

/**
 * Write a file only its owner can read (0600), whole or not at all: written beside it, then
 * renamed, so a crash or a concurrent idp never sees half of it. The directory is created 0700
 * (idp's own directories), or with `userDir` only created if missing (a place the user chose).
 */
export async function writePrivateFile(file: string, data: string | Uint8Array, options: {userDir?: boolean} = {}): Promise<void> {
  if (options.userDir) await mkdir(path.dirname(file), {recursive: true})
  else await ensurePrivateDir(path.dirname(file))
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(temporary, data, {mode: 0o600})
    // The mode of a new file is masked by the umask; a private file must not depend on it.
    await chmod(temporary, 0o600)
    await rename(temporary, file)
  } catch (error) {
    await rm(temporary, {force: true})
    throw error
  }
}

/** The most idp reads of a file a user or a template hands it (.idp.yml, template.yaml, --values). */
export const MAX_INPUT_BYTES = 1024 * 1024

/**
 * The text of a regular file of at most `maxBytes`: a device (/dev/zero), a FIFO or a huge file
 * is refused (an Error with code ENOTFILE or EFBIG) before anything is read, instead of hanging or
 * filling memory. Other failures are fs' own errors.
 */
export async function readBoundedText(file: string, maxBytes = MAX_INPUT_BYTES): Promise<string> {
  const info = await stat(file)
  if (!info.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), {code: 'ENOTFILE'})
  if (info.size > maxBytes) throw Object.assign(new Error(`${file} is ${info.size} bytes; at most ${maxBytes} bytes (1 MiB) are read`), {code: 'EFBIG'})
  return readFile(file, 'utf8')
}

/** idp's name on the npm registry (package.json `name`; the command it installs is `idp`). */
export const PACKAGE_NAME = 'idp-cli'

/**
 * The installed idp package: the nearest folder above this module holding idp's package.json.
 * Walking up (rather than counting folders) holds for the sources, the tsc layout and the bundle:
 * the package root, from src/lib/create or dist/lib/create alike.
 */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = path.join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as {name?: string}).name === PACKAGE_NAME) return dir
      } catch {}
    }
    const parent = path.dirname(dir)
    if (parent === dir) throw new InternalError(`Cannot find the idp package root (no package.json named "${PACKAGE_NAME}" above the installed code).`)
    dir = parent
  }
}


import {chmod, mkdir} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

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

/** The state directory (or a sub-directory of it), created 0700 on demand. */
export async function ensureStateDir(...parts: string[]): Promise<string> {
  const base = await ensurePrivateDir(stateDir())
  return parts.length === 0 ? base : ensurePrivateDir(path.join(base, ...parts))
}

export async function ensureCacheDir(...parts: string[]): Promise<string> {
  const base = await ensurePrivateDir(cacheDir())
  return parts.length === 0 ? base : ensurePrivateDir(path.join(base, ...parts))
}

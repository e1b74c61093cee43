import {mkdtemp, readdir, realpath, rm, stat} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {UsageError} from '../cli/errors.js'
import {packageRoot} from '../cli/paths.js'
import type {ToolRunner} from '../tools/types.js'
import {readTemplateFile, type TemplateDocument} from './template-schema.js'

/**
 * Where templates come from: a bundled NAME (templates/NAME of the installed package), a NAME
 * in an extra directory (--template-dir, .idp.yml templates.dirs), a PATH to a template
 * directory or its template.yaml, or a GIT_URL cloned shallowly into a temporary directory.
 */

export type TemplateSourceKind = 'bundled' | 'dir' | 'path' | 'git'

export interface LoadedTemplate {
  /** metadata.name */
  name: string
  title?: string
  description?: string
  source: TemplateSourceKind
  /** What the user passed (name, path or URL). */
  ref: string
  /** Directory holding template.yaml. */
  dir: string
  file: string
  doc: TemplateDocument
  /** Removes a temporary clone; a no-op for local templates. */
  cleanup(): Promise<void>
}

export interface TemplateListing {
  name: string
  title?: string
  description?: string
  source: 'bundled' | 'dir'
  path: string
}

export function bundledTemplatesDir(): string {
  return path.join(packageRoot(), 'templates')
}

const GIT_URL = /^(?:https?:\/\/|git@|ssh:\/\/|git:\/\/|file:\/\/)|\.git(?:#.*)?$/u

export function isGitUrl(ref: string): boolean {
  return GIT_URL.test(ref)
}

function looksLikePath(ref: string): boolean {
  return ref.includes('/') || ref.includes(path.sep) || ref.startsWith('.') || ref.endsWith('.yaml') || ref.endsWith('.yml')
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  )
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  )
}

/** Templates (subdirectories with a template.yaml) in each directory, extra dirs first. */
export async function listTemplates(extraDirs: readonly string[] = [], options: {includeBundled?: boolean} = {}): Promise<TemplateListing[]> {
  const roots: Array<{dir: string; source: 'bundled' | 'dir'}> = [...extraDirs.map((dir) => ({dir: path.resolve(dir), source: 'dir' as const}))]
  if (options.includeBundled ?? true) roots.push({dir: bundledTemplatesDir(), source: 'bundled'})
  const out: TemplateListing[] = []
  for (const root of roots) {
    if (!(await isDir(root.dir))) {
      if (root.source === 'dir') throw new UsageError(`Template directory ${root.dir} does not exist.`, {hint: 'Check --template-dir and templates.dirs in .idp.yml.'})
      continue
    }
    const entries = (await readdir(root.dir, {withFileTypes: true})).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))
    for (const entry of entries) {
      const file = path.join(root.dir, entry.name, 'template.yaml')
      if (!(await isFile(file))) continue
      const doc = await readTemplateFile(file)
      out.push({name: entry.name, title: doc.metadata.title, description: doc.metadata.description, source: root.source, path: path.join(root.dir, entry.name)})
    }
  }
  return out
}

async function load(dir: string, file: string, source: TemplateSourceKind, ref: string, cleanup: () => Promise<void>): Promise<LoadedTemplate> {
  try {
    const doc = await readTemplateFile(file)
    return {name: doc.metadata.name, title: doc.metadata.title, description: doc.metadata.description, source, ref, dir, file, doc, cleanup}
  } catch (error) {
    await cleanup()
    throw error
  }
}

export interface ResolveTemplateOptions {
  /** --template-dir values, then .idp.yml templates.dirs (absolute or relative to cwd). */
  extraDirs?: readonly string[]
  runner?: ToolRunner
  signal?: AbortSignal
  cwd?: string
}

/** Find and validate a template; nothing is written except a temporary clone for GIT_URL. */
export async function resolveTemplate(ref: string, options: ResolveTemplateOptions = {}): Promise<LoadedTemplate> {
  const noop = async () => {}
  if (isGitUrl(ref)) {
    if (!options.runner) throw new UsageError(`Cannot clone ${ref}: no tool runner.`)
    const [url, subdir = ''] = ref.split('#') as [string, string?]
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'idp-template-'))
    const cleanup = () => rm(tmp, {recursive: true, force: true})
    try {
      await options.runner.run('git', ['clone', '--depth', '1', '--quiet', '--', url, tmp], {signal: options.signal, env: {GIT_TERMINAL_PROMPT: '0'}})
    } catch (error) {
      await cleanup()
      throw error
    }
    const dir = path.resolve(tmp, subdir)
    // Links resolved: a #subdir that is a link in the clone (or a sibling whose name starts like
    // the clone's) would make a directory elsewhere on this machine the template.
    const [realTmp, realDir] = await Promise.all([realpath(tmp), realpath(dir).catch(() => undefined)])
    const relative = realDir === undefined ? '..' : path.relative(realTmp, realDir)
    if (relative.startsWith('..') || path.isAbsolute(relative)) {
      await cleanup()
      throw new UsageError(`${ref}: ${subdir} leads outside the cloned repository.`, {hint: 'Point at a subdirectory of the repository itself (#templates/name), not a link out of it.'})
    }
    if (!(await isFile(path.join(dir, 'template.yaml')))) {
      await cleanup()
      throw new UsageError(`${ref} has no template.yaml${subdir ? ` in ${subdir}` : ' at its root'}.`, {hint: 'Point at a repository (or a #subdirectory of it) that holds a Backstage template.yaml.'})
    }
    return load(dir, path.join(dir, 'template.yaml'), 'git', ref, cleanup)
  }

  const cwd = options.cwd ?? process.cwd()
  if (looksLikePath(ref)) {
    const abs = path.resolve(cwd, ref)
    if (await isFile(abs)) return load(path.dirname(abs), abs, 'path', ref, noop)
    if (await isFile(path.join(abs, 'template.yaml'))) return load(abs, path.join(abs, 'template.yaml'), 'path', ref, noop)
    throw new UsageError(`No template at ${abs}: expected a directory with a template.yaml (or the template.yaml itself).`, {hint: 'Run `idp templates list` to see the available templates.'})
  }

  const dirs = [...(options.extraDirs ?? []).map((d) => ({dir: path.resolve(cwd, d), source: 'dir' as const})), {dir: bundledTemplatesDir(), source: 'bundled' as const}]
  for (const {dir, source} of dirs) {
    const file = path.join(dir, ref, 'template.yaml')
    if (await isFile(file)) return load(path.dirname(file), file, source, ref, noop)
  }
  const known = await listTemplates(options.extraDirs?.map((d) => path.resolve(cwd, d))).catch(() => [])
  throw new UsageError(`Unknown template "${ref}".`, {
    hint: known.length > 0 ? `Available: ${known.map((t) => t.name).join(', ')}. Or pass a path (./my-template) or a git URL.` : 'Pass a path to a template directory or a git URL; `idp templates list` shows the bundled ones.',
  })
}

import {constants as fsConstants} from 'node:fs'
import {chmod, copyFile, lstat, mkdir, readdir, readFile, readlink, realpath, rename, rm, stat, symlink, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {isBinaryFileSync} from 'isbinaryfile'
import picomatch from 'picomatch'

import {ConfigError, UsageError} from '../cli/errors.js'
import {createRenderer, type Renderer, TemplateRenderError} from './render.js'

/**
 * `fetch:template` and `fetch:plain`, as Backstage's scaffolder does them: list every entry of the
 * skeleton (dot files included, symlinks not followed), render paths and contents with `values`,
 * honour copyWithoutTemplating globs and templateFileExtension, copy binary
 * files byte for byte, skip an entry whose rendered path is empty (conditional files).
 *
 * Everything is computed in memory first (planSkeleton), then written (writeSkeleton), so a
 * template error is found before anything is on disk.
 */

export interface FetchSpec {
  kind: 'fetch'
  /** Step id, for messages. */
  id: string
  action: string
  /** Absolute directory (or file for the `:file` actions) to read. */
  source: string
  /** The template's directory: everything read must stay inside it, links resolved. */
  root: string
  /** Relative to the target directory. */
  targetPath: string
  plain: boolean
  values?: Record<string, unknown>
  /** Contents copied as they are, paths still rendered. (copyWithoutRender is gone from Backstage; steps.ts warns and drops it.) */
  copyWithoutTemplating?: string[]
  templateFileExtension?: string | boolean
  cookiecutterCompat?: boolean
  replace?: boolean
  trimBlocks?: boolean
  lstripBlocks?: boolean
}

/** fs:delete: remove files or directories (globs allowed) of the workspace. */
export interface DeleteSpec {
  kind: 'delete'
  id: string
  action: string
  files: string[]
}

/** fs:rename: move files inside the workspace. */
export interface RenameSpec {
  kind: 'rename'
  id: string
  action: string
  files: Array<{from: string; to: string; overwrite?: boolean}>
}

/** The file work of a template, in step order. */
export type FileStep = FetchSpec | DeleteSpec | RenameSpec

export type SkeletonOp =
  | {kind: 'dir'; to: string}
  | {kind: 'write'; to: string; content: string; mode: number}
  | {kind: 'copy'; from: string; to: string; mode: number}
  | {kind: 'symlink'; to: string; target: string}

export interface SkeletonResult {
  ops: SkeletonOp[]
  /** Relative paths of files the run will write, for --dry-run and --json. */
  files: string[]
}

/** A path produced by rendering is relative, has no `..` segment and no `.git` segment. */
export function safeRelativePath(rendered: string, where: string): string {
  const posix = rendered.replace(/\\/gu, '/')
  if (path.isAbsolute(rendered) || posix.startsWith('/') || /^[A-Za-z]:/u.test(posix)) {
    throw new UsageError(`${where}: the rendered path "${rendered}" is absolute; templates may only write inside the target directory.`, {hint: 'Check the value used in the file name; it must not start with "/".'})
  }
  const segments = posix.split('/').filter((s) => s !== '' && s !== '.')
  if (segments.includes('..')) {
    throw new UsageError(`${where}: the rendered path "${rendered}" contains "..", which would write outside the target directory.`, {hint: 'Check the values used in file and directory names.'})
  }
  if (segments.some((s) => s.toLowerCase() === '.git')) {
    // .git/hooks would run code on the initial commit; a template never owns the repository's metadata.
    throw new UsageError(`${where}: the rendered path "${rendered}" is inside .git, which a template may not write.`, {hint: 'Remove the .git entry from the template skeleton.'})
  }
  return segments.join('/')
}

/** Every entry under dir, relative, directories with a trailing "/" (like globby markDirectories). */
async function listEntries(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), {withFileTypes: true})
    entries.sort((a, b) => a.name.localeCompare(b.name))
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        out.push(`${relPath}/`)
        await walk(relPath)
      } else {
        out.push(relPath)
      }
    }
  }
  await walk('')
  return out
}

/**
 * Binary or text, decided as Backstage's fetch:template decides it: with `isbinaryfile` on the
 * first bytes (a NUL byte, more than 10% bytes that are neither text nor UTF-8, a PDF or protobuf
 * signature). Text that is not valid UTF-8 (Latin-1) is text, rendered as UTF-8 like Backstage's
 * readFile('utf-8') reads it.
 */
export function isBinary(buffer: Buffer): boolean {
  return isBinaryFileSync(buffer, buffer.length)
}

function renderError(error: unknown, spec: FetchSpec, entry: string): never {
  if (error instanceof TemplateRenderError) {
    throw new ConfigError(`Template step "${spec.id}" (${spec.action}): cannot render ${entry}: ${error.message}`, [{path: entry, message: error.message}], {
      hint: 'Fix the template expression in that file (values are available as values.<name>).',
    })
  }
  throw error
}

/** The first top-level path segment, splitting only on "/" outside template tags. */
function firstSegment(template: string): string {
  let depth = 0
  for (let i = 0; i < template.length; i++) {
    const two = template.slice(i, i + 2)
    if (two === '{{' || two === '{%' || two === '{#') depth++
    else if (two === '}}' || two === '%}' || two === '#}') depth = Math.max(0, depth - 1)
    else if (template[i] === '/' && depth === 0) return template.slice(0, i)
  }
  return template
}

export async function planSkeleton(spec: FetchSpec, targetRoot: string): Promise<SkeletonResult> {
  const ops: SkeletonOp[] = []
  const files: string[] = []
  const base = safeRelativePath(spec.targetPath || './', `step "${spec.id}" targetPath`)
  const join = (rel: string) => (base ? `${base}/${rel}` : rel)
  const sourceStat = await stat(spec.source).catch(() => undefined)
  if (!sourceStat) throw new ConfigError(`Template step "${spec.id}" (${spec.action}): ${spec.source} does not exist.`, [{path: `steps.${spec.id}.input.url`, message: 'not found'}], {hint: 'Check the step\'s input.url; it is relative to the template.yaml.'})
  // Where the url really leads, links resolved: a skeleton (or a :file url) that is a link to
  // elsewhere would read, and commit, any file the user can read.
  const [realSource, realRoot] = await Promise.all([realpath(spec.source), realpath(spec.root)])
  if (!isInside(realRoot, realSource)) {
    throw new ConfigError(`Template step "${spec.id}" (${spec.action}): ${path.relative(spec.root, spec.source) || '.'} is a link to ${realSource}, outside the template.`, [{path: `steps.${spec.id}.input.url`, message: 'leads outside the template'}], {
      hint: 'A template reads only files inside its own directory; copy that content into the template instead of linking to it.',
    })
  }

  if (sourceStat.isFile()) {
    // fetch:template:file / fetch:plain:file: targetPath is the output file.
    if (!base) throw new ConfigError(`Template step "${spec.id}" (${spec.action}) needs input.targetPath (the file to write).`, [{path: `steps.${spec.id}.input.targetPath`, message: 'required'}])
    const buffer = await readFile(spec.source)
    const mode = sourceStat.mode & 0o777
    if (spec.plain || isBinary(buffer)) ops.push({kind: 'copy', from: spec.source, to: base, mode})
    else {
      let content: string
      try {
        content = rendererFor(spec).renderString(buffer.toString('utf8'), contextFor(spec), path.basename(spec.source))
      } catch (error) {
        renderError(error, spec, path.basename(spec.source))
      }
      ops.push({kind: 'write', to: base, content, mode})
    }
    files.push(base)
    return {ops, files}
  }

  const entries = await listEntries(spec.source)
  const renderer = spec.plain ? undefined : rendererFor(spec)
  const context = contextFor(spec)
  const copyOnly = spec.copyWithoutTemplating ?? []
  const isCopyOnly = copyOnly.length > 0 ? picomatch(copyOnly, {dot: true}) : () => false
  let extension: string | false = false
  if (spec.templateFileExtension) {
    extension = spec.templateFileExtension === true ? '.njk' : spec.templateFileExtension
    if (!extension.startsWith('.')) extension = `.${extension}`
  }

  const render = (text: string, entry: string): string => {
    try {
      return (renderer as Renderer).renderString(text, context, entry)
    } catch (error) {
      return renderError(error, spec, entry)
    }
  }

  for (const entry of entries) {
    const isDir = entry.endsWith('/')
    const bare = isDir ? entry.slice(0, -1) : entry
    let out = bare
    let renderContents: boolean
    if (spec.plain) {
      renderContents = false
    } else if (extension) {
      renderContents = !isDir && path.extname(bare) === extension
      if (renderContents) out = out.slice(0, -extension.length)
      out = render(out, entry)
    } else {
      // Paths are always rendered (Backstage's renderFilename is true since copyWithoutRender went).
      renderContents = !(isCopyOnly(bare) || isCopyOnly(entry))
      out = render(out, entry)
    }
    // Backstage skips entries whose rendered name is empty (conditional files and directories).
    if (out === '' || out.includes('//')) continue
    if (out.startsWith('/')) {
      if (!spec.plain && render(firstSegment(bare), entry) === '') continue
    }
    const rel = join(safeRelativePath(out, `template step "${spec.id}", ${entry}`))
    if (rel === '') continue
    const from = path.join(spec.source, bare)
    const info = await lstat(from)
    if (isDir) {
      ops.push({kind: 'dir', to: rel})
      continue
    }
    if (info.isSymbolicLink()) {
      const target = await readlink(from)
      const root = path.resolve(targetRoot)
      const resolved = path.resolve(path.dirname(path.join(root, rel)), target)
      const inGit = path.relative(root, resolved).split(path.sep)[0]?.toLowerCase() === '.git'
      if (path.isAbsolute(target) || !isInside(root, resolved) || inGit) {
        throw new ConfigError(`Template step "${spec.id}": the symbolic link ${entry} points ${inGit ? 'into .git' : 'outside the new project'} (${target}).`, [{path: entry, message: 'a link out of the project'}], {
          hint: 'A template may contain links only to files inside the project it generates, never into .git; replace the link with the file itself.',
        })
      }
      ops.push({kind: 'symlink', to: rel, target})
      files.push(rel)
      continue
    }
    const buffer = await readFile(from)
    const mode = info.mode & 0o777
    if (!renderContents || isBinary(buffer)) ops.push({kind: 'copy', from, to: rel, mode})
    else ops.push({kind: 'write', to: rel, content: render(buffer.toString('utf8'), entry), mode})
    files.push(rel)
  }
  return {ops, files}
}

function rendererFor(spec: FetchSpec): Renderer {
  return createRenderer({cookiecutterCompat: spec.cookiecutterCompat, trimBlocks: spec.trimBlocks, lstripBlocks: spec.lstripBlocks})
}

function contextFor(spec: FetchSpec): Record<string, unknown> {
  return {[spec.cookiecutterCompat ? 'cookiecutter' : 'values']: spec.values ?? {}}
}

/** Is `real` (a resolved path) the repository metadata of `realRoot`, or inside it? */
function inGit(realRoot: string, real: string): boolean {
  return path.relative(realRoot, real).split(path.sep)[0]?.toLowerCase() === '.git'
}

/**
 * Every link among `paths` (what a render created) must lead, once all of them exist, inside the
 * target and not into .git: two links that each look harmless (`q -> .`, `p -> q/.git`) can
 * make one that is not, whatever order they were written in.
 */
export async function assertLinksInside(targetRoot: string, paths: readonly string[]): Promise<void> {
  const realRoot = await realpath(targetRoot)
  for (const p of paths) {
    if (!(await lstat(p).catch(() => undefined))?.isSymbolicLink()) continue
    const real = await realpath(p).catch(() => undefined)
    if (real !== undefined && (!isInside(realRoot, real) || inGit(realRoot, real))) {
      throw new ConfigError(`The template's link ${path.relative(targetRoot, p)} leads ${inGit(realRoot, real) ? 'into .git' : 'outside the new project'} (${real}), through other links.`, [{path: path.relative(targetRoot, p), message: 'a link out of the project'}], {
        hint: 'A template may contain links only to files inside the project it generates, never into .git; replace the links with the files themselves.',
      })
    }
  }
}

export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate)
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  )
}

/**
 * Write the ops under targetRoot. Before each write, the real parent directory must be inside
 * the real target (a symlinked directory cannot redirect a write). Returns the paths created,
 * in creation order, so a failed run can remove exactly them.
 */
export async function writeSkeleton(ops: SkeletonOp[], targetRoot: string, options: {replace?: boolean; created?: string[]} = {}): Promise<string[]> {
  const created = options.created ?? []
  if (!(await exists(targetRoot))) {
    // mkdir -p reports the first directory it made: everything from there down is this run's.
    const first = await mkdir(targetRoot, {recursive: true})
    if (first) created.push(first)
  }
  const realRoot = await realpath(targetRoot)
  const ensureDir = async (absDir: string): Promise<void> => {
    const rel = path.relative(realRoot, absDir)
    let current = realRoot
    for (const part of rel.split(path.sep).filter(Boolean)) {
      current = path.join(current, part)
      if (!(await exists(current))) {
        await mkdir(current)
        created.push(current)
      }
      const real = await realpath(current)
      if (!isInside(realRoot, real)) throw new UsageError(`Refusing to write through ${current}: it leads outside the target directory.`, {hint: 'The template contains a link that points outside the project.'})
      if (inGit(realRoot, real)) throw new UsageError(`Refusing to write through ${current}: it leads into .git, which a template may not write.`, {hint: 'The template contains a link into the repository metadata; remove it.'})
    }
  }
  for (const op of ops) {
    const to = path.join(realRoot, op.to)
    if (!isInside(realRoot, to)) throw new UsageError(`Refusing to write ${op.to}: outside the target directory.`)
    if (op.kind === 'dir') {
      await ensureDir(to)
      continue
    }
    await ensureDir(path.dirname(to))
    const already = await lstat(to).catch(() => undefined)
    if (already && !options.replace) continue
    if (already?.isSymbolicLink()) {
      // Writing "through" it would change whatever it points at: outside the project, or .git.
      throw new UsageError(`Refusing to replace ${op.to}: it is a symbolic link, and idp never writes through a link.`, {
        hint: 'Remove the link from the target directory (or drop replace: true from the template step), then run again.',
      })
    }
    if (already) await rm(to)
    else created.push(to)
    // O_EXCL: the new entry is created here, never opened through something made meanwhile.
    if (op.kind === 'write') {
      await writeFile(to, op.content, {mode: op.mode, flag: 'wx'})
      await chmod(to, op.mode)
    } else if (op.kind === 'copy') {
      await copyFile(op.from, to, fsConstants.COPYFILE_EXCL)
      await chmod(to, op.mode)
    } else {
      await symlink(op.target, to)
    }
  }
  return created
}

/** Every entry of the target but the repository metadata: a glob of fs:delete never reaches .git. */
async function listAll(root: string): Promise<string[]> {
  return (await listEntries(root)).map((entry) => entry.replace(/\/$/u, '')).filter((entry) => entry.split('/')[0]?.toLowerCase() !== '.git')
}

/**
 * The real directory holding `abs` must be inside the real target: a directory of the project
 * that is a link elsewhere cannot carry a delete or a rename out of it.
 */
async function assertParentInside(targetRoot: string, abs: string, where: string): Promise<void> {
  const root = await realpath(targetRoot)
  // The nearest directory that exists: what a mkdir -p below it would build on.
  let dir = path.dirname(abs)
  let parent = await realpath(dir).catch(() => undefined)
  while (parent === undefined && dir !== path.dirname(dir)) {
    dir = path.dirname(dir)
    parent = await realpath(dir).catch(() => undefined)
  }
  if (parent !== undefined && !isInside(root, parent)) {
    throw new UsageError(`${where}: ${path.relative(targetRoot, abs)} is under a link that leads outside the target directory (${parent}).`, {hint: 'Remove that link from the target directory, then run again.'})
  }
  if (parent !== undefined && inGit(root, parent)) {
    throw new UsageError(`${where}: ${path.relative(targetRoot, abs)} leads into .git, which a template may not change.`, {hint: 'Remove the link into .git from the target directory, then run again.'})
  }
}

/** fs:delete, inside targetRoot only. Returns the relative paths removed. */
export async function deleteInWorkspace(spec: DeleteSpec, targetRoot: string): Promise<string[]> {
  const removed: string[] = []
  for (const pattern of spec.files) {
    const rel = safeRelativePath(pattern, `template step "${spec.id}" (${spec.action})`)
    const matcher = picomatch(rel, {dot: true})
    const matches = picomatch.scan(rel).isGlob ? (await listAll(targetRoot)).filter((entry) => matcher(entry)) : [rel]
    for (const match of matches) {
      const abs = path.join(targetRoot, match)
      if (!(await exists(abs))) continue
      await assertParentInside(targetRoot, abs, `template step "${spec.id}" (${spec.action})`)
      await rm(abs, {recursive: true, force: true})
      removed.push(match)
    }
  }
  return removed
}

/** fs:rename, inside targetRoot only. */
export async function renameInWorkspace(spec: RenameSpec, targetRoot: string): Promise<void> {
  for (const file of spec.files) {
    const from = path.join(targetRoot, safeRelativePath(file.from, `template step "${spec.id}" (${spec.action}) from`))
    const to = path.join(targetRoot, safeRelativePath(file.to, `template step "${spec.id}" (${spec.action}) to`))
    if (!(await exists(from))) throw new ConfigError(`Template step "${spec.id}" (${spec.action}): ${file.from} does not exist.`, [{path: `steps.${spec.id}.input.files`, message: 'source not found'}])
    await assertParentInside(targetRoot, from, `template step "${spec.id}" (${spec.action})`)
    if ((await exists(to)) && !file.overwrite) throw new ConfigError(`Template step "${spec.id}" (${spec.action}): ${file.to} already exists.`, [{path: `steps.${spec.id}.input.files`, message: 'destination exists; set overwrite: true'}])
    await assertParentInside(targetRoot, to, `template step "${spec.id}" (${spec.action})`)
    await mkdir(path.dirname(to), {recursive: true})
    if ((await lstat(to).catch(() => undefined))?.isSymbolicLink()) throw new UsageError(`Template step "${spec.id}" (${spec.action}): refusing to replace ${file.to}, a symbolic link.`, {hint: 'Remove the link, then run again.'})
    await rename(from, to)
  }
}

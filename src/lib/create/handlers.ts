import {lstat, mkdir, rm, rmdir} from 'node:fs/promises'
import path from 'node:path'

import type {Handlers} from '../plan/apply.js'
import {type DescribeKnown, shellQuote} from '../plan/format.js'
import type {ToolRunner} from '../tools/types.js'
import type {CatalogClient, RegisterOutcome} from '../catalog/client.js'
import {gitPushArgs, gitRemoteAddArgs} from '../tools/git.js'
import type {CreateOps, Visibility} from './plan.js'
import picomatch from 'picomatch'

import {parseTimeout} from '../config/duration.js'
import {DEFAULT_RENDER_TIMEOUT, renderBounded, skeletonsByStep} from './render-bound.js'
import {assertLinksInside, deleteInWorkspace, type DeleteSpec, type FetchSpec, type FileStep, renameInWorkspace, type RenameSpec, type SkeletonResult, writeSkeleton} from './skeleton.js'

/**
 * The local and API work of an `idp create` plan. State shared between steps (what was
 * written, the repository GitHub created) lives in the closure, one per run.
 */

export interface CreatedRepository {
  owner: string
  name: string
  htmlUrl: string
  cloneUrl: string
  ownerType: string
}

/** What publishing needs; the command wires it to src/lib/github (Octokit) when --publish is set. */
export interface Publisher {
  createRepository(options: {owner?: string; name: string; visibility: Visibility; description?: string}): Promise<CreatedRepository>
  deleteRepository(owner: string, name: string): Promise<boolean>
  /** Environment for `git push` (auth header), never argv. */
  pushEnv(): Record<string, string>
}

export interface CreateRunState {
  /** Absolute paths this run created, in order. */
  created: string[]
  /** Relative paths of the files the render step left (after fs:delete/fs:rename). */
  files?: string[]
  repository?: CreatedRepository
  catalog?: {path: string; exists: boolean; registerUrl?: string}
  /** What the Backstage catalog answered to the registration. */
  registration?: RegisterOutcome
  /** The location being registered, and whether the catalog had it before this run (its dry run said so). */
  registering?: {target: string; existed?: boolean}
}

export interface CreateHandlerOptions {
  runner: ToolRunner
  publisher?: Publisher
  /** The Backstage catalog (with BACKSTAGE_TOKEN) when the plan registers the new repository. */
  catalog?: CatalogClient
  state?: CreateRunState
  /** Test hook: called after each fetch step is written (a failure here exercises the clean-up). */
  afterFetch?: (spec: FetchSpec) => Promise<void>
  /** What prepareCreate rendered (PreparedCreate.rendered). */
  rendered?: ReadonlyMap<FetchSpec, SkeletonResult>
  renderTimeoutMs?: number
}

async function renderFiles(steps: FileStep[], targetDir: string, options: RenderAllOptions): Promise<ReadonlyMap<FetchSpec, SkeletonResult>> {
  const outcome = await renderBounded({files: steps, directory: targetDir}, {signal: options.signal, timeoutMs: options.timeoutMs ?? parseTimeout(DEFAULT_RENDER_TIMEOUT), label: `the template into ${targetDir}`})
  return skeletonsByStep(steps, outcome.rendered)
}

/** The file list after a fs:delete or fs:rename step, for reports (dry-run and result). */
export function trackFileList(files: Set<string>, step: DeleteSpec | RenameSpec): void {
  if (step.kind === 'delete') {
    for (const pattern of step.files) {
      const rel = pattern.replace(/^\.\//u, '').replace(/\/+$/u, '')
      const matcher = picomatch(rel, {dot: true})
      for (const file of [...files]) if (file === rel || file.startsWith(`${rel}/`) || matcher(file)) files.delete(file)
    }
  } else {
    for (const {from, to} of step.files) {
      const src = from.replace(/^\.\//u, '')
      const dst = to.replace(/^\.\//u, '')
      for (const file of [...files]) {
        if (file === src || file.startsWith(`${src}/`)) {
          files.delete(file)
          files.add(dst + file.slice(src.length))
        }
      }
    }
  }
}

/** Files the steps leave behind, from the pre-rendered fetches. */
export function finalFileList(steps: FileStep[], planned: Map<FetchSpec, SkeletonResult>): string[] {
  const files = new Set<string>()
  for (const step of steps) {
    if (step.kind === 'fetch') for (const file of planned.get(step)?.files ?? []) files.add(file)
    else trackFileList(files, step)
  }
  return [...files].sort()
}

export interface RenderAllOptions {
  /** The skeletons prepareCreate rendered for these very steps: written as they are, not rendered again. */
  rendered?: ReadonlyMap<FetchSpec, SkeletonResult>
  signal?: AbortSignal
  /** The render's deadline when it has to render (default DEFAULT_RENDER_TIMEOUT). */
  timeoutMs?: number
  /** Test hook: called after each fetch step is written (a failure here exercises the clean-up). */
  afterFetch?: (spec: FetchSpec) => Promise<void>
}

/** Write every step of a render: fetch steps' skeletons (rendered in a bounded worker unless given), then fs:delete/fs:rename. */
export async function renderAll(steps: FileStep[], targetDir: string, created: string[], options: RenderAllOptions = {}): Promise<string[]> {
  const {rendered, afterFetch} = options
  const planned = rendered && steps.every((step) => step.kind !== 'fetch' || rendered.has(step)) ? rendered : await renderFiles(steps, targetDir, options)
  // The new project's directory exists even when no fetch step wrote into it (all skipped by
  // `if:`, an empty `each:`): git init and what follows run there.
  if (!(await lstat(targetDir).catch(() => undefined))) {
    const first = await mkdir(targetDir, {recursive: true})
    if (first) created.push(first)
  }
  const files = new Set<string>()
  for (const step of steps) {
    if (step.kind === 'fetch') {
      const result = planned.get(step)
      if (!result) throw new Error(`Step "${step.id}" was not rendered.`)
      await writeSkeleton(result.ops, targetDir, {replace: step.replace, created})
      for (const file of result.files) files.add(file)
      await afterFetch?.(step)
    } else if (step.kind === 'delete') {
      await deleteInWorkspace(step, targetDir)
      trackFileList(files, step)
    } else {
      await renameInWorkspace(step, targetDir)
      trackFileList(files, step)
    }
  }
  await assertLinksInside(targetDir, created)
  return [...files].sort()
}

/**
 * The command that does what `create.undoRender` does, as this run has gone: the directory, or the
 * outermost paths the run created in it (newest first; what lies inside them is this run's too)
 * and the .git that git init added. Undefined when nothing was created: there is nothing to clean.
 */
export function undoRenderCommand(params: {targetDir: string; removeTarget: boolean; removeGit?: boolean}, created: readonly string[]): string | undefined {
  if (params.removeTarget) return shellQuote(['rm', '-rf', params.targetDir])
  const mine = new Set(created)
  const outermost = [...created].reverse().filter((p) => {
    for (let dir = path.dirname(p); dir !== params.targetDir && dir !== path.dirname(dir); dir = path.dirname(dir)) if (mine.has(dir)) return false
    return true
  })
  const paths = [...outermost, ...(params.removeGit ? [path.join(params.targetDir, '.git')] : [])]
  return paths.length > 0 ? shellQuote(['rm', '-rf', ...paths]) : undefined
}

/** Remove what this run created: the target directory itself, or only the created paths (newest first). */
export async function removeCreated(targetDir: string, created: readonly string[], removeTarget: boolean, removeGit = false): Promise<void> {
  if (removeTarget) {
    await rm(targetDir, {recursive: true, force: true})
    return
  }
  for (const p of [...created].reverse()) {
    const info = await lstat(p).catch(() => undefined)
    if (!info) continue
    if (info.isDirectory()) await rmdir(p).catch(() => rm(p, {recursive: true, force: true}))
    else await rm(p, {force: true})
  }
  // git init ran in a directory that existed before without a .git: that .git is this run's too.
  if (removeGit) await rm(path.join(targetDir, '.git'), {recursive: true, force: true})
}

type PublishOp = 'github.createRepo' | 'github.deleteRepo' | 'create.push' | CatalogOp
type CatalogOp = 'backstage.register' | 'backstage.unregister'

export function createHandlers(options: CreateHandlerOptions): {handlers: Handlers<Exclude<keyof CreateOps, PublishOp>> & Partial<Handlers<PublishOp>>; state: CreateRunState; describe: DescribeKnown} {
  const state: CreateRunState = options.state ?? {created: []}
  // Clean-up lists name the paths this run created, which only the run knows.
  const describe: DescribeKnown = (action) => {
    if (action.op === 'create.undoRender') return undoRenderCommand(action.params, state.created) ?? '# nothing was created yet'
    if (action.op === 'backstage.unregister') {
      const id = state.registration?.alreadyRegistered ? undefined : state.registration?.locationId
      // The token as a variable reference for the shell to fill in, never its value.
      if (id) return `curl -fsS -X DELETE --oauth2-bearer "$BACKSTAGE_TOKEN" ${shellQuote([`${action.params.baseUrl}/api/catalog/locations/${id}`])}`
      return `# Backstage catalog ${action.params.baseUrl}: remove the location of ${state.registering?.target ?? 'catalog-info.yaml'} if this run added it (Catalog > Unregister)`
    }
    return undefined
  }
  const local: Handlers<Exclude<keyof CreateOps, PublishOp>> = {
    async 'create.render'(action, ctx) {
      const params = action.params
      try {
        state.files = await renderAll(params.files, params.targetDir, state.created, {rendered: options.rendered, signal: ctx.signal, timeoutMs: options.renderTimeoutMs, afterFetch: options.afterFetch})
        return {files: state.files.length}
      } catch (error) {
        // A failed step is not undone by the executor; remove what this step wrote itself.
        await removeCreated(params.targetDir, state.created, false)
        throw error
      }
    },
    async 'create.undoRender'(action) {
      const params = action.params
      await removeCreated(params.targetDir, state.created, params.removeTarget, params.removeGit)
      return {removed: params.removeTarget ? params.targetDir : state.created.length}
    },
    async 'create.catalog'(action) {
      const params = action.params
      const file = path.join(params.dir, params.catalogInfoPath.replace(/^\/+/u, ''))
      const exists = await lstat(file).then(
        () => true,
        () => false,
      )
      state.catalog = {path: file, exists, ...(params.registerUrl ? {registerUrl: params.registerUrl} : {})}
      if (!exists) throw new Error(`${params.catalogInfoPath.replace(/^\/+/u, '')} was not generated, so there is nothing to register in the Backstage catalog.`)
      return {path: file, ...(params.registerUrl ? {registerUrl: params.registerUrl} : {})}
    },
  }
  if (!options.publisher) return {handlers: local, state, describe}
  const publisher = options.publisher
  const catalog = options.catalog
  const publish: Handlers<Exclude<PublishOp, CatalogOp>> & Partial<Handlers<CatalogOp>> = {
    async 'github.createRepo'(action) {
      state.repository = await publisher.createRepository(action.params)
      return {htmlUrl: state.repository.htmlUrl, owner: state.repository.owner, ownerType: state.repository.ownerType}
    },
    async 'github.deleteRepo'(action) {
      const p = action.params
      const owner = state.repository?.owner ?? p.owner
      if (!owner) return {deleted: false}
      return {deleted: await publisher.deleteRepository(owner, state.repository?.name ?? p.name)}
    },
    async 'create.push'(action, ctx) {
      const p = action.params
      if (!state.repository) throw new Error('No repository was created to push to.')
      await options.runner.run('git', gitRemoteAddArgs({url: state.repository.cloneUrl}), {cwd: p.dir, signal: ctx.signal})
      await options.runner.run('git', gitPushArgs({branch: p.branch}), {cwd: p.dir, signal: ctx.signal, env: publisher.pushEnv()})
      return {remote: state.repository.cloneUrl}
    },
  }
  if (catalog) {
    publish['backstage.register'] = async (action) => {
      const p = action.params
      if (!state.repository) throw new Error('No repository was created whose catalog-info.yaml could be registered.')
      // The URL Backstage reads the file from: the new repository's, on the server it was created on.
      const target = `${state.repository.htmlUrl.replace(/\/+$/u, '')}/blob/${p.branch}/${p.catalogInfoPath.replace(/^\/+/u, '')}`
      const registering: NonNullable<CreateRunState['registering']> = {target}
      state.registering = registering
      state.registration = await catalog.register(target, (preview) => (registering.existed = preview.exists))
      const r = state.registration
      return {target: r.target, entities: r.entities, alreadyRegistered: r.alreadyRegistered, ...(r.locationId ? {locationId: r.locationId} : {})}
    }
    publish['backstage.unregister'] = async () => {
      // Only a location this run added: not one the catalog had before (dry run or 409), and
      // nothing when the dry run never answered (the real request was not sent).
      const reg = state.registering
      if (!reg || reg.existed !== false || state.registration?.alreadyRegistered) return {removed: false}
      const id = state.registration?.locationId ?? (await catalog.locationId(reg.target))
      return {removed: id ? await catalog.unregister(id) : false}
    }
  }
  return {handlers: {...local, ...publish}, state, describe}
}

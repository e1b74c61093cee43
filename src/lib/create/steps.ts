import path from 'node:path'

import {ConfigError, UsageError} from '../cli/errors.js'
import {parseRepoUrl, type RepoSpec} from './filters.js'
import {createRenderer, TemplateRenderError} from './render.js'
import {type FileStep, isInside, safeRelativePath} from './skeleton.js'
import type {LoadedTemplate} from './sources.js'

/**
 * The template's spec.steps, interpreted locally. Step inputs are rendered the way Backstage's
 * workflow runner renders them (context: parameters, steps, user; a lone `${{ x }}` keeps its
 * type); then each action is mapped to what idp does offline, or reported as skipped.
 */

export interface SkippedAction {
  id: string
  action: string
  reason: string
  /** False for steps whose `if:` was false (expected, no warning). */
  warn: boolean
}

export interface PublishSpec {
  id: string
  repoUrl?: string
  repo?: RepoSpec
  description?: string
  visibility?: 'private' | 'internal' | 'public'
  defaultBranch?: string
  commitMessage?: string
  authorName?: string
  authorEmail?: string
}

export interface RegisterSpec {
  id: string
  catalogInfoPath: string
  /** Where Backstage would read the file from, when the repository's location is known. */
  catalogInfoUrl?: string
}

export interface InterpretedSteps {
  /** fetch:*, fs:delete and fs:rename, in template order. */
  files: FileStep[]
  publish?: PublishSpec
  register?: RegisterSpec
  skipped: SkippedAction[]
}

export interface InterpretOptions {
  parameters: Record<string, unknown>
  /** Branch used when the template does not name one (config repo.defaultBranch, else main). */
  defaultBranch: string
  user?: Record<string, unknown>
}

const FETCH_ACTIONS = new Set(['fetch:template', 'fetch:template:file', 'fetch:plain', 'fetch:plain:file'])

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

function truthy(value: unknown): boolean {
  if (typeof value === 'string') return value !== '' && value !== 'false'
  return Boolean(value)
}

export function interpretSteps(template: LoadedTemplate, options: InterpretOptions): InterpretedSteps {
  const renderer = createRenderer()
  const out: InterpretedSteps = {files: [], skipped: []}
  // Keyed by step ids a template chooses: no prototype for an id such as __proto__ to reach.
  const stepOutputs: Record<string, {output: Record<string, unknown>}> = Object.create(null)
  const context = () => ({parameters: options.parameters, steps: stepOutputs, user: options.user ?? {}, secrets: {}})

  template.doc.spec.steps.forEach((step, index) => {
    const id = step.id ?? `step-${index + 1}`
    const where = `${path.basename(template.file)} spec.steps[${index}] (${id})`
    const render = (value: unknown) => {
      try {
        return renderer.renderValue(value, context(), where)
      } catch (error) {
        if (error instanceof TemplateRenderError) throw new ConfigError(`${where}: ${error.message}`, [{file: template.file, path: `spec.steps.${index}`, message: error.message}], {hint: 'Step inputs can use parameters.<name>, steps.<id>.output and user.'})
        throw error
      }
    }
    stepOutputs[id] = {output: {}}
    if (step.if !== undefined && !truthy(typeof step.if === 'string' ? render(step.if) : step.if)) {
      out.skipped.push({id, action: step.action, reason: 'its `if:` condition is false', warn: false})
      return
    }
    if (step.each !== undefined) {
      out.skipped.push({id, action: step.action, reason: '`each:` loops are not supported by idp', warn: true})
      return
    }
    const input = (render(step.input ?? {}) ?? {}) as Record<string, unknown>

    if (FETCH_ACTIONS.has(step.action)) {
      const url = str(input.url)
      if (!url) throw new ConfigError(`${where}: ${step.action} needs input.url.`, [{file: template.file, path: `spec.steps.${index}.input.url`, message: 'required'}])
      if (/^[a-z][a-z0-9+.-]*:\/\//iu.test(url)) {
        throw new UsageError(`${where}: ${step.action} fetches ${url}, but idp renders templates offline and only reads paths inside the template.`, {hint: 'Vendor that content into the template directory and use a relative url (./skeleton).'})
      }
      const source = path.resolve(template.dir, url)
      if (!isInside(template.dir, source)) throw new ConfigError(`${where}: input.url "${url}" points outside the template directory.`, [{file: template.file, path: `spec.steps.${index}.input.url`, message: 'outside the template'}])
      const plain = step.action.startsWith('fetch:plain')
      out.files.push({
        kind: 'fetch',
        id,
        action: step.action,
        source,
        root: template.dir,
        targetPath: str(input.targetPath) ?? './',
        plain,
        values: plain ? undefined : ((input.values ?? {}) as Record<string, unknown>),
        copyWithoutRender: input.copyWithoutRender as string[] | undefined,
        copyWithoutTemplating: input.copyWithoutTemplating as string[] | undefined,
        templateFileExtension: input.templateFileExtension as string | boolean | undefined,
        cookiecutterCompat: Boolean(input.cookiecutterCompat),
        replace: Boolean(input.replace),
        trimBlocks: input.trimBlocks as boolean | undefined,
        lstripBlocks: input.lstripBlocks as boolean | undefined,
      })
      for (const key of ['copyWithoutRender', 'copyWithoutTemplating'] as const) {
        if (input[key] !== undefined && !(Array.isArray(input[key]) && (input[key] as unknown[]).every((p) => typeof p === 'string'))) {
          throw new ConfigError(`${where}: input.${key} must be a list of glob patterns.`, [{file: template.file, path: `spec.steps.${index}.input.${key}`, message: 'expected a list of strings'}])
        }
      }
      return
    }

    if (step.action === 'fs:delete') {
      const files = input.files
      if (!Array.isArray(files) || !files.every((f) => typeof f === 'string')) throw new ConfigError(`${where}: fs:delete needs input.files, a list of paths.`, [{file: template.file, path: `spec.steps.${index}.input.files`, message: 'expected a list of strings'}])
      // Checked now so a path outside the target fails before anything is written.
      for (const file of files as string[]) safeRelativePath(file, where)
      out.files.push({kind: 'delete', id, action: step.action, files: files as string[]})
      return
    }

    if (step.action === 'fs:rename') {
      const files = input.files
      const valid = Array.isArray(files) && files.every((f) => f && typeof f === 'object' && typeof (f as {from?: unknown}).from === 'string' && typeof (f as {to?: unknown}).to === 'string')
      if (!valid) throw new ConfigError(`${where}: fs:rename needs input.files, a list of {from, to}.`, [{file: template.file, path: `spec.steps.${index}.input.files`, message: 'expected [{from, to, overwrite?}]'}])
      const moves = files as Array<{from: string; to: string; overwrite?: boolean}>
      for (const move of moves) {
        safeRelativePath(move.from, where)
        safeRelativePath(move.to, where)
      }
      out.files.push({kind: 'rename', id, action: step.action, files: moves})
      return
    }

    if (step.action === 'publish:github') {
      if (out.publish) {
        out.skipped.push({id, action: step.action, reason: 'only the first publish:github step is used', warn: true})
        return
      }
      const repoUrl = str(input.repoUrl)
      let repo: RepoSpec | undefined
      if (repoUrl) {
        try {
          repo = parseRepoUrl(repoUrl)
        } catch (error) {
          throw new UsageError(`${where}: ${(error as Error).message}`, {hint: 'The repoUrl parameter looks like github.com?owner=OWNER&repo=NAME.'})
        }
      }
      const visibility = str(input.repoVisibility)
      if (visibility && !['private', 'internal', 'public'].includes(visibility)) throw new UsageError(`${where}: repoVisibility "${visibility}" is not private, internal or public.`)
      const branch = str(input.defaultBranch) ?? options.defaultBranch
      out.publish = {
        id,
        repoUrl,
        repo,
        description: str(input.description),
        visibility: visibility as PublishSpec['visibility'],
        defaultBranch: str(input.defaultBranch),
        commitMessage: str(input.gitCommitMessage),
        authorName: str(input.gitAuthorName),
        authorEmail: str(input.gitAuthorEmail),
      }
      if (repo?.owner) {
        const remoteUrl = `https://${repo.host}/${repo.owner}/${repo.repo}`
        stepOutputs[id] = {output: {remoteUrl, repoContentsUrl: `${remoteUrl}/blob/${branch}`}}
      }
      return
    }

    if (step.action === 'catalog:register') {
      const catalogInfoPath = `/${(str(input.catalogInfoPath) ?? '/catalog-info.yaml').replace(/^\/+/u, '')}`
      const contents = str(input.repoContentsUrl)
      const catalogInfoUrl = str(input.catalogInfoUrl) ?? (contents ? `${contents.replace(/\/+$/u, '')}${catalogInfoPath}` : undefined)
      out.register = {id, catalogInfoPath, catalogInfoUrl}
      stepOutputs[id] = {output: catalogInfoUrl ? {catalogInfoUrl} : {}}
      return
    }

    out.skipped.push({id, action: step.action, reason: `${step.action} needs a Backstage server; idp does not run it locally`, warn: true})
  })
  return out
}

/** Backstage's catalog import page, pre-filled with the catalog-info.yaml URL. */
export function catalogRegisterUrl(backstageBaseUrl: string | undefined, catalogInfoUrl: string | undefined): string | undefined {
  if (!backstageBaseUrl || !catalogInfoUrl) return undefined
  return `${backstageBaseUrl.replace(/\/+$/u, '')}/catalog-import?targetUrl=${encodeURIComponent(catalogInfoUrl)}`
}

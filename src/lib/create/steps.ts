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
  /** fetch:*, fs:delete and fs:rename, in template order (one per iteration of an `each:` loop). */
  files: FileStep[]
  publish?: PublishSpec
  register?: RegisterSpec
  skipped: SkippedAction[]
  /** What the user should be told: inputs kept as written, options current Backstage ignores. */
  warnings: string[]
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

/** Backstage's isTruthy (scaffolder-backend scaffolder/tasks/helper): a list is true when it is not empty, anything else as JavaScript sees it. */
export function isTruthy(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : Boolean(value)
}

/** One run of a step: the step itself, or one item of its `each:` loop. */
interface Iteration {
  each?: {key: string; value: unknown}
}

export function interpretSteps(template: LoadedTemplate, options: InterpretOptions): InterpretedSteps {
  const renderer = createRenderer()
  const out: InterpretedSteps = {files: [], skipped: [], warnings: []}
  const warn = (message: string) => {
    if (!out.warnings.includes(message)) out.warnings.push(message)
  }
  // Keyed by step ids a template chooses: no prototype for an id such as __proto__ to reach.
  const stepOutputs: Record<string, {output: Record<string, unknown>}> = Object.create(null)
  const context = () => ({parameters: options.parameters, steps: stepOutputs, user: options.user ?? {}, secrets: {}})

  template.doc.spec.steps.forEach((step, index) => {
    const id = step.id ?? `step-${index + 1}`
    const where = `${path.basename(template.file)} spec.steps[${index}] (${id})`
    // Rendered as Backstage's workflow runner renders: a string that does not render is kept as
    // written (with a warning here); only what idp's sandbox refuses stops the run.
    const render = (value: unknown, iteration: Iteration = {}) => {
      try {
        return renderer.renderValue(value, {...context(), ...iteration}, where, (raw, error) => {
          warn(`${where}: "${raw}" does not render (${error.message}); it is used as written, as Backstage does.`)
        })
      } catch (error) {
        if (error instanceof TemplateRenderError) {
          throw new ConfigError(`${where}: ${error.message}`, [{file: template.file, path: `spec.steps.${index}`, message: error.message}], {
            hint: 'idp renders templates in a sandbox that refuses this expression. Step inputs can use parameters.<name>, steps.<id>.output, user and, in an each: loop, each.key and each.value.',
          })
        }
        throw error
      }
    }
    // Backstage skips a step only for `if: false` or a string that renders to a falsy value (or an empty list).
    if (step.if === false || (typeof step.if === 'string' && !isTruthy(render(step.if)))) {
      out.skipped.push({id, action: step.action, reason: 'its `if:` condition is false', warn: false})
      return
    }
    let iterations: Iteration[] = [{}]
    if (step.each !== undefined) {
      const resolved = render(step.each)
      if (!resolved) {
        throw new ConfigError(`${where}: each: ${JSON.stringify(step.each)} cannot be resolved to a value.`, [{file: template.file, path: `spec.steps.${index}.each`, message: 'renders to nothing'}], {
          hint: 'each: takes a list or an object, e.g. each: ${{ parameters.services }}.',
        })
      }
      // Object.entries, as Backstage: a list gives keys "0", "1", ...; an object its own keys.
      iterations = Object.entries(resolved as object).map(([key, value]) => ({each: {key, value}}))
    }
    // Every iteration's input is rendered before any runs, as in Backstage.
    const runs = iterations.map((iteration) => ({
      iteration,
      runId: iteration.each ? `${id}[${iteration.each.key}]` : id,
      input: (step.input ? (render(step.input, iteration) ?? {}) : {}) as Record<string, unknown>,
    }))
    const fileAction = FETCH_ACTIONS.has(step.action) || step.action === 'fs:delete' || step.action === 'fs:rename'
    if (step.each !== undefined && !fileAction) {
      const once = step.action === 'publish:github' || step.action === 'catalog:register'
      out.skipped.push({id, action: step.action, reason: once ? `idp runs ${step.action} once per template, not in an \`each:\` loop` : `${step.action} needs a Backstage server; idp does not run it locally`, warn: true})
      stepOutputs[id] = {output: {}}
      return
    }
    for (const run of runs) interpretAction(step.action, run.input, {id: run.runId, stepId: id, where: run.iteration.each ? `${where}[${run.iteration.each.key}]` : where, index})
    stepOutputs[id] ??= {output: {}}
  })
  return out

  function interpretAction(action: string, input: Record<string, unknown>, at: {id: string; stepId: string; where: string; index: number}): void {
    const {id, where, index} = at
    if (FETCH_ACTIONS.has(action)) {
      const url = str(input.url)
      if (!url) throw new ConfigError(`${where}: ${action} needs input.url.`, [{file: template.file, path: `spec.steps.${index}.input.url`, message: 'required'}])
      if (/^[a-z][a-z0-9+.-]*:\/\//iu.test(url)) {
        throw new UsageError(`${where}: ${action} fetches ${url}, but idp renders templates offline and only reads paths inside the template.`, {hint: 'Vendor that content into the template directory and use a relative url (./skeleton).'})
      }
      const source = path.resolve(template.dir, url)
      if (!isInside(template.dir, source)) throw new ConfigError(`${where}: input.url "${url}" points outside the template directory.`, [{file: template.file, path: `spec.steps.${index}.input.url`, message: 'outside the template'}])
      for (const key of ['copyWithoutRender', 'copyWithoutTemplating'] as const) {
        if (input[key] !== undefined && !(Array.isArray(input[key]) && (input[key] as unknown[]).every((p) => typeof p === 'string'))) {
          throw new ConfigError(`${where}: input.${key} must be a list of glob patterns.`, [{file: template.file, path: `spec.steps.${index}.input.${key}`, message: 'expected a list of strings'}])
        }
      }
      const plain = action.startsWith('fetch:plain')
      if (!plain && input.copyWithoutRender !== undefined) {
        warn(`${where}: input.copyWithoutRender is ignored, as current Backstage ignores it (removed in @backstage/plugin-scaffolder-backend 2.0.0, Backstage 1.40): the files it lists are rendered like any other. Rename it to copyWithoutTemplating (contents copied as they are, paths still rendered).`)
      }
      if (action === 'fetch:template' && input.templateFileExtension && (input.copyWithoutTemplating || input.cookiecutterCompat)) {
        // Backstage's fetch:template refuses this combination (InputError) before it writes anything.
        throw new ConfigError(`${where}: input.templateFileExtension cannot be combined with copyWithoutTemplating or cookiecutterCompat.`, [{file: template.file, path: `spec.steps.${index}.input.templateFileExtension`, message: 'incompatible with copyWithoutTemplating and cookiecutterCompat'}])
      }
      out.files.push({
        kind: 'fetch',
        id,
        action,
        source,
        root: template.dir,
        targetPath: str(input.targetPath) ?? './',
        plain,
        values: plain ? undefined : ((input.values ?? {}) as Record<string, unknown>),
        copyWithoutTemplating: input.copyWithoutTemplating as string[] | undefined,
        templateFileExtension: input.templateFileExtension as string | boolean | undefined,
        cookiecutterCompat: Boolean(input.cookiecutterCompat),
        replace: Boolean(input.replace),
        trimBlocks: input.trimBlocks as boolean | undefined,
        lstripBlocks: input.lstripBlocks as boolean | undefined,
      })
      return
    }

    if (action === 'fs:delete') {
      const files = input.files
      if (!Array.isArray(files) || !files.every((f) => typeof f === 'string')) throw new ConfigError(`${where}: fs:delete needs input.files, a list of paths.`, [{file: template.file, path: `spec.steps.${index}.input.files`, message: 'expected a list of strings'}])
      // Checked now so a path outside the target fails before anything is written.
      for (const file of files as string[]) safeRelativePath(file, where)
      out.files.push({kind: 'delete', id, action, files: files as string[]})
      return
    }

    if (action === 'fs:rename') {
      const files = input.files
      const valid = Array.isArray(files) && files.every((f) => f && typeof f === 'object' && typeof (f as {from?: unknown}).from === 'string' && typeof (f as {to?: unknown}).to === 'string')
      if (!valid) throw new ConfigError(`${where}: fs:rename needs input.files, a list of {from, to}.`, [{file: template.file, path: `spec.steps.${index}.input.files`, message: 'expected [{from, to, overwrite?}]'}])
      const moves = files as Array<{from: string; to: string; overwrite?: boolean}>
      for (const move of moves) {
        safeRelativePath(move.from, where)
        safeRelativePath(move.to, where)
      }
      out.files.push({kind: 'rename', id, action, files: moves})
      return
    }

    if (action === 'publish:github') {
      if (out.publish) {
        out.skipped.push({id, action, reason: 'only the first publish:github step is used', warn: true})
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
        stepOutputs[at.stepId] = {output: {remoteUrl, repoContentsUrl: `${remoteUrl}/blob/${branch}`}}
      }
      return
    }

    if (action === 'catalog:register') {
      const catalogInfoPath = `/${(str(input.catalogInfoPath) ?? '/catalog-info.yaml').replace(/^\/+/u, '')}`
      const contents = str(input.repoContentsUrl)
      const catalogInfoUrl = str(input.catalogInfoUrl) ?? (contents ? `${contents.replace(/\/+$/u, '')}${catalogInfoPath}` : undefined)
      out.register = {id, catalogInfoPath, catalogInfoUrl}
      stepOutputs[at.stepId] = {output: catalogInfoUrl ? {catalogInfoUrl} : {}}
      return
    }

    out.skipped.push({id, action, reason: `${action} needs a Backstage server; idp does not run it locally`, warn: true})
  }
}

/** Backstage's catalog import page, pre-filled with the catalog-info.yaml URL. */
export function catalogRegisterUrl(backstageBaseUrl: string | undefined, catalogInfoUrl: string | undefined): string | undefined {
  if (!backstageBaseUrl || !catalogInfoUrl) return undefined
  return `${backstageBaseUrl.replace(/\/+$/u, '')}/catalog-import?targetUrl=${encodeURIComponent(catalogInfoUrl)}`
}

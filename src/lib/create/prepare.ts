import {readdir, stat} from 'node:fs/promises'
import path from 'node:path'

import {InternalError, PrerequisiteError, UsageError} from '../cli/errors.js'
import {assertDnsLabel, githubOwnerProblem, repositoryNameProblem} from '../cli/names.js'
import {visible} from '../cli/output.js'
import {registerSecret} from '../cli/redact.js'
import type {Plan} from '../plan/types.js'
import type {CreateMetadata} from './plan.js'
import {parseTimeout} from '../config/duration.js'
import {finalFileList} from './handlers.js'
import {allParameters, assertComplete, type Page, parameterPages, parseSetFlags, readValuesFile, type ResolvedValues, resolveValues} from './parameters.js'
import {planCreate} from './plan.js'
import {DEFAULT_RENDER_TIMEOUT, renderBounded, skeletonsByStep} from './render-bound.js'
import {catalogRegisterUrl, type SkippedAction} from './steps.js'
import type {FetchSpec, SkeletonResult} from './skeleton.js'
import type {LoadedTemplate} from './sources.js'

/**
 * Everything `idp create` decides before it changes anything: parameters, name, target
 * directory, the interpreted steps, the pre-rendered files and the plan. Every check that can
 * fail (bad name, invalid template, missing parameter, non-empty directory, template errors)
 * fails here, before the first write.
 */

/** The part of `.idp.yml` create reads; structural so it does not depend on the schema module. */
export interface CreateConfigLike {
  repo?: {owner?: string; visibility?: 'private' | 'internal' | 'public'; defaultBranch?: string; publish?: boolean}
  backstage?: {baseUrl?: string}
}

export interface PrepareInput {
  template: LoadedTemplate
  /** NAME argument. */
  name?: string
  /** --dir, absolute. */
  baseDir: string
  set?: readonly string[]
  valuesFile?: string
  force?: boolean
  config?: CreateConfigLike
  /** The wizard, on a TTY only; receives what is known and returns the completed values. */
  ask?: (pages: Page[], resolved: ResolvedValues) => Promise<Record<string, unknown>>
  /** Author: the flags, else the template's publish step, else GIT_AUTHOR_* of the environment, else git config, else idp's default (git's own order). */
  git: {branch?: string; authorName?: string; authorEmail?: string; envName?: string; envEmail?: string; configName?: string; configEmail?: string}
  /** `dryRun`: only a plan is wanted, so a missing token is a warning and the publish is still planned. */
  publish?: {requested: boolean; token?: string; owner?: string; visibility?: 'private' | 'internal' | 'public'; apiUrl: string; serverUrl: string; dryRun?: boolean}
  /** The Backstage catalog (backstage settings: --backstage-url, backstage.baseUrl, BACKSTAGE_URL); whether BACKSTAGE_TOKEN is set, never the token. */
  backstage?: {baseUrl?: string; hasToken: boolean}
  warn?: (message: string) => void
  /** Ctrl-C: stops a render at once. */
  signal?: AbortSignal
  /** The deadline of the render (--render-timeout); default DEFAULT_RENDER_TIMEOUT. */
  renderTimeoutMs?: number
}

export interface PreparedCreate {
  plan: Plan<CreateMetadata>
  name: string
  directory: string
  template: {name: string; title?: string; source: string; ref: string; path: string}
  values: Record<string, unknown>
  skipped: Array<Omit<SkippedAction, 'warn'>>
  files: string[]
  branch: string
  catalogRegisterUrl?: string
  /** Whether the plan registers catalog-info.yaml in the Backstage catalog, and if not why (when the template has a catalog:register step). */
  catalogRegistration?: {register: true; baseUrl: string} | {register: false; reason: string}
  publish?: {owner?: string; name: string; visibility: string}
  /** The rendered skeleton of each fetch step of the plan (by step object), for the render step to write without rendering again. */
  rendered: ReadonlyMap<FetchSpec, SkeletonResult>
}

/**
 * A branch name git accepts (git check-ref-format --branch), checked before anything is written:
 * the name goes into `git init` and `git push` argv, where `--mirror` would be an option.
 */
export function assertBranch(branch: string, from: string): string {
  const ok = /^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$/u.test(branch) && !/(^|\/)\.|\.\.|\/\/|\.lock$|\.$|\/$|@\{/u.test(branch)
  if (!ok) throw new UsageError(`Invalid branch name "${visible(branch)}" (${from}).`, {hint: 'A branch is letters, digits, "_", "-", "." and "/", not starting with "-" or ".", e.g. main.'})
  return branch
}

export const DEFAULT_AUTHOR = {name: 'idp', email: 'idp@localhost'}

async function targetState(dir: string): Promise<{exists: boolean; empty: boolean; hasGit: boolean}> {
  const info = await stat(dir).catch(() => undefined)
  if (!info) return {exists: false, empty: true, hasGit: false}
  if (!info.isDirectory()) throw new UsageError(`${dir} exists and is not a directory.`, {hint: 'Choose another NAME or --dir.'})
  const entries = await readdir(dir)
  return {exists: true, empty: entries.length === 0, hasGit: entries.includes('.git')}
}

/** A secret parameter (ui:field Secret, ui:widget password): its value never appears in output. */
export function isSecret(param: {schema: Record<string, unknown>}): boolean {
  return param.schema['ui:field'] === 'Secret' || param.schema['ui:widget'] === 'password'
}

/** The result's values, secret parameters masked. */
export function maskSecrets(pages: Page[], values: Record<string, unknown>): Record<string, unknown> {
  const out = {...values}
  for (const param of allParameters(pages)) if (isSecret(param) && out[param.key] !== undefined) out[param.key] = '***'
  return out
}

/**
 * Every secret parameter's value becomes a secret of the redactor: the plan carries the rendered
 * steps' inputs (a password in fetch:template values), and --dry-run, --json, the journal, errors
 * and --verbose all go through it.
 */
function registerSecretValues(pages: Page[], ...sources: Array<Record<string, unknown> | undefined>): void {
  for (const param of allParameters(pages)) {
    if (!isSecret(param)) continue
    for (const source of sources) {
      const value = source?.[param.key]
      if (typeof value === 'string') registerSecret(value)
      else if (value !== undefined && value !== null) registerSecret(JSON.stringify(value))
    }
  }
}

export async function prepareCreate(input: PrepareInput): Promise<PreparedCreate> {
  const {template} = input
  if (input.name !== undefined) assertDnsLabel(input.name, 'name')
  const pages = parameterPages(template.doc)
  const fileValues = input.valuesFile ? await readValuesFile(input.valuesFile) : undefined
  const setValues = parseSetFlags(input.set ?? [])
  // Before any check that could quote a value back.
  registerSecretValues(pages, fileValues, setValues)
  const resolved = resolveValues({pages, fileValues, valuesFile: input.valuesFile, setValues, name: input.name, repoOwner: input.config?.repo?.owner})
  for (const key of resolved.unknown) input.warn?.(`Template ${template.name} has no parameter "${key}"; it is passed on but no prompt or check applies.`)
  const values = input.ask ? await input.ask(pages, resolved) : resolved.values
  registerSecretValues(pages, values)
  assertComplete(pages, values)

  const nameValue = input.name ?? ['name', 'component_id'].map((k) => values[k]).find((v): v is string => typeof v === 'string' && v !== '')
  if (!nameValue) throw new UsageError('Missing NAME: the directory (and service) name.', {hint: 'Run `idp create NAME --template TEMPLATE`, e.g. idp create my-svc --template typescript-service.'})
  const name = assertDnsLabel(nameValue, 'name')
  const directory = path.resolve(input.baseDir, name)
  const target = await targetState(directory)
  if (!target.empty && !input.force) {
    throw new UsageError(`${directory} already exists and is not empty.`, {hint: 'Choose another NAME or --dir, or pass --force to render into it (existing files are kept unless the template replaces them).'})
  }

  const configBranch = input.config?.repo?.defaultBranch
  // Every input and every file rendered now, in a bounded worker (render-bound.ts): a template
  // error, a runaway loop or Ctrl-C stops here, with nothing written.
  const {cleanup: _cleanup, ...templateData} = template
  const outcome = await renderBounded(
    {interpret: {template: templateData, options: {parameters: values, defaultBranch: input.git.branch ?? configBranch ?? 'main'}}, directory},
    {signal: input.signal, timeoutMs: input.renderTimeoutMs ?? parseTimeout(DEFAULT_RENDER_TIMEOUT), label: `template ${template.name}`},
  )
  const interpreted = outcome.interpreted
  if (!interpreted) throw new InternalError('The template renderer returned no step inputs.')
  for (const warning of interpreted.warnings) input.warn?.(warning)
  for (const skip of interpreted.skipped) if (skip.warn) input.warn?.(`Step "${skip.id}" (${skip.action}) skipped: ${skip.reason}.`)
  if (!interpreted.files.some((f) => f.kind === 'fetch')) input.warn?.(`Template ${template.name} has no fetch:template or fetch:plain step; the new repository will be empty.`)

  const rendered = skeletonsByStep(interpreted.files, outcome.rendered)
  const files = finalFileList(interpreted.files, rendered)

  const pub = interpreted.publish
  const branch = assertBranch(input.git.branch ?? pub?.defaultBranch ?? configBranch ?? 'main', input.git.branch !== undefined ? '--branch' : pub?.defaultBranch !== undefined ? `the defaultBranch of template ${template.name}` : 'repo.defaultBranch of .idp.yml')
  const authorName = input.git.authorName ?? pub?.authorName ?? input.git.envName ?? input.git.configName ?? DEFAULT_AUTHOR.name
  const authorEmail = input.git.authorEmail ?? pub?.authorEmail ?? input.git.envEmail ?? input.git.configEmail ?? DEFAULT_AUTHOR.email
  const message = pub?.commitMessage ?? `Initial commit from idp template ${template.name}`

  let publish: (PreparedCreate['publish'] & {description?: string}) | undefined
  const wantsPublish = input.publish?.requested || input.config?.repo?.publish === true
  if (wantsPublish && input.publish) {
    if (!input.publish.token && input.publish.requested && input.publish.dryRun) {
      input.warn?.('--publish needs a GitHub token (GITHUB_TOKEN or GH_TOKEN) for a real run; neither is set. The plan below shows what a run with one would do.')
    }
    if (!input.publish.token && !(input.publish.requested && input.publish.dryRun)) {
      if (input.publish.requested) {
        throw new PrerequisiteError('--publish needs a GitHub token, but neither GITHUB_TOKEN nor GH_TOKEN is set.', {hint: 'export GITHUB_TOKEN="$(gh auth token)" (or a token with the repo scope), or leave out --publish to create the repository locally only.'})
      }
      input.warn?.('repo.publish is set in .idp.yml but no GITHUB_TOKEN/GH_TOKEN is set: the repository is created locally only.')
    } else {
      const visibility = input.publish.visibility ?? pub?.visibility ?? input.config?.repo?.visibility ?? 'private'
      const description = pub?.description ?? (typeof values.description === 'string' ? values.description : undefined)
      publish = {owner: input.publish.owner ?? pub?.repo?.owner ?? input.config?.repo?.owner, name: pub?.repo?.repo ?? name, visibility, description}
      // Both go into GitHub API paths: a bad one (`..`, `a/b`) stops here, before anything is written.
      const from = input.publish.owner ? '--owner' : pub?.repo?.owner ? "the template's repoUrl" : '.idp.yml repo.owner'
      const ownerProblem = publish.owner === undefined ? undefined : githubOwnerProblem(publish.owner)
      if (ownerProblem) throw new UsageError(`"${publish.owner}" (${from}) is not a GitHub user or organization name: ${ownerProblem}.`, {hint: 'Give the owner as GitHub shows it, e.g. --owner acme, or repoUrl=github.com?owner=acme&repo=NAME.'})
      const nameProblem = repositoryNameProblem(publish.name)
      if (nameProblem) throw new UsageError(`"${publish.name}" (${pub?.repo?.repo ? "the template's repoUrl" : 'the service name'}) is not a valid GitHub repository name: ${nameProblem}.`, {hint: 'e.g. repoUrl=github.com?owner=acme&repo=shop-api'})
    }
  }

  let registerUrl: string | undefined
  if (interpreted.register) {
    let catalogInfoUrl = interpreted.register.catalogInfoUrl
    if (!catalogInfoUrl && publish?.owner && input.publish) catalogInfoUrl = `${input.publish.serverUrl.replace(/\/+$/u, '')}/${publish.owner}/${publish.name}/blob/${branch}${interpreted.register.catalogInfoPath}`
    registerUrl = catalogRegisterUrl(input.backstage ? input.backstage.baseUrl : input.config?.backstage?.baseUrl, catalogInfoUrl)
  }
  let registration: PreparedCreate['catalogRegistration']
  if (interpreted.register) {
    const baseUrl = input.backstage?.baseUrl
    if (!publish) registration = {register: false, reason: 'the repository was not published (--publish), so Backstage has nowhere to read catalog-info.yaml from'}
    else if (!baseUrl) registration = {register: false, reason: 'no Backstage URL (--backstage-url, backstage.baseUrl in .idp.yml or BACKSTAGE_URL)'}
    else if (!input.backstage?.hasToken) registration = {register: false, reason: 'BACKSTAGE_TOKEN is not set (a static external-access token of the Backstage backend)'}
    else registration = {register: true, baseUrl}
  }

  const plan = planCreate(
    {
      name,
      targetDir: directory,
      template: {name: template.name, ref: template.ref, source: template.source, dir: template.dir},
      files: interpreted.files,
      git: {branch, message, authorName, authorEmail},
      publish: publish && input.publish ? {...publish, visibility: publish.visibility as 'private', apiUrl: input.publish.apiUrl} : undefined,
      catalog: interpreted.register ? {catalogInfoPath: interpreted.register.catalogInfoPath, registerUrl} : undefined,
      register: interpreted.register && registration?.register ? {baseUrl: registration.baseUrl, catalogInfoPath: interpreted.register.catalogInfoPath} : undefined,
    },
    {targetExists: target.exists, targetHasGit: target.hasGit},
  )

  return {
    plan,
    name,
    directory,
    template: {name: template.name, title: template.title, source: template.source, ref: template.ref, path: template.dir},
    values: maskSecrets(pages, values),
    skipped: interpreted.skipped.map(({id, action, reason}) => ({id, action, reason})),
    files,
    rendered,
    branch,
    ...(registerUrl ? {catalogRegisterUrl: registerUrl} : {}),
    ...(registration ? {catalogRegistration: registration} : {}),
    ...(publish ? {publish: {owner: publish.owner, name: publish.name, visibility: publish.visibility}} : {}),
  }
}

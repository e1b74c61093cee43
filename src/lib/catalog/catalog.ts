/**
 * `idp catalog list|show|validate`: the Backstage catalog from the command line. One client
 * (client.ts, on the shared JSON client), one place the URL and token are resolved (settings.ts:
 * --backstage-url > backstage.baseUrl > BACKSTAGE_URL; BACKSTAGE_TOKEN), Backstage's own
 * validators offline (model.ts). `idp create` registers through the same client.
 */
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import type {Entity} from '@backstage/catalog-model'

import type {Deps, Human, Service} from '../cli/deps.js'
import {type ConfigProblem, ConfigError, PrerequisiteError, UsageError} from '../cli/errors.js'
import {table} from '../cli/output.js'
import {readBoundedText} from '../cli/paths.js'
import {loadConfig} from '../config/load.js'
import {CatalogClient, entityRef, type EntityFilter, fullRef} from './client.js'
import {assertTokenTransport, backstageSettings, requireBaseUrl} from './settings.js'

interface CatalogRequestBase {
  /** --dir, absolute: where .idp.yml is looked for. */
  dir: string
  /** --backstage-url. */
  backstageUrl?: string
}

async function settingsFor(request: CatalogRequestBase, deps: Deps) {
  const loaded = await loadConfig({dir: request.dir, env: deps.env})
  const settings = backstageSettings({flag: request.backstageUrl, config: loaded?.config.backstage, env: deps.env})
  assertTokenTransport(settings, deps.env)
  return {loaded, settings}
}

function client(target: {baseUrl: string; token?: string}, deps: Deps): CatalogClient {
  return new CatalogClient({baseUrl: target.baseUrl, token: target.token, signal: deps.signal})
}

/** What list and --json show of an entity. */
export interface EntitySummary {
  ref: string
  kind: string
  namespace: string
  name: string
  title?: string
  description?: string
  type?: string
  lifecycle?: string
  owner?: string
  system?: string
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

function summary(entity: Entity): EntitySummary {
  const spec = (entity.spec ?? {}) as Record<string, unknown>
  const out: EntitySummary = {ref: entityRef(entity), kind: entity.kind, namespace: entity.metadata.namespace ?? 'default', name: entity.metadata.name}
  const fields: Array<[keyof EntitySummary, unknown]> = [
    ['title', entity.metadata.title],
    ['description', entity.metadata.description],
    ['type', spec.type],
    ['lifecycle', spec.lifecycle],
    ['owner', spec.owner],
    ['system', spec.system],
  ]
  for (const [key, value] of fields) if (str(value)) (out as unknown as Record<string, string>)[key] = value as string
  return out
}

// ---- list ------------------------------------------------------------------------------------

export interface CatalogListRequest extends CatalogRequestBase, EntityFilter {}

export interface CatalogListResult {
  backstage: string
  filter: EntityFilter & {kind: string}
  entities: EntitySummary[]
}

const NAME_LIKE = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/u

export const catalogList: Service<CatalogListRequest, CatalogListResult> = async (request, deps) => {
  for (const [flag, value] of [['--owner', request.owner], ['--system', request.system], ['--lifecycle', request.lifecycle], ['--kind', request.kind]] as const) {
    // A comma would add a filter condition of its own to the catalog query.
    if (value !== undefined && !NAME_LIKE.test(value)) throw new UsageError(`${flag} "${value}" is not an entity name or reference.`, {hint: `e.g. ${flag === '--owner' ? '--owner team-a or --owner group:default/team-a' : `${flag} ${flag === '--kind' ? 'api' : flag === '--lifecycle' ? 'production' : 'payments'}`}`})
  }
  const {settings} = await settingsFor(request, deps)
  const target = requireBaseUrl(settings)
  const filter = {kind: request.kind ?? 'component', ...(request.owner ? {owner: request.owner} : {}), ...(request.system ? {system: request.system} : {}), ...(request.lifecycle ? {lifecycle: request.lifecycle} : {})}
  const entities = await client(target, deps).list(filter)
  return {backstage: target.baseUrl, filter, entities: entities.map(summary)}
}

export const renderCatalogList: Human<CatalogListResult> = (result) => {
  const conditions = Object.entries(result.filter).map(([k, v]) => `${k}=${v}`).join(', ')
  if (result.entities.length === 0) return `No entities in ${result.backstage} match ${conditions}.`
  return table(
    ['NAME', 'KIND', 'TYPE', 'LIFECYCLE', 'OWNER', 'SYSTEM'],
    result.entities.map((e) => [e.namespace === 'default' ? e.name : `${e.namespace}/${e.name}`, e.kind, e.type ?? '', e.lifecycle ?? '', e.owner ?? '', e.system ?? '']),
  )
}

// ---- show ------------------------------------------------------------------------------------

export interface CatalogShowRequest extends CatalogRequestBase {
  /** `[kind:][namespace/]name`; the kind defaults to component. */
  name: string
}

export interface CatalogEnvironment {
  name: string
  cluster: string
  driver: string
  namespace: string
  protected: boolean
  ttl?: string
  url?: string
}

export interface CatalogShowResult {
  backstage: string
  entity: EntitySummary & {
    links: Array<{url: string; title?: string}>
    annotations: Record<string, string>
    tags: string[]
    /** Where the source lives (github.com/project-slug, backstage.io/source-location). */
    repository?: string
    /** The location the catalog read it from (backstage.io/managed-by-location). */
    location?: string
  }
  /** The environments of .idp.yml, when the command runs in this component's repository. */
  environments?: CatalogEnvironment[]
  /** The .idp.yml they came from. */
  config?: string
}

function repositoryOf(annotations: Record<string, string>): string | undefined {
  const location = annotations['backstage.io/managed-by-location']
  const slug = annotations['github.com/project-slug']
  if (slug) {
    const url = location?.startsWith('url:') ? location.slice(4) : undefined
    let origin = 'https://github.com'
    try {
      if (url) origin = new URL(url).origin
    } catch {}
    return `${origin}/${slug}`
  }
  const source = annotations['backstage.io/source-location']
  if (source?.startsWith('url:')) return source.slice(4).replace(/\/(?:tree|blob)\/[^/]+\/?$/u, '')
  return undefined
}

export const catalogShow: Service<CatalogShowRequest, CatalogShowResult> = async (request, deps) => {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/u.test(request.name)) throw new UsageError(`"${request.name}" is not an entity reference.`, {hint: 'NAME is [kind:][namespace/]name, e.g. shop or api:default/shop-api.'})
  const ref = fullRef(request.name, 'component')
  const [kind = 'component', rest = ''] = ref.split(':')
  const [namespace = 'default', name = ''] = rest.split('/')
  const {loaded, settings} = await settingsFor(request, deps)
  const target = requireBaseUrl(settings)
  const entity = await client(target, deps).byName(kind, namespace, name)
  if (!entity) {
    throw new PrerequisiteError(`The Backstage catalog at ${target.baseUrl} has no ${ref}.`, {hint: `\`idp catalog list\` lists its components; a newly registered entity appears once the catalog has processed its location.`})
  }
  const annotations = {...(entity.metadata.annotations ?? {})}
  const repository = repositoryOf(annotations)
  const location = annotations['backstage.io/managed-by-location']
  const result: CatalogShowResult = {
    backstage: target.baseUrl,
    entity: {
      ...summary(entity),
      links: (entity.metadata.links ?? []).map((l) => ({url: l.url, ...(l.title ? {title: l.title} : {})})),
      annotations,
      tags: entity.metadata.tags ?? [],
      ...(repository ? {repository} : {}),
      ...(location ? {location} : {}),
    },
  }
  const config = loaded?.config
  if (config && entity.kind.toLowerCase() === 'component' && config.service.name.toLowerCase() === entity.metadata.name.toLowerCase()) {
    result.environments = Object.entries(config.environments).map(([envName, e]) => ({
      name: envName,
      cluster: e.cluster,
      driver: e.driver,
      namespace: e.namespace,
      protected: e.protected,
      ...(e.ttl ? {ttl: e.ttl} : {}),
      ...(e.url ? {url: e.url} : {}),
    }))
    result.config = loaded.filepath
  }
  return result
}

export const renderCatalogShow: Human<CatalogShowResult> = (result, view) => {
  const e = result.entity
  const lines = [`${e.ref}${e.title ? ` — ${e.title}` : ''}`]
  if (e.description) lines.push(`  ${e.description}`)
  const facts: Array<[string, string | undefined]> = [
    ['Owner', e.owner],
    ['Type', e.type],
    ['Lifecycle', e.lifecycle],
    ['System', e.system],
    ['Repository', e.repository],
    ['Location', e.location],
    ['Tags', e.tags.length > 0 ? e.tags.join(', ') : undefined],
  ]
  for (const [label, value] of facts) if (value) lines.push(`  ${`${label}:`.padEnd(12)}${value}`)
  if (e.links.length > 0) {
    lines.push('  Links:')
    for (const link of e.links) lines.push(`    ${link.title ? `${link.title}: ` : ''}${link.url}`)
  }
  const annotations = Object.entries(e.annotations).sort(([a], [b]) => a.localeCompare(b))
  if (annotations.length > 0) {
    lines.push('  Annotations:')
    for (const [key, value] of annotations) lines.push(`    ${key}: ${value}`)
  }
  if (result.environments) {
    lines.push(`  Environments (${path.relative(view.cwd, result.config ?? '') || result.config}):`)
    if (result.environments.length === 0) lines.push('    none')
    for (const env of result.environments) lines.push(`    ${env.name}: cluster ${env.cluster}, ${env.driver}, namespace ${env.namespace}${env.protected ? ', protected' : ''}${env.ttl ? `, ttl ${env.ttl}` : ''}${env.url ? `, ${env.url}` : ''}`)
  }
  return lines.join('\n')
}

// ---- validate --------------------------------------------------------------------------------

export interface CatalogValidateRequest extends CatalogRequestBase {
  /** FILE, relative to --dir (default catalog-info.yaml). */
  file?: string
  /** --offline: only Backstage's validators here, even when a Backstage URL is configured. */
  offline: boolean
}

export interface CatalogValidateResult {
  file: string
  entities: Array<{ref: string; line: number; valid: true}>
  /** The catalog that also validated every entity (POST /api/catalog/validate-entity), when a URL is known and not --offline. */
  backstage?: string
}

export const catalogValidate: Service<CatalogValidateRequest, CatalogValidateResult> = async (request, deps) => {
  const file = path.resolve(request.dir, request.file ?? 'catalog-info.yaml')
  const text = await readBoundedText(file).catch((error: unknown) => {
    throw new UsageError(`Cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`, {hint: 'Pass the path of a catalog-info.yaml (default ./catalog-info.yaml).'})
  })
  // The URL is resolved (and a bad one refused) before anything is read from the catalog.
  const {settings} = request.offline ? {settings: undefined} : await settingsFor(request, deps)
  const remote = settings?.baseUrl ? requireBaseUrl(settings) : undefined

  const {LineCounter, parseAllDocuments} = await import('../cli/yaml.js')
  const lineCounter = new LineCounter()
  const docs = parseAllDocuments(text, {lineCounter})
  const problems: ConfigProblem[] = []
  const list = Array.isArray(docs) ? docs : [docs]
  const entities: Array<{entity: unknown; line: number; index: number}> = []
  list.forEach((doc, index) => {
    const line = lineCounter.linePos(doc.range?.[0] ?? 0).line
    for (const error of doc.errors) {
      const pos = lineCounter.linePos(error.pos[0])
      problems.push({file, line: pos.line, column: pos.col, path: `document ${index + 1}`, message: error.message.split('\n')[0] ?? error.message})
    }
    if (doc.errors.length > 0) return
    const value = doc.toJS() as unknown
    if (value === null || value === undefined) return
    entities.push({entity: value, line, index})
  })
  if (problems.length === 0 && entities.length === 0) problems.push({file, path: '', message: 'holds no entity'})

  const {validateEntityOffline} = await import('./model.js')
  const checked: CatalogValidateResult['entities'] = []
  const catalog = remote ? client(remote, deps) : undefined
  for (const {entity, line, index} of entities) {
    const meta = (entity as {kind?: unknown; metadata?: {name?: unknown; namespace?: unknown}}) ?? {}
    const ref = typeof meta.kind === 'string' && typeof meta.metadata?.name === 'string' ? `${meta.kind.toLowerCase()}:${typeof meta.metadata.namespace === 'string' ? meta.metadata.namespace : 'default'}/${meta.metadata.name}` : `document ${index + 1}`
    const offline = await validateEntityOffline(entity)
    for (const p of offline) problems.push({file, line, path: ref, message: p.message})
    if (offline.length === 0 && catalog) {
      for (const p of await catalog.validate(entity, `url:${pathToFileURL(file).href}`)) problems.push({file, line, path: ref, message: `${remote?.baseUrl} (validate-entity): ${p.name}: ${p.message}`})
    }
    if (!problems.some((p) => p.path === ref)) checked.push({ref, line, valid: true})
  }
  if (problems.length > 0) {
    throw new ConfigError(`${file} is not a valid Backstage catalog file:\n${problems.map((p) => `  ${p.line ? `line ${p.line}: ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n')}`, problems, {
      hint: 'Fix what is listed; the format is https://backstage.io/docs/features/software-catalog/descriptor-format.',
    })
  }
  return {file, entities: checked, ...(remote ? {backstage: remote.baseUrl} : {})}
}

export const renderCatalogValidate: Human<CatalogValidateResult> = (result, view) => {
  const rel = path.relative(view.cwd, result.file) || result.file
  const by = result.backstage ? `Backstage's validators and the catalog at ${result.backstage}` : "Backstage's validators (offline)"
  return [`✓ ${rel} is valid (${by}):`, ...result.entities.map((e) => `  ${e.ref} (line ${e.line})`)].join('\n')
}

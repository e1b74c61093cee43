/**
 * The Backstage catalog's REST API (plugin-catalog-backend), the few endpoints idp uses, through
 * the shared JSON client (cli/http.ts): register a location (`POST /api/catalog/locations`, with
 * `?dryRun=true` first), read entities (`GET /api/catalog/entities/by-query`, `/by-name`), and
 * validate one (`POST /api/catalog/validate-entity`). The token goes in the Authorization header
 * only; a refusal becomes a RemoteError (exit 6) that carries the catalog's own error body.
 */
import type {Entity} from '@backstage/catalog-model'

import {CancelledError, RemoteError} from '../cli/errors.js'
import {httpJson, HttpUnreachable, type HttpJsonResponse} from '../cli/http.js'
import {redact} from '../cli/redact.js'

export interface CatalogClientOptions {
  baseUrl: string
  token?: string
  signal?: AbortSignal
  timeoutMs?: number
}

/** Backstage's error body (serializeError in @backstage/errors, as its error handler sends it). */
export interface BackstageErrorBody {
  error: {name: string; message: string}
  request?: {method: string; url: string}
  response?: {statusCode: number}
}

export interface RegisterOutcome {
  target: string
  /** The location's id in the catalog (absent when it was already registered). */
  locationId?: string
  /** Refs of the entities the location holds (from the dry run: what the catalog read from the file). */
  entities: string[]
  alreadyRegistered: boolean
}

export interface EntityFilter {
  kind?: string
  owner?: string
  system?: string
  lifecycle?: string
}

export function entityRef(entity: Pick<Entity, 'kind' | 'metadata'>): string {
  return `${entity.kind.toLowerCase()}:${entity.metadata.namespace ?? 'default'}/${entity.metadata.name}`
}

/** `[kind:][namespace/]name` as a full ref, lower case, `defaultKind` when none is given (owners are groups). */
export function fullRef(ref: string, defaultKind: string): string {
  const colon = ref.indexOf(':')
  const kind = colon > 0 ? ref.slice(0, colon) : defaultKind
  const rest = colon > 0 ? ref.slice(colon + 1) : ref
  const slash = rest.indexOf('/')
  const namespace = slash > 0 ? rest.slice(0, slash) : 'default'
  const name = slash > 0 ? rest.slice(slash + 1) : rest
  return `${kind}:${namespace}/${name}`.toLowerCase()
}

function isErrorBody(body: unknown): body is BackstageErrorBody {
  const error = (body as {error?: {name?: unknown; message?: unknown}} | undefined)?.error
  return typeof error?.name === 'string' && typeof error.message === 'string'
}

export class CatalogClient {
  readonly baseUrl: string
  private readonly token?: string
  private readonly signal?: AbortSignal
  private readonly timeoutMs: number

  constructor(options: CatalogClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/u, '')
    this.token = options.token
    this.signal = options.signal
    this.timeoutMs = options.timeoutMs ?? 30_000
  }

  private async call(what: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<HttpJsonResponse> {
    const url = new URL(`${this.baseUrl}/api/catalog${path}`)
    try {
      return await httpJson({method, url, headers: this.token ? {authorization: `Bearer ${this.token}`} : {}, body, timeoutMs: this.timeoutMs, ...(this.signal ? {signal: this.signal} : {})})
    } catch (error) {
      if (this.signal?.aborted) throw new CancelledError()
      if (!(error instanceof HttpUnreachable)) throw error
      throw new RemoteError(redact(`Could not reach the Backstage catalog at ${this.baseUrl} to ${what}: ${error.code && !error.message.includes(error.code) ? `${error.code}: ` : ''}${error.message}`), {
        hint: 'Check the Backstage URL (--backstage-url, backstage.baseUrl, BACKSTAGE_URL) and your network; the catalog is served by the Backstage backend under /api/catalog.',
        details: {backstage: this.baseUrl, ...(error.code ? {networkCode: error.code} : {})},
      })
    }
  }

  /** The catalog's refusal as exit 6, with its own error body in the message and in --json's details. */
  refusal(what: string, answer: HttpJsonResponse): RemoteError {
    const body = answer.body
    const text = isErrorBody(body) ? `${body.error.name}: ${body.error.message}` : typeof body === 'string' && body.trim() ? body.trim().slice(0, 500) : `HTTP ${answer.status}`
    const hint =
      answer.status === 401
        ? 'Set BACKSTAGE_TOKEN to a static external-access token the backend accepts (backend.auth.externalAccess, type static).'
        : answer.status === 403
          ? 'The token is valid but not allowed to do this: check the permission policy of the catalog and the access restrictions of the external-access token.'
          : answer.status === 404
            ? `Check that ${this.baseUrl} is the Backstage backend's base URL and that the catalog plugin is installed.`
            : 'The catalog\'s own error is above; fix what it names and run the command again.'
    return new RemoteError(redact(`The Backstage catalog refused to ${what} (${answer.status}): ${text}`), {
      hint,
      details: {backstage: this.baseUrl, status: answer.status, ...(isErrorBody(body) ? {catalogError: {name: body.error.name, message: redact(body.error.message)}} : {})},
    })
  }

  /**
   * `POST /locations?dryRun=true`, then for real; a location that exists already is success.
   * `onPreview` hears what the dry run found before the real request is sent (so a run cut short
   * by Ctrl-C still knows whether a location it finds afterwards was there before it).
   */
  async register(target: string, onPreview?: (preview: {exists: boolean; entities: string[]}) => void): Promise<RegisterOutcome> {
    const location = {type: 'url', target}
    const dry = await this.call(`check the registration of ${target}`, 'POST', '/locations?dryRun=true', location)
    if (dry.status !== 201 && dry.status !== 200) throw this.refusal(`register ${target} (dry run)`, dry)
    const preview = dry.body as {exists?: boolean; entities?: Entity[]}
    // Without the Location entity the catalog generates for the registration itself.
    const entities = (preview.entities ?? []).filter((e) => !(e.kind === 'Location' && e.metadata.name.startsWith('generated-'))).map(entityRef)
    onPreview?.({exists: preview.exists === true, entities})
    const real = await this.call(`register ${target}`, 'POST', '/locations', location)
    if (real.status === 409) return {target, entities, alreadyRegistered: true}
    if (real.status !== 201 && real.status !== 200) throw this.refusal(`register ${target}`, real)
    const created = real.body as {location?: {id?: string}}
    return {target, entities, alreadyRegistered: false, ...(created.location?.id ? {locationId: created.location.id} : {})}
  }

  /** The id of the location registered for `target`, if the catalog has one (`GET /locations`). */
  async locationId(target: string): Promise<string | undefined> {
    const answer = await this.call('list locations', 'GET', '/locations')
    if (answer.status !== 200) throw this.refusal('list locations', answer)
    const rows = (answer.body as Array<{data?: {id?: string; type?: string; target?: string}}> | undefined) ?? []
    return rows.find((row) => row.data?.type === 'url' && row.data.target === target)?.data?.id
  }

  /** `DELETE /locations/{id}`: the location and the entities it holds leave the catalog. False when it was already gone. */
  async unregister(id: string): Promise<boolean> {
    const answer = await this.call(`remove location ${id}`, 'DELETE', `/locations/${encodeURIComponent(id)}`)
    if (answer.status === 404) return false
    if (answer.status !== 204 && answer.status !== 200) throw this.refusal(`remove location ${id}`, answer)
    return true
  }

  /** Every entity matching the filter (all pages), sorted by ref. */
  async list(filter: EntityFilter): Promise<Entity[]> {
    const conditions = [`kind=${filter.kind ?? 'component'}`]
    if (filter.owner) conditions.push(`relations.ownedBy=${fullRef(filter.owner, 'group')}`)
    if (filter.system) conditions.push(`spec.system=${filter.system}`)
    if (filter.lifecycle) conditions.push(`spec.lifecycle=${filter.lifecycle}`)
    const items: Entity[] = []
    let cursor: string | undefined
    for (let page = 0; page < 200; page++) {
      const query = new URLSearchParams(cursor ? {cursor, limit: '500'} : {filter: conditions.join(','), limit: '500'})
      const answer = await this.call('list entities', 'GET', `/entities/by-query?${query.toString()}`)
      if (answer.status !== 200) throw this.refusal('list entities', answer)
      const body = answer.body as {items?: Entity[]; pageInfo?: {nextCursor?: string}}
      items.push(...(body.items ?? []))
      cursor = body.pageInfo?.nextCursor
      if (!cursor) break
    }
    return items.sort((a, b) => entityRef(a).localeCompare(entityRef(b)))
  }

  /** One entity by kind, namespace and name, or undefined when the catalog has none. */
  async byName(kind: string, namespace: string, name: string): Promise<Entity | undefined> {
    const answer = await this.call(`read ${kind}:${namespace}/${name}`, 'GET', `/entities/by-name/${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`)
    if (answer.status === 404) return undefined
    if (answer.status !== 200) throw this.refusal(`read ${kind}:${namespace}/${name}`, answer)
    return answer.body as Entity
  }

  /** `POST /validate-entity`: the catalog's processors' verdict on one entity; [] when valid. */
  async validate(entity: unknown, location: string): Promise<Array<{name: string; message: string}>> {
    const answer = await this.call('validate an entity', 'POST', '/validate-entity', {entity, location})
    if (answer.status === 200) return []
    const errors = (answer.body as {errors?: Array<{name?: unknown; message?: unknown}>} | undefined)?.errors
    if (answer.status === 400 && Array.isArray(errors)) return errors.map((e) => ({name: String(e.name ?? 'Error'), message: redact(String(e.message ?? ''))}))
    throw this.refusal('validate an entity', answer)
  }
}

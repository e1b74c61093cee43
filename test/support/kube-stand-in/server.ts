// The HTTP face of the stand-in: discovery, OpenAPI, CRUD, PATCH, watch, Status errors,
// several clusters by URL prefix (/clusters/<id>/...) and an admin API (/_standin/...).
import http from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import {parse as parseYaml} from 'yaml'
import {ADMIN, ApiError, Cluster, type User, type WatchEvent} from './cluster.js'
import {decodeKubeProtobuf, UnsupportedProtobufError} from './protobuf.js'
import {ALL_VERBS, apiVersionOf, type KubeObject, type ResourceType} from './types.js'

export const KUBE_VERSION = {
  major: '1',
  minor: '35',
  gitVersion: 'v1.35.0-standin',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-12-01T00:00:00Z',
  goVersion: 'go1.25.0',
  compiler: 'gc',
  platform: 'linux/amd64',
}

export interface FailRule {
  method: string
  path: RegExp
  status: number
  message?: string
  times: number
}

export interface RequestRecord {
  method: string
  path: string
  query: string
  contentType?: string
  accept?: string
  user: string
  status?: number
  /** Which client connection carried the request (1, 2, ... in order of connecting): shows keep-alive reuse. */
  connection: number
  /** When the request arrived, in ms on the server's monotonic clock (to tell requests sent together from ones sent after another's answer). */
  at?: number
  /** Arrival to the last byte of the answer, in ms (the injected delay included); set when the answer is sent. */
  ms?: number
}

export interface ServerState {
  clusters: Map<string, Cluster>
  tokens: Map<string, User>
  failRules: FailRule[]
  delayMs: number
  requests: RequestRecord[]
  openWatches: Set<http.ServerResponse>
  createCluster(id: string, options?: {argocd?: boolean}): Cluster
  deleteCluster(id: string): boolean
  url: string
}

const JSON_TYPE = 'application/json'

function send(res: http.ServerResponse, status: number, body: unknown, contentType = JSON_TYPE) {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, {'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text)})
  res.end(text)
}

function sendError(res: http.ServerResponse, error: ApiError) {
  send(res, error.code, error.toStatus())
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function parseBody(body: Buffer, contentType: string): any {
  if (body.length === 0) return undefined
  if (contentType.startsWith('application/vnd.kubernetes.protobuf')) {
    try {
      return decodeKubeProtobuf(body)
    } catch (error) {
      if (error instanceof UnsupportedProtobufError) throw new ApiError(415, error.message, 'UnsupportedMediaType')
      throw new ApiError(400, `invalid protobuf body: ${(error as Error).message}`)
    }
  }
  const text = body.toString('utf8')
  try {
    return contentType.includes('yaml') ? parseYaml(text) : JSON.parse(text)
  } catch (error) {
    throw new ApiError(400, `couldn't get version/kind; json parse error: ${(error as Error).message}`)
  }
}

// ---- discovery ----------------------------------------------------------------------------

function verbsOf(type: ResourceType): string[] {
  return type.createOnly ? ['create'] : ALL_VERBS
}

function subresourceVerbs(sub: string): string[] {
  if (sub === 'log') return ['get']
  if (sub === 'finalize') return ['update']
  return ['get', 'patch', 'update']
}

function groupVersions(cluster: Cluster): Map<string, Map<string, ResourceType[]>> {
  const groups = new Map<string, Map<string, ResourceType[]>>()
  for (const type of cluster.allTypes()) {
    const versions = groups.get(type.group) ?? new Map<string, ResourceType[]>()
    versions.set(type.version, [...(versions.get(type.version) ?? []), type])
    groups.set(type.group, versions)
  }
  return groups
}

function apiResourceList(cluster: Cluster, group: string, version: string): KubeObject {
  const types = cluster.allTypes().filter((t) => t.group === group && t.version === version)
  if (types.length === 0) throw new ApiError(404, 'the server could not find the requested resource')
  const resources: any[] = []
  for (const t of types) {
    resources.push({
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: verbsOf(t),
      ...(t.shortNames?.length ? {shortNames: t.shortNames} : {}),
      ...(t.categories?.length ? {categories: t.categories} : {}),
    })
    for (const sub of t.subresources ?? []) {
      resources.push({name: `${t.plural}/${sub}`, singularName: '', namespaced: t.namespaced, kind: sub === 'scale' ? 'Scale' : t.kind, verbs: subresourceVerbs(sub)})
    }
  }
  return {kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources}
}

function discoveryItem(group: string, versions: Map<string, ResourceType[]>): KubeObject {
  return {
    metadata: {name: group, creationTimestamp: null},
    versions: [...versions.entries()].map(([version, types]) => ({
      version,
      freshness: 'Current',
      resources: types.map((t) => ({
        resource: t.plural,
        responseKind: {group: t.group, version: t.version, kind: t.kind},
        scope: t.namespaced ? 'Namespaced' : 'Cluster',
        singularResource: t.singular,
        verbs: verbsOf(t),
        ...(t.shortNames?.length ? {shortNames: t.shortNames} : {}),
        ...(t.categories?.length ? {categories: t.categories} : {}),
        ...(t.subresources?.length
          ? {
              subresources: t.subresources.map((sub) => ({
                subresource: sub,
                responseKind: sub === 'scale' ? {group: 'autoscaling', version: 'v1', kind: 'Scale'} : sub === 'log' ? {group: '', version: 'v1', kind: 'Pod'} : {group: t.group, version: t.version, kind: t.kind},
                verbs: subresourceVerbs(sub),
              })),
            }
          : {}),
      })),
    })),
  }
}

/** Aggregated discovery (apidiscovery.k8s.io/v2) when the client asks for it, legacy otherwise. */
function discovery(cluster: Cluster, legacy: boolean, accept: string): {body: KubeObject; contentType: string} {
  const groups = groupVersions(cluster)
  const aggregated = /g=apidiscovery\.k8s\.io;\s*v=(v2beta1|v2)\b/.exec(accept)
  if (aggregated) {
    const version = accept.includes('v=v2;') || accept.includes('v=v2,') || accept.endsWith('v=v2') ? 'v2' : aggregated[1]!
    const items = legacy
      ? [discoveryItem('', groups.get('') ?? new Map())]
      : [...groups.entries()].filter(([g]) => g !== '').map(([g, versions]) => discoveryItem(g, versions))
    return {
      body: {kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items},
      contentType: `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`,
    }
  }
  if (legacy) {
    return {
      body: {kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1'}]},
      contentType: JSON_TYPE,
    }
  }
  return {
    body: {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups.entries()]
        .filter(([g]) => g !== '')
        .map(([name, versions]) => {
          const list = [...versions.keys()].map((v) => ({groupVersion: `${name}/${v}`, version: v}))
          return {name, versions: list, preferredVersion: list[0]}
        }),
    },
    contentType: JSON_TYPE,
  }
}

// OpenAPI v3 just detailed enough for kubectl to see that the server validates fields itself
// (a PATCH operation with a fieldValidation parameter per kind), so it needs no client-side schema.
function openApiRoot(cluster: Cluster): KubeObject {
  const paths: Record<string, {serverRelativeURL: string}> = {}
  for (const [group, versions] of groupVersions(cluster)) {
    for (const version of versions.keys()) {
      const p = group ? `apis/${group}/${version}` : `api/${version}`
      paths[p] = {serverRelativeURL: `/openapi/v3/${p}?hash=${cluster.resourceVersion}`}
    }
  }
  return {paths}
}

function openApiGroupVersion(cluster: Cluster, group: string, version: string): KubeObject {
  const types = cluster.allTypes().filter((t) => t.group === group && t.version === version)
  if (types.length === 0) throw new ApiError(404, 'the server could not find the requested resource')
  const paths: Record<string, any> = {}
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`
  const params = [
    {name: 'fieldValidation', in: 'query', schema: {type: 'string'}, uniqueItems: true},
    {name: 'fieldManager', in: 'query', schema: {type: 'string'}, uniqueItems: true},
    {name: 'dryRun', in: 'query', schema: {type: 'string'}, uniqueItems: true},
  ]
  for (const t of types) {
    const gvk = {group: t.group, version: t.version, kind: t.kind}
    const op = (action: string) => ({'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, parameters: params, responses: {}})
    const base = t.namespaced ? `${prefix}/namespaces/{namespace}/${t.plural}` : `${prefix}/${t.plural}`
    paths[base] = {post: op('post'), get: op('list')}
    paths[`${base}/{name}`] = {get: op('get'), put: op('put'), patch: op('patch'), delete: op('delete')}
  }
  return {openapi: '3.0.0', info: {title: 'Kubernetes', version: KUBE_VERSION.gitVersion}, paths, components: {schemas: {}}}
}

// ---- tables (kubectl get's human output) ----------------------------------------------------

function age(ts: string | undefined): string {
  if (!ts) return '<unknown>'
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.floor(s / 60)}m`
  return `${Math.floor(s / 3600)}h`
}

function table(type: ResourceType, items: KubeObject[], rv: string): KubeObject {
  const extra: Array<{name: string; value: (o: KubeObject) => string}> = []
  if (type.kind === 'Deployment' || type.kind === 'StatefulSet') {
    extra.push({name: 'Ready', value: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`})
  }
  if (type.kind === 'Pod') {
    extra.push({name: 'Status', value: (o) => o.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? o.status?.phase ?? 'Pending'})
  }
  if (type.kind === 'Namespace') extra.push({name: 'Status', value: (o) => o.status?.phase ?? 'Active'})
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: {resourceVersion: rv},
    columnDefinitions: [
      {name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0},
      ...extra.map((c) => ({name: c.name, type: 'string', format: '', description: c.name, priority: 0})),
      {name: 'Age', type: 'string', format: '', description: 'Age', priority: 0},
    ],
    rows: items.map((o) => ({
      cells: [o.metadata?.name, ...extra.map((c) => c.value(o)), age(o.metadata?.creationTimestamp)],
      object: {kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata},
    })),
  }
}

// ---- request handling ------------------------------------------------------------------------

interface Target {
  type: ResourceType
  namespace: string
  name?: string
  subresource?: string
}

function resolveTarget(cluster: Cluster, group: string, version: string, segments: string[]): Target {
  const find = (plural: string) => cluster.findType(group, version, plural)
  let namespace = ''
  let rest = segments
  if (segments[0] === 'namespaces' && segments.length >= 3 && find(segments[2]!)?.namespaced) {
    namespace = segments[1]!
    rest = segments.slice(2)
  }
  const [plural, name, subresource, ...extra] = rest
  const type = plural ? find(plural) : undefined
  if (!type || extra.length > 0) throw new ApiError(404, 'the server could not find the requested resource', 'NotFound', {})
  if (subresource && !(type.subresources ?? []).includes(subresource)) {
    throw new ApiError(404, 'the server could not find the requested resource', 'NotFound', {})
  }
  return {type, namespace, name, subresource}
}

function verbFor(method: string, target: Target, query: URLSearchParams): string {
  if (method === 'GET') return target.name ? 'get' : query.get('watch') === 'true' || query.get('watch') === '1' ? 'watch' : 'list'
  if (method === 'POST') return 'create'
  if (method === 'PUT') return 'update'
  if (method === 'PATCH') return 'patch'
  if (method === 'DELETE') return target.name ? 'delete' : 'deletecollection'
  return method.toLowerCase()
}

function forbidden(user: User, verb: string, target: Target): ApiError {
  const {type, namespace, name, subresource} = target
  const resource = subresource ? `${type.plural}/${subresource}` : type.plural
  const scope = type.namespaced && namespace ? `in the namespace "${namespace}"` : 'at the cluster scope'
  const subject = name ? `${type.plural}${type.group ? `.${type.group}` : ''} "${name}"` : `${type.plural}${type.group ? `.${type.group}` : ''}`
  return new ApiError(
    403,
    `${subject} is forbidden: User "${user.name}" cannot ${verb} resource "${resource}" in API group "${type.group}" ${scope}`,
    'Forbidden',
    {name, group: type.group, kind: type.plural},
  )
}

function reviewAccess(cluster: Cluster, user: User, review: KubeObject): KubeObject {
  const spec = review.spec ?? {}
  const ra = spec.resourceAttributes
  const nra = spec.nonResourceAttributes
  const decision = ra
    ? cluster.authorize(user, {verb: ra.verb, group: ra.group ?? '', resource: ra.resource, subresource: ra.subresource, namespace: ra.namespace, name: ra.name})
    : cluster.authorize(user, {verb: nra?.verb ?? 'get', path: nra?.path ?? '/'})
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: review.kind ?? 'SelfSubjectAccessReview',
    metadata: {creationTimestamp: null},
    spec,
    status: {allowed: decision.allowed, ...(decision.reason ? {reason: decision.reason} : {})},
  }
}

function startWatch(
  state: ServerState,
  cluster: Cluster,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: Target,
  query: URLSearchParams,
) {
  const filter = cluster.filter({labelSelector: query.get('labelSelector') ?? undefined, fieldSelector: query.get('fieldSelector') ?? undefined})
  const namespace = target.type.namespaced && target.namespace ? target.namespace : undefined
  const rvParam = query.get('resourceVersion') ?? ''
  const initial = query.get('sendInitialEvents') === 'true'
  let backlog: WatchEvent[]
  if (initial || rvParam === '' || rvParam === '0') {
    backlog = cluster.list(target.type, namespace, {}).filter(filter).map((object) => ({type: 'ADDED' as const, object}))
  } else {
    const since = cluster.eventsSince(target.type, namespace, Number(rvParam), filter)
    if (!since) {
      sendError(res, new ApiError(410, `too old resource version: ${rvParam} (${cluster.resourceVersion})`, 'Expired'))
      return
    }
    backlog = since
  }
  res.writeHead(200, {'Content-Type': JSON_TYPE, 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private'})
  res.flushHeaders()
  const write = (event: WatchEvent) => {
    if (!res.writableEnded) res.write(`${JSON.stringify(event)}\n`)
  }
  for (const event of backlog) write(event)
  if (initial) {
    write({
      type: 'BOOKMARK',
      object: {
        kind: target.type.kind,
        apiVersion: apiVersionOf(target.type),
        metadata: {resourceVersion: String(cluster.resourceVersion), annotations: {'k8s.io/initial-events-end': 'true'}},
      },
    })
  }
  const watcher = cluster.watcherFor(target.type, namespace, filter, write)
  cluster.watchers.add(watcher)
  state.openWatches.add(res)
  const timeout = Number(query.get('timeoutSeconds') ?? 0)
  const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined
  const cleanup = () => {
    if (timer) clearTimeout(timer)
    cluster.watchers.delete(watcher)
    state.openWatches.delete(res)
  }
  res.on('close', cleanup)
  req.on('close', cleanup)
}

function authenticate(state: ServerState, req: http.IncomingMessage): User {
  const header = req.headers.authorization
  if (!header) return ADMIN
  const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]
  const user = token ? state.tokens.get(token) : undefined
  if (!user) throw new ApiError(401, 'Unauthorized', 'Unauthorized')
  return user
}

async function handleAdmin(state: ServerState, req: http.IncomingMessage, res: http.ServerResponse, segments: string[]) {
  const [what, id] = segments
  if (what !== 'clusters') throw new ApiError(404, 'unknown stand-in admin path')
  const describe = (c: Cluster) => ({id: c.id, server: `${state.url}/clusters/${c.id}`})
  if (!id && req.method === 'GET') return send(res, 200, {items: [...state.clusters.values()].map(describe)})
  if (!id) throw new ApiError(405, 'use PUT or DELETE /_standin/clusters/<id>')
  if (req.method === 'PUT') {
    const existing = state.clusters.get(id)
    const body = parseBody(await readBody(req), JSON_TYPE) ?? {}
    return send(res, existing ? 200 : 201, describe(existing ?? state.createCluster(id, body)))
  }
  if (req.method === 'DELETE') {
    if (!state.deleteCluster(id)) throw new ApiError(404, `cluster "${id}" not found`)
    return send(res, 200, {id, deleted: true})
  }
  if (req.method === 'GET') {
    const cluster = state.clusters.get(id)
    if (!cluster) throw new ApiError(404, `cluster "${id}" not found`)
    return send(res, 200, describe(cluster))
  }
  throw new ApiError(405, `method ${req.method} not allowed`)
}

async function handle(state: ServerState, req: http.IncomingMessage, res: http.ServerResponse, record: RequestRecord) {
  const url = new URL(req.url ?? '/', 'http://stand-in')
  const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent)
  if (state.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, state.delayMs))
  const rule = state.failRules.find((r) => (r.method === '*' || r.method === req.method) && r.path.test(url.pathname))
  if (rule) {
    rule.times -= 1
    if (rule.times <= 0) state.failRules.splice(state.failRules.indexOf(rule), 1)
    throw new ApiError(rule.status, rule.message ?? `injected failure (${rule.status}) for ${req.method} ${url.pathname}`)
  }
  if (segments[0] === '_standin') return handleAdmin(state, req, res, segments.slice(1))
  if (segments[0] !== 'clusters' || !segments[1]) throw new ApiError(404, 'the server could not find the requested resource (use /clusters/<id>/...)')
  const cluster = state.clusters.get(segments[1])
  if (!cluster) throw new ApiError(404, `no such cluster "${segments[1]}" in the stand-in`)
  const user = authenticate(state, req)
  record.user = user.name
  const path = segments.slice(2)
  const accept = String(req.headers.accept ?? '')
  const method = req.method ?? 'GET'
  const query = url.searchParams

  // Non-resource endpoints.
  const joined = path.join('/')
  if (joined === 'version') return send(res, 200, KUBE_VERSION)
  if (['healthz', 'readyz', 'livez'].includes(joined)) return send(res, 200, 'ok', 'text/plain')
  if (joined === 'api' || joined === 'apis') {
    const {body, contentType} = discovery(cluster, joined === 'api', accept)
    return send(res, 200, body, contentType)
  }
  if (joined === 'openapi/v3') return send(res, 200, openApiRoot(cluster))
  if (path[0] === 'openapi' && path[1] === 'v3') {
    const [kind, a, b] = path.slice(2)
    return send(res, 200, kind === 'api' ? openApiGroupVersion(cluster, '', a!) : openApiGroupVersion(cluster, a!, b!))
  }
  if (path[0] === 'openapi') throw new ApiError(404, 'the server could not find the requested resource')

  let group: string
  let version: string
  let rest: string[]
  if (path[0] === 'api' && path[1]) {
    group = ''
    version = path[1]
    rest = path.slice(2)
  } else if (path[0] === 'apis' && path[1]) {
    if (!path[2]) {
      const versions = groupVersions(cluster).get(path[1])
      if (!versions) throw new ApiError(404, 'the server could not find the requested resource')
      const list = [...versions.keys()].map((v) => ({groupVersion: `${path[1]}/${v}`, version: v}))
      return send(res, 200, {kind: 'APIGroup', apiVersion: 'v1', name: path[1], versions: list, preferredVersion: list[0]})
    }
    group = path[1]
    version = path[2]
    rest = path.slice(3)
  } else throw new ApiError(404, 'the server could not find the requested resource')
  if (rest.length === 0) return send(res, 200, apiResourceList(cluster, group, version))

  const target = resolveTarget(cluster, group, version, rest)
  const {type, namespace, name, subresource} = target
  const verb = verbFor(method, target, query)
  const allowed = cluster.authorize(user, {verb, group: type.group, resource: type.plural, subresource, namespace: type.namespaced ? namespace : undefined, name})
  if (!allowed.allowed && !type.createOnly) throw forbidden(user, verb, target)

  const contentType = String(req.headers['content-type'] ?? JSON_TYPE)
  record.contentType = req.headers['content-type']
  const dryRun = query.getAll('dryRun').includes('All')
  const fieldManager = query.get('fieldManager') ?? undefined

  if (type.createOnly) {
    if (method !== 'POST') throw new ApiError(405, `the server does not allow this method on the requested resource`, 'MethodNotAllowed')
    const review = parseBody(await readBody(req), contentType) ?? {}
    return send(res, 201, reviewAccess(cluster, user, review))
  }

  if (subresource === 'log') {
    cluster.get(type, namespace, name!)
    return send(res, 200, cluster.podLogs.get(`${namespace}/${name}`) ?? '', 'text/plain')
  }

  if (method === 'GET' && name) {
    const obj = cluster.get(type, namespace, name)
    if (accept.includes('as=Table')) return send(res, 200, table(type, [obj], String(cluster.resourceVersion)))
    return send(res, 200, obj)
  }
  if (method === 'GET') {
    if (verb === 'watch') return startWatch(state, cluster, req, res, target, query)
    const ns = type.namespaced && namespace ? namespace : undefined
    // A real API server lists an empty collection for a namespace that does not exist (helm 3's
    // release query before --create-namespace relies on it).
    const items = cluster.list(type, ns, {labelSelector: query.get('labelSelector') ?? undefined, fieldSelector: query.get('fieldSelector') ?? undefined})
    const rv = String(cluster.resourceVersion)
    if (accept.includes('as=Table')) return send(res, 200, table(type, items, rv))
    return send(res, 200, {kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: {resourceVersion: rv}, items})
  }
  const body = parseBody(await readBody(req), contentType)
  if (method === 'POST' && !name) {
    if (!body) throw new ApiError(400, 'the body of the request was empty')
    return send(res, 201, cluster.create(type, namespace, body, {dryRun, fieldManager}))
  }
  if (method === 'PUT' && name) {
    if (!body) throw new ApiError(400, 'the body of the request was empty')
    return send(res, 200, cluster.update(type, namespace, name, body, {subresource, dryRun, fieldManager}))
  }
  if (method === 'PATCH' && name) {
    if (body === undefined) throw new ApiError(400, 'the body of the request was empty')
    const existed = cluster.tryGet(type, namespace, name) !== undefined
    const result = cluster.patch(type, namespace, name, contentType, body, {subresource, dryRun, fieldManager, force: query.get('force') === 'true'})
    return send(res, existed ? 200 : 201, result)
  }
  if (method === 'DELETE' && name) {
    const options = body ?? {}
    const deleted = cluster.delete(type, namespace, name, {dryRun: dryRun || (options.dryRun ?? []).includes('All'), preconditions: options.preconditions})
    if (type.kind === 'Namespace' || type.kind === 'Pod') return send(res, 200, deleted)
    return send(res, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: {name, group: type.group, kind: type.plural, uid: deleted.metadata?.uid},
    })
  }
  if (method === 'DELETE') {
    const ns = type.namespaced && namespace ? namespace : undefined
    const items = cluster.list(type, ns, {labelSelector: query.get('labelSelector') ?? undefined, fieldSelector: query.get('fieldSelector') ?? undefined})
    for (const item of items) if (!dryRun) cluster.delete(type, item.metadata?.namespace ?? '', item.metadata!.name)
    return send(res, 200, {kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: {resourceVersion: String(cluster.resourceVersion)}, items})
  }
  throw new ApiError(405, `the server does not allow this method on the requested resource`, 'MethodNotAllowed')
}

export function createServer(state: ServerState, tls?: {key: string; cert: string}): http.Server {
  const connections = new WeakMap<object, number>()
  let connectionCount = 0
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in')
    let connection = connections.get(req.socket)
    if (connection === undefined) connections.set(req.socket, (connection = ++connectionCount))
    const arrived = process.hrtime.bigint()
    const record: RequestRecord = {
      at: Number(arrived) / 1e6,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      accept: req.headers.accept,
      user: '',
      connection,
    }
    state.requests.push(record)
    if (state.requests.length > 10_000) state.requests.splice(0, 1000)
    res.on('finish', () => {
      record.status = res.statusCode
      record.ms = Number(process.hrtime.bigint() - arrived) / 1e6
    })
    handle(state, req, res, record).catch((error: unknown) => {
      const apiError = error instanceof ApiError ? error : new ApiError(500, `stand-in internal error: ${(error as Error)?.stack ?? String(error)}`)
      if (res.headersSent) res.end()
      else sendError(res, apiError)
    })
  }
  return tls ? https.createServer(tls, handler) : http.createServer(handler)
}

export function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
}

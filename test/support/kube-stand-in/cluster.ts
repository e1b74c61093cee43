// One isolated Kubernetes API "cluster": typed storage, resourceVersions, watches, RBAC.
import {randomUUID} from 'node:crypto'
import {AppProject} from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject'
import {Application} from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application'
import {fieldsV1, jsonPatch, mergePatch, PatchError, serverSideApply, strategicMergePatch} from './patch.js'
import {matchesLabels, parseFieldSelector, parseLabelSelector} from './selectors.js'
import {
  apiVersionOf,
  argoCdCrds,
  BUILTIN_TYPES,
  builtinClusterRoles,
  type KubeObject,
  type ResourceType,
  typesFromCrd,
} from './types.js'

export interface StatusDetails {
  name?: string
  group?: string
  kind?: string
  causes?: Array<{reason?: string; message: string; field?: string}>
  retryAfterSeconds?: number
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
}

/** An API error, rendered as a metav1.Status exactly like the real server's. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason: string = REASONS[code] ?? 'Unknown',
    readonly details?: StatusDetails,
  ) {
    super(message)
  }

  toStatus(): KubeObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? {details: this.details} : {}),
      code: this.code,
    }
  }
}

export const notFound = (type: ResourceType, name: string) =>
  new ApiError(404, `${type.plural}${type.group ? `.${type.group}` : ''} "${name}" not found`, 'NotFound', {
    name,
    group: type.group,
    kind: type.plural,
  })

export interface User {
  name: string
  groups: string[]
}

export const ADMIN: User = {name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated']}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'
  object: KubeObject
}

interface LogEntry {
  rv: number
  storeKey: string
  namespace: string
  event: WatchEvent
}

export interface Watcher {
  storeKey: string
  namespace?: string
  filter: (obj: KubeObject) => boolean
  send: (event: WatchEvent) => void
}

export interface ListOptions {
  labelSelector?: string
  fieldSelector?: string
}

export type Change = {type: 'ADDED' | 'MODIFIED' | 'DELETED'; resource: ResourceType; object: KubeObject}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v)

export class Cluster {
  private readonly types = new Map<string, ResourceType>()
  private readonly objects = new Map<string, KubeObject>()
  private readonly log: LogEntry[] = []
  private readonly applied = new Map<string, KubeObject>()
  readonly watchers = new Set<Watcher>()
  private readonly listeners: Array<(change: Change) => void> = []
  private rv = 0
  private trimmedBefore = 0
  private serviceIps = 0
  /** Container logs by namespace/pod, served at pods/NAME/log. */
  readonly podLogs = new Map<string, string>()

  constructor(
    readonly id: string,
    options: {argocd?: boolean} = {},
  ) {
    for (const type of BUILTIN_TYPES) this.types.set(this.typeKey(type.group, type.version, type.plural), type)
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.create(this.type('', 'v1', 'namespaces'), '', {apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns}})
    }
    const clusterRoles = this.type('rbac.authorization.k8s.io', 'v1', 'clusterroles')
    for (const role of builtinClusterRoles()) this.create(clusterRoles, '', role)
    if (options.argocd !== false) {
      const crds = this.type('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')
      for (const crd of argoCdCrds()) this.create(crds, '', crd)
    }
  }

  get resourceVersion(): number {
    return this.rv
  }

  onChange(listener: (change: Change) => void): void {
    this.listeners.push(listener)
  }

  private typeKey(group: string, version: string, plural: string) {
    return `${group}/${version}/${plural}`
  }

  allTypes(): ResourceType[] {
    return [...this.types.values()]
  }

  type(group: string, version: string, plural: string): ResourceType {
    const type = this.types.get(this.typeKey(group, version, plural))
    if (!type) throw new ApiError(404, 'the server could not find the requested resource', 'NotFound', {})
    return type
  }

  findType(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.get(this.typeKey(group, version, plural))
  }

  typeForKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.allTypes().find((t) => apiVersionOf(t) === apiVersion && t.kind === kind)
  }

  private storeKey(type: ResourceType) {
    return `${type.group}/${type.plural}`
  }

  private objectKey(type: ResourceType, namespace: string, name: string) {
    return `${this.storeKey(type)}/${type.namespaced ? namespace : ''}/${name}`
  }

  private out(type: ResourceType, obj: KubeObject): KubeObject {
    const copy = structuredClone(obj)
    copy.apiVersion = apiVersionOf(type)
    return copy
  }

  private record(type: ResourceType, eventType: Change['type'], obj: KubeObject) {
    const rv = Number(obj.metadata?.resourceVersion ?? this.rv)
    const entry: LogEntry = {
      rv,
      storeKey: this.storeKey(type),
      namespace: obj.metadata?.namespace ?? '',
      event: {type: eventType, object: structuredClone(obj)},
    }
    this.log.push(entry)
    if (this.log.length > 5000) {
      this.log.splice(0, this.log.length - 5000)
      this.trimmedBefore = this.log[0]!.rv
    }
    for (const watcher of this.watchers) this.deliver(watcher, entry, type)
    for (const listener of this.listeners) listener({type: eventType, resource: type, object: structuredClone(obj)})
  }

  private deliver(watcher: Watcher, entry: LogEntry, type: ResourceType) {
    if (watcher.storeKey !== entry.storeKey) return
    if (watcher.namespace && watcher.namespace !== entry.namespace) return
    if (!watcher.filter(entry.event.object)) return
    watcher.send({type: entry.event.type, object: this.out(type, entry.event.object)})
  }

  private assertNamespace(type: ResourceType, namespace: string) {
    if (!type.namespaced) return
    if (!this.objects.has(`/namespaces//${namespace}`)) {
      throw new ApiError(404, `namespaces "${namespace}" not found`, 'NotFound', {name: namespace, kind: 'namespaces'})
    }
  }

  private validate(type: ResourceType, obj: KubeObject, namespace: string) {
    if (!isObject(obj) || !isObject(obj.metadata ?? {})) throw new ApiError(400, 'the body of the request was not a Kubernetes object')
    if (obj.kind && obj.kind !== type.kind) {
      throw new ApiError(400, `the kind of the provided object (${obj.kind}) does not match the resource (${type.kind})`)
    }
    if (type.namespaced && obj.metadata?.namespace && obj.metadata.namespace !== namespace) {
      throw new ApiError(400, 'the namespace of the provided object does not match the namespace sent on the request')
    }
    const name: string = obj.metadata?.name ?? ''
    const causes: NonNullable<StatusDetails['causes']> = []
    const pattern = type.plural === 'namespaces' ? DNS_LABEL : DNS_SUBDOMAIN
    const max = type.plural === 'namespaces' ? 63 : 253
    if (!name) causes.push({reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name'})
    else if (!pattern.test(name) || name.length > max) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": a lowercase RFC 1123 ${type.plural === 'namespaces' ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        field: 'metadata.name',
      })
    }
    if (type.kind === 'Deployment' && type.group === 'apps' && !obj.spec?.selector) {
      causes.push({reason: 'FieldValueRequired', message: 'Required value', field: 'spec.selector'})
    }
    if (type.group === 'argoproj.io' && (type.kind === 'Application' || type.kind === 'AppProject')) {
      causes.push(...argoSchemaCauses(type.kind, obj))
    }
    if (causes.length > 0) {
      throw new ApiError(
        422,
        `${type.kind}${type.group && !BUILTIN_TYPES.includes(type) ? `.${type.group}` : ''} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
        'Invalid',
        {name, group: type.group, kind: type.kind, causes},
      )
    }
  }

  private nextRv(): string {
    this.rv += 1
    return String(this.rv)
  }

  create(type: ResourceType, namespace: string, input: KubeObject, options: {dryRun?: boolean; fieldManager?: string} = {}): KubeObject {
    const obj = structuredClone(input)
    obj.metadata ??= {}
    if (!obj.metadata.name && obj.metadata.generateName) {
      obj.metadata.name = `${obj.metadata.generateName}${randomUUID().replace(/-/g, '').slice(0, 5)}`
    }
    this.validate(type, obj, namespace)
    this.assertNamespace(type, namespace)
    const key = this.objectKey(type, namespace, obj.metadata.name)
    if (this.objects.has(key)) {
      throw new ApiError(409, `${type.plural}${type.group ? `.${type.group}` : ''} "${obj.metadata.name}" already exists`, 'AlreadyExists', {
        name: obj.metadata.name,
        group: type.group,
        kind: type.plural,
      })
    }
    obj.apiVersion = apiVersionOf(type)
    obj.kind = type.kind
    if (type.namespaced) obj.metadata.namespace = namespace
    else delete obj.metadata.namespace
    obj.metadata.uid = randomUUID()
    obj.metadata.creationTimestamp = now()
    if (obj.spec !== undefined) obj.metadata.generation = 1
    if (type.kind === 'Namespace' && type.group === '') {
      obj.spec ??= {finalizers: ['kubernetes']}
      obj.status = {phase: 'Active'}
    }
    applyDefaults(type, obj)
    if (type.kind === 'Service' && type.group === '') {
      // The API server allocates a ClusterIP; helm 3's --wait treats a Service without one as not ready.
      obj.spec = {type: 'ClusterIP', sessionAffinity: 'None', ...obj.spec}
      if (obj.spec.type !== 'ExternalName' && !obj.spec.clusterIP) {
        this.serviceIps += 1
        obj.spec.clusterIP = `10.96.${Math.floor(this.serviceIps / 250)}.${(this.serviceIps % 250) + 2}`
      }
      if (obj.spec.clusterIP && !obj.spec.clusterIPs) obj.spec.clusterIPs = [obj.spec.clusterIP]
      obj.spec.ports = (obj.spec.ports ?? []).map((p: any) => ({protocol: 'TCP', targetPort: p.port, ...p}))
      obj.status ??= {loadBalancer: {}}
    }
    if (type.kind === 'Secret' && obj.stringData) {
      obj.data = {...obj.data}
      for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v)).toString('base64')
      delete obj.stringData
    }
    if (type.kind === 'CustomResourceDefinition') {
      obj.status = {
        conditions: [
          {type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', lastTransitionTime: now()},
          {type: 'Established', status: 'True', reason: 'InitialNamesAccepted', lastTransitionTime: now()},
        ],
        acceptedNames: obj.spec?.names,
        storedVersions: (obj.spec?.versions ?? []).filter((v: any) => v.storage).map((v: any) => v.name),
      }
    }
    if (options.fieldManager) {
      obj.metadata.managedFields = [{manager: options.fieldManager, operation: 'Update', apiVersion: obj.apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: fieldsV1(input)}]
    }
    if (options.dryRun) return this.out(type, obj)
    obj.metadata.resourceVersion = this.nextRv()
    this.objects.set(key, obj)
    if (type.kind === 'CustomResourceDefinition') this.registerCrd(obj)
    this.record(type, 'ADDED', obj)
    return this.out(type, obj)
  }

  private registerCrd(crd: KubeObject) {
    for (const t of typesFromCrd(crd)) this.types.set(this.typeKey(t.group, t.version, t.plural), t)
  }

  private unregisterCrd(crd: KubeObject) {
    for (const t of typesFromCrd(crd)) this.types.delete(this.typeKey(t.group, t.version, t.plural))
  }

  get(type: ResourceType, namespace: string, name: string): KubeObject {
    const obj = this.objects.get(this.objectKey(type, namespace, name))
    if (!obj) throw notFound(type, name)
    return this.out(type, obj)
  }

  tryGet(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const obj = this.objects.get(this.objectKey(type, namespace, name))
    return obj ? this.out(type, obj) : undefined
  }

  filter(options: ListOptions): (obj: KubeObject) => boolean {
    let labels: ReturnType<typeof parseLabelSelector> = []
    let fields: ReturnType<typeof parseFieldSelector> = []
    try {
      labels = options.labelSelector ? parseLabelSelector(options.labelSelector) : []
      fields = options.fieldSelector ? parseFieldSelector(options.fieldSelector) : []
    } catch (error) {
      throw new ApiError(400, (error as Error).message)
    }
    return (obj) => matchesLabels(obj, labels) && fields.every((f) => f(obj))
  }

  list(type: ResourceType, namespace: string | undefined, options: ListOptions = {}): KubeObject[] {
    const prefix = `${this.storeKey(type)}/`
    const filter = this.filter(options)
    const items: KubeObject[] = []
    for (const [key, obj] of this.objects) {
      if (!key.startsWith(prefix)) continue
      if (namespace && type.namespaced && obj.metadata?.namespace !== namespace) continue
      if (filter(obj)) items.push(this.out(type, obj))
    }
    return items.sort((a, b) =>
      `${a.metadata?.namespace ?? ''}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace ?? ''}/${b.metadata?.name}`),
    )
  }

  update(
    type: ResourceType,
    namespace: string,
    name: string,
    input: KubeObject,
    options: {subresource?: string; dryRun?: boolean; fieldManager?: string; operation?: string} = {},
  ): KubeObject {
    const key = this.objectKey(type, namespace, name)
    const live = this.objects.get(key)
    if (!live) throw notFound(type, name)
    const obj = structuredClone(input)
    obj.metadata ??= {}
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw new ApiError(400, `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`)
    }
    obj.metadata.name = name
    this.validate(type, obj, namespace)
    const sentRv = obj.metadata.resourceVersion
    if (sentRv && sentRv !== live.metadata?.resourceVersion) {
      throw new ApiError(
        409,
        `Operation cannot be fulfilled on ${type.plural}${type.group ? `.${type.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        'Conflict',
        {name, group: type.group, kind: type.plural},
      )
    }
    const hasStatusSubresource = type.subresources?.includes('status')
    let next: KubeObject
    if (options.subresource === 'status') {
      next = {...structuredClone(live), status: obj.status}
    } else {
      next = obj
      if (hasStatusSubresource) {
        if (live.status === undefined) delete next.status
        else next.status = structuredClone(live.status)
      }
    }
    applyDefaults(type, next)
    next.apiVersion = apiVersionOf(type)
    next.kind = type.kind
    next.metadata = {
      ...next.metadata,
      uid: live.metadata?.uid,
      creationTimestamp: live.metadata?.creationTimestamp,
      ...(type.namespaced ? {namespace} : {}),
    }
    if (!type.namespaced) delete next.metadata.namespace
    if (live.metadata?.deletionTimestamp) next.metadata.deletionTimestamp = live.metadata.deletionTimestamp
    // Only a spec change is a new generation here (the real rule is "anything but metadata and status",
    // which would make a controller's own edits of top-level fields look like user changes).
    const specChanged = JSON.stringify(live.spec) !== JSON.stringify(next.spec)
    if (next.spec !== undefined || live.metadata?.generation !== undefined) {
      next.metadata.generation = (live.metadata?.generation ?? 1) + (specChanged && options.subresource !== 'status' ? 1 : 0)
    }
    if (type.kind === 'Secret' && next.stringData) {
      next.data = {...next.data}
      for (const [k, v] of Object.entries(next.stringData)) next.data[k] = Buffer.from(String(v)).toString('base64')
      delete next.stringData
    }
    if (options.fieldManager) {
      const managed = (next.metadata.managedFields ?? live.metadata?.managedFields ?? []).filter(
        (m: any) => !(m.manager === options.fieldManager && m.operation === (options.operation ?? 'Update')),
      )
      managed.push({
        manager: options.fieldManager,
        operation: options.operation ?? 'Update',
        apiVersion: next.apiVersion,
        time: now(),
        fieldsType: 'FieldsV1',
        fieldsV1: fieldsV1(input),
        ...(options.subresource ? {subresource: options.subresource} : {}),
      })
      next.metadata.managedFields = managed
    }
    if (options.dryRun) return this.out(type, next)
    // A write that changes nothing keeps the resourceVersion and sends no event, like etcd-backed servers.
    const unchanged = JSON.stringify({...live, metadata: {...live.metadata, resourceVersion: undefined}}) ===
      JSON.stringify({...next, metadata: {...next.metadata, resourceVersion: undefined}})
    if (unchanged) return this.out(type, live)
    next.metadata.resourceVersion = this.nextRv()
    this.objects.set(key, next)
    if (type.kind === 'CustomResourceDefinition') this.registerCrd(next)
    this.record(type, 'MODIFIED', next)
    return this.out(type, next)
  }

  patch(
    type: ResourceType,
    namespace: string,
    name: string,
    contentType: string,
    body: any,
    options: {subresource?: string; dryRun?: boolean; fieldManager?: string; force?: boolean} = {},
  ): KubeObject {
    const key = this.objectKey(type, namespace, name)
    const live = this.objects.get(key)
    const kind = contentType.split(';')[0]!.trim()
    try {
      if (kind === 'application/apply-patch+yaml' || kind === 'application/apply-patch+cbor') {
        if (!options.fieldManager) throw new ApiError(422, 'PATCH, fieldManager: Required value: is required for apply patch')
        const appliedKey = `${key}|${options.fieldManager}|${options.subresource ?? ''}`
        const previous = this.applied.get(appliedKey)
        let result: KubeObject
        if (!live) {
          if (options.subresource) throw notFound(type, name)
          result = this.create(type, namespace, {...body, metadata: {...body.metadata, name}}, {dryRun: options.dryRun})
        } else {
          const merged = serverSideApply(structuredClone(live), body, previous)
          merged.metadata = {...merged.metadata, resourceVersion: live.metadata?.resourceVersion}
          result = this.update(type, namespace, name, merged, {subresource: options.subresource, dryRun: options.dryRun})
        }
        if (!options.dryRun) {
          this.applied.set(appliedKey, structuredClone(body))
          const stored = this.objects.get(key)!
          const managed = (stored.metadata?.managedFields ?? []).filter(
            (m: any) => !(m.manager === options.fieldManager && m.operation === 'Apply'),
          )
          managed.push({manager: options.fieldManager, operation: 'Apply', apiVersion: apiVersionOf(type), time: now(), fieldsType: 'FieldsV1', fieldsV1: fieldsV1(body)})
          stored.metadata!.managedFields = managed
          result.metadata = {...result.metadata, managedFields: structuredClone(managed)}
        }
        return result
      }
      if (!live) throw notFound(type, name)
      let next: KubeObject
      if (kind === 'application/merge-patch+json') next = mergePatch(live, body)
      else if (kind === 'application/json-patch+json') next = jsonPatch(live, body)
      else if (kind === 'application/strategic-merge-patch+json') {
        if (!BUILTIN_TYPES.some((t) => t.group === type.group && t.plural === type.plural)) {
          throw new ApiError(415, `strategic merge patch format is not supported`, 'UnsupportedMediaType')
        }
        next = strategicMergePatch(live, body)
      } else throw new ApiError(415, `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`, 'UnsupportedMediaType')
      // A patch does not carry the resourceVersion precondition unless it set one explicitly.
      if (!next.metadata?.resourceVersion || next.metadata.resourceVersion === live.metadata?.resourceVersion) {
        next.metadata = {...next.metadata, resourceVersion: live.metadata?.resourceVersion}
      }
      return this.update(type, namespace, name, next, {...options, operation: 'Update'})
    } catch (error) {
      if (error instanceof PatchError) throw new ApiError(422, error.message, 'Invalid')
      throw error
    }
  }

  delete(type: ResourceType, namespace: string, name: string, options: {dryRun?: boolean; preconditions?: {uid?: string; resourceVersion?: string}} = {}): KubeObject {
    const key = this.objectKey(type, namespace, name)
    const live = this.objects.get(key)
    if (!live) throw notFound(type, name)
    const pre = options.preconditions
    if ((pre?.uid && pre.uid !== live.metadata?.uid) || (pre?.resourceVersion && pre.resourceVersion !== live.metadata?.resourceVersion)) {
      throw new ApiError(409, `Precondition failed for ${type.plural} "${name}"`, 'Conflict', {name, group: type.group, kind: type.plural})
    }
    if (options.dryRun) return this.out(type, live)
    const gone = structuredClone(live)
    gone.metadata!.deletionTimestamp = now()
    if (type.kind === 'Namespace' && type.group === '') {
      gone.status = {phase: 'Terminating'}
      // Everything in the namespace goes with it (the namespace controller's job).
      for (const [otherKey, obj] of [...this.objects]) {
        if (obj.metadata?.namespace !== name) continue
        const otherType = this.typeForKind(String(obj.apiVersion), String(obj.kind))
        this.objects.delete(otherKey)
        if (otherType) {
          obj.metadata!.resourceVersion = this.nextRv()
          this.record(otherType, 'DELETED', obj)
        }
      }
    }
    this.objects.delete(key)
    for (const appliedKey of [...this.applied.keys()]) if (appliedKey.startsWith(`${key}|`)) this.applied.delete(appliedKey)
    if (type.kind === 'CustomResourceDefinition') {
      const crdTypes = typesFromCrd(live)
      for (const [otherKey, obj] of [...this.objects]) {
        const t = crdTypes.find((c) => otherKey.startsWith(`${c.group}/${c.plural}/`))
        if (t) {
          this.objects.delete(otherKey)
          obj.metadata!.resourceVersion = this.nextRv()
          this.record(t, 'DELETED', obj)
        }
      }
      this.unregisterCrd(live)
    }
    gone.metadata!.resourceVersion = this.nextRv()
    this.record(type, 'DELETED', gone)
    this.collectGarbage(String(live.metadata?.uid))
    return this.out(type, gone)
  }

  /** Deletes dependents whose ownerReferences point at a deleted owner (background propagation). */
  private collectGarbage(uid: string) {
    for (const obj of [...this.objects.values()]) {
      if (!(obj.metadata?.ownerReferences ?? []).some((o: any) => o.uid === uid)) continue
      const type = this.typeForKind(String(obj.apiVersion), String(obj.kind))
      if (type && this.objects.has(this.objectKey(type, obj.metadata?.namespace ?? '', obj.metadata!.name))) {
        this.delete(type, obj.metadata?.namespace ?? '', obj.metadata!.name)
      }
    }
  }

  /** Events after `sinceRv` for a watch, or undefined when they are no longer kept (410 Gone). */
  eventsSince(type: ResourceType, namespace: string | undefined, sinceRv: number, filter: (obj: KubeObject) => boolean): WatchEvent[] | undefined {
    if (this.trimmedBefore > 0 && sinceRv < this.trimmedBefore) return undefined
    return this.log
      .filter((e) => e.rv > sinceRv && e.storeKey === this.storeKey(type) && (!namespace || !type.namespaced || e.namespace === namespace))
      .filter((e) => filter(e.event.object))
      .map((e) => ({type: e.event.type, object: this.out(type, e.event.object)}))
  }

  watcherFor(type: ResourceType, namespace: string | undefined, filter: (obj: KubeObject) => boolean, send: (event: WatchEvent) => void): Watcher {
    return {storeKey: this.storeKey(type), namespace: type.namespaced ? namespace : undefined, filter, send}
  }

  // ---- RBAC -----------------------------------------------------------------------------

  /** Whether `user` may do `verb` on the resource, by the cluster's Roles and bindings. */
  authorize(
    user: User,
    attrs: {verb: string; group?: string; resource?: string; subresource?: string; namespace?: string; name?: string; path?: string},
  ): {allowed: boolean; reason: string} {
    if (user.groups.includes('system:masters')) return {allowed: true, reason: 'system:masters'}
    const rbac = (plural: string) => this.type('rbac.authorization.k8s.io', 'v1', plural)
    const subjectMatches = (s: any, bindingNs: string) =>
      (s.kind === 'User' && s.name === user.name) ||
      (s.kind === 'Group' && user.groups.includes(s.name)) ||
      (s.kind === 'ServiceAccount' && user.name === `system:serviceaccount:${s.namespace ?? bindingNs}:${s.name}`)
    const rulesOf = (roleRef: any, bindingNs: string): any[] => {
      const role =
        roleRef?.kind === 'ClusterRole'
          ? this.tryGet(rbac('clusterroles'), '', roleRef.name)
          : this.tryGet(rbac('roles'), bindingNs, roleRef?.name)
      return role?.rules ?? []
    }
    const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource
    const ruleAllows = (rule: any) => {
      const verbs: string[] = rule.verbs ?? []
      if (!verbs.includes('*') && !verbs.includes(attrs.verb)) return false
      if (attrs.path !== undefined) return (rule.nonResourceURLs ?? []).some((u: string) => u === '*' || u === attrs.path)
      const groups: string[] = rule.apiGroups ?? []
      const resources: string[] = rule.resources ?? []
      if (!groups.includes('*') && !groups.includes(attrs.group ?? '')) return false
      if (!resources.includes('*') && !resources.includes(resource ?? '')) return false
      const names: string[] = rule.resourceNames ?? []
      return names.length === 0 || (attrs.name !== undefined && names.includes(attrs.name))
    }
    for (const binding of this.list(rbac('clusterrolebindings'), undefined)) {
      if ((binding.subjects ?? []).some((s: any) => subjectMatches(s, '')) && rulesOf(binding.roleRef, '').some(ruleAllows)) {
        return {allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "${binding.metadata?.name}"`}
      }
    }
    if (attrs.namespace) {
      for (const binding of this.list(rbac('rolebindings'), attrs.namespace)) {
        if ((binding.subjects ?? []).some((s: any) => subjectMatches(s, attrs.namespace!)) && rulesOf(binding.roleRef, attrs.namespace).some(ruleAllows)) {
          return {allowed: true, reason: `RBAC: allowed by RoleBinding "${binding.metadata?.name}/${attrs.namespace}"`}
        }
      }
    }
    return {allowed: false, reason: ''}
  }
}

/** The API server's defaulting for the workload fields clients read back (replicas above all). */
function applyDefaults(type: ResourceType, obj: KubeObject) {
  if (type.group !== 'apps' || !isObject(obj.spec)) return
  obj.spec.replicas ??= 1
  obj.spec.revisionHistoryLimit ??= 10
  if (type.kind === 'Deployment') {
    obj.spec.progressDeadlineSeconds ??= 600
    obj.spec.strategy ??= {type: 'RollingUpdate', rollingUpdate: {maxUnavailable: '25%', maxSurge: '25%'}}
  }
  if (type.kind === 'StatefulSet') {
    obj.spec.podManagementPolicy ??= 'OrderedReady'
    obj.spec.updateStrategy ??= {type: 'RollingUpdate', rollingUpdate: {partition: 0}}
  }
}

/**
 * The Argo CD CRDs' OpenAPI schema, checked with @kubernetes-models/argo-cd (generated from those
 * CRDs), reported as the API server reports structural-schema violations.
 */
function argoSchemaCauses(kind: string, obj: KubeObject): NonNullable<StatusDetails['causes']> {
  try {
    if (kind === 'Application') new Application(obj as any).validate()
    else new AppProject(obj as any).validate()
    return []
  } catch (error) {
    const causes: NonNullable<StatusDetails['causes']> = []
    for (const line of String((error as Error).message).split(/,\s*(?=data)|\n/)) {
      const required = /^data\/?(\S*) must have required property '?([^']+)'?$/.exec(line.trim())
      if (required) {
        const field = [...required[1]!.split('/').filter(Boolean), required[2]].join('.')
        causes.push({reason: 'FieldValueRequired', message: 'Required value', field})
        continue
      }
      const other = /^data\/?(\S*) (.*)$/.exec(line.trim())
      causes.push({reason: 'FieldValueInvalid', message: `Invalid value: ${other?.[2] ?? line}`, field: other?.[1]?.split('/').filter(Boolean).join('.') || '<root>'})
    }
    return causes
  }
}

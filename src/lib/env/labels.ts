/**
 * What idp writes on the namespaces it creates for environments. The cluster is the source of
 * truth (docs/architecture.md): `env list` and `env gc` read these labels and annotations from
 * any machine, and nothing is deleted unless it carries managed-by=idp and the expected
 * service/env labels.
 */
export const MANAGED_BY_VALUE = 'idp'

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  service: 'idp.dev/service',
  env: 'idp.dev/env',
  pr: 'idp.dev/pr',
  /** The owning team (service.owner of .idp.yml), for `idp status --all-services --owner TEAM`. */
  team: 'idp.dev/team',
} as const

/** Values that are not label-safe (emails, timestamps, URLs) live in annotations. */
export const ANNOTATIONS = {
  owner: 'idp.dev/owner',
  expiresAt: 'idp.dev/expires-at',
  gitSha: 'idp.dev/git-sha',
  driver: 'idp.dev/driver',
  cluster: 'idp.dev/cluster',
  url: 'idp.dev/url',
  status: 'idp.dev/status',
  createdAt: 'idp.dev/created-at',
} as const

export type EnvDriver = 'namespace' | 'vcluster'

export interface EnvMetadataInput {
  service: string
  env: string
  owner: string
  /** The owning team (service.owner); a label, so it must be label-safe (it is sanitised). */
  team?: string
  /** Absent: the environment never expires (e.g. staging). */
  expiresAt?: Date | string
  sha?: string
  pr?: number | string
  driver: EnvDriver | string
  /** The cluster alias of .idp.yml the environment lives on. */
  cluster: string
  url?: string
  status?: string
  /** Defaults to now. */
  createdAt?: Date | string
}

export interface EnvMetadata {
  labels: Record<string, string>
  annotations: Record<string, string>
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/u

/**
 * A valid Kubernetes label value for `value`: at most 63 characters of [A-Za-z0-9-_.], starting
 * and ending alphanumeric. Invalid characters become "-"; the result may be "" (a valid value).
 */
export function sanitizeLabelValue(value: string): string {
  if (LABEL_VALUE.test(value) && value.length <= 63) return value
  return value
    .replace(/[^A-Za-z0-9_.-]+/gu, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/u, '')
    .replace(/[^A-Za-z0-9]+$/u, '')
}

function iso(value: Date | string): string {
  const date = value instanceof Date ? value : new Date(value)
  if (Number.isNaN(date.getTime())) throw new TypeError(`Invalid date "${String(value)}"`)
  return date.toISOString()
}

/** Labels and annotations for an environment's namespace (and whatever else idp creates for it). */
export function envMetadata(input: EnvMetadataInput): EnvMetadata {
  const labels: Record<string, string> = {
    [LABELS.managedBy]: MANAGED_BY_VALUE,
    [LABELS.service]: sanitizeLabelValue(input.service),
    [LABELS.env]: sanitizeLabelValue(input.env),
  }
  if (input.team) labels[LABELS.team] = sanitizeLabelValue(input.team)
  if (input.pr !== undefined && String(input.pr) !== '') labels[LABELS.pr] = sanitizeLabelValue(String(input.pr))
  const annotations: Record<string, string> = {
    [ANNOTATIONS.owner]: input.owner,
    [ANNOTATIONS.driver]: String(input.driver),
    [ANNOTATIONS.cluster]: input.cluster,
    [ANNOTATIONS.createdAt]: iso(input.createdAt ?? new Date()),
  }
  if (input.expiresAt !== undefined) annotations[ANNOTATIONS.expiresAt] = iso(input.expiresAt)
  if (input.sha) annotations[ANNOTATIONS.gitSha] = input.sha
  if (input.url) annotations[ANNOTATIONS.url] = input.url
  if (input.status) annotations[ANNOTATIONS.status] = input.status
  return {labels, annotations}
}

/** The label selector of idp-managed environments, narrowed to a service and/or env. */
export function envSelector(filter: {service?: string; env?: string} = {}): string {
  const parts = [`${LABELS.managedBy}=${MANAGED_BY_VALUE}`]
  if (filter.service) parts.push(`${LABELS.service}=${sanitizeLabelValue(filter.service)}`)
  if (filter.env) parts.push(`${LABELS.env}=${sanitizeLabelValue(filter.env)}`)
  return parts.join(',')
}

/** The parts of a namespace object idp reads (client-node's V1Namespace fits). */
export interface NamespaceLike {
  metadata?: {
    name?: string
    labels?: Record<string, string> | null
    annotations?: Record<string, string> | null
    creationTimestamp?: Date | string | null
  }
  status?: {phase?: string | null} | null
}

export interface EnvRecord {
  service: string
  env: string
  namespace: string
  /** The cluster alias of .idp.yml the record was read from. */
  cluster: string
  owner: string
  /** The owning team (the idp.dev/team label), when env up recorded one. */
  team?: string
  /** ISO 8601; absent when the environment does not expire. */
  expiresAt?: string
  expired: boolean
  sha?: string
  pr?: string
  driver: string
  url?: string
  status?: string
  /** ISO 8601: the created-at annotation, else the namespace's creationTimestamp. */
  createdAt: string
  /** Namespace phase (Active, Terminating) when the server reported one. */
  phase?: string
}

function validIso(value: string | undefined): string | undefined {
  if (!value) return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}

/** Does this namespace carry idp's ownership labels (for `service`/`env` when given)? */
export function isOwnedBy(ns: NamespaceLike, service?: string, env?: string): boolean {
  const labels = ns.metadata?.labels ?? {}
  if (labels[LABELS.managedBy] !== MANAGED_BY_VALUE) return false
  if (service !== undefined && labels[LABELS.service] !== sanitizeLabelValue(service)) return false
  if (env !== undefined && labels[LABELS.env] !== sanitizeLabelValue(env)) return false
  return true
}

/**
 * The environment a namespace describes, or undefined when it is not an idp environment
 * (no managed-by=idp, or no service/env label). `now` decides `expired`.
 */
export function parseEnvRecord(ns: NamespaceLike, clusterAlias: string, now: Date = new Date()): EnvRecord | undefined {
  const metadata = ns.metadata ?? {}
  const labels = metadata.labels ?? {}
  const annotations = metadata.annotations ?? {}
  if (!isOwnedBy(ns)) return undefined
  const service = labels[LABELS.service]
  const env = labels[LABELS.env]
  if (!service || !env || !metadata.name) return undefined
  const expiresAt = validIso(annotations[ANNOTATIONS.expiresAt])
  const created = metadata.creationTimestamp
  const createdAt =
    validIso(annotations[ANNOTATIONS.createdAt]) ??
    (created ? validIso(created instanceof Date ? created.toISOString() : String(created)) : undefined) ??
    new Date(0).toISOString()
  const record: EnvRecord = {
    service,
    env,
    namespace: metadata.name,
    cluster: clusterAlias,
    owner: annotations[ANNOTATIONS.owner] ?? '',
    expired: expiresAt !== undefined && new Date(expiresAt).getTime() <= now.getTime(),
    driver: annotations[ANNOTATIONS.driver] ?? 'namespace',
    createdAt,
  }
  if (expiresAt) record.expiresAt = expiresAt
  if (annotations[ANNOTATIONS.gitSha]) record.sha = annotations[ANNOTATIONS.gitSha]
  if (labels[LABELS.pr]) record.pr = labels[LABELS.pr]
  if (labels[LABELS.team]) record.team = labels[LABELS.team]
  if (annotations[ANNOTATIONS.url]) record.url = annotations[ANNOTATIONS.url]
  if (annotations[ANNOTATIONS.status]) record.status = annotations[ANNOTATIONS.status]
  if (ns.status?.phase) record.phase = ns.status.phase
  return record
}

/**
 * What `idp access grant` writes: a RoleBinding per (role, subject) in the environment's
 * namespace, plus a Role for roles defined by rules. The labels make the binding idp's (so revoke
 * and `revoke --expired` touch nothing else); the annotations carry expiry, who granted it and why.
 * The cluster is the record: `access list` reads these back from any machine.
 */
import {createHash} from 'node:crypto'

import {isDnsLabel} from '../cli/names.js'
import {ANNOTATIONS as ENV_ANNOTATIONS, LABELS as ENV_LABELS, MANAGED_BY_VALUE, sanitizeLabelValue} from '../env/labels.js'
import type {RbacRule, ResolvedRole, SubjectKind} from './policy.js'

export const ACCESS_LABELS = {
  managedBy: ENV_LABELS.managedBy,
  service: ENV_LABELS.service,
  env: ENV_LABELS.env,
  role: 'idp.dev/access-role',
} as const

export const ACCESS_ANNOTATIONS = {
  expiresAt: ENV_ANNOTATIONS.expiresAt,
  grantedBy: 'idp.dev/granted-by',
  grantedAt: 'idp.dev/granted-at',
  reason: 'idp.dev/reason',
} as const

const RBAC = 'rbac.authorization.k8s.io'
const RBAC_V1 = `${RBAC}/v1`

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8)
}

/**
 * `idp-<role>-<subject>`: readable when the subject is already a DNS label, otherwise (emails,
 * upper case, groups, long names) the sanitised name plus a hash of kind and exact name, so two
 * subjects never share a binding and the result is always a DNS-1123 label.
 */
export function accessBindingName(role: string, subject: string, kind: SubjectKind = 'User'): string {
  const plain = `idp-${role}-${subject}`
  if (kind === 'User' && isDnsLabel(plain)) return plain
  const suffix = `-${shortHash(`${kind}:${subject}`)}`
  const base = `idp-${role}-${kind === 'Group' ? 'group-' : ''}${subject.toLowerCase().replace(/[^a-z0-9]+/gu, '-')}`
    .slice(0, 63 - suffix.length)
    .replace(/-+$/u, '')
  return `${base}${suffix}`
}

/** The Role idp writes for a role defined by rules (one per role and namespace, shared by its grants). */
export function accessRoleName(role: string): string {
  const plain = `idp-role-${role}`
  return plain.length <= 63 ? plain : `${plain.slice(0, 54).replace(/-+$/u, '')}-${shortHash(role)}`
}

/** The selector of idp's grants: of one service (and env, role), or without a service those of every service. */
export function accessSelector(filter: {service?: string; env?: string; role?: string}): string {
  const parts = [`${ACCESS_LABELS.managedBy}=${MANAGED_BY_VALUE}`]
  if (filter.service) parts.push(`${ACCESS_LABELS.service}=${sanitizeLabelValue(filter.service)}`)
  if (filter.env) parts.push(`${ACCESS_LABELS.env}=${sanitizeLabelValue(filter.env)}`)
  parts.push(filter.role ? `${ACCESS_LABELS.role}=${sanitizeLabelValue(filter.role)}` : ACCESS_LABELS.role)
  return parts.join(',')
}

export interface KubeMeta {
  name?: string
  namespace?: string
  labels?: Record<string, string> | null
  annotations?: Record<string, string> | null
  creationTimestamp?: Date | string | null
}

export interface RoleObject {
  apiVersion: typeof RBAC_V1
  kind: 'Role'
  metadata: {name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string>}
  rules: RbacRule[]
}

export interface RoleBindingObject {
  apiVersion: typeof RBAC_V1
  kind: 'RoleBinding'
  metadata: {name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string>}
  roleRef: {apiGroup: typeof RBAC; kind: 'ClusterRole' | 'Role'; name: string}
  subjects: Array<{apiGroup: typeof RBAC; kind: SubjectKind; name: string}>
}

export interface GrantInput {
  service: string
  env: string
  namespace: string
  role: ResolvedRole
  subject: string
  kind: SubjectKind
  expiresAt: Date
  grantedBy: string
  grantedAt: Date
  reason?: string
}

function labelsFor(input: {service: string; env: string; role: string}): Record<string, string> {
  return {
    [ACCESS_LABELS.managedBy]: MANAGED_BY_VALUE,
    [ACCESS_LABELS.service]: sanitizeLabelValue(input.service),
    [ACCESS_LABELS.env]: sanitizeLabelValue(input.env),
    [ACCESS_LABELS.role]: sanitizeLabelValue(input.role),
  }
}

/** The objects a grant applies, Role first (the binding refers to it). */
export function grantObjects(input: GrantInput): {role?: RoleObject; binding: RoleBindingObject} {
  const labels = labelsFor({service: input.service, env: input.env, role: input.role.name})
  const role: RoleObject | undefined =
    input.role.kind === 'Role'
      ? {
          apiVersion: RBAC_V1,
          kind: 'Role',
          metadata: {name: accessRoleName(input.role.name), namespace: input.namespace, labels, ...(input.role.description ? {annotations: {'idp.dev/description': input.role.description}} : {})},
          rules: input.role.rules,
        }
      : undefined
  const annotations: Record<string, string> = {
    [ACCESS_ANNOTATIONS.expiresAt]: input.expiresAt.toISOString(),
    [ACCESS_ANNOTATIONS.grantedBy]: input.grantedBy,
    [ACCESS_ANNOTATIONS.grantedAt]: input.grantedAt.toISOString(),
  }
  if (input.reason) annotations[ACCESS_ANNOTATIONS.reason] = input.reason
  const binding: RoleBindingObject = {
    apiVersion: RBAC_V1,
    kind: 'RoleBinding',
    metadata: {name: accessBindingName(input.role.name, input.subject, input.kind), namespace: input.namespace, labels, annotations},
    roleRef: {apiGroup: RBAC, kind: input.role.kind, name: input.role.kind === 'Role' ? role!.metadata.name : input.role.clusterRole},
    subjects: [{apiGroup: RBAC, kind: input.kind, name: input.subject}],
  }
  return {...(role ? {role} : {}), binding}
}

/** A binding as `access list` shows it. */
export interface GrantRecord {
  env: string
  namespace: string
  cluster: string
  binding: string
  subject: string
  kind: SubjectKind
  role: string
  roleRef: {kind: string; name: string}
  /** ISO 8601; absent when the annotation is missing or unreadable (never expires then). */
  expiresAt?: string
  expired: boolean
  grantedBy?: string
  grantedAt?: string
  reason?: string
}

export interface BindingLike {
  metadata?: KubeMeta
  roleRef?: {kind?: string; name?: string}
  subjects?: Array<{kind?: string; name?: string}> | null
}

function iso(value: string | undefined): string | undefined {
  if (!value) return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}

/** Is this binding idp's grant (managed-by=idp and an access-role label, for `service` when given)? */
export function isAccessBinding(binding: BindingLike, service?: string): boolean {
  const labels = binding.metadata?.labels ?? {}
  if (labels[ACCESS_LABELS.managedBy] !== MANAGED_BY_VALUE || !labels[ACCESS_LABELS.role]) return false
  return service === undefined || labels[ACCESS_LABELS.service] === sanitizeLabelValue(service)
}

/** The grant a binding records, or undefined when the binding is not idp's. */
export function parseGrant(binding: BindingLike, cluster: string, now: Date = new Date()): GrantRecord | undefined {
  if (!isAccessBinding(binding)) return undefined
  const metadata = binding.metadata ?? {}
  const labels = metadata.labels ?? {}
  const annotations = metadata.annotations ?? {}
  const subject = binding.subjects?.[0]
  if (!metadata.name || !metadata.namespace || !subject?.name) return undefined
  const expiresAt = iso(annotations[ACCESS_ANNOTATIONS.expiresAt])
  const record: GrantRecord = {
    env: labels[ACCESS_LABELS.env] ?? '',
    namespace: metadata.namespace,
    cluster,
    binding: metadata.name,
    subject: subject.name,
    kind: subject.kind === 'Group' ? 'Group' : 'User',
    role: labels[ACCESS_LABELS.role]!,
    roleRef: {kind: binding.roleRef?.kind ?? '', name: binding.roleRef?.name ?? ''},
    expired: expiresAt !== undefined && new Date(expiresAt).getTime() <= now.getTime(),
  }
  if (expiresAt) record.expiresAt = expiresAt
  if (annotations[ACCESS_ANNOTATIONS.grantedBy]) record.grantedBy = annotations[ACCESS_ANNOTATIONS.grantedBy]
  const grantedAt = iso(annotations[ACCESS_ANNOTATIONS.grantedAt])
  if (grantedAt) record.grantedAt = grantedAt
  if (annotations[ACCESS_ANNOTATIONS.reason]) record.reason = annotations[ACCESS_ANNOTATIONS.reason]
  return record
}

export function compareGrants(a: GrantRecord, b: GrantRecord): number {
  return a.cluster.localeCompare(b.cluster) || a.env.localeCompare(b.env, undefined, {numeric: true}) || a.subject.localeCompare(b.subject) || a.role.localeCompare(b.role)
}

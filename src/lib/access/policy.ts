/**
 * The rules of `access:` in .idp.yml, checked before anything touches a cluster: the role exists,
 * the environment does not forbid it, a reason is given when the role needs one, the time to live
 * stays within maxTtl, and the subject is a name RBAC accepts. Pure, so unit tests cover every rule.
 */
import {UsageError} from '../cli/errors.js'
import {formatDuration, parseDuration} from '../config/duration.js'
import type {AccessConfig, IdpConfig} from '../config/schema.js'
import {closest} from '../config/suggest.js'
import {globToRegExp} from '../config/glob.js'

/** Used when neither --ttl nor policy.maxTtl says how long a grant lasts. */
export const DEFAULT_GRANT_TTL = '8h'

export interface RbacRule {
  apiGroups: string[]
  resources: string[]
  verbs: string[]
  resourceNames?: string[]
}

/** A configured role as RBAC sees it: bind an existing ClusterRole, or a Role idp writes from rules. */
export type ResolvedRole = {name: string; kind: 'ClusterRole'; clusterRole: string; description?: string} | {name: string; kind: 'Role'; rules: RbacRule[]; description?: string}

export type SubjectKind = 'User' | 'Group'

const SUBJECT = /^[A-Za-z0-9]([A-Za-z0-9._@:+=-]*[A-Za-z0-9])?$/u

/** The access section, or a UsageError saying how to add one. */
export function accessConfig(config: Pick<IdpConfig, 'access'>): AccessConfig {
  if (!config.access || Object.keys(config.access.roles).length === 0) {
    throw new UsageError('No access roles are configured: .idp.yml has no access.roles.', {
      hint: 'Add an access: section with roles (e.g. `access: {roles: {viewer: view}}`); `idp config example` shows them.',
    })
  }
  return config.access
}

/** The role named `name`, or a UsageError naming the configured ones. */
export function resolveRole(access: AccessConfig, name: string): ResolvedRole {
  // Own keys only: `--role constructor` must not resolve through Object.prototype.
  const role = Object.hasOwn(access.roles, name) ? access.roles[name] : undefined
  if (role === undefined) {
    const names = Object.keys(access.roles)
    const suggestion = closest(name, names)
    throw new UsageError(`Unknown role "${name}". Configured roles: ${names.join(', ') || 'none'}.${suggestion ? ` Did you mean ${suggestion}?` : ''}`, {
      hint: 'Pass --role with a name from access.roles in .idp.yml.',
      details: {rule: 'access.roles', roles: names},
    })
  }
  if (typeof role === 'string') return {name, kind: 'ClusterRole', clusterRole: role}
  const description = role.description ? {description: role.description} : {}
  if (role.rules && role.rules.length > 0) {
    return {name, kind: 'Role', rules: role.rules.map((rule) => ({apiGroups: rule.apiGroups, resources: rule.resources, verbs: rule.verbs, ...(rule.resourceNames ? {resourceNames: rule.resourceNames} : {})})), ...description}
  }
  if (role.clusterRole) return {name, kind: 'ClusterRole', clusterRole: role.clusterRole, ...description}
  throw new UsageError(`Role "${name}" in .idp.yml has neither clusterRole nor rules.`, {hint: `Give access.roles.${name} a clusterRole (e.g. view) or rules.`, details: {rule: 'access.roles'}})
}

/** A UsageError unless `name` is a User/Group name RBAC accepts (emails and OIDC prefixes included). */
export function assertSubject(name: string, kind: SubjectKind = 'User'): string {
  const what = kind === 'Group' ? 'group' : 'user'
  if (name.length === 0 || name.length > 253 || !SUBJECT.test(name)) {
    throw new UsageError(`Invalid ${what} name "${name}".`, {
      hint: `A ${what} is the name your cluster authenticates, e.g. alice, alice@example.com or oidc:alice@example.com: letters, digits and . _ @ : + = -, at most 253 characters.`,
      details: {rule: 'subject'},
    })
  }
  // system: names belong to Kubernetes itself (nodes, service accounts, system:masters).
  if (name.toLowerCase().startsWith('system:')) {
    throw new UsageError(`Refusing to grant access to the reserved ${what} "${name}".`, {hint: 'Names starting with system: belong to Kubernetes; grant access to people or teams.', details: {rule: 'subject'}})
  }
  return name
}

/** Does an entry of policy.forbid (an environment name or a pattern like pr-*) cover `env`? */
function forbidCovers(key: string, env: string): boolean {
  return key === env || (key.includes('*') && globToRegExp(key).test(env))
}

export interface GrantRequest {
  user: string
  kind: SubjectKind
  role: string
  env: string
  ttl?: string
  reason?: string
}

export interface CheckedGrant {
  role: ResolvedRole
  ttl: string
  ttlMs: number
}

/**
 * Every policy rule for a grant, in the order a person fixes them. Each failure is a UsageError
 * (exit 2) whose details name the rule (`access.roles`, `policy.forbid`, `policy.requireReason`,
 * `policy.maxTtl`, `subject`).
 */
export function checkGrantPolicy(access: AccessConfig, request: GrantRequest): CheckedGrant {
  assertSubject(request.user, request.kind)
  const role = resolveRole(access, request.role)
  const {policy} = access
  const forbiddenBy = Object.entries(policy.forbid).find(([key, roles]) => forbidCovers(key, request.env) && roles.includes(request.role))
  if (forbiddenBy) {
    throw new UsageError(`Role "${request.role}" may not be granted in environment ${request.env}: policy.forbid.${forbiddenBy[0]} lists it.`, {
      hint: `Pick another role, or change access.policy.forbid in .idp.yml (through review).`,
      details: {rule: 'policy.forbid', key: forbiddenBy[0]},
    })
  }
  if (policy.requireReason.includes(request.role) && !request.reason?.trim()) {
    throw new UsageError(`Role "${request.role}" needs a reason: policy.requireReason lists it.`, {
      hint: 'Pass --reason "why you need it" (e.g. a ticket or incident number); it is recorded on the binding.',
      details: {rule: 'policy.requireReason'},
    })
  }
  const maxMs = policy.maxTtl ? parseDuration(policy.maxTtl) : undefined
  const ttl = request.ttl ?? policy.maxTtl ?? DEFAULT_GRANT_TTL
  const ttlMs = parseDuration(ttl)
  if (maxMs !== undefined && ttlMs > maxMs) {
    throw new UsageError(`--ttl ${ttl} is longer than policy.maxTtl ${policy.maxTtl} (${formatDuration(maxMs)}).`, {
      hint: `Pass --ttl ${policy.maxTtl} or shorter, and grant again when it runs out.`,
      details: {rule: 'policy.maxTtl'},
    })
  }
  return {role, ttl, ttlMs}
}

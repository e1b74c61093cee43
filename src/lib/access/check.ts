/**
 * `access check`: does a subject hold access in an environment through idp's grants? Evaluated
 * the way RBAC evaluates a rule (verb, API group, resource/subresource, resource name), over the
 * rules of each grant's ClusterRole or Role. Only idp's grants count, and an expired grant does
 * not: the question is "is this person entitled", not "what else the cluster allows".
 */
import type {Deps, Human, Service} from '../cli/deps.js'
import {UsageError} from '../cli/errors.js'
import {requireValue} from '../cli/prompter.js'
import {loadConfig} from '../config/load.js'
import type {KubeClients} from '../kube/client.js'
import {isNotFound, kubeError} from '../kube/client.js'
import type {GrantRecord} from './bindings.js'
import {envTarget, listGrants} from './list.js'
import {accessConfig, assertSubject, type RbacRule, resolveRole} from './policy.js'

export interface AccessCheckRequest {
  dir: string
  user: string
  group: boolean
  /** Asked for on a terminal when missing. */
  env?: string
  /** Is there an unexpired grant of this role? */
  role?: string
  /** Or: does an unexpired grant allow this verb on this resource (kubectl's names: pods, pods/log, deployments.apps)? */
  verb?: string
  resource?: string
  resourceName?: string
}

export interface AccessCheckResult {
  subject: string
  kind: 'User' | 'Group'
  env: string
  namespace: string
  cluster: string
  /** What was asked: a role (--role) or a request (verb on a resource). */
  question: string
  allowed: boolean
  reason: string
  grant?: GrantRecord
  expiredGrants: GrantRecord[]
}

export const accessCheck: Service<AccessCheckRequest, AccessCheckResult> = async (request, deps: Deps) => {
  const envName = await requireValue(request.env, '--env', deps.prompter, (p) => p.input({message: 'Environment'}))
  if (!request.role && !(request.verb && request.resource)) {
    throw new UsageError('Say what to check: --role ROLE, or --verb VERB and --resource RESOURCE.', {hint: `e.g. ${deps.bin} access check ${request.user} --env ${envName} --verb get --resource pods`})
  }
  const kind = request.group ? 'Group' : 'User'
  const user = assertSubject(request.user, kind)
  const attrs = request.role ? undefined : parseResource(request.resource!, request.verb!, {name: request.resourceName})
  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  if (request.role) resolveRole(accessConfig(loaded.config), request.role)
  const target = envTarget(loaded.config, loaded.root, envName)
  const listing = await listGrants([target], {service: loaded.config.service.name, stateDir: deps.stateDir, now: deps.now(), processEnv: deps.env})
  const grants = listing.grants.filter((g) => g.subject === user && g.kind === kind)
  const where = {subject: user, kind, env: target.env, namespace: target.namespace, cluster: target.cluster.alias} as const
  let outcome: CheckOutcome
  if (request.role) {
    const held = grants.filter((g) => g.role === request.role)
    const live = held.find((g) => !g.expired)
    outcome = live
      ? {allowed: true, reason: `grant ${live.role} (RoleBinding ${live.binding})${live.expiresAt ? ` until ${live.expiresAt}` : ''}`, grant: live, expiredGrants: []}
      : {allowed: false, reason: held.length > 0 ? `the ${request.role} grant expired at ${held[0]!.expiresAt}` : `no ${request.role} grant`, expiredGrants: held}
  } else {
    const connection = listing.connections.get(target.cluster.alias)!
    outcome = await evaluateGrants(grants, attrs!, roleRulesReader(connection.clients))
  }
  return {...where, question: request.role ? `hold role ${request.role}` : describe(attrs!), ...outcome}
}

export const renderAccessCheck: Human<AccessCheckResult> = (result) =>
  `${result.allowed ? 'yes' : 'no'}: ${result.kind === 'Group' ? 'group ' : ''}${result.subject} ${result.allowed ? 'may' : 'may not'} ${result.question} in ${result.env} (${result.namespace}): ${result.reason}`

export interface ResourceAttributes {
  verb: string
  group: string
  resource: string
  subresource?: string
  name?: string
}

/**
 * kubectl's way of naming a resource: `pods`, `pods/log`, `deployments.apps`,
 * `deployments.apps/scale`. `apiGroup` (from --api-group) wins over a group in the name.
 */
export function parseResource(text: string, verb: string, options: {apiGroup?: string; name?: string} = {}): ResourceAttributes {
  const match = /^([a-z0-9-]+)(?:\.([a-z0-9.-]+))?(?:\/([a-z0-9-]+))?$/u.exec(text)
  if (!match) throw new UsageError(`Invalid resource "${text}".`, {hint: 'Name a resource as kubectl does: pods, pods/log, deployments.apps, deployments.apps/scale.'})
  if (!/^[a-z*]+$/u.test(verb)) throw new UsageError(`Invalid verb "${verb}".`, {hint: 'Use a Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection.'})
  return {verb, group: options.apiGroup ?? match[2] ?? '', resource: match[1]!, ...(match[3] ? {subresource: match[3]} : {}), ...(options.name ? {name: options.name} : {})}
}

/** Does one RBAC rule allow the request? (The same matching the API server does.) */
export function ruleAllows(rule: Partial<RbacRule> & {apiGroups?: string[]}, attrs: ResourceAttributes): boolean {
  const verbs = rule.verbs ?? []
  if (!verbs.includes('*') && !verbs.includes(attrs.verb)) return false
  const groups = rule.apiGroups ?? []
  if (!groups.includes('*') && !groups.includes(attrs.group)) return false
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource
  const resources = rule.resources ?? []
  const wildcard = resources.includes('*') || (attrs.subresource !== undefined && resources.includes(`*/${attrs.subresource}`))
  if (!wildcard && !resources.includes(resource)) return false
  const names = rule.resourceNames ?? []
  return names.length === 0 || (attrs.name !== undefined && names.includes(attrs.name))
}

export interface CheckOutcome {
  allowed: boolean
  /** One sentence saying why. */
  reason: string
  /** The grant that allows it (allowed), or the expired grants that would have. */
  grant?: GrantRecord
  expiredGrants: GrantRecord[]
}

/** Decide from grants and a way to read each grant's rules. */
export async function evaluateGrants(grants: GrantRecord[], attrs: ResourceAttributes, rulesOf: (grant: GrantRecord) => Promise<RbacRule[]>): Promise<CheckOutcome> {
  const expiredGrants: GrantRecord[] = []
  for (const grant of grants) {
    const rules = await rulesOf(grant)
    if (!rules.some((rule) => ruleAllows(rule, attrs))) continue
    if (grant.expired) {
      expiredGrants.push(grant)
      continue
    }
    return {allowed: true, reason: `allowed by grant ${grant.role} (RoleBinding ${grant.binding} → ${grant.roleRef.kind} ${grant.roleRef.name}${grant.expiresAt ? `, expires ${grant.expiresAt}` : ''})`, grant, expiredGrants}
  }
  const what = describe(attrs)
  if (expiredGrants.length > 0) {
    return {allowed: false, reason: `only expired grants allow ${what} (${expiredGrants.map((g) => g.role).join(', ')}); the cluster honours them until \`idp access revoke --expired\` removes them`, expiredGrants}
  }
  return {allowed: false, reason: grants.length === 0 ? 'no idp grant for this subject in this environment' : `no grant of this subject allows ${what} (grants: ${grants.map((g) => g.role).join(', ')})`, expiredGrants}
}

export function describe(attrs: ResourceAttributes): string {
  const resource = `${attrs.resource}${attrs.group ? `.${attrs.group}` : ''}${attrs.subresource ? `/${attrs.subresource}` : ''}`
  return `${attrs.verb} ${resource}${attrs.name ? ` ${attrs.name}` : ''}`
}

/** Reads a grant's ClusterRole or Role from the cluster (cached per role). */
export function roleRulesReader(clients: KubeClients): (grant: GrantRecord) => Promise<RbacRule[]> {
  const cache = new Map<string, Promise<RbacRule[]>>()
  const read = async (grant: GrantRecord): Promise<RbacRule[]> => {
    const {kind, name} = grant.roleRef
    try {
      const role = kind === 'ClusterRole' ? await clients.rbac.readClusterRole({name}) : await clients.rbac.readNamespacedRole({name, namespace: grant.namespace})
      return (role.rules ?? []).map((rule) => ({apiGroups: rule.apiGroups ?? [], resources: rule.resources ?? [], verbs: rule.verbs, ...(rule.resourceNames ? {resourceNames: rule.resourceNames} : {})}))
    } catch (error) {
      // A binding to a role that does not exist grants nothing, as in RBAC.
      if (isNotFound(error)) return []
      throw kubeError(error, `read ${kind} ${name}`)
    }
  }
  return (grant) => {
    const key = `${grant.roleRef.kind}/${grant.namespace}/${grant.roleRef.name}`
    let rules = cache.get(key)
    if (!rules) {
      rules = read(grant)
      cache.set(key, rules)
    }
    return rules
  }
}

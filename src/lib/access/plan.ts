/**
 * Pure planners for `access grant` and `access revoke`: the steps say which object is applied or
 * deleted where, so --dry-run shows exactly that and the one executor (plan/apply.ts) runs it.
 */
import type {OpSpec, Plan, PlanStep} from '../plan/types.js'
import {PLAN_VERSION} from '../plan/types.js'
import {grantObjects, type GrantInput, type RoleBindingObject, type RoleObject} from './bindings.js'

/** The Kubernetes operations of the access plans (handlers.ts); see OpRegistry in plan/types.ts. */
export interface AccessOps {
  'access.apply': OpSpec<{kubeconfig: string; object: RoleObject | RoleBindingObject}, {applied: string; replaced?: boolean}>
  'access.delete': OpSpec<{kubeconfig: string; namespace: string; name: string; service: string; onlyIfExpired?: boolean}, {deleted: boolean; reason?: string; roleRemoved?: string}>
}

/** What a grant plan is about: the core of `access grant`'s result. */
export interface GrantMetadata {
  env: string
  namespace: string
  cluster: string
  subject: string
  kind: 'User' | 'Group'
  role: string
  roleRef: {kind: string; name: string}
  binding: string
  expiresAt: string
  grantedBy: string
  reason?: string
}

/** One grant a revoke plan deletes, as reported. */
export interface RevokeListed {
  env: string
  namespace: string
  cluster: string
  binding: string
  subject: string
  role: string
}

export interface AccessTarget {
  env: string
  namespace: string
  /** The .idp.yml cluster alias. */
  cluster: string
  /** The private kubeconfig idp writes for that cluster (the handlers read it). */
  kubeconfig: string
}

export interface GrantPlanInput extends Omit<GrantInput, 'env' | 'namespace'> {
  target: AccessTarget
  ttl: string
}

export function planAccessGrant(input: GrantPlanInput): Plan<GrantMetadata> {
  const {target} = input
  const {role, binding} = grantObjects({...input, env: target.env, namespace: target.namespace})
  const steps: PlanStep[] = []
  if (role) {
    steps.push({
      id: 'role',
      title: `Apply Role ${role.metadata.name} in ${target.namespace}`,
      action: {kind: 'api', target: 'kubernetes', op: 'access.apply', summary: `server-side apply Role ${target.namespace}/${role.metadata.name} (${role.rules.length} rule${role.rules.length === 1 ? '' : 's'})`, params: {kubeconfig: target.kubeconfig, object: role}},
    })
  }
  const subject = binding.subjects[0]!
  steps.push({
    id: 'binding',
    title: `Bind ${subject.kind} ${subject.name} to ${binding.roleRef.kind} ${binding.roleRef.name} in ${target.namespace}`,
    action: {
      kind: 'api',
      target: 'kubernetes',
      op: 'access.apply',
      summary: `server-side apply RoleBinding ${target.namespace}/${binding.metadata.name} (expires ${binding.metadata.annotations['idp.dev/expires-at']})`,
      params: {kubeconfig: target.kubeconfig, object: binding},
    },
  })
  return {
    version: PLAN_VERSION,
    kind: 'access.grant',
    summary: `Grant ${input.role.name} on ${target.env} to ${subject.kind === 'Group' ? 'group ' : ''}${subject.name} for ${input.ttl}`,
    steps,
    metadata: {
      env: target.env,
      namespace: target.namespace,
      cluster: target.cluster,
      subject: subject.name,
      kind: subject.kind,
      role: input.role.name,
      roleRef: binding.roleRef,
      binding: binding.metadata.name,
      expiresAt: input.expiresAt.toISOString(),
      grantedBy: input.grantedBy,
      ...(input.reason ? {reason: input.reason} : {}),
    },
  }
}

export interface RevokeItem {
  target: AccessTarget
  binding: string
  subject: string
  role: string
}

/**
 * One independent delete per binding. The handler re-reads each binding and deletes it only when
 * idp labelled it (and, for --expired, only when it is still expired: a grant renewed since the
 * listing stays).
 */
export function planAccessRevoke(input: {service: string; items: RevokeItem[]; onlyIfExpired?: boolean; summary: string}): Plan<{items: RevokeListed[]}> {
  const steps: PlanStep[] = input.items.map((item, index) => ({
    id: `revoke-${index + 1}`,
    title: `Delete RoleBinding ${item.binding} in ${item.target.namespace} (${item.role} for ${item.subject})`,
    dependsOn: [],
    action: {
      kind: 'api',
      target: 'kubernetes',
      op: 'access.delete',
      summary: `delete RoleBinding ${item.target.namespace}/${item.binding} if labelled app.kubernetes.io/managed-by=idp${input.onlyIfExpired ? ' and still expired' : ''}`,
      params: {kubeconfig: item.target.kubeconfig, namespace: item.target.namespace, name: item.binding, service: input.service, ...(input.onlyIfExpired ? {onlyIfExpired: true} : {})},
    },
  }))
  return {version: PLAN_VERSION, kind: 'access.revoke', summary: input.summary, steps, metadata: {items: input.items.map((item) => ({env: item.target.env, namespace: item.target.namespace, cluster: item.target.cluster, binding: item.binding, subject: item.subject, role: item.role}))}}
}

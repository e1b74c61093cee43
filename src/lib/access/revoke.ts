/**
 * `idp access revoke`: delete grants idp made — one role, every role of a user (`all`), or
 * every expired grant (`expired`). Only RoleBindings idp labelled for this service are deleted;
 * a grant already gone counts as revoked, so revoke is safe to repeat.
 */
import type {Deps, Human, Service} from '../cli/deps.js'
import {UsageError} from '../cli/errors.js'
import {loadConfig} from '../config/load.js'
import {clusterKubeconfigPath} from '../env/paths.js'
import {dryRunText, type JsonPlan, planForJson} from '../plan/format.js'
import {opResult, type StepRecord} from '../plan/types.js'
import {accessBindingName} from './bindings.js'
import {accessEnvTargets, envTarget, listGrants} from './list.js'
import {planAccessRevoke, type RevokeItem, type RevokeListed} from './plan.js'
import {assertSubject} from './policy.js'

export interface AccessRevokeRequest {
  dir: string
  /** The user (or group); not with `expired`. */
  user?: string
  group: boolean
  role?: string
  all: boolean
  expired: boolean
  env?: string
  dryRun: boolean
}

export interface AccessRevokeResult {
  revoked: Array<RevokeListed & {deleted: boolean; note?: string; roleRemoved?: string}>
  dryRun: boolean
  plan: JsonPlan<{items: RevokeListed[]}>
  steps?: StepRecord[]
}

export const accessRevoke: Service<AccessRevokeRequest, AccessRevokeResult> = async (request, deps: Deps) => {
  const {user} = request
  if (request.expired && user !== undefined) throw new UsageError('--expired revokes every expired grant; it takes no USER.', {hint: 'Drop USER, or use --role/--all for one user.'})
  if (!request.expired && user === undefined) throw new UsageError('Missing USER.', {hint: 'Pass the user whose grant goes (with --role ROLE or --all), or --expired.'})
  if (!request.expired && !request.role && !request.all) throw new UsageError('Say what to revoke: --role ROLE or --all.', {hint: `e.g. ${deps.bin} access revoke ${user} --role viewer --env staging`})
  if (!request.expired && !request.env) throw new UsageError('Missing required value: --env.', {hint: 'Pass --env with the environment the grant is in.'})
  const kind = request.group ? 'Group' : 'User'
  if (user !== undefined) assertSubject(user, kind)

  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const {config} = loaded
  const service = config.service.name
  const kubeconfigOf = (alias: string) => clusterKubeconfigPath(deps.stateDir, alias)
  let items: RevokeItem[]
  const named = request.role && user !== undefined ? envTarget(config, loaded.root, request.env!) : undefined
  if (named && request.role && user !== undefined) {
    // One named grant: its binding name follows from role and user, no need to read the cluster.
    items = [{target: {env: named.env, namespace: named.namespace, cluster: named.cluster.alias, kubeconfig: kubeconfigOf(named.cluster.alias)}, binding: accessBindingName(request.role, user, kind), subject: user, role: request.role}]
  } else {
    const found = request.env ? {targets: [envTarget(config, loaded.root, request.env)], warnings: []} : await accessEnvTargets(loaded, {stateDir: deps.stateDir, signal: deps.signal, processEnv: deps.env})
    for (const warning of found.warnings) deps.out.warn(warning)
    const listing = await listGrants(found.targets, {service, stateDir: deps.stateDir, now: deps.now(), processEnv: deps.env})
    for (const warning of listing.warnings) deps.out.warn(warning)
    const grants = listing.grants.filter((g) => (request.expired ? g.expired : g.subject === user && g.kind === kind))
    items = grants.map((g) => ({target: {env: g.env, namespace: g.namespace, cluster: g.cluster, kubeconfig: kubeconfigOf(g.cluster)}, binding: g.binding, subject: g.subject, role: g.role}))
  }
  const summary = request.expired ? `Revoke ${items.length} expired grant${items.length === 1 ? '' : 's'} of ${service}` : `Revoke ${request.all ? 'every role' : request.role} of ${user} on ${request.env}`
  const plan = planAccessRevoke({service, items, onlyIfExpired: request.expired, summary})
  const listed = plan.metadata.items
  if (request.dryRun) return {revoked: listed.map((r) => ({...r, deleted: false})), dryRun: true, plan: planForJson(plan, deps.runner)}
  if (items.length === 0) return {revoked: [], dryRun: false, plan: planForJson(plan, deps.runner), steps: []}
  const [{createAccessHandlers}, {connectCluster}] = await Promise.all([import('./handlers.js'), import('../env/cluster.js')])
  // The steps read each cluster's private kubeconfig; a listing above has written it, a named grant has not.
  if (named) await connectCluster(named.cluster, {stateDir: deps.stateDir, requireReachable: true, env: deps.env})
  const applied = await deps.plans.apply(plan, {handlers: createAccessHandlers({now: deps.now})})
  const revoked = listed.map((r, index) => {
    const outcome = opResult(plan, applied, plan.steps[index]!.id, 'access.delete')
    return {...r, deleted: Boolean(outcome?.deleted), ...(outcome?.reason ? {note: outcome.reason} : {}), ...(outcome?.roleRemoved ? {roleRemoved: outcome.roleRemoved} : {})}
  })
  return {revoked, dryRun: false, plan: planForJson(plan, deps.runner), steps: applied.steps}
}

export const renderAccessRevoke: Human<AccessRevokeResult> = (result) => {
  if (result.dryRun) return dryRunText(result.plan)
  if (result.revoked.length === 0) return 'Nothing to revoke.'
  return result.revoked.map((r) => `${r.deleted ? '✓ revoked' : '- kept   '} ${r.role} of ${r.subject} on ${r.env} (${r.binding})${r.note ? `: ${r.note}` : ''}${r.roleRemoved ? `; Role ${r.roleRemoved} removed (no grant uses it)` : ''}`).join('\n')
}

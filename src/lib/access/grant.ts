/**
 * `idp access grant`: a time-limited RoleBinding in one environment. The access policy of
 * .idp.yml is checked before any cluster is touched (a UsageError naming the rule).
 */
import {type Deps, type Human, idpCommand, type Service} from '../cli/deps.js'
import {requireValue} from '../cli/prompter.js'
import {loadConfig} from '../config/load.js'
import {gitFacts} from '../env/context.js'
import {clusterKubeconfigPath} from '../env/paths.js'
import {dryRunText, type JsonPlan, planForJson} from '../plan/format.js'
import type {StepRecord} from '../plan/types.js'
import {envTarget} from './list.js'
import {type GrantMetadata, planAccessGrant} from './plan.js'
import {accessConfig, checkGrantPolicy} from './policy.js'

export interface AccessGrantRequest {
  dir: string
  /** The user (or group) as the cluster authenticates it. */
  user: string
  group: boolean
  /** Asked for on a terminal when missing. */
  role?: string
  env?: string
  /** e.g. 4h; default policy.maxTtl, else 8h. */
  ttl?: string
  reason?: string
  dryRun: boolean
}

export interface AccessGrantResult extends GrantMetadata {
  dryRun: boolean
  plan: JsonPlan<GrantMetadata>
  steps?: StepRecord[]
}

export const accessGrant: Service<AccessGrantRequest, AccessGrantResult> = async (request, deps: Deps) => {
  const role = await requireValue(request.role, '--role', deps.prompter, (p) => p.input({message: 'Role'}))
  const envName = await requireValue(request.env, '--env', deps.prompter, (p) => p.input({message: 'Environment'}))
  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const {config} = loaded
  const access = accessConfig(config)
  const target = envTarget(config, loaded.root, envName)
  const kind = request.group ? 'Group' : 'User'
  // Every policy rule is checked before anything reads or changes a cluster.
  const checked = checkGrantPolicy(access, {user: request.user, kind, role, env: target.env, ttl: request.ttl, reason: request.reason})
  // Who grants: the CI actor, else git's user, else the OS user (as `env up` records owners).
  const grantedBy = (await gitFacts(deps.runner, request.dir, deps.env)).owner
  const now = deps.now()
  const plan = planAccessGrant({
    target: {env: target.env, namespace: target.namespace, cluster: target.cluster.alias, kubeconfig: clusterKubeconfigPath(deps.stateDir, target.cluster.alias)},
    service: config.service.name,
    role: checked.role,
    subject: request.user,
    kind,
    ttl: checked.ttl,
    expiresAt: new Date(now.getTime() + checked.ttlMs),
    grantedAt: now,
    grantedBy,
    ...(request.reason ? {reason: request.reason} : {}),
  })
  const base = {...plan.metadata, plan: planForJson(plan, deps.runner)}
  if (request.dryRun) return {...base, dryRun: true}
  const [{connectEnv}, {createAccessHandlers}] = await Promise.all([import('./connect.js'), import('./handlers.js')])
  await connectEnv(target, deps.stateDir, deps.env)
  const applied = await deps.plans.apply(plan, {handlers: createAccessHandlers({now: deps.now})})
  return {...base, dryRun: false, steps: applied.steps}
}

export const renderAccessGrant: Human<AccessGrantResult> = (result, view) => {
  if (result.dryRun) return dryRunText(result.plan)
  return [
    `✓ ${result.kind === 'Group' ? 'Group' : 'User'} ${result.subject} has ${result.role} on ${result.env} (namespace ${result.namespace} on ${result.cluster}) until ${result.expiresAt}`,
    `  Binding: ${result.binding} → ${result.roleRef.kind} ${result.roleRef.name}`,
    `  Revoke:  ${idpCommand(view, ['access', 'revoke', result.subject, '--role', result.role, '--env', result.env, ...(result.kind === 'Group' ? ['--group'] : [])])}`,
  ].join('\n')
}

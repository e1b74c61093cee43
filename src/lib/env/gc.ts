/**
 * `idp env gc`: which environments to remove (a pure selection, so it is easy to test and to show
 * under --dry-run), and removing them one by one with the same plan `idp env down` runs. Safe for
 * a scheduled CI job: only namespaces carrying idp's labels are ever considered, each is read
 * again right before its plan is made, and one failure does not stop the others.
 */
import {type Deps, type Human, idpCommandOf, isCi, type Service} from '../cli/deps.js'
import {CancelledError, IdpError, PrerequisiteError, RemoteError, TimeoutError, ToolError, UsageError} from '../cli/errors.js'
import {table} from '../cli/output.js'
import {redact} from '../cli/redact.js'
import {parseDuration, parseTimeout} from '../config/duration.js'
import {matchEnvironment, type ResolvedEnvironment, resolveEnvironment} from '../config/environments.js'
import {loadConfig} from '../config/load.js'
import type {IdpConfig} from '../config/schema.js'
import {type JsonPlan, planForJson} from '../plan/format.js'
import type {Plan} from '../plan/types.js'
import {type ClusterListing, listEnvironments} from './list.js'
import {type ClusterTarget, configuredClusters, findNamespace} from './cluster.js'
import {gitFacts, lockHolder} from './context.js'
import type {V1Namespace} from '@kubernetes/client-node'

import {isOwnedBy, type EnvRecord, parseEnvRecord} from './labels.js'
import {envStatePaths} from './paths.js'
import {idpPluginCacheFor} from '../tools/terraform-plugin-cache.js'
import {planEnvDown} from './plan-down.js'
import {ENV_STEP} from './plan-up.js'
import {localStateDownWarning, type TerraformState, terraformStateOf} from './tf-state.js'

export interface EnvGcRequest {
  dir: string
  /** Select environments created longer ago than this (e.g. 2d) instead of those past their expires-at. */
  olderThan?: string
  allServices: boolean
  cluster?: string
  /** Limit for each teardown step. */
  timeout: string
  dryRun: boolean
  keepOnFailure: boolean
  /** Remove without asking on a terminal. */
  yes: boolean
  /** How many environments to remove at once (default GC_CONCURRENCY). */
  concurrency?: number
}

/** The same environment fields as an outcome, so --dry-run and a real run read alike. */
export interface EnvGcSelected extends Pick<GcOutcome, 'service' | 'env' | 'cluster' | 'namespace' | 'reason'> {
  plan?: JsonPlan
}

export interface EnvGcResult {
  service: string | null
  dryRun: boolean
  /** What was (or, with --dry-run, would be) removed, and why. */
  selected: EnvGcSelected[]
  /** Matched but kept: protected in .idp.yml, already terminating. */
  skipped: Array<{service: string; env: string; cluster: string; namespace: string; reason: string}>
  /** Per environment after a real run. */
  outcomes: GcOutcome[]
  clusters: ClusterListing[]
}

export interface GcCriteria {
  now: Date
  /** Select by age (created more than this long ago) instead of by expires-at. */
  olderThanMs?: number
  /** Names of this repository's service and the config, to honour `protected: true`. */
  config?: Pick<IdpConfig, 'service' | 'environments'>
}

export interface GcCandidate {
  record: EnvRecord
  /** Why it is removed, for people: "expired 2h ago", "created 3d ago (older than 24h)". */
  reason: string
}

export interface GcSkip {
  record: EnvRecord
  reason: string
}

export interface GcSelection {
  remove: GcCandidate[]
  /** Environments that matched but are kept (protected in .idp.yml, already terminating). */
  skipped: GcSkip[]
}

function span(ms: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ]
  for (const [unit, size] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`
  return `${Math.max(0, Math.floor(ms / 1000))}s`
}

/** Is `record` one of this repository's environments that .idp.yml marks `protected: true`? */
export function isProtected(record: EnvRecord, config: GcCriteria['config']): boolean {
  if (!config || record.service !== config.service.name) return false
  return matchEnvironment(config as IdpConfig, record.env)?.settings.protected === true
}

/**
 * The environments gc removes: those past their expires-at (an environment without one never
 * expires), or with `olderThanMs` those created longer ago than that. Protected environments
 * and namespaces already being deleted are kept, with the reason.
 */
export function selectForGc(records: EnvRecord[], criteria: GcCriteria): GcSelection {
  const now = criteria.now.getTime()
  const selection: GcSelection = {remove: [], skipped: []}
  for (const record of records) {
    let reason: string | undefined
    if (criteria.olderThanMs === undefined) {
      if (record.expiresAt && new Date(record.expiresAt).getTime() <= now) reason = `expired ${span(now - new Date(record.expiresAt).getTime())} ago (expires-at ${record.expiresAt})`
    } else {
      const age = now - new Date(record.createdAt).getTime()
      if (age > criteria.olderThanMs) reason = `created ${span(age)} ago (${record.createdAt}), older than ${span(criteria.olderThanMs)}`
    }
    if (!reason) continue
    if (isProtected(record, criteria.config)) selection.skipped.push({record, reason: `${reason}, but protected in .idp.yml`})
    else if (record.phase === 'Terminating') selection.skipped.push({record, reason: `${reason}; already being deleted`})
    else selection.remove.push({record, reason})
  }
  return selection
}

/**
 * The environment to tear down, as `planEnvDown` wants it. This repository's environments are
 * resolved from .idp.yml (so helm and terraform are cleaned up too); another service's are
 * described from the labels alone: its namespace (and the vcluster in it) is removed, which takes
 * its helm releases with it. The namespace, cluster and driver recorded on the cluster win over
 * the config, which may have changed since the environment was created.
 */
export function envForRecord(record: EnvRecord, target: ClusterTarget, loaded?: {config: IdpConfig; root: string}): ResolvedEnvironment {
  const driver: ResolvedEnvironment['driver'] = record.driver === 'vcluster' ? 'vcluster' : 'namespace'
  const cluster = {alias: target.alias, context: target.context, ...(target.kubeconfig ? {kubeconfig: target.kubeconfig} : {})}
  if (loaded && record.service === loaded.config.service.name) {
    try {
      const resolved = resolveEnvironment(loaded.config, record.env, {root: loaded.root, vars: {...(record.pr ? {pr: record.pr} : {}), ...(record.sha ? {sha: record.sha} : {})}})
      return {...resolved, namespace: record.namespace, cluster, driver}
    } catch {
      // The environment no longer matches .idp.yml (renamed pattern): fall back to the labels.
    }
  }
  return {name: record.env, key: record.env, pattern: false, service: record.service, cluster, driver, namespace: record.namespace, protected: false, vars: {env: record.env, service: record.service}}
}

export interface GcOutcome {
  service: string
  env: string
  cluster: string
  namespace: string
  reason: string
  status: 'removed' | 'failed' | 'skipped'
  /** For failed (the error message) and skipped (why). */
  detail?: string
  exitCode?: number
}

export interface GcRunOptions {
  candidates: GcCandidate[]
  /** Read the namespace again right before acting: undefined when it is gone. */
  readNamespace(record: EnvRecord): Promise<V1Namespace | undefined>
  /**
   * Is the environment, as read right before acting, still one to remove? A reason to keep it
   * (renewed since the listing) or undefined. Absent: the listing's word stands.
   */
  stillSelected?(live: V1Namespace, record: EnvRecord): string | undefined
  /** Runs the re-read and the removal while the environment's Lease is held (an `env up` renewing it waits, or makes this wait). */
  withLock?<T>(record: EnvRecord, body: () => Promise<T>): Promise<T>
  /** Build the down plan of one environment (found is always 'ours' here). */
  plan(record: EnvRecord): Plan<unknown>
  apply(plan: Plan<unknown>, record: EnvRecord): Promise<void>
  signal?: AbortSignal
  onStart?(candidate: GcCandidate): void
  /** How many environments are removed at once (default 1). */
  concurrency?: number
}

export interface GcRunResult {
  outcomes: GcOutcome[]
  /** The error of each failed environment, by `cluster/namespace`. */
  errors: Map<string, unknown>
}

/** How many environments gc removes at once unless told (--concurrency), and the most it will. */
export const GC_CONCURRENCY = 4
export const GC_MAX_CONCURRENCY = 16

/**
 * Remove the candidates, up to `concurrency` at a time (default 1): each environment's removal is
 * independent (its own namespace, Lease, Terraform workspace and data dir), so a nightly job with
 * many expired previews takes about the time of the slowest `concurrency`-th of them, not their
 * sum. A failure is recorded and the others go on. Outcomes come back in the candidates' order.
 * Ctrl-C starts nothing new, waits for the removals under way (their plans see the same signal
 * and stop), then ends with CancelledError carrying the outcomes so far.
 */
export async function runGc(options: GcRunOptions): Promise<GcRunResult> {
  const outcomes: Array<GcOutcome | undefined> = []
  const errors = new Map<string, unknown>()
  let cancelled = false
  const removeCandidate = async (candidate: GcCandidate, index: number): Promise<void> => {
    const {record, reason} = candidate
    const base = {service: record.service, env: record.env, cluster: record.cluster, namespace: record.namespace, reason}
    options.onStart?.(candidate)
    try {
      const removeOne = async (): Promise<GcOutcome> => {
        const live = await options.readNamespace(record)
        if (!live) return {...base, status: 'skipped', detail: 'already gone'}
        // The selector already asked for these labels; asking again guards against a namespace that
        // was relabelled (or replaced by someone else's) between the list and now.
        if (!isOwnedBy(live, record.service, record.env)) return {...base, status: 'skipped', detail: 'no longer labelled as this idp environment; left alone'}
        const keep = options.stillSelected?.(live, record)
        if (keep) return {...base, status: 'skipped', detail: keep}
        await options.apply(options.plan(record), record)
        return {...base, status: 'removed'}
      }
      outcomes[index] = options.withLock ? await options.withLock(record, removeOne) : await removeOne()
    } catch (error) {
      if (error instanceof CancelledError || options.signal?.aborted) {
        cancelled = true
        return
      }
      const idp = error instanceof IdpError ? error : undefined
      outcomes[index] = {...base, status: 'failed', detail: redact(error instanceof Error ? error.message : String(error)), exitCode: idp?.exitCode ?? 1}
      errors.set(`${record.cluster}/${record.namespace}`, error)
    }
  }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < options.candidates.length && !cancelled && !options.signal?.aborted) {
      const index = next++
      await removeCandidate(options.candidates[index]!, index)
    }
  }
  const width = Math.max(1, Math.min(Math.floor(options.concurrency ?? 1), options.candidates.length))
  await Promise.all(Array.from({length: width}, () => worker()))
  const done = outcomes.filter((o): o is GcOutcome => o !== undefined)
  if (cancelled || options.signal?.aborted) throw new CancelledError('Cancelled by the user.', {details: {outcomes: done}})
  return {outcomes: done, errors}
}

/**
 * The error gc ends with when some removals failed: the class (and exit code) of the first
 * failure, a summary of all of them, and every outcome in the details for --json.
 */
export function gcFailure({outcomes, errors}: GcRunResult): IdpError | undefined {
  const failed = outcomes.filter((o) => o.status === 'failed')
  if (failed.length === 0) return undefined
  const removed = outcomes.filter((o) => o.status === 'removed').length
  const lines = failed.map((o) => `${o.service}/${o.env} on ${o.cluster}: ${o.detail ?? 'failed'}`)
  const message = `gc removed ${removed} of ${removed + failed.length} environment${removed + failed.length === 1 ? '' : 's'}; ${failed.length} failed:\n  ${lines.join('\n  ')}`
  const options = {hint: 'Fix the cause shown for each, then run `idp env gc` again (removal is idempotent), or remove one with `idp env down ENV`.', details: {outcomes}}
  const first = errors.get(`${failed[0]!.cluster}/${failed[0]!.namespace}`)
  if (first instanceof ToolError) return new ToolError(message, first.facts, options)
  if (first instanceof TimeoutError) return new TimeoutError(message, options)
  if (first instanceof PrerequisiteError) return new PrerequisiteError(message, options)
  return new RemoteError(message, options)
}

export const envGc: Service<EnvGcRequest, EnvGcResult> = async (request, deps: Deps) => {
  // Bad input fails before anything is contacted.
  const olderThanMs = request.olderThan === undefined ? undefined : parseDuration(request.olderThan)
  const timeoutMs = parseTimeout(request.timeout)
  const concurrency = request.concurrency ?? GC_CONCURRENCY
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > GC_MAX_CONCURRENCY) {
    throw new UsageError(`--concurrency must be a whole number from 1 to ${GC_MAX_CONCURRENCY}, not ${String(request.concurrency)}.`, {hint: `e.g. ${deps.bin} env gc --concurrency 8`})
  }
  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const {config} = loaded
  const targets = configuredClusters(loaded, request.cluster)
  const service = request.allServices ? undefined : config.service.name
  const now = deps.now()
  const listing = await listEnvironments({clusters: targets, stateDir: deps.stateDir, service, now, processEnv: deps.env, signal: deps.signal})
  for (const warning of listing.warnings) deps.out.warn(warning)
  const selection = selectForGc(listing.environments, {now, olderThanMs, config})
  const targetOf = new Map(targets.map((t) => [t.alias, t]))

  const holder = lockHolder(`idp env gc by ${(await gitFacts(deps.runner, request.dir, deps.env)).owner}`)
  // Where each selected environment's Terraform state lives, read from its module once.
  const envOf = (record: EnvRecord) => envForRecord(record, targetOf.get(record.cluster)!, loaded)
  const stateOf = await terraformStates(selection.remove.map(({record}) => envOf(record)), deps)
  const pluginCache = await idpPluginCacheFor(deps.env)
  const planFor = (record: EnvRecord) => {
    const env = envOf(record)
    const terraformState = env.terraform ? stateOf.get(stateKey(env)) : undefined
    return planEnvDown(
      {env, found: 'ours', driver: record.driver === 'vcluster' ? 'vcluster' : 'namespace', timeoutMs},
      {holder, paths: {...envStatePaths(deps.stateDir, record.service, record.env, record.cluster), ...(env.terraform && pluginCache ? {tfPluginCache: pluginCache} : {})}, ...(terraformState ? {terraformState} : {})},
    )
  }
  const brief = (r: EnvRecord) => ({service: r.service, env: r.env, cluster: r.cluster, namespace: r.namespace})
  const base = {
    service: service ?? null,
    selected: selection.remove.map(({record, reason}) => ({...brief(record), reason, ...(request.dryRun ? {plan: planForJson(planFor(record), deps.runner)} : {})})),
    skipped: selection.skipped.map(({record, reason}) => ({...brief(record), reason})),
    clusters: listing.clusters,
  }
  if (request.dryRun || selection.remove.length === 0) return {...base, dryRun: request.dryRun, outcomes: []}

  if (!request.yes) {
    const count = `${base.selected.length} environment${base.selected.length === 1 ? '' : 's'}`
    // Removing many environments is not done on a guess: a terminal asks, a script says --yes
    // (like terraform destroy -auto-approve). Nothing has changed yet.
    if (!deps.prompter) {
      throw new UsageError(`env gc would remove ${count}; removing them without a terminal needs --yes.`, {
        hint: `Check the list with \`${idpCommandOf(deps, request.dir, ['env', 'gc', '--dry-run'])}\`, then run \`${idpCommandOf(deps, request.dir, ['env', 'gc', '--yes'])}\` (or set IDP_YES=true in a scheduled job).`,
        details: {selected: base.selected, skipped: base.skipped},
      })
    }
    deps.out.report(gcTable(base.selected))
    const ok = await deps.prompter.confirm({message: `Remove ${count}?`, default: false})
    if (!ok) return {...base, dryRun: false, selected: [], outcomes: []}
  }

  const {acquireEnvLock, createEnvHandlers, releaseEnvLock} = await import('./handlers.js')
  const handlers = createEnvHandlers({runner: deps.runner, env: deps.env, bin: deps.bin, now: deps.now})
  // Several at once: each step's title names its environment, and progress is plain lines (one
  // animated list per environment would draw over the others).
  const together = Math.min(concurrency, selection.remove.length) > 1
  const run = await runGc({
    candidates: selection.remove,
    concurrency,
    signal: deps.signal,
    onStart: ({record, reason}) => deps.out.info(`Removing ${record.service}/${record.env} on ${record.cluster} (namespace ${record.namespace}): ${reason}`),
    readNamespace: (record) => findNamespace(listing.connections.get(record.cluster)!.clients.core, record.namespace, ` on cluster "${record.cluster}"`),
    // Selected again on the object just read: an `env up --ttl` since the listing renews it.
    stillSelected: (live, record) => {
      const now = deps.now()
      const fresh = parseEnvRecord(live, record.cluster, now)
      if (fresh && selectForGc([fresh], {now, olderThanMs, config}).remove.length > 0) return undefined
      return `no longer selected when read again (expires-at ${fresh?.expiresAt ?? 'none'}); kept`
    },
    withLock: async (record, body) => {
      const lock = planFor(record).steps.find((step) => step.id === ENV_STEP.lock)?.action
      if (lock?.kind !== 'api' || lock.op !== 'env.lock') return body()
      await acquireEnvLock(lock.params, undefined, deps.now)
      try {
        return await body()
      } finally {
        await releaseEnvLock({kubeconfig: lock.params.kubeconfig, namespace: lock.params.namespace, name: lock.params.name, holder: lock.params.holder}).catch(() => undefined)
      }
    },
    plan: planFor,
    apply: async (plan, record) => {
      const shown = together ? {...plan, steps: plan.steps.map((step) => ({...step, title: `${record.service}/${record.env}: ${step.title}`}))} : plan
      await deps.plans.apply(shown, {handlers, keepOnFailure: request.keepOnFailure, ...(together ? {plain: true} : {})})
    },
  })
  const failure = gcFailure(run)
  if (failure) {
    failure.details = {...failure.details, selected: base.selected, skipped: base.skipped}
    throw failure
  }
  return {...base, dryRun: false, outcomes: run.outcomes}
}

const stateKey = (env: ResolvedEnvironment) => `${env.terraform!.dir}\0${env.terraform!.workspace}`

/**
 * The Terraform state of each environment, read from its module before anything is removed. A
 * module without a backend block in CI is warned about: its state is on whichever machine
 * brought the environment up.
 */
async function terraformStates(envs: ResolvedEnvironment[], deps: Deps): Promise<Map<string, TerraformState>> {
  const states = new Map<string, TerraformState>()
  for (const env of envs) {
    if (!env.terraform) continue
    const state = await terraformStateOf(env)
    states.set(stateKey(env), state)
    if (state.backend === 'local' && isCi(deps.env)) deps.out.warn(localStateDownWarning(env))
  }
  return states
}

function gcTable(selected: EnvGcSelected[]): string {
  return table(
    ['ENV', 'SERVICE', 'CLUSTER', 'NAMESPACE', 'REASON'],
    selected.map((s) => [s.env, s.service, s.cluster, s.namespace, s.reason]),
  )
}

export const renderEnvGc: Human<EnvGcResult> = (result) => {
  const lines: string[] = []
  const scope = result.service ? `of service ${result.service}` : 'of any service'
  if (result.selected.length === 0) lines.push(`Nothing to remove: no environment ${scope} matched.`)
  else if (result.dryRun) lines.push(gcTable(result.selected), '', `Dry run: would remove ${result.selected.length} environment${result.selected.length === 1 ? '' : 's'}; nothing was changed.`)
  else {
    const removed = result.outcomes.filter((o) => o.status === 'removed')
    for (const o of result.outcomes) lines.push(`${o.status === 'removed' ? '✓ removed' : `- skipped (${o.detail ?? ''})`} ${o.service}/${o.env} on ${o.cluster} (namespace ${o.namespace}): ${o.reason}`)
    lines.push(`Removed ${removed.length} environment${removed.length === 1 ? '' : 's'}.`)
  }
  for (const s of result.skipped) lines.push(`Kept ${s.service}/${s.env} on ${s.cluster}: ${s.reason}`)
  return lines.join('\n')
}

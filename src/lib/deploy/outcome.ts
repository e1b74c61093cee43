/**
 * What a deploy's or rollback's last step says, for people: the Application's sync/health status
 * and, when the wait fails, why (Degraded beyond the grace period with its resources' messages, a
 * failed sync, or a timeout with what was still not ready); helm's --wait failures likewise.
 */
import {IdpError, TimeoutError, ToolError} from '../cli/errors.js'
import {redact} from '../cli/redact.js'
import type {RunOptions, ToolRunner} from '../tools/types.js'

/** The parts of `argocd app get -o json` (an Application without kind/apiVersion) idp reads. */
export interface ArgoApp {
  metadata?: {name?: string; namespace?: string; labels?: Record<string, string>}
  spec?: {source?: ArgoSource; destination?: {server?: string; name?: string; namespace?: string}; syncPolicy?: {automated?: {enabled?: boolean} | null}}
  operation?: unknown
  status?: {
    sync?: {status?: string; revision?: string}
    health?: {status?: string; message?: string}
    operationState?: {phase?: string; message?: string; startedAt?: string; finishedAt?: string; syncResult?: {revision?: string; source?: ArgoSource}}
    resources?: Array<{kind?: string; namespace?: string; name?: string; status?: string; health?: {status?: string; message?: string}}>
    conditions?: Array<{type?: string; message?: string}>
    history?: ArgoHistoryEntry[]
    summary?: {images?: string[]}
  }
}

export interface ArgoSource {
  repoURL?: string
  path?: string
  targetRevision?: string
  helm?: {parameters?: Array<{name?: string; value?: string}>}
}

/** One entry of `status.history` (RevisionHistory): what `argocd app history` and `app rollback` read. */
export interface ArgoHistoryEntry {
  id: number
  revision?: string
  deployedAt?: string
  deployStartedAt?: string
  source?: ArgoSource
  initiatedBy?: {username?: string; automated?: boolean}
}

export interface ArgoStatus {
  health?: string
  healthMessage?: string
  sync?: string
  revision?: string
  operation?: string
  operationMessage?: string
}

export function argoStatus(app: ArgoApp | undefined): ArgoStatus {
  const s = app?.status
  const status: ArgoStatus = {}
  if (s?.health?.status) status.health = s.health.status
  if (s?.health?.message) status.healthMessage = s.health.message
  if (s?.sync?.status) status.sync = s.sync.status
  if (s?.sync?.revision) status.revision = s.sync.revision
  if (s?.operationState?.phase) status.operation = s.operationState.phase
  if (s?.operationState?.message) status.operationMessage = s.operationState.message
  return status
}

/** Automated sync is on (SyncPolicy.IsAutomatedSyncEnabled: `automated` set and not `enabled: false`). */
export function autoSyncEnabled(app: ArgoApp | undefined): boolean {
  const automated = app?.spec?.syncPolicy?.automated
  return automated !== undefined && automated !== null && automated.enabled !== false
}

/** The image tag a source deploys: its `image.tag` Helm parameter (idp's --image-tag). */
export function sourceImageTag(source: ArgoSource | undefined): string | undefined {
  return source?.helm?.parameters?.find((p) => p.name === 'image.tag')?.value
}

/** A resource that is not Healthy or not Synced, as one line: `Deployment ns/name: Degraded (message), OutOfSync`. */
export interface ResourceProblem {
  kind: string
  namespace?: string
  name: string
  health?: string
  sync?: string
  message?: string
}

export function argoProblems(app: ArgoApp | undefined): ResourceProblem[] {
  const problems: ResourceProblem[] = []
  for (const r of app?.status?.resources ?? []) {
    const health = r.health?.status
    if ((health && health !== 'Healthy') || (r.status && r.status !== 'Synced')) {
      problems.push({kind: r.kind ?? '?', ...(r.namespace ? {namespace: r.namespace} : {}), name: r.name ?? '?', ...(health ? {health} : {}), ...(r.status ? {sync: r.status} : {}), ...(r.health?.message ? {message: redact(r.health.message)} : {})})
    }
  }
  return problems
}

export function problemLine(p: ResourceProblem): string {
  return `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}: ${p.health ?? 'health n/a'}${p.message ? ` (${p.message})` : ''}${p.sync && p.sync !== 'Synced' ? `, ${p.sync}` : ''}`
}

/** One line per fact that explains an Application's state: its status, unhealthy resources, conditions. */
export function argoEvidence(app: ArgoApp | undefined): string[] {
  if (!app) return []
  const st = argoStatus(app)
  const lines = [`health: ${st.health ?? 'Unknown'}${st.healthMessage ? ` (${st.healthMessage})` : ''}; sync: ${st.sync ?? 'Unknown'}${st.revision ? ` at ${st.revision}` : ''}`]
  if (st.operation) lines.push(`last operation: ${st.operation}${st.operationMessage ? `: ${st.operationMessage}` : ''}`)
  for (const p of argoProblems(app)) lines.push(problemLine(p))
  for (const c of app.status?.conditions ?? []) lines.push(`condition ${c.type ?? '?'}: ${c.message ?? ''}`)
  return lines.map((line) => redact(line))
}

/** Where a wait stands after one look at the Application. */
export type WaitVerdict = {kind: 'done'} | {kind: 'waiting'; degraded: boolean} | {kind: 'failed'}

/**
 * One look at the Application: done when its operation has run (none pending, not Running) and it
 * is Healthy (and Synced, when asked); failed when the operation Failed or Errored; else waiting,
 * noting whether it is Degraded (tolerated for the grace period by the caller).
 */
export function judgeApplication(app: ArgoApp, wantSync: boolean): WaitVerdict {
  const st = argoStatus(app)
  const operationDone = app.operation === undefined || app.operation === null
  const phase = st.operation
  if (operationDone && (phase === 'Failed' || phase === 'Error')) return {kind: 'failed'}
  const settled = operationDone && phase !== 'Running' && phase !== 'Terminating'
  if (settled && st.health === 'Healthy' && (!wantSync || st.sync === 'Synced')) return {kind: 'done'}
  return {kind: 'waiting', degraded: st.health === 'Degraded'}
}

export interface WaitContext {
  name: string
  /** The whole wait, for the message. */
  timeoutMs: number
  /** argv of the look (`argocd app get`), for ToolError facts. */
  argv: string[]
  rollback: string
  inspect: string
  wantSync: boolean
}

function waitHint(context: WaitContext): string {
  return `The Application is left as it is (nothing is undone). Inspect it with the evidence above or \`${context.inspect}\`; roll back with \`${context.rollback}\`, or deploy a known good revision with --revision.`
}

/** Degraded beyond the grace period, or a failed sync: a ToolError carrying the Application's own messages. */
export function applicationFailure(app: ArgoApp, context: WaitContext, degradedForMs?: number): IdpError {
  const st = argoStatus(app)
  const evidence = argoEvidence(app)
  const problems = argoProblems(app)
  const details = {app: context.name, ...st, notReady: problems.map((p) => problemLine(p)), evidence}
  const facts = {tool: 'argocd', argv: context.argv}
  if (st.operation === 'Failed' || st.operation === 'Error') {
    return new ToolError(`Sync of Application ${context.name} ${st.operation === 'Error' ? 'errored' : 'failed'}${st.operationMessage ? `: ${st.operationMessage}` : ''}.`, facts, {hint: waitHint(context), details})
  }
  const lasting = degradedForMs === undefined ? '' : ` for ${Math.round(degradedForMs / 1000)}s`
  const which = problems.filter((p) => p.health === 'Degraded').map((p) => problemLine(p))
  return new ToolError(`Application ${context.name} is Degraded${st.healthMessage ? `: ${st.healthMessage}` : ''}.`, facts, {
    hint: `${which.length > 0 ? `Degraded${lasting}: ${which.join('; ')}. ` : ''}${waitHint(context)}`,
    details,
  })
}

/** Not there within the timeout: what was still not ready. */
export function applicationTimeout(app: ArgoApp | undefined, context: WaitContext): TimeoutError {
  const st = argoStatus(app)
  const problems = argoProblems(app)
  const pending = app?.operation !== undefined && app?.operation !== null
  const what = app ? `health ${st.health ?? 'Unknown'}, sync ${st.sync ?? 'Unknown'}${pending ? ', operation pending' : st.operation ? `, operation ${st.operation}` : ''}` : 'its state could not be read'
  const notReady = problems.map((p) => problemLine(p))
  return new TimeoutError(`Application ${context.name} was not ${context.wantSync ? 'synced and healthy' : 'healthy'} within ${Math.round(context.timeoutMs / 1000)}s (${what})${notReady.length > 0 ? `; not ready: ${notReady.join('; ')}` : ''}.`, {
    hint: `Argo CD goes on syncing in the background. Raise --timeout if it is just slow; otherwise see the evidence. ${waitHint(context)}`,
    details: {app: context.name, ...st, notReady, evidence: argoEvidence(app)},
  })
}

/**
 * helm `--wait` that ran out of time says so in its error; that is a timeout, not a tool failure,
 * and it names what was still not ready (`notReady`, read from the cluster after the failure).
 */
export function helmFailure(error: ToolError, context: {timeoutSeconds: number; rollback: string; rolledBack: boolean; notReady?: string[]}): IdpError {
  const text = `${error.message}\n${error.facts.stderrTail ?? ''}`
  if (/context deadline exceeded|timed out waiting for the condition|timeout waiting for/iu.test(text)) {
    const notReady = context.notReady ?? []
    return new TimeoutError(`The release was not ready within ${context.timeoutSeconds}s${context.rolledBack ? ' and helm rolled it back' : ''}${notReady.length > 0 ? `; not ready: ${notReady.join('; ')}` : ''}: ${error.message}`, {
      hint: `Raise --timeout if the service is just slow to start; otherwise see the evidence (pods and events). To roll back${context.rolledBack ? ' further' : ''} by hand: \`${context.rollback}\`.`,
      details: {...error.details, notReady},
      cause: error,
    })
  }
  return error
}

/** What the result reports about the deployed state. */
export interface DeployedStatus {
  revision?: string
  health?: string
  sync?: string
}

/**
 * From helm upgrade's text output (STATUS, REVISION). Not `--output json`: that would print the
 * rendered manifest, Secrets included, into the journal and --json steps.
 */
export function helmDeployed(stdout: string): DeployedStatus {
  const revision = /^REVISION:\s*(\d+)\s*$/mu.exec(stdout)?.[1]
  const status = /^STATUS:\s*(\S+)\s*$/mu.exec(stdout)?.[1]
  return {...(revision ? {revision} : {}), ...(status ? {health: status} : {})}
}

/**
 * A runner that turns a failed `helm upgrade` or `helm rollback --wait` into the errors above and
 * keeps what a successful one reported (REVISION, STATUS).
 */
export function withDeployOutcome(runner: ToolRunner, context: {timeoutSeconds: number; rollback: string; notReady?: () => Promise<string[]>}): ToolRunner & {deployed(): DeployedStatus} {
  let deployed: DeployedStatus = {}
  const watched = (tool: string, args: readonly string[]) => tool === 'helm' && (args[0] === 'upgrade' || args[0] === 'rollback')
  return {
    resolve: (tool) => runner.resolve(tool),
    require: (tool) => runner.require(tool),
    removedEnv: (env) => runner.removedEnv(env),
    deployed: () => deployed,
    async run(tool, args, options?: RunOptions) {
      try {
        const result = await runner.run(tool, args, options)
        // The full output, not the journal's tail: the status the result reports.
        if (watched(tool, args)) deployed = helmDeployed(result.stdout)
        return result
      } catch (error) {
        if (error instanceof ToolError && watched(tool, args)) {
          const notReady = await context.notReady?.().catch(() => [])
          throw helmFailure(error, {timeoutSeconds: context.timeoutSeconds, rollback: context.rollback, rolledBack: args[0] === 'upgrade', ...(notReady ? {notReady} : {})})
        }
        throw error
      }
    },
  }
}

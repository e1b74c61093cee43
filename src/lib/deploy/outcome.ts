/**
 * What a deploy's last step says, for people: the Application's sync/health status and, when the
 * wait fails, why (Degraded with its message, a failed sync, or a timeout with what was still not
 * ready). `argocd app wait` exits 20 for all three, so the Application itself is asked.
 */
import {IdpError, TimeoutError, ToolError} from '../cli/errors.js'
import {redact} from '../cli/redact.js'
import type {RunOptions, ToolRunner} from '../tools/types.js'

/** The parts of `argocd app get -o json` (an Application without kind/apiVersion) idp reads. */
export interface ArgoApp {
  metadata?: {name?: string; namespace?: string}
  spec?: {source?: {targetRevision?: string}}
  status?: {
    sync?: {status?: string; revision?: string}
    health?: {status?: string; message?: string}
    operationState?: {phase?: string; message?: string}
    resources?: Array<{kind?: string; namespace?: string; name?: string; status?: string; health?: {status?: string; message?: string}}>
    conditions?: Array<{type?: string; message?: string}>
  }
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

/** One line per fact that explains an Application's state: its status, unhealthy resources, conditions. */
export function argoEvidence(app: ArgoApp | undefined): string[] {
  if (!app) return []
  const st = argoStatus(app)
  const lines = [`health: ${st.health ?? 'Unknown'}${st.healthMessage ? ` (${st.healthMessage})` : ''}; sync: ${st.sync ?? 'Unknown'}${st.revision ? ` at ${st.revision}` : ''}`]
  if (st.operation) lines.push(`last operation: ${st.operation}${st.operationMessage ? `: ${st.operationMessage}` : ''}`)
  for (const r of app.status?.resources ?? []) {
    const health = r.health?.status
    if ((health && health !== 'Healthy') || (r.status && r.status !== 'Synced')) {
      lines.push(`${r.kind ?? '?'} ${r.namespace ? `${r.namespace}/` : ''}${r.name ?? '?'}: health ${health ?? 'n/a'}${r.health?.message ? ` (${r.health.message})` : ''}, sync ${r.status ?? 'n/a'}`)
    }
  }
  for (const c of app.status?.conditions ?? []) lines.push(`condition ${c.type ?? '?'}: ${c.message ?? ''}`)
  return lines.map((line) => redact(line))
}

/**
 * The error for a failed `argocd app wait`: Degraded or a failed sync is a ToolError carrying the
 * Application's own message; otherwise, after a timeout, a TimeoutError saying what was not ready.
 */
export function waitFailure(error: ToolError, app: ArgoApp | undefined, context: {name: string; timeoutSeconds: number; rollback: string; inspect?: string}): IdpError {
  const st = argoStatus(app)
  const evidence = argoEvidence(app)
  const details = {app: context.name, ...st, evidence}
  const state = `The Application is left as it is (a deploy is not undone). Inspect it with the evidence above or \`${context.inspect ?? `argocd app get ${context.name}`}\`; roll back to the previous revision with \`${context.rollback}\`, or deploy a known good revision with --revision.`
  if (st.health === 'Degraded') {
    return new ToolError(`Application ${context.name} is Degraded${st.healthMessage ? `: ${st.healthMessage}` : ''}.`, error.facts, {hint: state, details, cause: error})
  }
  if (st.operation === 'Failed' || st.operation === 'Error') {
    return new ToolError(`Sync of Application ${context.name} ${st.operation === 'Error' ? 'errored' : 'failed'}${st.operationMessage ? `: ${st.operationMessage}` : ''}.`, error.facts, {hint: state, details, cause: error})
  }
  if (/timed out/iu.test(`${error.message}\n${error.facts.stderrTail ?? ''}`)) {
    const what = app ? `health ${st.health ?? 'Unknown'}, sync ${st.sync ?? 'Unknown'}${st.operation ? `, operation ${st.operation}` : ''}` : 'its state could not be read'
    return new TimeoutError(`Application ${context.name} was not synced and healthy within ${context.timeoutSeconds}s (${what}).`, {
      hint: `Argo CD goes on syncing in the background. Raise --timeout if it is just slow; otherwise see the evidence. ${state}`,
      details,
      cause: error,
    })
  }
  error.details = {...error.details, ...details}
  return error
}

/** helm `--wait` that ran out of time says so in its error; that is a timeout, not a tool failure. */
export function helmFailure(error: ToolError, timeoutSeconds: number, rollback: string): IdpError {
  const text = `${error.message}\n${error.facts.stderrTail ?? ''}`
  if (/context deadline exceeded|timed out waiting for the condition|timeout waiting for/iu.test(text)) {
    return new TimeoutError(`The release was not ready within ${timeoutSeconds}s and helm rolled it back: ${error.message}`, {
      hint: `Raise --timeout if the service is just slow to start; otherwise see the evidence (pods and events). To roll back further by hand: \`${rollback}\`.`,
      details: error.details,
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

/** From `argocd app wait -o json` (the Application); nothing when it is not JSON. */
export function argocdDeployed(stdout: string): DeployedStatus {
  try {
    const st = argoStatus(JSON.parse(stdout) as ArgoApp)
    return {...(st.revision ? {revision: st.revision} : {}), ...(st.health ? {health: st.health} : {}), ...(st.sync ? {sync: st.sync} : {})}
  } catch {
    return {}
  }
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
 * A runner that turns a failed `argocd app wait` or `helm upgrade` into the errors above, after
 * reading the Application (`argocd app get -o json`, same connection) while the evidence exists.
 */
export function withDeployOutcome(
  runner: ToolRunner,
  context: {name?: string; appGetArgv?: string[]; kubeconfig?: string; timeoutSeconds: number; rollback: string; inspect?: string},
): ToolRunner & {evidence(): string[]; deployed(): DeployedStatus} {
  let evidence: string[] = []
  let deployed: DeployedStatus = {}
  return {
    resolve: (tool) => runner.resolve(tool),
    require: (tool) => runner.require(tool),
    evidence: () => evidence,
    deployed: () => deployed,
    async run(tool, args, options?: RunOptions) {
      try {
        const result = await runner.run(tool, args, options)
        // The full output, not the journal's tail: the status the result reports.
        if (tool === 'argocd' && args[1] === 'wait') deployed = argocdDeployed(result.stdout)
        if (tool === 'helm' && args[0] === 'upgrade') deployed = helmDeployed(result.stdout)
        return result
      } catch (error) {
        if (!(error instanceof ToolError)) throw error
        if (tool === 'helm' && args[0] === 'upgrade') throw helmFailure(error, context.timeoutSeconds, context.rollback)
        if (tool !== 'argocd' || args[1] !== 'wait' || !context.appGetArgv || !context.name) throw error
        let app: ArgoApp | undefined
        try {
          const {stdout} = await runner.run('argocd', context.appGetArgv, {...(context.kubeconfig ? {kubeconfig: context.kubeconfig} : {}), timeoutMs: 60_000})
          app = JSON.parse(stdout) as ArgoApp
        } catch {
          // The wait's own error still says what failed.
        }
        evidence = argoEvidence(app)
        throw waitFailure(error, app, {name: context.name, timeoutSeconds: context.timeoutSeconds, rollback: context.rollback, ...(context.inspect ? {inspect: context.inspect} : {})})
      }
    },
  }
}

/**
 * The local work of the deploy plan, keyed by op (the env handlers do the preflight and the
 * kubeconfig). Reached through `await import()` from the command.
 */
import {UsageError} from '../cli/errors.js'
import {LABELS, MANAGED_BY_VALUE} from '../env/labels.js'
import type {Handlers} from '../plan/apply.js'
import type {ToolRunner} from '../tools/types.js'
import {type ArgoApp, applicationFailure, applicationTimeout, argoStatus, judgeApplication, type WaitContext} from './outcome.js'
import type {ApplicationWait, DeployOps} from './plan.js'
import {sleep} from '../cli/sleep.js'


/**
 * The shared wait of deploy and rollback through Argo CD (see the op in plan.ts): look at the
 * Application at once and then every pollMs. A Degraded that has lasted graceMs fails it (exit 5),
 * as does a failed sync; at the timeout, Degraded is reported as such, anything else as a timeout
 * naming what was not ready (exit 7).
 */
export async function waitForApplication(runner: ToolRunner, p: ApplicationWait, signal: AbortSignal, now: () => number = Date.now): Promise<ArgoApp> {
  const started = now()
  const context: WaitContext = {name: p.name, timeoutMs: p.timeoutMs, argv: p.argv, rollback: p.rollback, inspect: p.inspect, wantSync: p.sync}
  let degradedSince: number | undefined
  let last: ArgoApp | undefined
  for (;;) {
    const {stdout} = await runner.run(p.tool, p.argv, {...(p.kubeconfig ? {kubeconfig: p.kubeconfig} : {}), signal, timeoutMs: 60_000})
    const app = JSON.parse(stdout) as ArgoApp
    last = app
    const verdict = judgeApplication(app, p.sync)
    if (verdict.kind === 'done') return app
    if (verdict.kind === 'failed') throw applicationFailure(app, context)
    const at = now()
    degradedSince = verdict.degraded ? (degradedSince ?? at) : undefined
    if (degradedSince !== undefined && at - degradedSince >= p.graceMs) throw applicationFailure(app, context, at - degradedSince)
    if (at - started >= p.timeoutMs) break
    await sleep(Math.min(p.pollMs, Math.max(0, p.timeoutMs - (at - started))), signal)
  }
  if (argoStatus(last).health === 'Degraded') throw applicationFailure(last, context, degradedSince === undefined ? undefined : now() - degradedSince)
  throw applicationTimeout(last, context)
}

export function createDeployHandlers(options: {runner: ToolRunner}): Handlers<keyof DeployOps> {
  return {
    async 'deploy.waitApplication'(action, ctx) {
      const app = await waitForApplication(options.runner, action.params, ctx.signal)
      const st = argoStatus(app)
      return {...(st.health ? {health: st.health} : {}), ...(st.sync ? {sync: st.sync} : {}), ...(st.revision ? {revision: st.revision} : {}), ...(st.operation ? {operation: st.operation} : {})}
    },

    /**
     * `argocd app create --upsert` would overwrite any Application of that name: refuse one idp did
     * not create for this service and environment, as idp never adopts what it does not own.
     */
    async 'deploy.checkApplication'(action, ctx) {
      const p = action.params
      // argocd answers a missing Application with PermissionDenied (exit 20), like one it may not read.
      const result = await options.runner.run(p.tool, p.argv, {...(p.kubeconfig ? {kubeconfig: p.kubeconfig} : {}), allowedExitCodes: [0, 20], signal: ctx.signal, timeoutMs: 60_000})
      if (result.exitCode !== 0) return {exists: false}
      const labels = (JSON.parse(result.stdout) as {metadata?: {labels?: Record<string, string>}}).metadata?.labels ?? {}
      if (labels[LABELS.managedBy] !== MANAGED_BY_VALUE || labels[LABELS.service] !== p.service || labels[LABELS.env] !== p.env) {
        throw new UsageError(`Argo CD Application ${p.name} exists and was not created by idp for ${p.service}/${p.env} (it lacks ${LABELS.managedBy}=${MANAGED_BY_VALUE}, ${LABELS.service}=${p.service}, ${LABELS.env}=${p.env}).`, {
          hint: `idp never takes over an Application it did not create. Delete or rename ${p.name} in Argo CD, or add those labels to it if idp should manage it from now on.`,
          details: {app: p.name, labels},
        })
      }
      return {exists: true}
    },
  }
}

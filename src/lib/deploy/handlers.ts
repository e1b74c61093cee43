/**
 * The local work of the deploy plan, keyed by op (the env handlers do the preflight and the
 * kubeconfig). Reached through `await import()` from the command.
 */
import {UsageError} from '../cli/errors.js'
import {LABELS, MANAGED_BY_VALUE} from '../env/labels.js'
import type {Handlers} from '../plan/apply.js'
import type {ToolRunner} from '../tools/types.js'
import type {DeployOps} from './plan.js'

export function createDeployHandlers(options: {runner: ToolRunner}): Handlers<keyof DeployOps> {
  return {
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

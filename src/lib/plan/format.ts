/**
 * How plans look to people (--dry-run) and to scripts (--json). Kept free of listr2 and execa so
 * a dry run loads nothing heavy. Everything leaving here is redacted.
 */
import {redact, redactArgv, redactValue} from '../cli/redact.js'
import {secretSelector} from '../secrets/labels.js'
import type {ToolName, ToolRunner} from '../tools/types.js'
import {concurrentSteps, effectiveDependencies} from './graph.js'
import type {Action, ApiAction, LocalAction, Plan, PlanStep, ToolAction} from './types.js'

/** The command for an API or local action as this run has made it, when only the run can tell. */
export type DescribeKnown = (action: ApiAction | LocalAction) => string | undefined

const SAFE_WORD = /^[\w@%+=:,./-]+$/u

/** Quote argv for a POSIX shell: words with anything beyond safe characters get single quotes. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((arg) => (arg === '' ? "''" : SAFE_WORD.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ')
}

/**
 * A tool action as one command line a person can paste: `cd DIR && KUBECONFIG=... tool argv`.
 * Secrets come out as *** (the reader substitutes them). Stdin cannot be shown on one line, so
 * it is noted in a trailing comment. `removed`: the variables the runner removes from the tool's
 * environment (ToolRunner.removedEnv), as `env -u NAME`.
 */
export function commandLine(action: ToolAction, removed: readonly string[] = []): string {
  const parts: string[] = []
  if (action.cwd) parts.push(`cd ${shellQuote([action.cwd])} &&`)
  if (action.kubeconfig) parts.push(`KUBECONFIG=${shellQuote([action.kubeconfig])}`)
  for (const [name, value] of Object.entries(action.env ?? {})) parts.push(`${name}=${shellQuote([redact(value)])}`)
  if (removed.length > 0) parts.push(['env', ...removed.flatMap((name) => ['-u', name])].join(' '))
  parts.push(shellQuote([action.tool, ...redactArgv(action.argv)]))
  if (action.input !== undefined) parts.push(`# reads ${Buffer.byteLength(action.input)} bytes on stdin`)
  return parts.join(' ')
}

/**
 * One line per action, as a person runs it by hand: the command line of a tool action; for the API
 * and local work that clean-up lists name (deleting a namespace, a Lease, a RoleBinding, files, a
 * repository), the equivalent command, reaching the same cluster through the same private
 * kubeconfig; anything else a shell comment, so a list of clean-up commands stays safe to paste.
 * `known` is the golden path's say for work whose command only the run itself can tell (the files
 * a render made); it comes first. `removedEnv`: what the runner removes from a tool's environment.
 */
export function describeAction(action: Action, known?: DescribeKnown, removedEnv?: (env?: Record<string, string>) => string[]): string {
  if (action.kind === 'tool') return commandLine(action, removedEnv?.(action.env) ?? [])
  const fromRun = known?.(action)
  if (fromRun) return redact(fromRun)
  const manual = manualCommand(action)
  if (manual) return manual
  const where = action.kind === 'api' ? `${action.target} API` : 'local'
  return `# ${where} ${action.op}: ${redact(action.summary)}`
}

/**
 * A kubectl command line that reaches the cluster through the given (private) kubeconfig, whatever
 * the shell's KUBECONFIG; without one (idp used the shell's own), the shell's.
 */
export function kubectlCommand(kubeconfig: string | undefined, argv: readonly string[]): string {
  return `${kubeconfig ? `KUBECONFIG=${shellQuote([kubeconfig])} ` : ''}${shellQuote(['kubectl', ...argv])}`
}

function manualCommand(action: ApiAction | LocalAction): string | undefined {
  const kubectl = kubectlCommand
  switch (action.op) {
    case 'kube.deleteNamespace':
      return kubectl(action.params.kubeconfig, ['delete', 'namespace', action.params.name, '--ignore-not-found'])
    case 'kube.deleteSecrets':
      return kubectl(action.params.kubeconfig, ['delete', 'secret', '--namespace', action.params.namespace, '--selector', secretSelector({service: action.params.service, env: action.params.env}), '--ignore-not-found'])
    case 'env.unlock':
      return kubectl(action.params.kubeconfig, ['delete', 'lease', action.params.name, '--namespace', action.params.namespace, '--ignore-not-found'])
    case 'access.delete':
      return kubectl(action.params.kubeconfig, ['delete', 'rolebinding', action.params.name, '--namespace', action.params.namespace, '--ignore-not-found'])
    case 'env.removeFiles':
      return shellQuote(['rm', '-rf', ...action.params.files])
    case 'create.undoRender':
      return action.params.removeTarget ? shellQuote(['rm', '-rf', action.params.targetDir]) : undefined
    case 'github.deleteRepo':
      if (!action.params.owner) return undefined
      return `${action.params.host && action.params.host !== 'github.com' ? `GH_HOST=${shellQuote([action.params.host])} ` : ''}${shellQuote(['gh', 'repo', 'delete', `${action.params.owner}/${action.params.name}`, '--yes'])}`
    default:
      return undefined
  }
}

/**
 * The numbered steps of a plan for --dry-run (a Plan, or the JSON plan a result carries):
 *
 *     Plan: Bring up pr-1 (1 step)
 *     1. Create namespace shop-pr-1  [kubectl]
 *          $ kubectl create namespace shop-pr-1
 *          undo: $ kubectl delete namespace shop-pr-1
 *
 * A step that waits for the one before it says nothing of it; any other dependency is spelled
 * out, and so are the steps it may run at the same time as.
 */
export function formatPlan(plan: Plan): string {
  const numbers = new Map(plan.steps.map((step, index) => [step.id, index + 1]))
  const deps = effectiveDependencies(plan)
  const concurrent = concurrentSteps(plan)
  const width = String(plan.steps.length).length
  const pad = ' '.repeat(width + 4)
  const lines = [`Plan: ${redact(plan.summary)} (${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'})`]
  plan.steps.forEach((step, index) => {
    const notes: string[] = []
    const after = deps.get(step.id) ?? []
    const previous = plan.steps[index - 1]?.id
    if (index > 0 && after.length === 0) notes.push('(independent)')
    else if (after.length > 0 && !(after.length === 1 && after[0] === previous)) notes.push(`(after ${after.map((id) => numbers.get(id) ?? id).join(', ')})`)
    const together = concurrent.get(step.id) ?? []
    if (together.length > 0) notes.push(`(runs with ${together.map((id) => numbers.get(id) ?? id).join(', ')})`)
    if (step.optional) notes.push('(optional)')
    lines.push([`${String(index + 1).padStart(width)}. ${redact(step.title)}`, `[${tag(step.action)}]`, ...notes].join('  '))
    lines.push(...actionLines(step.action).map((line) => `${pad}${line}`))
    for (const undo of step.undo ?? []) lines.push(`${pad}undo: ${actionLines(undo)[0]}`)
  })
  return lines.join('\n')
}

/** The plan of a dry run for people, and the line that says nothing changed. */
export function dryRunText(plan: Plan, extra: string[] = []): string {
  return [formatPlan(plan), '', ...extra, 'Dry run: nothing was changed.'].join('\n')
}

function tag(action: Action): string {
  if (action.kind === 'tool') return action.tool
  return action.kind === 'api' ? `${action.target} API` : 'local'
}

function actionLines(action: Action): string[] {
  if (action.kind !== 'tool') return [`${action.op}: ${redact(action.summary)}`]
  // The whole command as idp runs it (directory, kubeconfig, environment), so a line pasted from a
  // dry run reaches what idp would, not the shell's current context.
  const lines = [`$ ${commandLine(action, action.unset)}`]
  if (action.timeoutMs !== undefined) lines.push(`  (timeout ${Math.round(action.timeoutMs / 1000)}s)`)
  return lines
}

/** A step of the JSON plan: dependencies made explicit, tool and argv also at step level. */
export interface JsonPlanStep extends PlanStep {
  dependsOn: string[]
  /** The steps it may run at the same time as (derived from dependsOn; absent when none). */
  concurrentWith?: string[]
  tool?: ToolName
  argv?: string[]
}

export interface JsonPlan<M = unknown> extends Plan<M> {
  steps: JsonPlanStep[]
}

/**
 * The plan as `result.plan` under --json: plain JSON, redacted, every step's effective
 * `dependsOn` spelled out (so scripts need not know the sequential-by-default rule), and each
 * tool step carrying `tool` and `argv` next to its action for convenience. With the runner, each
 * tool action (undo included) says which variables the runner removes from its environment
 * (`unset`), so the dry run's command lines run as idp would run them.
 */
export function planForJson<M>(plan: Plan<M>, runner?: Pick<ToolRunner, 'removedEnv'>): JsonPlan<M> {
  const deps = effectiveDependencies(plan)
  const concurrent = concurrentSteps(plan)
  const steps = plan.steps.map((step): JsonPlanStep => {
    const action = jsonAction(step.action, runner)
    return {
      id: step.id,
      title: redact(step.title),
      ...(action.kind === 'tool' ? {tool: action.tool, argv: [...action.argv]} : {}),
      action,
      dependsOn: deps.get(step.id) ?? [],
      ...((concurrent.get(step.id) ?? []).length > 0 ? {concurrentWith: concurrent.get(step.id)} : {}),
      ...(step.undo ? {undo: step.undo.map((undo) => jsonAction(undo, runner))} : {}),
      ...(step.optional ? {optional: true} : {}),
    }
  })
  return {
    version: plan.version,
    kind: plan.kind,
    summary: redact(plan.summary),
    steps,
    metadata: toJson(redactValue(plan.metadata)),
  }
}

function jsonAction(action: Action, runner?: Pick<ToolRunner, 'removedEnv'>): Action {
  if (action.kind === 'tool') {
    const unset = runner?.removedEnv(action.env) ?? []
    return {
      ...toJson(action),
      argv: redactArgv(action.argv),
      ...(action.env ? {env: Object.fromEntries(Object.entries(action.env).map(([k, v]) => [k, redact(v)]))} : {}),
      ...(action.input === undefined ? {} : {input: redact(action.input)}),
      ...(action.cwd === undefined ? {} : {cwd: redact(action.cwd)}),
      ...(unset.length > 0 ? {unset} : {}),
    }
  }
  const copy = toJson(action)
  return Object.assign(copy, {summary: redact(copy.summary), params: maskSecretObjects(redactValue(copy.params))})
}

/** Kubernetes Secrets carry their values under arbitrary keys; mask them all. */
function maskSecretObjects<T>(value: T): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map((item) => walk(item))
    if (!v || typeof v !== 'object') return v
    const object = v as Record<string, unknown>
    const out: Record<string, unknown> = {}
    const isSecret = object.kind === 'Secret'
    for (const [k, child] of Object.entries(object)) {
      out[k] = isSecret && (k === 'data' || k === 'stringData') && child && typeof child === 'object' ? Object.fromEntries(Object.keys(child).map((key) => [key, '***'])) : walk(child)
    }
    return out
  }
  return walk(value) as T
}

/** A deep copy through JSON: drops undefined, functions and class identity. */
function toJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

import type {RunOptions, ToolName} from '../tools/types.js'

/**
 * A plan is the product's spine (DESIGN.md section 1): pure planners produce it, `--dry-run`
 * prints it, `--json` returns it, the executor applies and undoes it. Plans are plain JSON.
 */
export const PLAN_VERSION = 1

/** Run an external tool. `argv` is the arguments after the binary name, exactly as run. */
export interface ToolAction {
  kind: 'tool'
  tool: ToolName
  argv: string[]
  cwd?: string
  env?: Record<string, string>
  /** Path of the private kubeconfig the tool gets as KUBECONFIG. */
  kubeconfig?: string
  timeoutMs?: number
  /** Exit codes that count as success (e.g. "already gone" on undo). */
  allowedExitCodes?: number[]
  /** Text piped to stdin. */
  input?: string
}

/**
 * How the ToolRunner runs a tool action: everything the action says; the signal and what
 * happens to output are the caller's.
 */
export function toolRunOptions(action: ToolAction): RunOptions {
  return {
    ...(action.cwd === undefined ? {} : {cwd: action.cwd}),
    ...(action.env === undefined ? {} : {env: action.env}),
    ...(action.kubeconfig === undefined ? {} : {kubeconfig: action.kubeconfig}),
    ...(action.timeoutMs === undefined ? {} : {timeoutMs: action.timeoutMs}),
    ...(action.allowedExitCodes === undefined ? {} : {allowedExitCodes: action.allowedExitCodes}),
    ...(action.input === undefined ? {} : {input: action.input}),
  }
}

/** A call to the Kubernetes or GitHub API, summarised for dry-run. */
export interface ApiAction {
  kind: 'api'
  target: 'kubernetes' | 'github'
  /** Handler name, e.g. `kube.apply`, `kube.deleteNamespace`, `github.createRepo`. */
  op: string
  /** One line for people, e.g. "apply Namespace shop-pr-1 (labels: ...)". */
  summary: string
  /** Parameters for the handler (objects, names); JSON. */
  params?: Record<string, unknown>
}

/** Local work idp does itself: writing files, rendering a template, recording state. */
export interface LocalAction {
  kind: 'local'
  /** Handler name, e.g. `fs.render`, `fs.remove`, `kubeconfig.write`. */
  op: string
  summary: string
  params?: Record<string, unknown>
}

export type Action = ToolAction | ApiAction | LocalAction

export interface PlanStep {
  /** Unique within the plan, kebab-case, e.g. `helm-upgrade`. */
  id: string
  title: string
  action: Action
  /**
   * Steps that must have completed before this one starts. Absent: the step depends on the
   * step before it in `steps` (plans read top to bottom, so the safe default is sequential).
   * `[]`: no dependencies, the step may start at once. Planners mark parallelism explicitly,
   * e.g. `terraform apply` and `vcluster create` both with `dependsOn: ['namespace']`.
   */
  dependsOn?: string[]
  /**
   * Steps this one may run at the same time as (informational for dry-run; the executor runs
   * any step whose dependencies are done, so independence is expressed by dependsOn).
   */
  concurrentWith?: string[]
  /** How to reverse this step once it completed, run in reverse order on failure. */
  undo?: Action[]
  /** When true, this step's failure is reported as a warning and the plan goes on. */
  optional?: boolean
}

export interface Plan {
  version: typeof PLAN_VERSION
  /** What the plan is for, e.g. `env.up`, `create`. */
  kind: string
  /** One line, e.g. "Bring up environment pr-42 of shop on cluster dev". */
  summary: string
  steps: PlanStep[]
  /** Facts the command wants to report with the plan (urls, paths); JSON. */
  metadata?: Record<string, unknown>
}

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped' | 'undone' | 'undo-failed'

export interface StepRecord {
  id: string
  status: StepStatus
  startedAt?: string
  durationMs?: number
  /** What the handler or tool returned (tool: {exitCode, stdout}); JSON, redacted. */
  result?: unknown
  error?: string
}

export interface ApplyResult {
  plan: Plan
  steps: StepRecord[]
  /** Filled when undo was skipped (--keep-on-failure): commands that clean up by hand. */
  cleanup?: string[]
  /** Failures of optional steps, one line each (redacted); the plan went on without them. */
  warnings?: string[]
}

import type {AccessOps} from '../access/plan.js'
import type {CreateOps} from '../create/plan.js'
import type {DeployOps} from '../deploy/plan.js'
import type {EnvOps} from '../env/ops.js'
import type {RunOptions, ToolName} from '../tools/types.js'

/**
 * A plan is the product's spine (docs/architecture.md): pure planners produce it, `--dry-run`
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
  /**
   * For people and scripts reading a plan: the variables the ToolRunner removes from the tool's
   * environment (ToolRunner.removedEnv), filled in by planForJson. The runner works them out itself.
   */
  unset?: string[]
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

/** One operation: the params a planner writes into the plan and what its handler returns. */
export interface OpSpec<P, R> {
  params: P
  result: R
}

/**
 * Every API and local operation a plan may name. Each golden path declares its own (`EnvOps`,
 * `CreateOps`, ...); a planner whose params differ from what the handler reads, or a handler
 * that returns something else than callers read back, fails to compile.
 */
export interface OpRegistry extends EnvOps, CreateOps, DeployOps, AccessOps {}

export type OpName = keyof OpRegistry
export type OpParams<K extends OpName> = OpRegistry[K]['params']
export type OpResult<K extends OpName> = OpRegistry[K]['result']

/** A call to the Kubernetes or GitHub API, summarised for dry-run. */
export type ApiAction = {[K in OpName]: {kind: 'api'; target: 'kubernetes' | 'github' | 'backstage'; op: K; summary: string; params: OpParams<K>}}[OpName]

/** Local work idp does itself: writing files, rendering a template, recording state. */
export type LocalAction = {[K in OpName]: {kind: 'local'; op: K; summary: string; params: OpParams<K>}}[OpName]

export type Action = ToolAction | ApiAction | LocalAction

/** The API or local action of one op, its params typed. */
export type OpAction<K extends OpName> = Extract<ApiAction | LocalAction, {op: K}>

export interface PlanStep {
  /** Unique within the plan, kebab-case, e.g. `helm`; planners keep theirs as constants. */
  id: string
  title: string
  action: Action
  /**
   * Steps that must have completed before this one starts. Absent: the step depends on the
   * step before it in `steps` (plans read top to bottom, so the safe default is sequential).
   * `[]`: no dependencies, the step may start at once. Which steps may run at the same time
   * follows from this alone: the executor starts any step whose dependencies are done, and
   * graph.ts concurrentSteps derives the same for display.
   */
  dependsOn?: string[]
  /** How to reverse this step once it completed, run in reverse order on failure. */
  undo?: Action[]
  /** When true, this step's failure is reported as a warning and the plan goes on. */
  optional?: boolean
}

export interface Plan<M = unknown> {
  version: typeof PLAN_VERSION
  /** What the plan is for, e.g. `env.up`, `create`. */
  kind: string
  /** One line, e.g. "Bring up environment pr-42 of shop on cluster dev". */
  summary: string
  steps: PlanStep[]
  /** What the plan is about (the names, urls and paths a result reports); JSON. */
  metadata: M
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
  steps: StepRecord[]
  /** What each done step returned, unredacted and in memory only (never printed): read with opResult. */
  outputs: ReadonlyMap<string, unknown>
  /** Filled when undo was skipped (--keep-on-failure): commands that clean up by hand. */
  cleanup?: string[]
  /** Failures of optional steps, one line each (redacted); the plan went on without them. */
  warnings?: string[]
}

/**
 * What a done step's handler returned, typed by the op the plan gave that step (undefined when
 * the step is not in the plan, runs another op, or did not complete).
 */
export function opResult<K extends OpName>(plan: Pick<Plan, 'steps'>, applied: Pick<ApplyResult, 'outputs'>, id: string, op: K): OpResult<K> | undefined {
  const step = plan.steps.find((s) => s.id === id)
  if (!step || step.action.kind === 'tool' || step.action.op !== op) return undefined
  return applied.outputs.get(id) as OpResult<K> | undefined
}

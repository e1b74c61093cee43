/**
 * The one executor for every plan (docs/architecture.md): runs steps as a dependency graph,
 * shows them as listr2 tasks on stderr, journals each state change, and on failure or Ctrl-C
 * collects evidence, then undoes what was done in reverse. Services reach it only through their
 * PlanRunner (run.ts); listr2 itself loads only when something is shown (not under --json).
 */
import {CancelledError, InternalError, toIdpError, ToolError} from '../cli/errors.js'
import {loadListr} from '../cli/lazy.js'
import {visible} from '../cli/output.js'
import {redact, redactValue} from '../cli/redact.js'
import type {RunResult, ToolRunner} from '../tools/types.js'
import {commandLine, describeAction, type DescribeKnown, planForJson} from './format.js'
import {validatePlan} from './graph.js'
import {trackPending} from './pending.js'
import type {RendererName} from './run.js'
import {type Journal, JOURNAL_VERSION, type JournalStatus, JournalWriter} from './journal.js'
import {type Action, type ApiAction, type ApplyResult, type LocalAction, type OpAction, type OpName, type OpResult, type Plan, type PlanStep, type StepRecord, toolRunOptions} from './types.js'

export interface StepContext {
  /** Aborted on Ctrl-C; long calls must pass it on. */
  signal: AbortSignal
  /** What earlier steps returned, by step id (tool steps: their RunResult). */
  results: Map<string, unknown>
  step: PlanStep
  /** Shows a line of progress under the step (with --verbose), as tool steps show their output. */
  onLine?: (line: string) => void
}

/** Does the work of one op's API or local actions; params and result typed by the op registry. */
export type StepHandler<K extends OpName> = (action: OpAction<K>, ctx: StepContext) => Promise<OpResult<K>>

/** Handlers of a set of ops, keyed by op name (each golden path has its set). */
export type Handlers<K extends OpName = OpName> = {[P in K]: StepHandler<P>}

export interface ApplyOptions {
  runner: ToolRunner
  handlers?: Partial<Handlers>
  signal?: AbortSignal
  renderer: RendererName
  /** Leave completed steps in place on failure and report the commands that clean them up. */
  keepOnFailure?: boolean
  journal?: {dir: string; key: string}
  /** Called once, after the failure and before any undo, while the evidence still exists. */
  collectEvidence?: (step: PlanStep, error: unknown) => Promise<string[] | void>
  /** Where progress goes (default process.stderr). Never stdout: that belongs to the result. */
  stderr?: NodeJS.WritableStream
  /** How many steps may run at once (default 4). */
  concurrency?: number
  /** Show each tool's command line and output lines under its task. */
  verbose?: boolean
  /** Clean-up commands only the run can tell (see describeAction). */
  describe?: DescribeKnown
}

interface TaskView {
  title: string
  output: string
  skip(message?: string): void
}

type Gate = {kind: 'run'; done: Promise<StepOutcome>} | {kind: 'skip'; reason: string}

type StepOutcome = {kind: 'done'} | {kind: 'warning'; message: string} | {kind: 'failed'; message: string}

interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return {promise, resolve}
}

const RESULT_LIMIT = 8000

/**
 * Apply a plan. Steps start as soon as their dependencies are done (at most `concurrency` at a
 * time). On the first failure no new step starts and running ones finish (stopping a half-done
 * `helm install` would leave more to clean up than letting it end); on Ctrl-C running tools are
 * killed. Then evidence is collected, completed steps are undone in reverse completion order
 * (unless keepOnFailure) and the original error is thrown with the outcome in its hint/details.
 */
export async function applyPlan(plan: Plan<unknown>, options: ApplyOptions): Promise<ApplyResult> {
  const handlers = options.handlers ?? {}
  const deps = validatePlan(plan, Object.keys(handlers))
  if (options.signal?.aborted) throw cancelledError(options.signal)

  const requested = options.concurrency ?? 4
  const concurrency = Number.isNaN(requested) || requested < 1 ? 1 : Math.floor(requested)
  const stderr = options.stderr ?? process.stderr
  const jsonPlan = planForJson(plan, options.runner)
  const steps = new Map(plan.steps.map((step) => [step.id, step]))
  const records = new Map<string, StepRecord>(plan.steps.map((step) => [step.id, {id: step.id, status: 'pending'}]))
  const results = new Map<string, unknown>()
  const completed: string[] = []
  const warnings: string[] = []
  const failures: Array<{step: PlanStep; error: unknown}> = []
  const interrupted: PlanStep[] = []

  const journal = options.journal ? new JournalWriter(options.journal.dir, options.journal.key) : undefined
  const startedAt = new Date().toISOString()
  const save = (status: JournalStatus = 'running', cleanup?: string[]) => {
    if (!journal) return
    const snapshot: Journal = {
      version: JOURNAL_VERSION,
      key: journal.key,
      status,
      startedAt,
      updatedAt: new Date().toISOString(),
      plan: jsonPlan,
      steps: [...records.values()].map((record) => ({...record})),
      ...(cleanup ? {cleanup} : {}),
    }
    journal.write(snapshot)
  }

  // Until this plan is over, what it made is one list away, should the process have to exit at
  // once: steps that started (they may have partly run) first, then the completed ones, newest first.
  const untrack = trackPending(() => {
    const started = plan.steps.filter((step) => records.get(step.id)!.status === 'running' || interrupted.includes(step))
    const done = [...completed].reverse().filter((id) => records.get(id)!.status === 'done').map((id) => steps.get(id)!)
    return [...started, ...done].flatMap((step) => (step.undo ?? []).map((action) => describeAction(action, options.describe, (env) => options.runner.removedEnv(env))))
  })

  // Our own controller: Ctrl-C aborts it through options.signal; undo later runs without it.
  const controller = new AbortController()
  const onAbort = () => controller.abort(options.signal?.reason)
  options.signal?.addEventListener('abort', onAbort, {once: true})

  try {
    save()
    const view = await createView(options.renderer, stderr)
    const gates = new Map(plan.steps.map((step) => [step.id, deferred<Gate>()]))
    const attached = plan.steps.map(() => deferred<void>())
    const sinks = new Map<string, (line: string) => void>()
    // Lines a step printed before its task was on screen (the command line comes first thing).
    const pendingLines = new Map<string, string[]>()

    const listr = view.listr(
      plan.steps.map((step, index) => ({
        task: async (_ctx: unknown, task: TaskView) => {
          attached[index]!.resolve()
          const gate = await gates.get(step.id)!.promise
          task.title = visible(redact(step.title))
          if (gate.kind === 'skip') {
            task.skip(gate.reason)
            return
          }
          view.started(task.title)
          for (const line of pendingLines.get(step.id) ?? []) task.output = line
          sinks.set(step.id, (line) => {
            task.output = line
          })
          const outcome = await gate.done
          if (outcome.kind === 'failed') throw new Error(outcome.message)
          if (outcome.kind === 'warning') task.skip(`warning: ${outcome.message}`)
        },
      })),
      true,
    )
    const rendering = listr.run().catch(() => undefined)
    // The default renderer loads its modules before it starts tasks; steps wait for it so the
    // screen shows them in the order they ran (or go on without it if listr2 gave up).
    await Promise.race([Promise.all(attached.map((a) => a.promise)), rendering])

    const output = (id: string, line: string) => {
      if (!options.verbose) return
      const sink = sinks.get(id)
      if (sink) sink(visible(redact(line)))
      else pendingLines.set(id, [...(pendingLines.get(id) ?? []), visible(redact(line))])
    }

    const execute = async (step: PlanStep): Promise<StepOutcome> => {
      const record = records.get(step.id)!
      record.status = 'running'
      record.startedAt = new Date().toISOString()
      save()
      const t0 = Date.now()
      try {
        const value = await runAction(step.action, step, {options, handlers, results, signal: controller.signal, onLine: (line) => output(step.id, line)})
        results.set(step.id, value)
        record.status = 'done'
        record.durationMs = Date.now() - t0
        const kept = journalResult(value)
        if (kept !== undefined) record.result = kept
        completed.push(step.id)
        save()
        return {kind: 'done'}
      } catch (error) {
        const message = redact(errorMessage(error))
        record.status = 'failed'
        record.durationMs = Date.now() - t0
        record.error = message
        if (controller.signal.aborted) {
          interrupted.push(step)
        } else if (step.optional) {
          warnings.push(`Optional step "${redact(step.title)}" failed: ${message}`)
        } else {
          failures.push({step, error})
        }
        save()
        return step.optional && !controller.signal.aborted ? {kind: 'warning', message} : {kind: 'failed', message}
      }
    }

    // The scheduler: start every step whose dependencies are satisfied, wait for any to end, repeat.
    const remaining = new Set(plan.steps.map((step) => step.id))
    const satisfied = new Set<string>()
    const running = new Set<Promise<void>>()
    for (;;) {
      if (failures.length === 0 && !controller.signal.aborted) {
        for (const id of remaining) {
          if (running.size >= concurrency) break
          if (!deps.get(id)!.every((dep) => satisfied.has(dep))) continue
          remaining.delete(id)
          const step = steps.get(id)!
          const done = execute(step)
          gates.get(id)!.resolve({kind: 'run', done})
          const settled: Promise<void> = done.then((outcome) => {
            if (outcome.kind !== 'failed') satisfied.add(id)
            running.delete(settled)
          })
          running.add(settled)
        }
      }
      if (running.size === 0) break
      await Promise.race(running)
      // Let listr2 report the step that ended before the next one starts, so plain logs read in order.
      await new Promise((resolve) => setImmediate(resolve))
    }

    const cancelled = controller.signal.aborted
    const blocker = failures[0]?.step ?? interrupted[0]
    for (const id of remaining) {
      records.get(id)!.status = 'skipped'
      gates.get(id)!.resolve({kind: 'skip', reason: cancelled ? 'not run: cancelled' : `not run: "${redact(blocker?.title ?? '')}" failed`})
    }
    await rendering

    if (!cancelled && failures.length === 0) {
      save('complete')
      await journal?.flush()
      if (journal?.error) warnings.push(`Could not write the journal ${journal.file}: ${errorMessage(journal.error)}`)
      return {steps: [...records.values()], outputs: results, ...(warnings.length > 0 ? {warnings} : {})}
    }

    // Failure or Ctrl-C from here on.
    const original = failures[0]?.error
    const error = cancelled ? cancelledError(options.signal ?? controller.signal) : toIdpError(original)
    const details: Record<string, unknown> = {...error.details}
    error.details = details
    if (blocker) details.step = blocker.id
    if (failures.length > 1) details.otherFailures = failures.slice(1).map((f) => ({step: f.step.id, error: redact(errorMessage(f.error))}))
    if (warnings.length > 0) details.warnings = warnings

    const evidenceStep = failures[0]?.step ?? interrupted[0]
    if (options.collectEvidence && evidenceStep) {
      const evidence = await gatherEvidence(options.collectEvidence, evidenceStep, original ?? error)
      if (evidence.length > 0) {
        details.evidence = evidence
        if (options.renderer !== 'silent') stderr.write(visible(`Evidence for "${redact(evidenceStep.title)}" (collected before undo):\n${evidence.map((line) => `  ${line}`).join('\n')}`) + '\n')
      }
    }

    const notes: string[] = []
    const cleanup: string[] = []
    // A step interrupted by Ctrl-C may have partly run: its undo comes first, while what it ran
    // in (a vcluster, a kubeconfig, a namespace) still exists; then the completed steps, newest first.
    const undoOrder = [...interrupted, ...[...completed].reverse().map((id) => steps.get(id)!)]
    if (options.keepOnFailure) {
      cleanup.push(...undoOrder.flatMap((step) => (step.undo ?? []).map((action) => describeAction(action, options.describe, (env) => options.runner.removedEnv(env)))))
      const partly = interrupted.length > 0 ? ` ("${interrupted.map((step) => redact(step.title)).join('", "')}" was interrupted and may have partly run)` : ''
      notes.push(
        cleanup.length > 0
          ? `Nothing was undone (--keep-on-failure)${partly}. To clean up by hand, run:\n${indentLines(cleanup)}`
          : 'Nothing was undone (--keep-on-failure); no completed step needs clean-up.',
      )
    } else {
      const outcome = await undoSteps(undoOrder, {options, handlers, results, records, stderr, save})
      details.undone = outcome.undone
      if (outcome.failures.length > 0) {
        details.undoFailures = outcome.failures
        const manual = outcome.failures.flatMap((f) => f.cleanup)
        cleanup.push(...manual)
        notes.push(`Undo failed for ${outcome.failures.map((f) => `"${redact(steps.get(f.step)!.title)}" (${f.error})`).join(', ')}. Clean up by hand:\n${indentLines(manual)}`)
      } else if (outcome.undone.length > 0) {
        notes.push(`Undid ${outcome.undone.length} step(s).`)
      }
      // "Run `KUBECONFIG=... helm upgrade ...` yourself" named a place the undo just removed (the
      // private kubeconfig, the namespace, the values file): as printed it would fail or reach
      // something else. What runs as printed is the idp command again, keeping what it makes.
      if (outcome.undone.length > 0 && error instanceof ToolError && error.investigate) {
        error.hint = `What this run made was undone, so the failing ${error.facts.tool} command cannot be run again by hand as idp ran it. To investigate, run the same idp command with --keep-on-failure: it keeps what it made and its hint then names the command to run yourself; or add --verbose to see each command and its output.`
      }
    }
    if (cleanup.length > 0) details.cleanup = cleanup
    error.hint = [error.hint, ...notes].filter(Boolean).join('\n')

    save(cancelled ? 'cancelled' : 'failed', cleanup.length > 0 ? cleanup : undefined)
    await journal?.flush()
    throw error
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    untrack()
  }
}

interface ActionContext {
  options: ApplyOptions
  handlers: Partial<Handlers>
  results: Map<string, unknown>
  signal: AbortSignal
  onLine?: (line: string) => void
}

async function runAction(action: Action, step: PlanStep, context: ActionContext): Promise<unknown> {
  if (action.kind === 'tool') {
    context.onLine?.(`$ ${commandLine(action, context.options.runner.removedEnv(action.env))}`)
    return context.options.runner.run(action.tool, action.argv, {
      ...toolRunOptions(action),
      signal: context.signal,
      ...(context.onLine ? {onLine: (line: string) => context.onLine?.(line)} : {}),
    })
  }
  // The registry ties each op to its handler's type; TypeScript cannot follow that through a
  // union of ops, so the call is made through the common shape.
  const handler = context.handlers[action.op] as ((action: ApiAction | LocalAction, ctx: StepContext) => Promise<unknown>) | undefined
  // validatePlan checked every op, so a missing handler here is a bug in this file.
  if (!handler) throw new InternalError(`No handler for ${action.op}.`)
  return handler(action, {signal: context.signal, results: context.results, step, ...(context.onLine ? {onLine: context.onLine} : {})})
}

interface UndoContext {
  options: ApplyOptions
  handlers: Partial<Handlers>
  results: Map<string, unknown>
  records: Map<string, StepRecord>
  stderr: NodeJS.WritableStream
  save: () => void
}

interface UndoFailure {
  step: string
  error: string
  /** The failed undo action and those after it, as commands to run by hand. */
  cleanup: string[]
}

/**
 * Undo steps one after another (reverse completion order). A failed undo does not stop the
 * others: leaving less behind is better, and every failure is reported with its commands.
 */
async function undoSteps(order: PlanStep[], context: UndoContext): Promise<{undone: string[]; failures: UndoFailure[]}> {
  const undone: string[] = []
  const failures: UndoFailure[] = []
  const withUndo = order.filter((step) => (step.undo ?? []).length > 0)
  if (withUndo.length === 0) return {undone, failures}
  // Ctrl-C has already fired; a second one exits the process (BaseCommand), so undo runs unaborted.
  const signal = new AbortController().signal
  const view = await createView(context.options.renderer, context.stderr)
  const listr = view.listr(
    withUndo.map((step) => ({
      title: visible(`Undo: ${redact(step.title)}`),
      task: async (_ctx: unknown, task: TaskView) => {
        const record = context.records.get(step.id)!
        const actions = step.undo ?? []
        for (const [index, action] of actions.entries()) {
          try {
            await runAction(action, step, {
              ...context,
              signal,
              onLine: context.options.verbose
                ? (line) => {
                    task.output = visible(redact(line))
                  }
                : undefined,
            })
          } catch (error) {
            const message = redact(errorMessage(error))
            failures.push({step: step.id, error: message, cleanup: actions.slice(index).map((a) => describeAction(a, context.options.describe, (env) => context.options.runner.removedEnv(env)))})
            record.status = 'undo-failed'
            record.error = record.error ? `${record.error}; undo: ${message}` : `undo: ${message}`
            context.save()
            throw new Error(message)
          }
        }
        record.status = 'undone'
        undone.push(step.id)
        context.save()
      },
    })),
    false,
  )
  await listr.run().catch(() => undefined)
  return {undone, failures}
}

async function gatherEvidence(collect: NonNullable<ApplyOptions['collectEvidence']>, step: PlanStep, error: unknown): Promise<string[]> {
  try {
    const lines = await collect(step, error)
    return (lines ?? []).map((line) => redact(String(line)))
  } catch (failure) {
    return [`(collecting evidence failed: ${redact(errorMessage(failure))})`]
  }
}

type ViewTask = {title?: string; task: (ctx: unknown, task: TaskView) => Promise<void>}

interface View {
  listr(tasks: ViewTask[], concurrent: boolean): {run(): Promise<unknown>}
  started(title: string): void
}

/**
 * Where the tasks are shown: listr2 drawing on stderr only, never on stdout, and never catching
 * signals itself; or, when nothing is shown (--json), no listr2 at all: the tasks run as listr2
 * would run them (all at once or one after another, a failure stopping none) and show nothing.
 */
async function createView(renderer: RendererName, stderr: NodeJS.WritableStream): Promise<View> {
  if (renderer === 'silent') {
    const quiet: TaskView = {title: '', output: '', skip() {}}
    const runOne = (task: ViewTask) => task.task(undefined, {...quiet}).catch(() => undefined)
    return {
      listr: (tasks, concurrent) => ({
        async run() {
          if (concurrent) await Promise.all(tasks.map(runOne))
          else for (const task of tasks) await runOne(task)
        },
      }),
      started() {},
    }
  }
  const {DefaultRenderer, Listr, ListrLogger, ListrLogLevels, ProcessOutput} = await loadListr()
  /** The default renderer, told it may draw on a terminal stderr even when stdout is piped. */
  class StderrDefaultRenderer extends DefaultRenderer {
    static override nonTTY = true
  }
  const stream = stderr as NodeJS.WriteStream
  const logger = new ListrLogger({useIcons: true, processOutput: new ProcessOutput(stream, stream, {dump: ['stdout', 'stderr'], leaveEmptyLine: false})})
  const rendererOptions =
    renderer === 'default'
      ? {renderer: StderrDefaultRenderer, rendererOptions: {logger, collapseErrors: false, collapseSkips: false, showErrorMessage: true}}
      : {renderer: 'simple' as const, rendererOptions: {logger}}
  return {
    listr(tasks, concurrent) {
      return new Listr<unknown, any, any>(tasks as any, {
        ...rendererOptions,
        concurrent,
        exitOnError: false,
        registerSignalListeners: false,
        fallbackRendererCondition: false,
      } as any)
    },
    /** The simple renderer logs a start line only for tasks titled when listr starts them; ours get their title later. */
    started(title: string) {
      if (renderer === 'simple') logger.log(ListrLogLevels.STARTED, title)
    },
  }
}

function cancelledError(signal: AbortSignal): CancelledError {
  return signal.reason instanceof CancelledError ? signal.reason : new CancelledError('Cancelled.')
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function indentLines(lines: string[]): string {
  return lines.map((line) => `  ${line}`).join('\n')
}

/** What goes into the journal: the tool's exit code and stdout tail, or a small handler result. */
function journalResult(value: unknown): unknown {
  if (value === undefined || value === null) return undefined
  if (isRunResult(value)) return {exitCode: value.exitCode, stdout: redact(value.stdout.slice(-2000))}
  try {
    const text = JSON.stringify(value)
    if (text === undefined) return undefined
    if (text.length > RESULT_LIMIT) return `(result of ${text.length} characters not kept)`
    return redactValue(JSON.parse(text) as unknown)
  } catch {
    return undefined
  }
}

function isRunResult(value: unknown): value is RunResult {
  return typeof value === 'object' && value !== null && 'exitCode' in value && 'stdout' in value && 'argv' in value && Array.isArray((value as RunResult).argv)
}

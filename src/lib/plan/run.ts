/**
 * How a service runs a plan: through the PlanRunner its caller hands it (Deps.plans), which fills
 * in what belongs to the command line rather than to the golden path — where progress is drawn,
 * the Ctrl-C signal, --verbose — and reports the plan's warnings. The executor itself (apply.ts,
 * and listr2 behind it) loads only here, when a plan really runs.
 */
import {loadExecutor} from '../cli/lazy.js'
import type {Output} from '../cli/output.js'
import type {ToolRunner} from '../tools/types.js'
import type {ApplyOptions, Handlers} from './apply.js'
import type {ApplyResult, Plan} from './types.js'

export type RendererName = 'default' | 'simple' | 'silent'

/**
 * Which renderer fits where the output goes: nothing under --json (stdout holds the one JSON
 * document and stderr stays quiet for scripts), plain lines in CI or when stderr is not a
 * terminal (logs keep no cursor movements), the animated list on a terminal.
 */
export function chooseRenderer(context: {json: boolean; isTTY: boolean; ci: boolean; columns?: number}): RendererName {
  if (context.json) return 'silent'
  // A terminal of width 0 (a pty nobody sized, as in some CI runners) cannot show the animation.
  return context.isTTY && !context.ci && context.columns !== 0 ? 'default' : 'simple'
}

/** What the golden path decides about a run of its plan. */
export interface PlanRunOptions {
  handlers: Partial<Handlers>
  /** The runner for tool steps (default: the command's); e.g. one that samples evidence. */
  runner?: ToolRunner
  /** Leave completed steps in place on failure and report the commands that clean them up. */
  keepOnFailure?: boolean
  /** Where the record of this run is kept (see plan/journal.ts). */
  journal?: ApplyOptions['journal']
  collectEvidence?: ApplyOptions['collectEvidence']
  describe?: ApplyOptions['describe']
  /** Progress as plain lines even on a terminal: several plans run at once (env gc), and one animated list each would draw over the others. */
  plain?: boolean
}

export interface PlanRunner {
  apply(plan: Plan<unknown>, options: PlanRunOptions): Promise<ApplyResult>
}

export function createPlanRunner(context: {out: Output; runner: ToolRunner; signal: AbortSignal; renderer: RendererName; verbose: boolean; stderr?: NodeJS.WritableStream}): PlanRunner {
  return {
    async apply(plan, options) {
      const {applyPlan} = await loadExecutor()
      const result = await applyPlan(plan, {
        runner: options.runner ?? context.runner,
        handlers: options.handlers,
        signal: context.signal,
        renderer: options.plain && context.renderer === 'default' ? 'simple' : context.renderer,
        verbose: context.verbose,
        ...(context.stderr ? {stderr: context.stderr} : {}),
        ...(options.keepOnFailure ? {keepOnFailure: true} : {}),
        ...(options.journal ? {journal: options.journal} : {}),
        ...(options.collectEvidence ? {collectEvidence: options.collectEvidence} : {}),
        ...(options.describe ? {describe: options.describe} : {}),
      })
      for (const warning of result.warnings ?? []) context.out.warn(warning)
      return result
    },
  }
}

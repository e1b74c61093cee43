/**
 * Rendering a template is running the template's code: nunjucks loops, filters, regular
 * expressions. A template can loop for minutes or fill memory, and code running on idp's own
 * thread does not see Ctrl-C until it returns. So a render runs in a separate Node process
 * (render-worker.ts, started through the ToolRunner's runNodeScript) with a heap limit and a
 * deadline, and the command's signal stops it:
 *
 * - Ctrl-C / SIGTERM (the signal) → CancelledError (exit 130), at once.
 * - The deadline (`create --render-timeout`, default 1m) → TimeoutError (exit 7).
 * - The heap limit (RENDER_HEAP_MB) → ConfigError (exit 3) naming the template as the cause.
 * Rendering writes nothing (it returns file contents), so a stopped render leaves nothing behind.
 * (A worker thread would be cheaper, but its heap limit is best-effort: some allocations abort
 * the whole process — nodejs/node#47224.) The process gets no environment of idp's (no token),
 * and kills itself when idp is gone (render-worker.ts).
 *
 * The script is dist/lib/create/render-worker.js (its own entry point in scripts/build.mjs).
 * Running from the TypeScript sources (tests under vitest) there is no such file: the job runs
 * in-process through the same runRenderJob, so results are identical; the bounds are tested on
 * the built CLI.
 */
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {BUILD_ID} from '../cli/build.js'
import {CancelledError, ConfigError, type ConfigProblem, type IdpError, InternalError, PrerequisiteError, RemoteError, TimeoutError, UsageError} from '../cli/errors.js'
import {formatDuration} from '../config/duration.js'
import {runNodeScript} from '../tools/runner.js'
import type {FetchSpec, FileStep, SkeletonResult} from './skeleton.js'
import {type RenderJob, type RenderOutcome, runRenderJob, type SerializedError} from './render-job.js'

/** Default deadline of one render (all steps' inputs and files of a template). */
export const DEFAULT_RENDER_TIMEOUT = '1m'
/** Heap a render may use; bundled templates render in a few MB. */
export const RENDER_HEAP_MB = 1024

export interface RenderBounds {
  signal?: AbortSignal
  timeoutMs: number
  /** What is rendered, for messages: `template NAME`. */
  label: string
}

// Same relative path from src/lib/create/ and from dist/lib/chunks/ (where this module is bundled).
const WORKER = new URL('../create/render-worker.js', import.meta.url)

export async function renderBounded(job: RenderJob, bounds: RenderBounds): Promise<RenderOutcome> {
  if (bounds.signal?.aborted) throw new CancelledError()
  const script = fileURLToPath(WORKER)
  if (!existsSync(script)) {
    if (BUILD_ID !== undefined) throw new InternalError(`The template renderer ${script} is missing from this build of idp.`, {hint: 'Reinstall idp.'})
    return runRenderJob(job)
  }

  const run = await runNodeScript(script, {input: JSON.stringify(job), timeoutMs: bounds.timeoutMs, maxOldSpaceMb: RENDER_HEAP_MB, signal: bounds.signal})
  if (run.stoppedBy === 'abort' || run.stoppedBy === 'signal') throw new CancelledError()
  if (run.stoppedBy === 'timeout') {
    throw new TimeoutError(`Rendering ${bounds.label} did not finish within ${formatDuration(bounds.timeoutMs)}; it was stopped and nothing was written.`, {
      hint: 'A loop or a regular expression in the template may never end: check its loops and filters. A template that is only large can have more time: --render-timeout 5m.',
    })
  }
  if (/heap out of memory|Allocation failed/u.test(run.stderr)) {
    throw new ConfigError(`Rendering ${bounds.label} used more than ${RENDER_HEAP_MB} MB of memory; it was stopped and nothing was written.`, [], {
      hint: 'A loop in the template may build ever larger values: check its loops and filters.',
    })
  }
  let answer: {ok: true; outcome: RenderOutcome} | {ok: false; error: SerializedError} | undefined
  try {
    answer = run.exitCode === 0 ? (JSON.parse(run.stdout) as typeof answer) : undefined
  } catch {
    answer = undefined
  }
  if (!answer) {
    const why = run.spawnError ?? (run.signal ? `killed by ${run.signal}` : `exit code ${run.exitCode}`)
    throw new InternalError(`The template renderer stopped before it finished (${why}).${run.stderr ? ` ${run.stderr.trim().split('\n').slice(-3).join(' ')}` : ''}`)
  }
  if (!answer.ok) throw rebuildError(answer.error)
  return answer.outcome
}

/** The error the renderer sent, as the class it was thrown as (same message, hint and details). */
function rebuildError(error: SerializedError): IdpError {
  const options = {...(error.hint ? {hint: error.hint} : {}), ...(error.details ? {details: error.details} : {})}
  switch (error.code) {
    case 'USAGE':
      return new UsageError(error.message, options)
    case 'CONFIG':
      return new ConfigError(error.message, Array.isArray(error.details?.problems) ? (error.details.problems as ConfigProblem[]) : [], options)
    case 'PREREQUISITE':
      return new PrerequisiteError(error.message, options)
    case 'REMOTE':
      return new RemoteError(error.message, options)
    case 'TIMEOUT':
      return new TimeoutError(error.message, options)
    case 'CANCELLED':
      return new CancelledError(error.message, options)
    default:
      return new InternalError(error.message, options)
  }
}

/** The rendered skeletons keyed by the caller's own step objects (the renderer's answer holds copies). */
export function skeletonsByStep(steps: readonly FileStep[], rendered: ReadonlyArray<SkeletonResult | null>): Map<FetchSpec, SkeletonResult> {
  const map = new Map<FetchSpec, SkeletonResult>()
  for (const [i, step] of steps.entries()) {
    const result = rendered[i]
    if (step.kind === 'fetch' && result) map.set(step, result)
  }
  return map
}

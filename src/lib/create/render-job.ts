/**
 * All of a template's rendering, as one job: the step inputs (interpretSteps) and every file of
 * every fetch step, in memory, nothing written. render-bound.ts runs it in a separate Node
 * process with a deadline and a heap limit; that process (render-worker.ts) and the in-process
 * fallback both call runRenderJob, so the two cannot differ.
 */
import {IdpError} from '../cli/errors.js'
import {type FetchSpec, type FileStep, planSkeleton, type SkeletonResult} from './skeleton.js'
import type {LoadedTemplate} from './sources.js'
import {type InterpretedSteps, type InterpretOptions, interpretSteps} from './steps.js'

/** What the renderer gets: plain data only (JSON on its stdin). */
export interface RenderJob {
  /** The template and the values for its step inputs; without it, `files` are rendered as given. */
  interpret?: {template: Omit<LoadedTemplate, 'cleanup'>; options: InterpretOptions}
  files?: FileStep[]
  directory: string
}

export interface RenderOutcome {
  interpreted?: InterpretedSteps
  files: FileStep[]
  /** One per entry of `files`: the rendered skeleton of a fetch step, null for the others. */
  rendered: Array<SkeletonResult | null>
}

/** Render every fetch step in memory (template errors surface here, before any write). */
async function prerender(steps: FileStep[], targetDir: string): Promise<Map<FetchSpec, SkeletonResult>> {
  const planned = new Map<FetchSpec, SkeletonResult>()
  for (const step of steps) if (step.kind === 'fetch') planned.set(step, await planSkeleton(step, targetDir))
  return planned
}

export async function runRenderJob(job: RenderJob): Promise<RenderOutcome> {
  const interpreted = job.interpret ? interpretSteps(job.interpret.template as LoadedTemplate, job.interpret.options) : undefined
  const files = interpreted?.files ?? job.files ?? []
  const planned = await prerender(files, job.directory)
  return {...(interpreted ? {interpreted} : {}), files, rendered: files.map((step) => (step.kind === 'fetch' ? (planned.get(step) ?? null) : null))}
}

/** An error as plain data, to cross from the renderer process: class (by code), message, hint, details. */
export interface SerializedError {
  code?: string
  name: string
  message: string
  hint?: string
  details?: Record<string, unknown>
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof IdpError) return {code: error.code, name: error.name, message: error.message, ...(error.hint ? {hint: error.hint} : {}), ...(error.details ? {details: error.details} : {})}
  return {name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error)}
}

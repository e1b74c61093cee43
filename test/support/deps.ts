/**
 * Deps for calling a golden path's service in-process, as the base command would build them but
 * with everything the test controls: the environment (the stand-ins', not the machine's), a
 * runner (real tools on that environment's PATH, or a RecordingRunner), a prompter or none, a
 * fixed clock, and output captured instead of printed.
 */
import {Writable} from 'node:stream'

import {createDeps, type Deps} from '../../src/lib/cli/deps.js'
import {Output} from '../../src/lib/cli/output.js'
import type {Prompter} from '../../src/lib/cli/prompter.js'
import type {ToolRunner} from '../../src/lib/tools/types.js'

export class TextSink extends Writable {
  text = ''
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString()
    callback()
  }
}

export interface TestDeps {
  deps: Deps
  /** What the service wrote for people (stderr): logs, warnings, the plan's progress. */
  stderr: TextSink
  /** Aborts the service's signal, as Ctrl-C does. */
  abort(): void
}

export function testDeps(options: {env: NodeJS.ProcessEnv; runner?: ToolRunner; prompter?: Prompter; now?: Date; bin?: string}): TestDeps {
  const stderr = new TextSink()
  const out = new Output({json: false, verbose: false, stdout: new TextSink(), stderr})
  const controller = new AbortController()
  const deps = createDeps({
    // Asking is the scripted prompter's or nobody's: CI in the world's environment must not decide.
    env: {...options.env, CI: undefined},
    out,
    signal: controller.signal,
    bin: options.bin ?? 'idp',
    interactive: options.prompter !== undefined,
    progress: {stream: stderr, isTTY: false},
    ...(options.runner ? {runner: options.runner} : {}),
    ...(options.prompter ? {prompter: options.prompter} : {}),
    ...(options.now ? {now: () => options.now!} : {}),
  })
  return {deps, stderr, abort: () => controller.abort()}
}

/** A Prompter whose answers are given up front; asking anything else fails the test. `defaults`: each prompt's offered default. */
export function scriptedPrompter(answers: Partial<{[K in keyof Prompter]: Array<Awaited<ReturnType<Prompter[K]>> | Error>}>): Prompter & {asked: string[]; defaults: Record<string, unknown>} {
  const asked: string[] = []
  const defaults: Record<string, unknown> = {}
  const answer = <K extends keyof Prompter>(kind: K) =>
    (async (config: {message: string; default?: unknown}) => {
      asked.push(`${kind}: ${config.message}`)
      defaults[config.message] = config.default
      const next = answers[kind]?.shift()
      if (next === undefined) throw new Error(`unexpected ${kind} prompt: ${config.message}`)
      if (next instanceof Error) throw next
      return next
    }) as unknown as Prompter[K]
  return {asked, defaults, input: answer('input'), password: answer('password'), number: answer('number'), confirm: answer('confirm'), select: answer('select'), checkbox: answer('checkbox')}
}

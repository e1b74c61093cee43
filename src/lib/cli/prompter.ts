/**
 * Questions to the person at the terminal. Services get a Prompter only when asking is allowed
 * (a TTY, no --no-input, no --json, not CI); without one, a missing value is a usage error that
 * names its flag. Prompts draw on stderr (stdout carries only the result), stop on the command's
 * signal, and Ctrl-C at a prompt is a cancellation (exit 130) like Ctrl-C anywhere else.
 */
import {CancelledError, UsageError} from './errors.js'
import {loadPrompts} from './lazy.js'
import {visible} from './output.js'

type Validate<T> = (value: T) => boolean | string | Promise<boolean | string>

export interface Prompter {
  input(config: {message: string; default?: string; required?: boolean; validate?: Validate<string>}): Promise<string>
  password(config: {message: string; mask?: boolean | string; validate?: Validate<string>}): Promise<string>
  number(config: {message: string; default?: number; required?: boolean; min?: number; max?: number; step?: number | 'any'; validate?: Validate<number | undefined>}): Promise<number | undefined>
  confirm(config: {message: string; default?: boolean}): Promise<boolean>
  select(config: {message: string; choices: Array<{name: string; value: unknown; description?: string}>; default?: unknown}): Promise<unknown>
  checkbox(config: {message: string; choices: Array<{name: string; value: unknown; checked?: boolean}>; required?: boolean}): Promise<unknown[]>
}

/** Inquirer's ways of saying the prompt ended without an answer (Ctrl-C, closed stdin, aborted). */
const PROMPT_EXITS = new Set(['ExitPromptError', 'AbortPromptError', 'CancelPromptError'])

export function isPromptExit(error: unknown): boolean {
  return error instanceof Error && PROMPT_EXITS.has(error.name)
}

/** The Prompter of @inquirer/prompts, loaded at the first question. */
export function createPrompter(options: {signal: AbortSignal; output?: NodeJS.WritableStream; input?: NodeJS.ReadableStream}): Prompter {
  const context = {output: options.output ?? process.stderr, signal: options.signal, ...(options.input ? {input: options.input} : {})}
  const ask = async <T>(question: (prompts: Awaited<ReturnType<typeof loadPrompts>>) => Promise<T>): Promise<T> => {
    const prompts = await loadPrompts()
    try {
      return await question(prompts)
    } catch (error) {
      if (isPromptExit(error)) throw new CancelledError('Cancelled by the user.', {hint: 'Nothing was changed.'})
      throw error
    }
  }
  // Messages and choices come from templates (titles, descriptions, enumNames): shown, not obeyed.
  const shown = <C extends {message: string}>(config: C): C => ({...config, message: visible(config.message)})
  const listed = <T extends {name: string; description?: string}>(choices: T[]): T[] =>
    choices.map((choice) => ({...choice, name: visible(choice.name), ...(choice.description === undefined ? {} : {description: visible(choice.description)})}))
  return {
    input: (config) => ask((p) => p.input(shown(config), context)),
    password: (config) => ask((p) => p.password(shown(config), context)),
    number: (config) => ask((p) => p.number(shown(config), context)),
    confirm: (config) => ask((p) => p.confirm(shown(config), context)),
    select: (config) => ask((p) => p.select({...shown(config), choices: listed(config.choices)}, context)),
    checkbox: (config) => ask((p) => p.checkbox({...shown(config), choices: listed(config.choices)}, context)),
  }
}

/**
 * A value the request must have: the one given, else the answer to a question when asking is
 * allowed, else a usage error naming the flag.
 */
export async function requireValue<V>(value: V | undefined, flag: string, prompter: Prompter | undefined, ask: (prompter: Prompter) => Promise<V>): Promise<V> {
  if (value !== undefined && value !== '') return value
  if (!prompter) throw new UsageError(`Missing required value: ${flag}.`, {hint: `Pass ${flag}, or run in a terminal without --no-input to be asked.`})
  return ask(prompter)
}

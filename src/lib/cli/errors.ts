/**
 * The one error taxonomy of idp (docs/cli-contract.md). Every failure a user can meet is one
 * of these classes; the exit code and the JSON `error.code` follow from the class.
 */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  prerequisite: 4,
  tool: 5,
  remote: 6,
  timeout: 7,
  cancelled: 130,
} as const

export interface IdpErrorOptions {
  hint?: string
  cause?: unknown
  /** Extra machine-readable facts for `--json` (never secrets). */
  details?: Record<string, unknown>
}

export class IdpError extends Error {
  readonly code: string = 'INTERNAL'
  readonly exitCode: number = EXIT.internal
  hint?: string
  details?: Record<string, unknown>

  constructor(message: string, options: IdpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.hint = options.hint
    this.details = options.details
  }
}

export class InternalError extends IdpError {
  override readonly code = 'INTERNAL'
  override readonly exitCode = EXIT.internal
}

export class UsageError extends IdpError {
  override readonly code = 'USAGE'
  override readonly exitCode = EXIT.usage
}

export interface ConfigProblem {
  file?: string
  line?: number
  column?: number
  /** Dotted key path, e.g. `environments.pr-*.ttl`. */
  path: string
  message: string
  expected?: string
  found?: string
  suggestion?: string
}

export class ConfigError extends IdpError {
  override readonly code = 'CONFIG'
  override readonly exitCode = EXIT.config
  readonly problems: ConfigProblem[]

  constructor(message: string, problems: ConfigProblem[] = [], options: IdpErrorOptions = {}) {
    super(message, {...options, details: {...options.details, problems}})
    this.problems = problems
  }
}

export class PrerequisiteError extends IdpError {
  override readonly code = 'PREREQUISITE'
  override readonly exitCode = EXIT.prerequisite
}

export interface ToolErrorFacts {
  tool: string
  argv: string[]
  exitCode?: number
  signal?: string
  stderrTail?: string
}

export class ToolError extends IdpError {
  override readonly code = 'TOOL'
  override readonly exitCode = EXIT.tool
  readonly facts: ToolErrorFacts
  /**
   * Set when the hint is the generic "run `<command>` yourself to investigate": the executor
   * replaces that hint once it has undone what the command ran in (its kubeconfig, namespace,
   * files), since the command would then no longer run as idp ran it.
   */
  investigate?: boolean

  constructor(message: string, facts: ToolErrorFacts, options: IdpErrorOptions = {}) {
    super(message, {...options, details: {...options.details, ...facts}})
    this.facts = facts
  }
}

export class RemoteError extends IdpError {
  override readonly code = 'REMOTE'
  override readonly exitCode = EXIT.remote
}

export class TimeoutError extends IdpError {
  override readonly code = 'TIMEOUT'
  override readonly exitCode = EXIT.timeout
}

export class CancelledError extends IdpError {
  override readonly code = 'CANCELLED'
  override readonly exitCode = EXIT.cancelled

  constructor(message = 'Cancelled.', options: IdpErrorOptions = {}) {
    super(message, options)
  }
}

/** Turn anything thrown into an IdpError, keeping the original as the cause. */
export function toIdpError(error: unknown): IdpError {
  if (error instanceof IdpError) return error
  const oclif = oclifFacts(error)
  if (oclif) {
    // oclif's parser errors (unknown flag, missing arg, bad option value) are usage errors.
    if (oclif.exit === 2 || oclif.parse) return new UsageError(oclif.message, {hint: 'Run the command with --help to see its flags and arguments.'})
    if (oclif.exit === 130) return new CancelledError()
  }
  const message = error instanceof Error ? error.message : String(error)
  return new InternalError(message, {
    cause: error,
    hint: 'This is a bug in idp. Please report it with the output of `idp --version` and the command you ran, re-run with --verbose for a stack trace.',
  })
}

function oclifFacts(error: unknown): undefined | {exit?: number; message: string; parse: boolean} {
  if (!(error instanceof Error)) return undefined
  const e = error as Error & {oclif?: {exit?: number}; parse?: unknown}
  const parse = e.name?.endsWith('Error') && ['NonExistentFlagsError', 'RequiredArgsError', 'FlagInvalidOptionError', 'ArgInvalidOptionError', 'UnexpectedArgsError', 'FailedFlagValidationError', 'CLIParseError'].includes(e.constructor?.name ?? '')
  if (!e.oclif && !parse) return undefined
  return {exit: e.oclif?.exit, message: stripOclifNoise(e.message), parse: Boolean(parse)}
}

function stripOclifNoise(message: string): string {
  return message.replace(/\n\s*See more help with --help\s*$/u, '').trim()
}

/**
 * The chain of causes below an error, as short lines, for human output and --verbose. A cause that
 * says nothing new (its text is already in the message or an earlier line: `…: bad port` over
 * `bad port`, a cause repeated further down) is left out.
 */
export function causeChain(error: unknown, max = 5): string[] {
  const lines: string[] = []
  const said = [error instanceof Error ? error.message : String(error)]
  let current = error instanceof Error ? error.cause : undefined
  for (let depth = 0; current !== undefined && lines.length < max && depth < 20; depth++) {
    const text = current instanceof Error ? current.message : String(current)
    if (text.trim() !== '' && !said.some((earlier) => earlier.includes(text))) lines.push(text)
    said.push(text)
    current = current instanceof Error ? current.cause : undefined
  }
  return lines
}

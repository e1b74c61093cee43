import {Chalk, type ChalkInstance} from 'chalk'

import {redact, redactKnown, redactValue} from './redact.js'
import {causeChain, IdpError} from './errors.js'

export interface OutputOptions {
  json: boolean
  verbose: boolean
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
}

export interface SuccessEnvelope<T = unknown> {
  status: 0
  result: T
  warnings: string[]
}

export interface ErrorEnvelope {
  status: number
  error: {code: string; message: string; hint?: string; causes?: string[]; details?: Record<string, unknown>}
  warnings?: string[]
}

/**
 * Colour on a terminal, never in a pipe or a file; NO_COLOR (https://no-color.org) turns it off
 * and FORCE_COLOR (not 0) on, whatever the stream. chalk's own detection also reads argv and
 * TERM, so idp decides and hands chalk the level.
 */
export function useColor(stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true
  return Boolean((stream as NodeJS.WriteStream).isTTY)
}

/**
 * Control characters shown, not obeyed: an annotation, a --reason or a CI variable others set
 * must not move the cursor, clear the screen or rewrite what the reader sees (ESC sequences, \r,
 * \b...). Newlines and tabs stay; everything else of C0, DEL and C1 is written as \xNN.
 */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this finds.
  return text.replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/**
 * All output of a command goes through one Output: results on stdout (one JSON document under
 * --json), everything else (logs, progress, warnings, errors in human mode) on stderr, and every
 * string through the redactor.
 */
export class Output {
  readonly json: boolean
  readonly verbose: boolean
  readonly warnings: string[] = []
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  private written = false

  constructor(options: OutputOptions) {
    this.json = options.json
    this.verbose = options.verbose
    this.stdout = options.stdout ?? process.stdout
    this.stderr = options.stderr ?? process.stderr
  }

  /** Paints stderr's messages: basic ANSI colours when useColor says so, plain text otherwise. */
  get colors(): ChalkInstance {
    this.chalk ??= new Chalk({level: useColor(this.stderr) ? 1 : 0})
    return this.chalk
  }

  private chalk: ChalkInstance | undefined

  /** A progress or log line for people; on stderr, so stdout stays parseable. */
  info(message: string): void {
    if (this.json) return
    this.stderr.write(`${visible(redact(message))}\n`)
  }

  /**
   * A report for people on stderr that idp composed from facts holding no credential (doctor's
   * checks with their hints, the list a confirmation asks about, a wizard page title): registered
   * secrets are still masked, the free-text credential patterns are not applied.
   */
  report(text: string): void {
    if (this.json) return
    this.stderr.write(`${visible(redactKnown(text))}\n`)
  }

  debug(message: string): void {
    if (!this.verbose) return
    this.stderr.write(`${this.colors.dim(visible(redact(message)))}\n`)
  }

  warn(message: string): void {
    const text = redact(message)
    this.warnings.push(text)
    if (!this.json) this.stderr.write(`${this.colors.yellow('Warning:')} ${visible(text)}\n`)
  }

  /** Write the command's result: the JSON envelope, or the human rendering on stdout. */
  result<T>(result: T, human?: (result: T) => string | undefined): void {
    if (this.written) return
    this.written = true
    if (this.json) {
      const envelope: SuccessEnvelope<T> = {status: 0, result: redactValue(result), warnings: this.warnings}
      this.stdout.write(`${JSON.stringify(envelope, null, 2)}\n`)
      return
    }
    const text = human?.(result)
    if (text) this.stdout.write(`${visible(redact(text)).replace(/\n?$/u, '\n')}`)
  }

  /** stdout is a terminal (for a view that redraws in place, `idp status --watch`). */
  stdoutIsTerminal(): boolean {
    return Boolean((this.stdout as NodeJS.WriteStream).isTTY)
  }

  /**
   * A result that is shown again and again (`idp status --watch` on a terminal): the screen is
   * cleared and the text drawn from the top. Redacted and with control characters shown, like a result.
   */
  redraw(text: string): void {
    if (this.json) return
    this.stdout.write(`\x1b[H\x1b[2J${visible(redact(text)).replace(/\n?$/u, '\n')}`)
  }

  /** Result lines that stream (`idp status --watch` without a terminal: what changed). */
  line(text: string): void {
    if (this.json) return
    this.stdout.write(`${visible(redact(text)).replace(/\n?$/u, '\n')}`)
  }

  error(error: IdpError): void {
    const causes = causeChain(error).map((line) => redact(line))
    if (this.json) {
      if (this.written) return
      this.written = true
      const envelope: ErrorEnvelope = {
        status: error.exitCode,
        error: {
          code: error.code,
          message: redact(error.message),
          ...(error.hint ? {hint: redact(error.hint)} : {}),
          ...(causes.length > 0 ? {causes} : {}),
          ...(error.details ? {details: redactValue(error.details)} : {}),
        },
        ...(this.warnings.length > 0 ? {warnings: this.warnings} : {}),
      }
      this.stdout.write(`${JSON.stringify(envelope, null, 2)}\n`)
      return
    }
    const c = this.colors
    const lines = [`${c.red('Error:')} ${visible(redact(error.message))}`]
    for (const cause of causes) lines.push(`  ${c.dim('caused by:')} ${visible(cause)}`)
    if (error.hint) lines.push(`  ${c.cyan('hint:')} ${visible(redact(error.hint))}`)
    if (this.verbose && error.stack) lines.push(c.dim(visible(redact(error.stack))))
    this.stderr.write(`${lines.join('\n')}\n`)
  }
}

/** A plain text table: a header row and rows, columns padded to the widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()
  return [line(header), ...rows.map((r) => line(r))].join('\n')
}

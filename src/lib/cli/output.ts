import {redact, redactValue} from './redact.js'
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

const useColor = (stream: NodeJS.WritableStream): boolean => {
  if (process.env.NO_COLOR !== undefined) return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true
  return Boolean((stream as NodeJS.WriteStream).isTTY)
}

const paint = (on: boolean, code: number, text: string): string => (on ? `\u001B[${code}m${text}\u001B[0m` : text)

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

  get color(): boolean {
    return useColor(this.stderr)
  }

  /** A progress or log line for people; on stderr, so stdout stays parseable. */
  info(message: string): void {
    if (this.json) return
    this.stderr.write(`${redact(message)}\n`)
  }

  debug(message: string): void {
    if (!this.verbose) return
    this.stderr.write(`${paint(this.color, 2, redact(message))}\n`)
  }

  warn(message: string): void {
    const text = redact(message)
    this.warnings.push(text)
    if (!this.json) this.stderr.write(`${paint(this.color, 33, 'Warning:')} ${text}\n`)
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
    if (text) this.stdout.write(`${redact(text).replace(/\n?$/u, '\n')}`)
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
    const c = this.color
    const lines = [`${paint(c, 31, 'Error:')} ${redact(error.message)}`]
    for (const cause of causes) lines.push(`  ${paint(c, 2, 'caused by:')} ${cause}`)
    if (error.hint) lines.push(`  ${paint(c, 36, 'hint:')} ${redact(error.hint)}`)
    if (this.verbose && error.stack) lines.push(paint(c, 2, redact(error.stack)))
    this.stderr.write(`${lines.join('\n')}\n`)
  }
}

/** A plain text table: a header row and rows, columns padded to the widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()
  return [line(header), ...rows.map((r) => line(r))].join('\n')
}

import {ToolError} from '../cli/errors.js'
import {redact} from '../cli/redact.js'
import {shellQuote} from '../plan/format.js'
import {hintFor} from './hints.js'
import {terraformUiText} from './terraform.js'
import type {ToolName} from './types.js'

/**
 * Turning a failed tool run into a ToolError, shared by the real runner and the recording
 * runner of the tests so both fail the same way.
 */
export const STDERR_TAIL_LINES = 20

// eslint-disable-next-line no-control-regex -- ANSI colour codes are control characters by definition.
const ANSI = /\u001B\[[0-9;?]*[A-Za-z]/gu

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '')
}

/** An argv as a copy-pastable shell line (already redacted by the caller). */
export function formatCommand(tool: string, argv: readonly string[]): string {
  return shellQuote([tool, ...argv])
}

export function tailLines(text: string, count: number): string {
  const lines = stripAnsi(text).replace(/\s+$/u, '').split(/\r?\n/u)
  return lines.slice(-count).join('\n')
}

/**
 * The line of a tool's output that says what went wrong: helm/kubectl `Error: ...`, git
 * `fatal: ...`, terraform's boxed `│ Error: ...`, vcluster's `HH:MM:SS fatal ...`, argocd's
 * JSON log `{"level":"fatal","msg":...}`; otherwise the last non-empty line.
 */
export function headline(output: string): string {
  const lines = stripAnsi(output)
    .split(/\r?\n/u)
    .map((line) => line.replace(/^[\s│╷╵|]+/u, '').trim())
    .filter(Boolean)
  for (const line of lines) {
    if (line.startsWith('{') && line.includes('"level"')) {
      try {
        const entry = JSON.parse(line) as {level?: string; msg?: string}
        if ((entry.level === 'fatal' || entry.level === 'error') && entry.msg) return entry.msg
      } catch {}
    }
  }
  const marked = lines.find((line) => /^(?:Error|error|fatal|FATAL|ERROR)\b:?/u.test(line) || /^\d{2}:\d{2}:\d{2} fatal /u.test(line))
  const chosen = marked ?? lines.at(-1) ?? ''
  return chosen.replace(/^\d{2}:\d{2}:\d{2} fatal /u, '')
}

/** Where a tool ran: what a command printed for people must reach the same (directory, kubeconfig, environment). */
export interface RunPlace {
  cwd?: string
  kubeconfig?: string
  env?: Record<string, string | undefined>
  /** Variables idp removed from the tool's environment (git's repository variables the shell held). */
  unset?: readonly string[]
}

/**
 * The shell prefix that puts a printed command where idp ran the tool: `cd DIR && KUBECONFIG=...
 * TF_WORKSPACE=... `, values of secret-looking variables as *** (the reader fills them in).
 */
export function placePrefix(place: RunPlace): string {
  const parts: string[] = []
  if (place.cwd) parts.push(`cd ${shellQuote([place.cwd])} &&`)
  if (place.kubeconfig) parts.push(`KUBECONFIG=${shellQuote([place.kubeconfig])}`)
  for (const [name, value] of Object.entries(place.env ?? {})) {
    if (value === undefined || name === 'KUBECONFIG') continue
    parts.push(`${name}=${/TOKEN|SECRET|PASSWORD|CREDENTIAL|KEY/iu.test(name) ? '***' : shellQuote([redact(value)])}`)
  }
  if (place.unset && place.unset.length > 0) parts.push(['env', ...place.unset.flatMap((name) => ['-u', name])].join(' '))
  return parts.length > 0 ? `${parts.join(' ')} ` : ''
}

export function toolError(tool: ToolName, argv: string[], outcome: {exitCode?: number; signal?: string; stdout: string; stderr: string}, place: RunPlace = {}): ToolError {
  const stderr = redact(stripAnsi(outcome.stderr))
  // terraform -json reports its errors as diagnostics on stdout (stderr keeps only CLI warnings):
  // both, as readable text. argocd prints flag errors on stdout; use it when stderr is silent.
  const machineReadable = tool === 'terraform' && argv.includes('-json')
  const stdout = redact(stripAnsi(machineReadable ? terraformUiText(outcome.stdout) : outcome.stdout))
  const evidence = machineReadable ? [stderr, stdout].filter((text) => text.trim()).join('\n') : stderr.trim() ? stderr : stdout
  const stderrTail = tailLines(evidence, STDERR_TAIL_LINES)
  const what = outcome.exitCode === undefined ? `was killed by ${outcome.signal ?? 'a signal'}` : `exited with code ${outcome.exitCode}`
  const line = headline(evidence)
  const prefix = placePrefix(place)
  const known = hintFor(tool, argv, evidence, prefix)
  const hint = known ?? `Run \`${prefix}${formatCommand(tool, argv)}\` yourself to investigate (secrets shown as *** must be filled in), or re-run idp with --verbose.`
  const error = new ToolError(`${tool} ${what}${line ? `: ${line}` : ''}`, {tool, argv, exitCode: outcome.exitCode, signal: outcome.signal, stderrTail}, {hint})
  if (known === undefined) error.investigate = true
  return error
}


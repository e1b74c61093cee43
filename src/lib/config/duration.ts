import {UsageError} from '../cli/errors.js'

const UNIT_MS = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000} as const
const DURATION = /^(?:\d+[smhdw])+$/u
const PART = /(\d+)([smhdw])/gu

/** The syntax accepted everywhere a duration is (ttl, maxTtl, --ttl): `30m`, `72h`, `7d`, `1h30m`. */
export const DURATION_PATTERN = '^([0-9]+[smhdw])+$'
export const DURATION_EXAMPLES = '30m, 8h, 72h, 7d, 1h30m'

/**
 * The longest duration anywhere (a ttl, a grant): a year. Longer is a mistake, and past it dates
 * and timers stop meaning anything (a Date overflows at 275,000 years, a Node timer at 24.8 days).
 */
export const MAX_DURATION_MS = 365 * UNIT_MS.d
/** The longest a wait may take (--timeout): a week, well inside what a Node timer can hold. */
export const MAX_TIMEOUT_MS = 7 * UNIT_MS.d

/** Why `text` is not a duration, or undefined when it is one. */
export function durationProblem(text: string, maxMs = MAX_DURATION_MS): string | undefined {
  if (!DURATION.test(text)) return 'not a duration'
  const ms = parts(text)
  if (ms === 0) return 'must be longer than zero'
  if (!(ms <= maxMs)) return `must be at most ${formatDuration(maxMs)}`
  return undefined
}

/** Milliseconds in a duration such as `72h`; a UsageError (exit 2) when it is not one. */
export function parseDuration(text: string, maxMs = MAX_DURATION_MS): number {
  const problem = durationProblem(text, maxMs)
  if (problem) throw new UsageError(`Invalid duration "${text}": ${problem}.`, {hint: `Write a number followed by s, m, h, d or w, e.g. ${DURATION_EXAMPLES}.`})
  return parts(text)
}

/** A --timeout: a duration of at most MAX_TIMEOUT_MS. */
export function parseTimeout(text: string): number {
  return parseDuration(text, MAX_TIMEOUT_MS)
}

/** The shortest exact rendering of a number of milliseconds as a duration, e.g. 93_600_000 → `1d2h`. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000) * 1000
  let text = ''
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]
    const n = Math.floor(rest / size)
    if (n > 0) {
      text += `${n}${unit}`
      rest -= n * size
    }
  }
  return text || '0s'
}

function parts(text: string): number {
  let total = 0
  // Digits beyond what a double holds exactly make Infinity or garbage: bounded above anyway.
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS]
  return total
}

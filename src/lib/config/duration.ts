import {UsageError} from '../cli/errors.js'

const UNIT_MS = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000} as const
const DURATION = /^(?:\d+[smhdw])+$/u
const PART = /(\d+)([smhdw])/gu

/** The syntax accepted everywhere a duration is (ttl, maxTtl, --ttl): `30m`, `72h`, `7d`, `1h30m`. */
export const DURATION_PATTERN = '^([0-9]+[smhdw])+$'
export const DURATION_EXAMPLES = '30m, 8h, 72h, 7d, 1h30m'

/** Why `text` is not a duration, or undefined when it is one. */
export function durationProblem(text: string): string | undefined {
  if (!DURATION.test(text)) return 'not a duration'
  if (parts(text) === 0) return 'must be longer than zero'
  return undefined
}

/** Milliseconds in a duration such as `72h`; a UsageError (exit 2) when it is not one. */
export function parseDuration(text: string): number {
  const problem = durationProblem(text)
  if (problem) throw new UsageError(`Invalid duration "${text}": ${problem}.`, {hint: `Write a number followed by s, m, h, d or w, e.g. ${DURATION_EXAMPLES}.`})
  return parts(text)
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
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS]
  return total
}

import {table} from '../cli/output.js'
import type {EnvRecord} from './labels.js'

/**
 * Human renderings of environment records, shared by `env list`, `env status` and `env gc`.
 * Pure and light: commands import it statically.
 */

/** "in 2d3h", "expired 2h ago", "never": expiry relative to now. */
export function relativeExpiry(record: Pick<EnvRecord, 'expiresAt'>, now: Date = new Date()): string {
  if (!record.expiresAt) return 'never'
  const delta = new Date(record.expiresAt).getTime() - now.getTime()
  const span = roughDuration(Math.abs(delta))
  return delta > 0 ? `in ${span}` : `expired ${span} ago`
}

/** The largest unit of a span and the next one when non-zero (2d3h, 5h, 45m, 10s): exact enough for people. */
export function roughDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ]
  for (const [index, [unit, size]] of units.entries()) {
    const n = Math.floor(ms / size)
    if (n === 0) continue
    const next = units[index + 1]
    // Minutes are the finest unit shown next to hours; seconds only for spans under a minute.
    const rest = next ? Math.floor((ms - n * size) / next[1]) : 0
    return `${n}${unit}${next && rest > 0 ? `${rest}${next[0]}` : ''}`
  }
  return `${Math.max(0, Math.floor(ms / 1000))}s`
}

export function renderEnvTable(records: EnvRecord[], now: Date = new Date()): string {
  const rows = records.map((r) => [r.env, r.service, r.cluster, r.namespace, r.driver, r.owner || '-', relativeExpiry(r, now), r.url ?? ''])
  return table(['ENV', 'SERVICE', 'CLUSTER', 'NAMESPACE', 'DRIVER', 'OWNER', 'EXPIRES', 'URL'], rows)
}

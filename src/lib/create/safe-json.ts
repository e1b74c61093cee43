/**
 * Values that reach templates are plain JSON with null prototypes: no inherited `constructor`,
 * no getters, no functions. Rendering code can then treat every object as inert data.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | {[key: string]: JsonValue}

const MAX_DEPTH = 64

export function toSafeJson(value: unknown, depth = 0): JsonValue | undefined {
  if (depth > MAX_DEPTH) throw new Error('Value is nested too deeply (or contains a cycle).')
  if (value === null) return null
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return Number.isFinite(value) ? value : null
    case 'bigint':
      return Number(value)
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined
    default:
      break
  }
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return value.map((item) => toSafeJson(item, depth + 1) ?? null)
  const out = Object.create(null) as {[key: string]: JsonValue}
  for (const key of Object.keys(value as object)) {
    const converted = toSafeJson((value as Record<string, unknown>)[key], depth + 1)
    if (converted !== undefined) out[key] = converted
  }
  return out
}


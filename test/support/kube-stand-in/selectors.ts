// Label and field selectors with the syntax the API server accepts.
import type {KubeObject} from './types.js'

type Requirement = (labels: Record<string, string>) => boolean

/** Parses a label selector ("a=b,c!=d,e in (x,y),!f,g"); throws on bad syntax. */
export function parseLabelSelector(selector: string): Requirement[] {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const ch of selector) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      parts.push(current)
      current = ''
    } else current += ch
  }
  if (current.trim()) parts.push(current)
  return parts.map((raw) => {
    const part = raw.trim()
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part)
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string]
      const values = list.split(',').map((v) => v.trim())
      return op === 'in'
        ? (labels) => key in labels && values.includes(labels[key]!)
        : (labels) => !(key in labels) || !values.includes(labels[key]!)
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(part)
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string]
      return op === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value
    }
    m = /^(!?)([\w./-]+)$/.exec(part)
    if (m) {
      const [, not, key] = m as unknown as [string, string, string]
      return not ? (labels) => !(key in labels) : (labels) => key in labels
    }
    throw new Error(`unable to parse requirement: ${part}`)
  })
}

export function matchesLabels(obj: KubeObject, requirements: Requirement[]): boolean {
  const labels = (obj.metadata?.labels ?? {}) as Record<string, string>
  return requirements.every((r) => r(labels))
}

/** Parses a field selector ("metadata.name=x,status.phase!=Running"); any dotted path is allowed. */
export function parseFieldSelector(selector: string): Array<(obj: KubeObject) => boolean> {
  return selector
    .split(',')
    .filter((p) => p.trim())
    .map((part) => {
      const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(part.trim())
      if (!m) throw new Error(`invalid field selector: ${part}`)
      const [, field, op, value] = m as unknown as [string, string, string, string]
      return (obj) => {
        let cur: any = obj
        for (const key of field.split('.')) cur = cur?.[key]
        const actual = cur === undefined || cur === null ? '' : String(cur)
        return op === '!=' ? actual !== value : actual === value
      }
    })
}

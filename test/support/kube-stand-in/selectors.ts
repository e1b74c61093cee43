// Label and field selectors with the syntax the API server accepts.
import type {KubeObject} from './types.js'

type Requirement = (labels: Record<string, string>) => boolean

// k8s.io/apimachinery/pkg/util/validation: a label value, and a label key (an optional DNS-subdomain prefix and a name).
const LABEL_NAME = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/u
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/u

function checkKey(key: string): void {
  const slash = key.indexOf('/')
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)]
  if (prefix !== undefined && (prefix === '' || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) throw new Error(`unable to parse requirement: key: Invalid value: "${key}": prefix part must be a DNS subdomain`)
  if (name === '' || name.length > 63 || !LABEL_NAME.test(name)) throw new Error(`unable to parse requirement: key: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`)
}

function checkValue(value: string): void {
  if (value.length > 63 || !LABEL_NAME.test(value)) throw new Error(`unable to parse requirement: values[0]: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`)
}

/**
 * Parses a label selector as the API server does (apimachinery labels.Parse): `a=b`, `a==b`,
 * `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, separated by commas, whitespace
 * anywhere between tokens; keys and values validated; an empty value set, an empty term or a
 * trailing comma is an error (the server answers 400).
 */
export function parseLabelSelector(selector: string): Requirement[] {
  if (selector.trim() === '') return []
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
  parts.push(current)
  return parts.map((raw) => {
    const part = raw.trim()
    if (part === '') throw new Error(`unable to parse requirement: found '', expected: identifier`)
    let m = /^([^\s!=<>(),]+)\s*(in|notin)\s*\(([^)]*)\)$/u.exec(part)
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string]
      checkKey(key)
      const values = list.split(',').map((v) => v.trim())
      if (list.trim() === '') throw new Error(`unable to parse requirement: values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty`)
      for (const v of values) checkValue(v)
      return op === 'in'
        ? (labels) => key in labels && values.includes(labels[key]!)
        : (labels) => !(key in labels) || !values.includes(labels[key]!)
    }
    m = /^([^\s!=<>(),]+)\s*(==|=|!=|>|<)\s*([^\s!=<>(),]*)$/u.exec(part)
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string]
      checkKey(key)
      if (op === '>' || op === '<') {
        if (!/^-?\d+$/u.test(value)) throw new Error(`unable to parse requirement: values[0]: Invalid value: "${value}": for 'Gt', 'Lt' operators, the value must be an integer`)
        const bound = Number(value)
        return (labels) => key in labels && /^-?\d+$/u.test(labels[key]!) && (op === '>' ? Number(labels[key]) > bound : Number(labels[key]) < bound)
      }
      checkValue(value)
      return op === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value
    }
    m = /^(!?)\s*([^\s!=<>(),]+)$/u.exec(part)
    if (m) {
      const [, not, key] = m as unknown as [string, string, string]
      checkKey(key)
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

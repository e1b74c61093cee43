import {UsageError} from './errors.js'

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/u

/** Why a name is not a DNS-1123 label, or undefined when it is one. */
export function dnsLabelProblem(value: string): string | undefined {
  if (value.length === 0) return 'it is empty'
  if (value.length > 63) return `it is ${value.length} characters long (at most 63)`
  if (/[A-Z]/u.test(value)) return 'it contains upper-case letters'
  if (!DNS1123_LABEL.test(value)) return 'it must consist of lower-case letters, digits and "-", and start and end with a letter or digit'
  return undefined
}

export function isDnsLabel(value: string): boolean {
  return dnsLabelProblem(value) === undefined
}

/** A UsageError before any side effect when `value` is not a DNS-1123 label. */
export function assertDnsLabel(value: string, what: string): string {
  const problem = dnsLabelProblem(value)
  if (problem) {
    const suggestion = value.toLowerCase().replace(/[^a-z0-9-]+/gu, '-').replace(/^-+|-+$/gu, '').slice(0, 63).replace(/-+$/u, '')
    throw new UsageError(`Invalid ${what} "${value}": ${problem}.`, {
      hint: suggestion && suggestion !== value ? `Names are DNS-1123 labels (Kubernetes names). Try "${suggestion}".` : 'Names are DNS-1123 labels: lower-case letters, digits and "-", at most 63 characters.',
    })
  }
  return value
}

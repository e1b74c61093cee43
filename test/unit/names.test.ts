import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/lib/cli/errors.js'
import {assertDnsLabel, dnsLabelProblem} from '../../src/lib/cli/names.js'

describe('DNS-1123 names', () => {
  it('accepts labels and rejects everything else with a reason', () => {
    expect(dnsLabelProblem('shop-api')).toBeUndefined()
    expect(dnsLabelProblem('Shop')).toMatch(/upper-case/u)
    expect(dnsLabelProblem('-shop')).toMatch(/start and end/u)
    expect(dnsLabelProblem('a'.repeat(64))).toMatch(/64 characters/u)
    expect(dnsLabelProblem('')).toMatch(/empty/u)
  })

  it('throws a UsageError (exit 2) with a suggestion', () => {
    expect(() => assertDnsLabel('My_Service', 'service name')).toThrow(UsageError)
    try {
      assertDnsLabel('My_Service', 'service name')
    } catch (error) {
      expect((error as UsageError).exitCode).toBe(2)
      expect((error as UsageError).hint).toContain('"my-service"')
    }
  })
})

import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {configJsonSchema} from '../../src/lib/config/json-schema.js'

describe('idp.schema.json', () => {
  it('is in step with the schema in the code (regenerate: idp config schema -o idp.schema.json)', () => {
    const committed = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../idp.schema.json'), 'utf8'))
    expect(committed).toEqual(configJsonSchema())
  })
})

import * as z from 'zod/mini'

import {configSchema} from './schema.js'

/** Where the published schema lives; also its `$id`. */
export const CONFIG_SCHEMA_ID = 'https://idp.dev/schemas/idp-config-v1.json'

/**
 * The JSON Schema (draft 2020-12) of `.idp.yml`, for editors (yaml-language-server) and other
 * tools. It describes the input: keys with defaults are optional. Rules zod checks in code
 * (cross-key references, placeholders) are described in the text, not in the schema.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, {target: 'draft-2020-12', io: 'input', unrepresentable: 'any'}) as Record<string, unknown>
  const {$schema, title, description, ...rest} = schema
  return {$schema, $id: CONFIG_SCHEMA_ID, title, description, ...rest}
}

import * as Flags from '@oclif/core/flags'
import {writeFile} from 'node:fs/promises'
import path from 'node:path'

import {BaseCommand} from '../../lib/cli/base-command.js'
import {UsageError} from '../../lib/cli/errors.js'

export interface ConfigSchemaResult {
  schema: Record<string, unknown>
  /** Where the schema was written, with --output. */
  output?: string
}

export default class ConfigSchema extends BaseCommand<typeof ConfigSchema> {
  static override summary = 'Print the JSON Schema of .idp.yml.'
  static override description = `Prints the JSON Schema (draft 2020-12) of .idp.yml on stdout, or writes it with --output. Point your editor at it for completion and inline checks: with the YAML language server, start .idp.yml with "# yaml-language-server: $schema=./idp.schema.json". With --json the schema is in result.schema.`
  static override examples = [
    {description: 'Write the schema next to .idp.yml for your editor', command: '<%= config.bin %> <%= command.id %> --output idp.schema.json'},
    {description: 'Print it', command: '<%= config.bin %> <%= command.id %>'},
  ]

  static override flags = {
    output: Flags.string({char: 'o', description: 'Write the schema to this file (relative to --dir) instead of printing it.'}),
  }

  async execute(): Promise<ConfigSchemaResult> {
    const {configJsonSchema} = await import('../../lib/config/json-schema.js')
    const schema = configJsonSchema()
    if (!this.flags.output) return {schema}
    const {displayPath} = await import('../../lib/cli/paths.js')
    const target = path.resolve(this.dir, this.flags.output)
    try {
      await writeFile(target, `${JSON.stringify(schema, null, 2)}\n`)
    } catch (error) {
      throw new UsageError(`Cannot write ${displayPath(target)}: ${(error as Error).message}.`, {hint: 'Check that the directory exists and is writable.'})
    }
    return {schema, output: displayPath(target)}
  }

  protected override human(result: ConfigSchemaResult): string {
    // The schema itself is the product: raw JSON on stdout, ready to redirect.
    return result.output ? `Wrote the JSON Schema of .idp.yml to ${result.output}` : JSON.stringify(result.schema, null, 2)
  }
}

import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {ConfigSchemaResult} from '../../lib/config/check.js'

export default class ConfigSchema extends BaseCommand<typeof ConfigSchema, ConfigSchemaResult> {
  static override summary = 'Print the JSON Schema of .idp.yml.'
  static override description = `Prints the JSON Schema (draft 2020-12) of .idp.yml on stdout, or writes it with --output. Point your editor at it for completion and inline checks: with the YAML language server, start .idp.yml with "# yaml-language-server: $schema=./idp.schema.json". With --json the schema is in result.schema.`
  static override examples = [
    {description: 'Write the schema next to .idp.yml for your editor', command: '<%= config.bin %> <%= command.id %> --output idp.schema.json'},
    {description: 'Print it', command: '<%= config.bin %> <%= command.id %>'},
  ]

  static override flags = {
    output: Flags.string({char: 'o', description: 'Write the schema to this file (relative to --dir) instead of printing it.'}),
  }

  async execute(): Promise<Served<ConfigSchemaResult>> {
    const {configSchema, renderConfigSchema} = await import('../../lib/config/check.js')
    return this.serve(configSchema, renderConfigSchema, {dir: this.dir, output: this.flags.output})
  }
}

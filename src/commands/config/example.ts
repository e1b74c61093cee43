import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {ConfigExampleResult} from '../../lib/config/check.js'

export default class ConfigExample extends BaseCommand<typeof ConfigExample, ConfigExampleResult> {
  static override summary = 'Print the annotated example .idp.yml (every key, with a comment).'
  static override description = `Prints the example .idp.yml that ships with idp, each key explained, on stdout, or writes it to a new file with --output (never over an existing one). It is the reference the hints of other commands point to. With --json the text is in result.example.`
  static override examples = [
    {description: 'Read it', command: '<%= config.bin %> <%= command.id %> | less'},
    {description: 'Start a .idp.yml from it, then trim it', command: '<%= config.bin %> <%= command.id %> --output .idp.yml'},
  ]

  static override flags = {
    output: Flags.string({char: 'o', description: 'Write the example to this new file (relative to --dir) instead of printing it.'}),
  }

  async execute(): Promise<Served<ConfigExampleResult>> {
    const {configExample, renderConfigExample} = await import('../../lib/config/check.js')
    return this.serve(configExample, renderConfigExample, {dir: this.dir, output: this.flags.output})
  }
}

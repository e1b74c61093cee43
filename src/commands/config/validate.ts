import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {ConfigValidateResult} from '../../lib/config/check.js'

export default class ConfigValidate extends BaseCommand<typeof ConfigValidate, ConfigValidateResult> {
  static override summary = 'Check .idp.yml and report every problem at once.'
  static override description = `Finds .idp.yml (or .idp.yaml) in --dir or its parents up to the git root, or reads --file, and checks YAML syntax, the schema and references between keys. Every problem is reported with FILE:LINE:COL, the key path, what was expected and what was found. Exits 3 when the file is invalid or missing.`
  static override examples = [
    {description: 'Validate the config of the repository in the current directory', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Validate another repository, as JSON for CI', command: '<%= config.bin %> <%= command.id %> --dir ../shop --json'},
    {description: 'Validate a specific file', command: '<%= config.bin %> <%= command.id %> --file config/staging.idp.yml'},
  ]

  static override flags = {
    file: Flags.string({char: 'f', description: 'Config file to check, relative to --dir (default: search for .idp.yml from --dir up to the git root).', env: 'IDP_CONFIG'}),
  }

  async execute(): Promise<Served<ConfigValidateResult>> {
    const {configValidate, renderConfigValidate} = await import('../../lib/config/check.js')
    return this.serve(configValidate, renderConfigValidate, {dir: this.dir, file: this.flags.file})
  }
}

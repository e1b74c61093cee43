import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../lib/cli/base-command.js'

export interface ConfigValidateResult {
  file: string
  valid: true
  summary: {service: string; environments: number; clusters: number}
}

export default class ConfigValidate extends BaseCommand<typeof ConfigValidate> {
  static override summary = 'Check .idp.yml and report every problem at once.'
  static override description = `Finds .idp.yml (or .idp.yaml) in --dir or its parents up to the git root, or reads --file, and checks YAML syntax, the schema and references between keys. Every problem is reported with FILE:LINE:COL, the key path, what was expected and what was found. Exits 3 when the file is invalid or missing.`
  static override examples = [
    {description: 'Validate the config of the repository in the current directory', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Validate another repository, as JSON for CI', command: '<%= config.bin %> <%= command.id %> --dir ../shop --json'},
    {description: 'Validate a specific file', command: '<%= config.bin %> <%= command.id %> --file .idp.yml.example'},
  ]

  static override flags = {
    file: Flags.string({char: 'f', description: 'Config file to check, relative to --dir (default: search for .idp.yml from --dir up to the git root).', env: 'IDP_CONFIG'}),
  }

  async execute(): Promise<ConfigValidateResult> {
    // Lazily: zod and yaml must not load for `idp --help`.
    const {loadConfig} = await import('../../lib/config/load.js')
    const {displayPath} = await import('../../lib/cli/paths.js')
    const {config, filepath} = await loadConfig({dir: this.dir, file: this.flags.file, required: true})
    return {
      file: displayPath(filepath),
      valid: true,
      summary: {service: config.service.name, environments: Object.keys(config.environments).length, clusters: Object.keys(config.clusters).length},
    }
  }

  protected override human(result: ConfigValidateResult): string {
    const {service, environments, clusters} = result.summary
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
    return `✓ ${result.file} is valid (service ${service}, ${plural(environments, 'environment')}, ${plural(clusters, 'cluster')})`
  }
}

import * as Flags from '@oclif/core/flags'
import path from 'node:path'

import {BaseCommand} from '../../lib/cli/base-command.js'
import {table} from '../../lib/cli/output.js'
import type {TemplateListing} from '../../lib/create/sources.js'

export interface TemplatesListResult {
  templates: TemplateListing[]
}

export default class TemplatesList extends BaseCommand<typeof TemplatesList> {
  static override summary = 'List the templates `idp create` can use.'
  static override description = `Lists bundled templates and those in extra directories (--template-dir, templates.dirs in .idp.yml): name, title, description, source and path. Each template.yaml is validated; an invalid one is a config error (exit 3) with file:line.`
  static override examples = [
    {description: 'List the templates', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Include a team\'s template directory, as JSON', command: '<%= config.bin %> <%= command.id %> --template-dir ./my-templates --json'},
  ]

  static override flags = {
    'template-dir': Flags.string({description: 'Extra directory of templates (repeatable; added to templates.dirs in .idp.yml).', multiple: true, env: 'IDP_TEMPLATE_DIR'}),
  }

  async execute(): Promise<TemplatesListResult> {
    const [{listTemplates}, {loadConfig}] = await Promise.all([import('../../lib/create/sources.js'), import('../../lib/config/load.js')])
    const loaded = await loadConfig({dir: this.dir})
    const configDirs = (loaded?.config.templates?.dirs ?? []).map((d) => path.resolve(loaded?.root ?? this.dir, d))
    const dirs = [...(this.flags['template-dir'] ?? []).map((d) => path.resolve(d)), ...configDirs]
    return {templates: await listTemplates(dirs)}
  }

  protected override human(result: TemplatesListResult): string {
    if (result.templates.length === 0) return 'No templates found.'
    return table(
      ['NAME', 'SOURCE', 'TITLE', 'PATH'],
      result.templates.map((t) => [t.name, t.source, t.title ?? '', path.relative(process.cwd(), t.path) || '.']),
    )
  }
}

import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {TemplatesListResult} from '../../lib/create/templates.js'

export default class TemplatesList extends BaseCommand<typeof TemplatesList, TemplatesListResult> {
  static override summary = 'List the templates `idp create` can use.'
  static override description = `Lists bundled templates and those in extra directories (--template-dir, templates.dirs in .idp.yml): name, title, description, source and path. Each template.yaml is validated; an invalid one is a config error (exit 3) with file:line.`
  static override examples = [
    {description: 'List the templates', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Include a team\'s template directory, as JSON', command: '<%= config.bin %> <%= command.id %> --template-dir ./my-templates --json'},
  ]

  static override flags = {
    'template-dir': Flags.string({description: 'Extra directory of templates (repeatable; added to templates.dirs in .idp.yml).', multiple: true, env: 'IDP_TEMPLATE_DIR'}),
  }

  async execute(): Promise<Served<TemplatesListResult>> {
    const {templatesList, renderTemplatesList} = await import('../../lib/create/templates.js')
    return this.serve(templatesList, renderTemplatesList, {dir: this.dir, templateDirs: this.flags['template-dir']})
  }
}

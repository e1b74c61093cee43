import * as Flags from '@oclif/core/flags'

import type {AccessListResult} from '../../lib/access/list.js'
import {BaseCommand, type Served} from '../../lib/cli/base-command.js'

export default class AccessList extends BaseCommand<typeof AccessList, AccessListResult> {
  static override summary = 'List the grants idp manages: who has which role where, until when, and why.'
  static override description = `Reads the idp-labelled RoleBindings of this service from the environments' namespaces: --env, or every exact-name environment of .idp.yml plus the preview environments (pattern matches such as pr-*) that exist now. Expired grants are marked (they keep working in the cluster until \`idp access revoke --expired\` removes them). An unreachable cluster is a warning, unless every cluster is.`

  static override examples = [
    {description: 'Every grant of this service', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Grants in one environment, as JSON', command: '<%= config.bin %> <%= command.id %> --env staging --json'},
  ]

  static override flags = {
    env: Flags.string({description: 'Only this environment.', env: 'IDP_ENV'}),
  }

  async execute(): Promise<Served<AccessListResult>> {
    const {accessList, renderAccessList} = await import('../../lib/access/list.js')
    return this.serve(accessList, renderAccessList, {dir: this.dir, env: this.flags.env})
  }
}

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import type {AccessRevokeResult} from '../../lib/access/revoke.js'
import {BaseCommand, changeFlags, type Served} from '../../lib/cli/base-command.js'

export default class AccessRevoke extends BaseCommand<typeof AccessRevoke, AccessRevokeResult> {
  static override summary = 'Revoke grants: one role, every role of a user (--all), or every expired grant (--expired).'
  static override description = `Deletes only RoleBindings idp created (labelled app.kubernetes.io/managed-by=idp with an idp.dev/access-role) for this service; anything else is left alone. A grant that is already gone counts as revoked (exit 0), so revoke is safe to repeat. The Role idp wrote for a role defined by rules goes with the last grant that uses it.

--expired removes every grant whose idp.dev/expires-at has passed, in --env or, without it, in every environment of .idp.yml (exact names, plus preview environments that exist); a grant renewed meanwhile is kept. Kubernetes itself never expires a RoleBinding, so run this on a schedule (e.g. a CI cron job).`

  static override examples = [
    {description: 'Take one role away', command: '<%= config.bin %> <%= command.id %> alice@example.com --role viewer --env staging'},
    {description: 'Every role of a user in an environment', command: '<%= config.bin %> <%= command.id %> alice@example.com --all --env staging'},
    {description: 'Scheduled clean-up of expired grants everywhere', command: '<%= config.bin %> <%= command.id %> --expired --json'},
    {description: 'See what --expired would delete', command: '<%= config.bin %> <%= command.id %> --expired --dry-run'},
  ]

  static override args = {
    user: Args.string({description: 'User (or group, with --group) whose grant goes; not with --expired.', required: false}),
  }

  static override flags = {
    'dry-run': changeFlags['dry-run'],
    role: Flags.string({description: 'Role to revoke.', env: 'IDP_ACCESS_ROLE', exclusive: ['all']}),
    all: Flags.boolean({description: 'Revoke every role USER holds in --env.', exclusive: ['role', 'expired']}),
    expired: Flags.boolean({description: 'Revoke every expired grant (in --env, or in every environment).', exclusive: ['role', 'all']}),
    env: Flags.string({description: 'Environment.', env: 'IDP_ENV'}),
    group: Flags.boolean({description: 'USER names an RBAC Group rather than a User.', env: 'IDP_ACCESS_GROUP', allowNo: true}),
  }

  async execute(): Promise<Served<AccessRevokeResult>> {
    const {accessRevoke, renderAccessRevoke} = await import('../../lib/access/revoke.js')
    const {flags} = this
    return this.serve(accessRevoke, renderAccessRevoke, {dir: this.dir, user: this.args.user, group: flags.group, role: flags.role, all: flags.all, expired: flags.expired, env: flags.env, dryRun: flags['dry-run']})
  }
}

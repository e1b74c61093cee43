import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import type {AccessGrantResult} from '../../lib/access/grant.js'
import {BaseCommand, changeFlags, type Served} from '../../lib/cli/base-command.js'

export default class AccessGrant extends BaseCommand<typeof AccessGrant, AccessGrantResult> {
  static override summary = 'Grant a user (or group) a role in one environment, for a limited time.'
  static override description = `Checks the access policy of .idp.yml before touching the cluster (exit 2 naming the rule): the role exists in access.roles, policy.forbid does not forbid it in ENV, --reason is given when policy.requireReason lists the role, and --ttl is at most policy.maxTtl (default ttl: maxTtl, else 8h).

Then, in the environment's namespace on its cluster, it server-side applies a RoleBinding idp-<role>-<user> (labelled app.kubernetes.io/managed-by=idp, idp.dev/service, idp.dev/env, idp.dev/access-role; annotated idp.dev/expires-at, idp.dev/granted-by, idp.dev/reason) to the role's ClusterRole, or to a Role idp-role-<role> written from the role's rules. Granting again renews the expiry. Kubernetes does not expire bindings by itself: run \`idp access revoke --expired\` on a schedule.`

  static override examples = [
    {description: 'Read-only access to staging for 4 hours', command: '<%= config.bin %> <%= command.id %> alice@example.com --role viewer --env staging --ttl 4h'},
    {description: 'Admin with a reason (required by policy.requireReason)', command: '<%= config.bin %> <%= command.id %> bob --role admin --env pr-42 --reason "INC-123 debugging"'},
    {description: 'A whole team (an RBAC Group)', command: '<%= config.bin %> <%= command.id %> team-a --group --role developer --env staging'},
    {description: 'Show the objects that would be applied, change nothing', command: '<%= config.bin %> <%= command.id %> alice --role viewer --env staging --dry-run'},
  ]

  static override args = {
    user: Args.string({description: 'User name as the cluster authenticates it (e.g. alice@example.com), or a group name with --group.', required: true}),
  }

  static override flags = {
    'dry-run': changeFlags['dry-run'],
    role: Flags.string({description: 'Role from access.roles in .idp.yml.', env: 'IDP_ACCESS_ROLE'}),
    env: Flags.string({description: 'Environment (an exact name or one a pattern such as pr-* matches).', env: 'IDP_ENV'}),
    ttl: Flags.string({description: 'How long the grant lasts, e.g. 30m, 4h (default: policy.maxTtl, else 8h; never longer than policy.maxTtl).', env: 'IDP_ACCESS_TTL'}),
    reason: Flags.string({description: 'Why access is needed (recorded on the binding; required for roles in policy.requireReason).', env: 'IDP_ACCESS_REASON'}),
    group: Flags.boolean({description: 'USER names an RBAC Group rather than a User.', env: 'IDP_ACCESS_GROUP', allowNo: true}),
  }

  async execute(): Promise<Served<AccessGrantResult>> {
    const {accessGrant, renderAccessGrant} = await import('../../lib/access/grant.js')
    const {flags} = this
    return this.serve(accessGrant, renderAccessGrant, {dir: this.dir, user: this.args.user, group: flags.group, role: flags.role, env: flags.env, ttl: flags.ttl, reason: flags.reason, dryRun: flags['dry-run']})
  }
}

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import type {AccessCheckResult} from '../../lib/access/check.js'
import {BaseCommand, type Served} from '../../lib/cli/base-command.js'

export default class AccessCheck extends BaseCommand<typeof AccessCheck, AccessCheckResult> {
  static override summary = 'Check whether a user holds a role, or may do something, in an environment through idp grants.'
  static override description = `With --role: is there an unexpired grant of that role? With --verb and --resource: does an unexpired grant allow the request? The rules of each grant's ClusterRole or Role are matched as RBAC matches them (verb, API group, resource/subresource, resource name). Only idp's grants are considered; an expired grant does not count even though the cluster honours it until \`idp access revoke --expired\` removes it.

Exit status: 0 whenever the check ran (read "allowed" in the output or JSON). With --exit-code, exit 1 when the answer is no, like \`git diff --exit-code\` and \`kubectl auth can-i\`.`

  static override examples = [
    {description: 'May alice list pods in staging?', command: '<%= config.bin %> <%= command.id %> alice@example.com --env staging --verb list --resource pods'},
    {description: 'May alice read pod logs in pr-42?', command: '<%= config.bin %> <%= command.id %> alice --env pr-42 --verb get --resource pods/log'},
    {description: 'Does bob hold an unexpired admin grant? Fail the script if not', command: '<%= config.bin %> <%= command.id %> bob --env staging --role admin --exit-code'},
  ]

  static override args = {
    user: Args.string({description: 'User (or group, with --group).', required: true}),
  }

  static override flags = {
    env: Flags.string({description: 'Environment.', env: 'IDP_ENV'}),
    role: Flags.string({description: 'Check for an unexpired grant of this role.', exclusive: ['verb', 'resource']}),
    verb: Flags.string({description: 'Verb of the request, e.g. get, list, create, delete.'}),
    resource: Flags.string({description: 'Resource as kubectl names it: pods, pods/log, deployments.apps, deployments.apps/scale.'}),
    'resource-name': Flags.string({description: 'Name of one object (for roles limited by resourceNames).'}),
    group: Flags.boolean({description: 'USER names an RBAC Group rather than a User.', env: 'IDP_ACCESS_GROUP', allowNo: true}),
    'exit-code': Flags.boolean({description: 'Exit 1 when the answer is no.', env: 'IDP_EXIT_CODE', allowNo: true}),
  }

  async execute(): Promise<Served<AccessCheckResult>> {
    const {accessCheck, renderAccessCheck} = await import('../../lib/access/check.js')
    const {flags} = this
    return this.serve(accessCheck, renderAccessCheck, {dir: this.dir, user: this.args.user, group: flags.group, env: flags.env, role: flags.role, verb: flags.verb, resource: flags.resource, resourceName: flags['resource-name']})
  }

  /** A "no" is an answer, not an error: the result is printed, and --exit-code makes it exit 1. */
  protected override exitCodeOf(result: AccessCheckResult): number | undefined {
    return this.flags['exit-code'] && !result.allowed ? 1 : undefined
  }
}

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../lib/cli/base-command.js'
import type {GrantRecord} from '../../lib/access/bindings.js'

export interface AccessCheckResult {
  subject: string
  kind: 'User' | 'Group'
  env: string
  namespace: string
  cluster: string
  /** What was asked: a role (--role) or a request (verb on a resource). */
  question: string
  allowed: boolean
  reason: string
  grant?: GrantRecord
  expiredGrants: GrantRecord[]
}

export default class AccessCheck extends BaseCommand<typeof AccessCheck> {
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
    group: Flags.boolean({description: 'USER names an RBAC Group rather than a User.', env: 'IDP_ACCESS_GROUP'}),
    'exit-code': Flags.boolean({description: 'Exit 1 when the answer is no.', env: 'IDP_EXIT_CODE'}),
  }

  private denied = false

  override async run(): Promise<unknown> {
    const result = await super.run()
    // After the result is printed: a "no" is an answer, not an error, so no error envelope.
    if (this.denied && this.flags['exit-code']) process.exitCode = 1
    return result
  }

  async execute(): Promise<AccessCheckResult> {
    const {flags} = this
    const {UsageError} = await import('../../lib/cli/errors.js')
    const envName = await this.require(flags.env, '--env', async () => (await import('@inquirer/prompts')).input({message: 'Environment'}))
    if (!flags.role && !(flags.verb && flags.resource)) throw new UsageError('Say what to check: --role ROLE, or --verb VERB and --resource RESOURCE.', {hint: `e.g. ${this.config.bin} access check ${this.args.user} --env ${envName} --verb get --resource pods`})
    const [{loadConfig}, {assertSubject, accessConfig, resolveRole}, {envTarget, listGrants}, check, {stateDir}] = await Promise.all([
      import('../../lib/config/load.js'),
      import('../../lib/access/policy.js'),
      import('../../lib/access/list.js'),
      import('../../lib/access/check.js'),
      import('../../lib/cli/paths.js'),
    ])
    const kind = flags.group ? 'Group' : 'User'
    const user = assertSubject(this.args.user, kind)
    const attrs = flags.role ? undefined : check.parseResource(flags.resource!, flags.verb!, {name: flags['resource-name']})
    const loaded = await loadConfig({dir: this.dir, required: true})
    if (flags.role) resolveRole(accessConfig(loaded.config), flags.role)
    const target = envTarget(loaded.config, loaded.root, envName)
    const state = stateDir()
    const listing = await listGrants([target], {service: loaded.config.service.name, stateDir: state})
    const grants = listing.grants.filter((g) => g.subject === user && g.kind === kind)
    const where = {subject: user, kind, env: target.env, namespace: target.namespace, cluster: target.cluster.alias} as const
    let outcome: import('../../lib/access/check.js').CheckOutcome
    if (flags.role) {
      const held = grants.filter((g) => g.role === flags.role)
      const live = held.find((g) => !g.expired)
      outcome = live
        ? {allowed: true, reason: `grant ${live.role} (RoleBinding ${live.binding})${live.expiresAt ? ` until ${live.expiresAt}` : ''}`, grant: live, expiredGrants: []}
        : {allowed: false, reason: held.length > 0 ? `the ${flags.role} grant expired at ${held[0]!.expiresAt}` : `no ${flags.role} grant`, expiredGrants: held}
    } else {
      const connection = listing.connections.get(target.cluster.alias)!
      outcome = await check.evaluateGrants(grants, attrs!, check.roleRulesReader(connection.clients))
    }
    this.denied = !outcome.allowed
    return {...where, question: flags.role ? `hold role ${flags.role}` : check.describe(attrs!), ...outcome}
  }

  protected override human(result: AccessCheckResult): string {
    return `${result.allowed ? 'yes' : 'no'}: ${result.kind === 'Group' ? 'group ' : ''}${result.subject} ${result.allowed ? 'may' : 'may not'} ${result.question} in ${result.env} (${result.namespace}): ${result.reason}`
  }
}

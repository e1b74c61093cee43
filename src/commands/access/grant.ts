import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, isCi} from '../../lib/cli/base-command.js'
import type {JsonPlan} from '../../lib/plan/format.js'
import type {StepRecord} from '../../lib/plan/types.js'

export interface AccessGrantResult {
  env: string
  namespace: string
  cluster: string
  subject: string
  kind: 'User' | 'Group'
  role: string
  roleRef: {kind: string; name: string}
  binding: string
  expiresAt: string
  grantedBy: string
  reason?: string
  dryRun: boolean
  plan: JsonPlan
  steps?: StepRecord[]
}

export default class AccessGrant extends BaseCommand<typeof AccessGrant> {
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
    group: Flags.boolean({description: 'USER names an RBAC Group rather than a User.', env: 'IDP_ACCESS_GROUP'}),
  }

  private planText?: string

  async execute(): Promise<AccessGrantResult> {
    const {flags} = this
    const role = await this.require(flags.role, '--role', async () => (await import('@inquirer/prompts')).input({message: 'Role'}))
    const envName = await this.require(flags.env, '--env', async () => (await import('@inquirer/prompts')).input({message: 'Environment'}))
    const [{loadConfig}, {accessConfig, checkGrantPolicy}, {envTarget}, {planAccessGrant}, {stateDir}, {clusterKubeconfigPath}, {formatPlan, planForJson}] = await Promise.all([
      import('../../lib/config/load.js'),
      import('../../lib/access/policy.js'),
      import('../../lib/access/list.js'),
      import('../../lib/access/plan.js'),
      import('../../lib/cli/paths.js'),
      import('../../lib/env/paths.js'),
      import('../../lib/plan/format.js'),
    ])
    const loaded = await loadConfig({dir: this.dir, required: true})
    const {config} = loaded
    const access = accessConfig(config)
    const target = envTarget(config, loaded.root, envName)
    const kind = flags.group ? 'Group' : 'User'
    // Every policy rule is checked before anything reads or changes a cluster.
    const checked = checkGrantPolicy(access, {user: this.args.user, kind, role, env: target.env, ttl: flags.ttl, reason: flags.reason})
    const grantedBy = await this.actor()
    const state = stateDir()
    const now = new Date()
    const plan = planAccessGrant({
      target: {env: target.env, namespace: target.namespace, cluster: target.cluster.alias, kubeconfig: clusterKubeconfigPath(state, target.cluster.alias)},
      service: config.service.name,
      role: checked.role,
      subject: this.args.user,
      kind,
      ttl: checked.ttl,
      expiresAt: new Date(now.getTime() + checked.ttlMs),
      grantedAt: now,
      grantedBy,
      ...(flags.reason ? {reason: flags.reason} : {}),
    })
    const base = plan.metadata as unknown as Omit<AccessGrantResult, 'dryRun' | 'plan' | 'steps'>
    if (flags['dry-run']) {
      this.planText = formatPlan(plan)
      return {...base, dryRun: true, plan: planForJson(plan)}
    }
    const [{connectEnv}, {applyPlan, chooseRenderer}, {createAccessHandlers}, {createToolRunner}] = await Promise.all([
      import('../../lib/access/connect.js'),
      import('../../lib/plan/apply.js'),
      import('../../lib/access/handlers.js'),
      import('../../lib/tools/runner.js'),
    ])
    await connectEnv(target, state)
    const result = await applyPlan(plan, {
      runner: createToolRunner({logger: (line) => this.out.debug(line)}),
      handlers: createAccessHandlers(),
      signal: this.signal,
      renderer: chooseRenderer({json: flags.json, isTTY: Boolean(process.stderr.isTTY), ci: isCi(), columns: process.stderr.columns}),
      verbose: flags.verbose,
    })
    return {...base, dryRun: false, plan: planForJson(plan), steps: result.steps}
  }

  /** Who grants: the CI actor, else git's user, else the OS user (as `env up` records owners). */
  private async actor(): Promise<string> {
    const [{gitFacts}, {createToolRunner}] = await Promise.all([import('../../lib/env/context.js'), import('../../lib/tools/runner.js')])
    return (await gitFacts(createToolRunner({logger: (line) => this.out.debug(line)}), this.dir)).owner
  }

  protected override human(result: AccessGrantResult): string {
    if (result.dryRun) return `${this.planText ?? ''}\n\nDry run: nothing was changed.`
    return [
      `✓ ${result.kind === 'Group' ? 'Group' : 'User'} ${result.subject} has ${result.role} on ${result.env} (namespace ${result.namespace} on ${result.cluster}) until ${result.expiresAt}`,
      `  Binding: ${result.binding} → ${result.roleRef.kind} ${result.roleRef.name}`,
      `  Revoke:  ${this.config.bin} access revoke ${result.subject} --role ${result.role} --env ${result.env}`,
    ].join('\n')
  }
}

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, isCi} from '../../lib/cli/base-command.js'
import type {JsonPlan} from '../../lib/plan/format.js'
import type {StepRecord} from '../../lib/plan/types.js'

export interface AccessRevokeResult {
  revoked: Array<{env: string; namespace: string; cluster: string; binding: string; subject: string; role: string; deleted: boolean; note?: string; roleRemoved?: string}>
  dryRun: boolean
  plan: JsonPlan
  steps?: StepRecord[]
}

export default class AccessRevoke extends BaseCommand<typeof AccessRevoke> {
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
    group: Flags.boolean({description: 'USER names an RBAC Group rather than a User.', env: 'IDP_ACCESS_GROUP'}),
  }

  private planText?: string

  async execute(): Promise<AccessRevokeResult> {
    const {flags} = this
    const {UsageError} = await import('../../lib/cli/errors.js')
    const user = this.args.user
    if (flags.expired && user !== undefined) throw new UsageError('--expired revokes every expired grant; it takes no USER.', {hint: 'Drop USER, or use --role/--all for one user.'})
    if (!flags.expired && user === undefined) throw new UsageError('Missing USER.', {hint: 'Pass the user whose grant goes (with --role ROLE or --all), or --expired.'})
    if (!flags.expired && !flags.role && !flags.all) throw new UsageError('Say what to revoke: --role ROLE or --all.', {hint: `e.g. ${this.config.bin} access revoke ${user} --role viewer --env staging`})
    if (!flags.expired && !flags.env) throw new UsageError('Missing required value: --env.', {hint: 'Pass --env with the environment the grant is in.'})

    const [{loadConfig}, {assertSubject}, {accessBindingName}, {accessEnvTargets, envTarget, listGrants}, {planAccessRevoke}, {stateDir}, {clusterKubeconfigPath}, {formatPlan, planForJson}] = await Promise.all([
      import('../../lib/config/load.js'),
      import('../../lib/access/policy.js'),
      import('../../lib/access/bindings.js'),
      import('../../lib/access/list.js'),
      import('../../lib/access/plan.js'),
      import('../../lib/cli/paths.js'),
      import('../../lib/env/paths.js'),
      import('../../lib/plan/format.js'),
    ])
    const kind = flags.group ? 'Group' : 'User'
    if (user !== undefined) assertSubject(user, kind)
    const loaded = await loadConfig({dir: this.dir, required: true})
    const {config} = loaded
    const service = config.service.name
    const state = stateDir()
    const kubeconfigOf = (alias: string) => clusterKubeconfigPath(state, alias)

    type Item = import('../../lib/access/plan.js').RevokeItem
    let items: Item[]
    if (flags.role && user !== undefined) {
      // One named grant: its binding name follows from role and user, no need to read the cluster.
      const target = envTarget(config, loaded.root, flags.env!)
      items = [{target: {env: target.env, namespace: target.namespace, cluster: target.cluster.alias, kubeconfig: kubeconfigOf(target.cluster.alias)}, binding: accessBindingName(flags.role, user, kind), subject: user, role: flags.role}]
    } else {
      const found = flags.env ? {targets: [envTarget(config, loaded.root, flags.env)], warnings: []} : await accessEnvTargets(loaded, {stateDir: state, signal: this.signal})
      for (const warning of found.warnings) this.out.warn(warning)
      const listing = await listGrants(found.targets, {service, stateDir: state})
      for (const warning of listing.warnings) this.out.warn(warning)
      const grants = listing.grants.filter((g) => (flags.expired ? g.expired : g.subject === user && g.kind === kind))
      items = grants.map((g) => ({target: {env: g.env, namespace: g.namespace, cluster: g.cluster, kubeconfig: kubeconfigOf(g.cluster)}, binding: g.binding, subject: g.subject, role: g.role}))
    }
    const summary = flags.expired ? `Revoke ${items.length} expired grant${items.length === 1 ? '' : 's'} of ${service}` : `Revoke ${flags.all ? 'every role' : flags.role} of ${user} on ${flags.env}`
    const plan = planAccessRevoke({service, items, onlyIfExpired: flags.expired, summary})
    const listed = items.map((item) => ({env: item.target.env, namespace: item.target.namespace, cluster: item.target.cluster, binding: item.binding, subject: item.subject, role: item.role}))
    if (flags['dry-run']) {
      this.planText = formatPlan(plan)
      return {revoked: listed.map((r) => ({...r, deleted: false})), dryRun: true, plan: planForJson(plan)}
    }
    if (items.length === 0) return {revoked: [], dryRun: false, plan: planForJson(plan), steps: []}
    const [{applyPlan, chooseRenderer}, {createAccessHandlers}, {createToolRunner}, {connectCluster}] = await Promise.all([
      import('../../lib/plan/apply.js'),
      import('../../lib/access/handlers.js'),
      import('../../lib/tools/runner.js'),
      import('../../lib/env/cluster.js'),
    ])
    // Write each cluster's private kubeconfig the steps read (a listing above may have done so already).
    const targets = flags.role ? [envTarget(config, loaded.root, flags.env!)] : []
    for (const target of targets) await connectCluster(target.cluster, {stateDir: state, requireReachable: true})
    const result = await applyPlan(plan, {
      runner: createToolRunner({logger: (line) => this.out.debug(line)}),
      handlers: createAccessHandlers(),
      signal: this.signal,
      renderer: chooseRenderer({json: flags.json, isTTY: Boolean(process.stderr.isTTY), ci: isCi(), columns: process.stderr.columns}),
      verbose: flags.verbose,
    })
    const revoked = listed.map((r, index) => {
      const outcome = result.steps[index]?.result as {deleted?: boolean; reason?: string; roleRemoved?: string} | undefined
      return {...r, deleted: Boolean(outcome?.deleted), ...(outcome?.reason ? {note: outcome.reason} : {}), ...(outcome?.roleRemoved ? {roleRemoved: outcome.roleRemoved} : {})}
    })
    return {revoked, dryRun: false, plan: planForJson(plan), steps: result.steps}
  }

  protected override human(result: AccessRevokeResult): string {
    if (result.dryRun) return `${this.planText ?? ''}\n\nDry run: nothing was changed.`
    if (result.revoked.length === 0) return 'Nothing to revoke.'
    return result.revoked.map((r) => `${r.deleted ? '✓ revoked' : '- kept   '} ${r.role} of ${r.subject} on ${r.env} (${r.binding})${r.note ? `: ${r.note}` : ''}${r.roleRemoved ? `; Role ${r.roleRemoved} removed (no grant uses it)` : ''}`).join('\n')
  }
}

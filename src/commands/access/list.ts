import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../lib/cli/base-command.js'
import {table} from '../../lib/cli/output.js'
import type {GrantRecord} from '../../lib/access/bindings.js'

export interface AccessListResult {
  service: string
  grants: GrantRecord[]
  /** The environments looked at. */
  environments: Array<{env: string; namespace: string; cluster: string}>
}

export default class AccessList extends BaseCommand<typeof AccessList> {
  static override summary = 'List the grants idp manages: who has which role where, until when, and why.'
  static override description = `Reads the idp-labelled RoleBindings of this service from the environments' namespaces: --env, or every exact-name environment of .idp.yml plus the preview environments (pattern matches such as pr-*) that exist now. Expired grants are marked (they keep working in the cluster until \`idp access revoke --expired\` removes them). An unreachable cluster is a warning, unless every cluster is.`

  static override examples = [
    {description: 'Every grant of this service', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Grants in one environment, as JSON', command: '<%= config.bin %> <%= command.id %> --env staging --json'},
  ]

  static override flags = {
    env: Flags.string({description: 'Only this environment.', env: 'IDP_ENV'}),
  }

  async execute(): Promise<AccessListResult> {
    const [{loadConfig}, {accessEnvTargets, envTarget, listGrants}, {stateDir}] = await Promise.all([
      import('../../lib/config/load.js'),
      import('../../lib/access/list.js'),
      import('../../lib/cli/paths.js'),
    ])
    const loaded = await loadConfig({dir: this.dir, required: true})
    const state = stateDir()
    const found = this.flags.env ? {targets: [envTarget(loaded.config, loaded.root, this.flags.env)], warnings: []} : await accessEnvTargets(loaded, {stateDir: state, signal: this.signal})
    for (const warning of found.warnings) this.out.warn(warning)
    const listing = await listGrants(found.targets, {service: loaded.config.service.name, stateDir: state})
    for (const warning of listing.warnings) this.out.warn(warning)
    return {service: loaded.config.service.name, grants: listing.grants, environments: found.targets.map((t) => ({env: t.env, namespace: t.namespace, cluster: t.cluster.alias}))}
  }

  protected override human(result: AccessListResult): string {
    if (result.grants.length === 0) return `No grants of ${result.service} in ${result.environments.map((e) => e.env).join(', ') || 'any environment'}.`
    const rows = result.grants.map((g) => [
      g.env,
      `${g.kind === 'Group' ? 'group:' : ''}${g.subject}`,
      g.role,
      g.expiresAt ? `${g.expiresAt}${g.expired ? ' (expired)' : ''}` : 'never',
      g.grantedBy ?? '',
      g.reason ?? '',
    ])
    const expired = result.grants.filter((g) => g.expired).length
    const footer = expired > 0 ? `\n\n${expired} expired grant${expired === 1 ? '' : 's'} still in effect: run \`${this.config.bin} access revoke --expired\`.` : ''
    return `${table(['ENV', 'SUBJECT', 'ROLE', 'EXPIRES', 'GRANTED BY', 'REASON'], rows)}${footer}`
  }
}

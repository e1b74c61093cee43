import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, isCi} from '../../lib/cli/base-command.js'
import {table} from '../../lib/cli/output.js'
import type {GcOutcome} from '../../lib/env/gc.js'
import type {ClusterListing} from '../../lib/env/list.js'
import type {JsonPlan} from '../../lib/plan/format.js'

/** The same environment fields as an outcome, so --dry-run and a real run read alike. */
export interface EnvGcSelected extends Pick<GcOutcome, 'service' | 'env' | 'cluster' | 'namespace' | 'reason'> {
  plan?: JsonPlan
}

export interface EnvGcResult {
  service: string | null
  dryRun: boolean
  /** What was (or, with --dry-run, would be) removed, and why. */
  selected: EnvGcSelected[]
  /** Matched but kept: protected in .idp.yml, already terminating. */
  skipped: Array<{service: string; env: string; cluster: string; namespace: string; reason: string}>
  /** Per environment after a real run. */
  outcomes: GcOutcome[]
  clusters: ClusterListing[]
}

export default class EnvGc extends BaseCommand<typeof EnvGc> {
  static override summary = 'Remove environments past their expires-at (or older than --older-than), on every configured cluster.'
  static override description = `Finds idp environments whose idp.dev/expires-at has passed (set from the environment's ttl by \`idp env up\`) on every cluster of .idp.yml and tears each down with the same plan as \`idp env down\`. By default only this repository's service; --all-services includes every service's environments on those clusters (their namespaces, and the vclusters and helm releases inside, are removed; their terraform is not, since that lives in their repositories).

Safe for a scheduled CI job: only namespaces labelled app.kubernetes.io/managed-by=idp are considered, each is read again right before removal, environments marked protected: true in .idp.yml are never removed, and one failure does not stop the others: the command exits non-zero at the end (the exit code of the first failure) with a summary. On a terminal it asks before removing anything unless --yes.`

  static override examples = [
    {description: 'Show what would be removed, and why', command: '<%= config.bin %> <%= command.id %> --dry-run'},
    {description: 'Remove expired environments of this service (scheduled CI job)', command: '<%= config.bin %> <%= command.id %> --yes --json'},
    {description: 'Remove every environment created more than two days ago, any service', command: '<%= config.bin %> <%= command.id %> --older-than 2d --all-services'},
  ]

  static override flags = {
    ...changeFlags,
    'older-than': Flags.string({description: 'Select environments created longer ago than this duration (e.g. 24h, 7d) instead of those past their expires-at.', env: 'IDP_OLDER_THAN'}),
    'all-services': Flags.boolean({description: 'Include the idp environments of every service on the configured clusters, not only this repository\'s.', env: 'IDP_ALL_SERVICES'}),
    cluster: Flags.string({char: 'c', description: 'Only this cluster alias from .idp.yml.', env: 'IDP_CLUSTER'}),
    timeout: Flags.string({description: 'Limit for each teardown step.', env: 'IDP_TIMEOUT', default: '10m'}),
  }

  async execute(): Promise<EnvGcResult> {
    const flags = this.flags
    const [{parseDuration}, {loadConfig}, {stateDir}, cluster, list, gc] = await Promise.all([
      import('../../lib/config/duration.js'),
      import('../../lib/config/load.js'),
      import('../../lib/cli/paths.js'),
      import('../../lib/env/cluster.js'),
      import('../../lib/env/list.js'),
      import('../../lib/env/gc.js'),
    ])
    // Bad input fails before anything is contacted.
    const olderThanMs = flags['older-than'] === undefined ? undefined : parseDuration(flags['older-than'])
    const timeoutMs = parseDuration(flags.timeout)
    const loaded = await loadConfig({dir: this.dir, required: true})
    const {config} = loaded
    const targets = cluster.configuredClusters(loaded, flags.cluster)
    const service = flags['all-services'] ? undefined : config.service.name
    const state = stateDir()
    const now = new Date()
    const listing = await list.listEnvironments({clusters: targets, stateDir: state, service, now, signal: this.signal})
    for (const warning of listing.warnings) this.out.warn(warning)
    const selection = gc.selectForGc(listing.environments, {now, olderThanMs, config})
    const targetOf = new Map(targets.map((t) => [t.alias, t]))

    const [{planEnvDown}, {envStatePaths}, context, {planForJson}, {createToolRunner}] = await Promise.all([
      import('../../lib/env/plan-down.js'),
      import('../../lib/env/paths.js'),
      import('../../lib/env/context.js'),
      import('../../lib/plan/format.js'),
      import('../../lib/tools/runner.js'),
    ])
    const runner = createToolRunner({logger: (line) => this.out.debug(line)})
    const holder = context.lockHolder(`idp env gc by ${(await context.gitFacts(runner, this.dir)).owner}`)
    const planFor = (record: (typeof selection.remove)[number]['record']) =>
      planEnvDown(
        {env: gc.envForRecord(record, targetOf.get(record.cluster)!, loaded), found: 'ours', driver: record.driver === 'vcluster' ? 'vcluster' : 'namespace', timeoutMs},
        {holder, paths: envStatePaths(state, record.service, record.env, record.cluster)},
      )
    const brief = (r: {service: string; env: string; cluster: string; namespace: string}) => ({service: r.service, env: r.env, cluster: r.cluster, namespace: r.namespace})
    const base = {
      service: service ?? null,
      selected: selection.remove.map(({record, reason}) => ({...brief(record), reason, ...(flags['dry-run'] ? {plan: planForJson(planFor(record))} : {})})),
      skipped: selection.skipped.map(({record, reason}) => ({...brief(record), reason})),
      clusters: listing.clusters,
    }
    if (flags['dry-run'] || selection.remove.length === 0) return {...base, dryRun: flags['dry-run'], outcomes: []}

    if (this.interactive && !flags.yes) {
      const {confirm} = await import('@inquirer/prompts')
      process.stderr.write(`${this.renderSelected(base.selected)}\n`)
      const ok = await confirm({message: `Remove ${base.selected.length} environment${base.selected.length === 1 ? '' : 's'}?`, default: false}, {signal: this.signal})
      if (!ok) return {...base, dryRun: false, selected: [], outcomes: []}
    }

    const [{applyPlan, chooseRenderer}, {createEnvHandlers}] = await Promise.all([import('../../lib/plan/apply.js'), import('../../lib/env/handlers.js')])
    const handlers = createEnvHandlers({runner, bin: this.config.bin})
    const renderer = chooseRenderer({json: flags.json, isTTY: Boolean(process.stderr.isTTY), ci: isCi(), columns: process.stderr.columns})
    const run = await gc.runGc({
      candidates: selection.remove,
      signal: this.signal,
      onStart: ({record, reason}) => this.out.info(`Removing ${record.service}/${record.env} on ${record.cluster} (namespace ${record.namespace}): ${reason}`),
      async readNamespace(record) {
        return cluster.findNamespace(listing.connections.get(record.cluster)!.clients.core, record.namespace, ` on cluster "${record.cluster}"`)
      },
      plan: planFor,
      apply: async (plan) => {
        const result = await applyPlan(plan, {runner, handlers, signal: this.signal, renderer, keepOnFailure: flags['keep-on-failure'], verbose: flags.verbose})
        for (const warning of result.warnings ?? []) this.out.warn(warning)
      },
    })
    const failure = gc.gcFailure(run)
    if (failure) {
      failure.details = {...failure.details, selected: base.selected, skipped: base.skipped}
      throw failure
    }
    return {...base, dryRun: false, outcomes: run.outcomes}
  }

  private renderSelected(selected: EnvGcSelected[]): string {
    return table(
      ['ENV', 'SERVICE', 'CLUSTER', 'NAMESPACE', 'REASON'],
      selected.map((s) => [s.env, s.service, s.cluster, s.namespace, s.reason]),
    )
  }

  protected override human(result: EnvGcResult): string {
    const lines: string[] = []
    const scope = result.service ? `of service ${result.service}` : 'of any service'
    if (result.selected.length === 0) lines.push(`Nothing to remove: no environment ${scope} matched.`)
    else if (result.dryRun) lines.push(this.renderSelected(result.selected), '', `Dry run: would remove ${result.selected.length} environment${result.selected.length === 1 ? '' : 's'}; nothing was changed.`)
    else {
      const removed = result.outcomes.filter((o) => o.status === 'removed')
      for (const o of result.outcomes) lines.push(`${o.status === 'removed' ? '✓ removed' : `- skipped (${o.detail ?? ''})`} ${o.service}/${o.env} on ${o.cluster} (namespace ${o.namespace}): ${o.reason}`)
      lines.push(`Removed ${removed.length} environment${removed.length === 1 ? '' : 's'}.`)
    }
    for (const s of result.skipped) lines.push(`Kept ${s.service}/${s.env} on ${s.cluster}: ${s.reason}`)
    return lines.join('\n')
  }
}

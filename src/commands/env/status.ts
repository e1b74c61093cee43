import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../lib/cli/base-command.js'
import {relativeExpiry} from '../../lib/env/format.js'
import type {EnvRecord} from '../../lib/env/labels.js'
import type {EnvLiveFacts} from '../../lib/env/status.js'

export interface EnvStatusResult {
  environment: EnvRecord
  live: Omit<EnvLiveFacts, 'warnings'>
  /** The environment's private kubeconfig on this machine, when `idp env up` ran here. */
  kubeconfig?: string
}

export default class EnvStatus extends BaseCommand<typeof EnvStatus> {
  static override summary = 'Show one environment: its labels, and what the cluster says about it now.'
  static override description = `Finds the environment by its labels on the configured clusters (so it works from any machine), then reads live facts: the namespace phase, the Deployments and how many replicas are ready, the helm releases in the namespace (helm list), and for the vcluster driver the vcluster's status (vcluster list). A fact that cannot be read (a tool missing, a call refused) is a warning; the rest is still shown.

Exits 2 when no environment of that name exists for this service, listing the ones that do.`

  static override examples = [
    {description: 'Status of the preview environment of pull request 42', command: '<%= config.bin %> <%= command.id %> pr-42'},
    {description: 'As JSON, e.g. to wait in a script until every Deployment is ready', command: "<%= config.bin %> <%= command.id %> pr-42 --json | jq '.result.live.deployments'"},
  ]

  static override args = {
    env: Args.string({description: 'Environment name, e.g. pr-42.', required: true}),
  }

  static override flags = {
    cluster: Flags.string({char: 'c', description: 'Only look on this cluster alias from .idp.yml.', env: 'IDP_CLUSTER'}),
  }

  async execute(): Promise<EnvStatusResult> {
    const [{assertDnsLabel}, {loadConfig}, {stateDir}, cluster, list, {envKubeconfigPath}, {UsageError}, fs] = await Promise.all([
      import('../../lib/cli/names.js'),
      import('../../lib/config/load.js'),
      import('../../lib/cli/paths.js'),
      import('../../lib/env/cluster.js'),
      import('../../lib/env/list.js'),
      import('../../lib/env/paths.js'),
      import('../../lib/cli/errors.js'),
      import('node:fs/promises'),
    ])
    const name = assertDnsLabel(this.args.env, 'environment name')
    const loaded = await loadConfig({dir: this.dir, required: true})
    const service = loaded.config.service.name
    const targets = cluster.configuredClusters(loaded, this.flags.cluster)
    const state = stateDir()
    // The whole service's list: the same single call, and it names the alternatives when ENV is not there.
    const listing = await list.listEnvironments({clusters: targets, stateDir: state, service, signal: this.signal})
    for (const warning of listing.warnings) this.out.warn(warning)
    const matches = listing.environments.filter((record) => record.env === name)
    const record = matches[0]
    if (!record) {
      const existing = [...new Set(listing.environments.map((r) => r.env))]
      const read = listing.clusters.filter((c) => c.ok).map((c) => c.cluster)
      throw new UsageError(`Environment "${name}" of service ${service} not found on cluster${read.length === 1 ? '' : 's'} ${read.join(', ')}.`, {
        hint: existing.length > 0 ? `Existing environments: ${existing.join(', ')}. Create ${name} with \`idp env up ${name}\`.` : `This service has no environments. Create one with \`idp env up ${name}\`.`,
        details: {existing},
      })
    }
    if (matches.length > 1) this.out.warn(`Environment ${name} exists on several clusters (${matches.map((m) => m.cluster).join(', ')}); showing ${record.cluster}. Pass --cluster to pick one.`)

    const [{gatherLiveFacts}, {createToolRunner}] = await Promise.all([import('../../lib/env/status.js'), import('../../lib/tools/runner.js')])
    const runner = createToolRunner({logger: (line) => this.out.debug(line)})
    const {warnings, ...live} = await gatherLiveFacts(record, listing.connections.get(record.cluster)!, runner, {signal: this.signal})
    for (const warning of warnings) this.out.warn(warning)
    const kubeconfig = envKubeconfigPath(state, service, name)
    const hasKubeconfig = await fs.stat(kubeconfig).then(
      () => true,
      () => false,
    )
    return {environment: record, live, ...(hasKubeconfig ? {kubeconfig} : {})}
  }

  protected override human(result: EnvStatusResult): string {
    const r = result.environment
    const lines = [
      `Environment ${r.env} of ${r.service}`,
      `  cluster:    ${r.cluster} (namespace ${r.namespace}, ${r.phase ?? 'phase unknown'})`,
      `  driver:     ${r.driver}`,
      `  owner:      ${r.owner || '-'}`,
      `  created:    ${r.createdAt}`,
      `  expires:    ${r.expiresAt ? `${r.expiresAt} (${relativeExpiry(r)})` : 'never'}`,
    ]
    if (r.status) lines.push(`  status:     ${r.status}`)
    if (r.url) lines.push(`  url:        ${r.url}`)
    if (r.sha) lines.push(`  git sha:    ${r.sha}`)
    if (r.pr) lines.push(`  pr:         #${r.pr}`)
    if (result.kubeconfig) lines.push(`  kubeconfig: ${result.kubeconfig}`)
    const {deployments, helmReleases, vcluster} = result.live
    if (vcluster !== undefined) lines.push(`  vcluster:   ${vcluster ? `${vcluster.Name} ${vcluster.Status} (${vcluster.Version})` : 'not found'}`)
    if (helmReleases) {
      lines.push(helmReleases.length === 0 ? '  helm:       no releases' : '  helm:')
      for (const h of helmReleases) lines.push(`    ${h.name}  ${h.status}  revision ${h.revision}  ${h.chart}`)
    }
    if (deployments) {
      lines.push(deployments.length === 0 ? '  deployments: none' : '  deployments:')
      for (const d of deployments) lines.push(`    ${d.name}  ${d.ready}/${d.desired} ready${d.ready < d.desired ? '  (not ready)' : ''}`)
    }
    return lines.join('\n')
  }
}

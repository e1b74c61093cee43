import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../lib/cli/base-command.js'
import {renderEnvTable} from '../../lib/env/format.js'
import type {EnvRecord} from '../../lib/env/labels.js'
import type {ClusterListing} from '../../lib/env/list.js'

export interface EnvListResult {
  /** The service listed, or null with --all-services. */
  service: string | null
  environments: EnvRecord[]
  /** Per configured cluster: read or not, and why not. */
  clusters: ClusterListing[]
  /** The same lines as the envelope's warnings (clusters that could not be read). */
  warnings: string[]
}

export default class EnvList extends BaseCommand<typeof EnvList> {
  static override summary = 'List preview environments, read from the labels on every configured cluster.'
  static override description = `Reads the namespaces idp labelled (app.kubernetes.io/managed-by=idp) on every cluster of .idp.yml, concurrently, with one list call per cluster, so it shows the same from any machine. By default only environments of this repository's service; --all-services shows every idp environment on those clusters.

A cluster that cannot be reached is a warning and the others are still listed; when none can be read the command fails (exit 6, or 4 when a kube context is missing). Your kubeconfig and current context are only read, never changed.`

  static override examples = [
    {description: "This service's environments", command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Every idp environment on the configured clusters', command: '<%= config.bin %> <%= command.id %> --all-services'},
    {description: 'Only cluster dev, as JSON for scripts', command: '<%= config.bin %> <%= command.id %> --cluster dev --json'},
    {description: 'Names of expired environments with jq', command: "<%= config.bin %> <%= command.id %> --json | jq -r '.result.environments[] | select(.expired) | .env'"},
  ]

  static override flags = {
    'all-services': Flags.boolean({description: 'List the idp environments of every service, not only this repository\'s.', env: 'IDP_ALL_SERVICES'}),
    cluster: Flags.string({char: 'c', description: 'Only this cluster alias from .idp.yml.', env: 'IDP_CLUSTER'}),
  }

  async execute(): Promise<EnvListResult> {
    const [{loadConfig}, {stateDir}, {configuredClusters}, {listEnvironments}] = await Promise.all([
      import('../../lib/config/load.js'),
      import('../../lib/cli/paths.js'),
      import('../../lib/env/cluster.js'),
      import('../../lib/env/list.js'),
    ])
    const loaded = await loadConfig({dir: this.dir, required: true})
    const targets = configuredClusters(loaded, this.flags.cluster)
    const service = this.flags['all-services'] ? undefined : loaded.config.service.name
    const listing = await listEnvironments({clusters: targets, stateDir: stateDir(), service, signal: this.signal})
    for (const warning of listing.warnings) this.out.warn(warning)
    return {service: service ?? null, environments: listing.environments, clusters: listing.clusters, warnings: listing.warnings}
  }

  protected override human(result: EnvListResult): string {
    const scope = result.service ? `service ${result.service}` : 'any service'
    const read = result.clusters.filter((c) => c.ok).map((c) => c.cluster)
    if (result.environments.length === 0) return `No environments of ${scope} on cluster${read.length === 1 ? '' : 's'} ${read.join(', ') || '(none configured)'}.`
    return renderEnvTable(result.environments)
  }
}

import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {EnvListResult} from '../../lib/env/list.js'

export default class EnvList extends BaseCommand<typeof EnvList, EnvListResult> {
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
    'all-services': Flags.boolean({description: 'List the idp environments of every service, not only this repository\'s.', env: 'IDP_ALL_SERVICES', allowNo: true}),
    cluster: Flags.string({char: 'c', description: 'Only this cluster alias from .idp.yml.', env: 'IDP_CLUSTER'}),
  }

  async execute(): Promise<Served<EnvListResult>> {
    const {envList, renderEnvList} = await import('../../lib/env/list.js')
    return this.serve(envList, renderEnvList, {dir: this.dir, allServices: this.flags['all-services'], cluster: this.flags.cluster})
  }
}

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {EnvStatusResult} from '../../lib/env/status.js'

export default class EnvStatus extends BaseCommand<typeof EnvStatus, EnvStatusResult> {
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

  async execute(): Promise<Served<EnvStatusResult>> {
    const {envStatus, renderEnvStatus} = await import('../../lib/env/status.js')
    return this.serve(envStatus, renderEnvStatus, {dir: this.dir, env: this.args.env, cluster: this.flags.cluster})
  }
}

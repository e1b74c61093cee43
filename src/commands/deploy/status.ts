import * as Args from '@oclif/core/args'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {DeployStatusResult} from '../../lib/deploy/status.js'

export default class DeployStatus extends BaseCommand<typeof DeployStatus, DeployStatusResult> {
  static override summary = 'Show what runs in an environment and whether it is healthy: revision, image, sync and health, the last operation, what is not healthy and why.'
  static override description = `Argo CD (deploy.strategy argocd): reads the Application <service>-<env> (argocd app get -o json, through ARGOCD_SERVER or --core with idp's private kubeconfig): the git revision synced, the image tag, sync and health, whether automated sync is on, the last operation and its message, and each resource that is not Healthy or not Synced with its message.

Helm (deploy.strategy helm): the release's last revision (helm history -o json: status, chart, app version, when, its description) and its Deployments, ready/desired, with the conditions and pod states of those not ready.

Changes nothing. Exit 0 whatever the health (see "healthy" in --json); 4 when nothing has been deployed there yet or the cluster is unreachable.`

  static override examples = [
    {description: 'The status of staging', command: '<%= config.bin %> <%= command.id %> staging'},
    {description: 'As JSON, e.g. to check health in CI', command: "<%= config.bin %> <%= command.id %> production --json | jq '.result.healthy'"},
  ]

  static override args = {
    env: Args.string({description: 'Environment (a DNS label configured in .idp.yml, e.g. staging).'}),
  }

  async execute(): Promise<Served<DeployStatusResult>> {
    const {deployStatus, renderDeployStatus} = await import('../../lib/deploy/status.js')
    return this.serve(deployStatus, renderDeployStatus, {dir: this.dir, ...(this.args.env === undefined ? {} : {env: this.args.env})})
  }
}

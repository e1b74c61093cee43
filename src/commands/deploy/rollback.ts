import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, degradedGraceFlags, type Served} from '../../lib/cli/base-command.js'
import type {DeployRollbackResult} from '../../lib/deploy/rollback.js'

export default class DeployRollback extends BaseCommand<typeof DeployRollback, DeployRollbackResult> {
  static override summary = 'Roll an environment back to a previous revision (default: the one before the current) and wait until it is healthy.'
  static override description = `Argo CD: argocd app rollback <service>-<env> ID (the ID from idp deploy history), then waits up to --timeout for the Application to be healthy. Argo CD refuses a rollback while the Application's automated sync is on: idp checks that first and, if so, changes nothing and prints the argocd app set command that turns it off. After a rollback the Application is OutOfSync with git until git holds the version you want.

Helm: helm rollback <release> REVISION --wait --timeout, holding the environment's lock like idp deploy.

Protected environments need --yes (or a confirmation in a terminal), as for idp deploy.`

  static override examples = [
    {description: 'Back to the previous revision', command: '<%= config.bin %> <%= command.id %> staging'},
    {description: 'Back to a given history ID / helm revision, from CI', command: '<%= config.bin %> <%= command.id %> production --to 4 --yes --json'},
    {description: 'Show which revision it would go back to and the exact commands, change nothing', command: '<%= config.bin %> <%= command.id %> staging --dry-run'},
  ]

  static override args = {
    env: Args.string({description: 'Environment (a DNS label configured in .idp.yml, e.g. staging).'}),
  }

  static override flags = {
    ...changeFlags,
    to: Flags.string({description: 'The ID (Argo CD) or REVISION (helm) from idp deploy history to go back to (default: the one before the current).'}),
    timeout: Flags.string({description: 'How long to wait for the rollback to be healthy, e.g. 10m.', env: 'IDP_TIMEOUT', default: '10m'}),
    ...degradedGraceFlags,
  }

  async execute(): Promise<Served<DeployRollbackResult>> {
    const {deployRollback, renderDeployRollback} = await import('../../lib/deploy/rollback.js')
    const {flags} = this
    return this.serve(deployRollback, renderDeployRollback, {
      dir: this.dir,
      ...(this.args.env === undefined ? {} : {env: this.args.env}),
      ...(flags.to === undefined ? {} : {to: flags.to}),
      timeout: flags.timeout,
      degradedGrace: flags['degraded-grace'],
      dryRun: flags['dry-run'],
      keepOnFailure: flags['keep-on-failure'],
      yes: flags.yes,
    })
  }
}

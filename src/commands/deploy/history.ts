import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {DeployHistoryResult} from '../../lib/deploy/history.js'

export default class DeployHistory extends BaseCommand<typeof DeployHistory, DeployHistoryResult> {
  static override summary = 'List the revisions deployed to an environment, newest first, with when, which revision and which image.'
  static override description = `Argo CD: the Application's deployment history (status.history, what argocd app history shows): each entry's ID, when it was deployed, the git revision and the image tag. Helm: helm history (revision, when, status, chart, description) and each revision's image from its values.

The first column is what idp deploy rollback --to takes. Changes nothing.`

  static override examples = [
    {description: 'The history of staging', command: '<%= config.bin %> <%= command.id %> staging'},
    {description: 'The last 3 revisions as JSON', command: '<%= config.bin %> <%= command.id %> production --max 3 --json'},
  ]

  static override args = {
    env: Args.string({description: 'Environment (a DNS label configured in .idp.yml, e.g. staging).'}),
  }

  static override flags = {
    max: Flags.integer({description: 'Show at most this many revisions.', default: 10, min: 1}),
  }

  async execute(): Promise<Served<DeployHistoryResult>> {
    const {deployHistory, renderDeployHistory} = await import('../../lib/deploy/history.js')
    return this.serve(deployHistory, renderDeployHistory, {dir: this.dir, ...(this.args.env === undefined ? {} : {env: this.args.env}), max: this.flags.max})
  }
}

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, type Served} from '../../lib/cli/base-command.js'
import type {EnvDownResult} from '../../lib/env/down.js'

export default class EnvDown extends BaseCommand<typeof EnvDown, EnvDownResult> {
  static override summary = 'Tear down an environment that `idp env up` created.'
  static override description = `Reverses \`idp env up\`: helm uninstall (namespace driver) or vcluster delete (vcluster driver), terraform destroy and workspace delete, then the namespace. Only a namespace labelled app.kubernetes.io/managed-by=idp for this service and environment is touched; anything else is left alone with a warning. Succeeds when the environment is already gone, so it is safe to run twice.`

  static override examples = [
    {description: 'Tear down the preview environment of pull request 42', command: '<%= config.bin %> <%= command.id %> pr-42'},
    {description: 'Show what would be removed', command: '<%= config.bin %> <%= command.id %> pr-42 --dry-run'},
    {description: 'In CI when the pull request closes', command: '<%= config.bin %> <%= command.id %> --pr "$PR" --json'},
  ]

  static override args = {
    env: Args.string({description: 'Environment name; default pr-N from --pr.', required: false}),
  }

  static override flags = {
    ...changeFlags,
    pr: Flags.string({description: 'Pull request number: ENV defaults to pr-N and the sticky PR comment is updated (with GITHUB_TOKEN).', env: 'IDP_PR'}),
    timeout: Flags.string({description: 'Limit for each teardown step.', env: 'IDP_TIMEOUT', default: '10m'}),
  }

  async execute(): Promise<Served<EnvDownResult>> {
    const {envDown, renderEnvDown} = await import('../../lib/env/down.js')
    const {flags} = this
    return this.serve(envDown, renderEnvDown, {dir: this.dir, env: this.args.env, pr: flags.pr, timeout: flags.timeout, dryRun: flags['dry-run'], keepOnFailure: flags['keep-on-failure']})
  }
}

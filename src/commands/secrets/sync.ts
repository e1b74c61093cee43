import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, type Served} from '../../lib/cli/base-command.js'
import type {SecretsSyncResult} from '../../lib/secrets/sync.js'

export default class SecretsSync extends BaseCommand<typeof SecretsSync, SecretsSyncResult> {
  static override summary = 'Write an environment\'s Secrets from Vault again, without a helm upgrade (rotation).'
  static override description = `Reads every Vault path secrets.env maps for the environment before any change, then server-side applies the Secrets that differ (and removes idp's Secrets no mapping names any more), under the environment's lock. Pods read Secrets as environment variables when they start: --restart restarts the Deployments whose pods read a changed Secret, as \`kubectl rollout restart\` does (the pod template annotation kubectl.kubernetes.io/restartedAt).

--dry-run reads Vault and the cluster and shows which keys would change and which Deployments would restart; values are never shown. Auth and settings: docs/secrets.md.`

  static override examples = [
    {description: 'Rotate: write the new values of pr-42\'s Secrets and restart what reads them', command: '<%= config.bin %> <%= command.id %> pr-42 --restart'},
    {description: 'Show what would be written and restarted', command: '<%= config.bin %> <%= command.id %> pr-42 --restart --dry-run'},
    {description: 'In CI, with Vault\'s JWT login (secrets.vault.auth.method: jwt)', command: '<%= config.bin %> <%= command.id %> --pr "$PR" --restart --json'},
  ]

  static override args = {
    env: Args.string({description: 'Environment name; default pr-N from --pr.', required: false}),
  }

  static override flags = {
    ...changeFlags,
    pr: Flags.string({description: 'Pull request number: ENV defaults to pr-N.', env: 'IDP_PR'}),
    restart: Flags.boolean({description: 'Restart the Deployments whose pods read a changed Secret (kubectl rollout restart).'}),
  }

  async execute(): Promise<Served<SecretsSyncResult>> {
    const {secretsSync, renderSecretsSync} = await import('../../lib/secrets/sync.js')
    const {flags} = this
    return this.serve(secretsSync, renderSecretsSync, {dir: this.dir, env: this.args.env, pr: flags.pr, restart: flags.restart, dryRun: flags['dry-run'], keepOnFailure: flags['keep-on-failure']})
  }
}

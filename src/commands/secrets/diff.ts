import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {SecretsDiffResult} from '../../lib/secrets/sync.js'

export default class SecretsDiff extends BaseCommand<typeof SecretsDiff, SecretsDiffResult> {
  static override summary = 'Show which keys of an environment\'s Secrets differ from Vault (never the values).'
  static override description = `Reads the Vault paths secrets.env maps for the environment (.idp.yml) and the Secrets idp wrote into it, and lists per Secret the keys that would be added, removed or changed, and Secrets missing in the cluster or no longer mapped. Values are compared in memory and never printed, in --json neither. Changes nothing.

Exits 6 when Vault refuses (missing path or key, no permission, expired token), 4 when the environment is not up or no Vault token is found. Auth and settings: docs/secrets.md.`

  static override examples = [
    {description: 'What would change in the preview environment of pull request 42', command: '<%= config.bin %> <%= command.id %> pr-42'},
    {description: 'As JSON: the keys per Secret', command: "<%= config.bin %> <%= command.id %> pr-42 --json | jq '.result.changes'"},
  ]

  static override args = {
    env: Args.string({description: 'Environment name; default pr-N from --pr.', required: false}),
  }

  static override flags = {
    pr: Flags.string({description: 'Pull request number: ENV defaults to pr-N.', env: 'IDP_PR'}),
  }

  async execute(): Promise<Served<SecretsDiffResult>> {
    const {secretsDiff, renderSecretsDiff} = await import('../../lib/secrets/sync.js')
    return this.serve(secretsDiff, renderSecretsDiff, {dir: this.dir, env: this.args.env, pr: this.flags.pr})
  }
}

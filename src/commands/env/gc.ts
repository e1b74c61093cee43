import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, type Served} from '../../lib/cli/base-command.js'
import type {EnvGcResult} from '../../lib/env/gc.js'

export default class EnvGc extends BaseCommand<typeof EnvGc, EnvGcResult> {
  static override summary = 'Remove environments past their expires-at (or older than --older-than), on every configured cluster.'
  static override description = `Finds idp environments whose idp.dev/expires-at has passed (set from the environment's ttl by \`idp env up\`) on every cluster of .idp.yml and tears each down with the same plan as \`idp env down\`. By default only this repository's service; --all-services includes every service's environments on those clusters (their namespaces, and the vclusters and helm releases inside, are removed; their terraform is not, since that lives in their repositories).

Safe for a scheduled CI job: only namespaces labelled app.kubernetes.io/managed-by=idp are considered, each is read again right before removal while its lock is held (one renewed since the listing is kept), environments marked protected: true in .idp.yml are never removed, and one failure does not stop the others (up to --concurrency environments are removed at once, 4 by default): the command exits non-zero at the end (the exit code of the first failure) with a summary. On a terminal it asks before removing anything unless --yes; without a terminal, removing needs --yes.`

  static override examples = [
    {description: 'Show what would be removed, and why', command: '<%= config.bin %> <%= command.id %> --dry-run'},
    {description: 'Remove expired environments of this service (scheduled CI job)', command: '<%= config.bin %> <%= command.id %> --yes --json'},
    {description: 'Remove every environment created more than two days ago, any service', command: '<%= config.bin %> <%= command.id %> --older-than 2d --all-services'},
    {description: 'One environment at a time (each step\'s progress in order)', command: '<%= config.bin %> <%= command.id %> --yes --concurrency 1'},
  ]

  static override flags = {
    ...changeFlags,
    'older-than': Flags.string({description: 'Select environments created longer ago than this duration (e.g. 24h, 7d) instead of those past their expires-at.', env: 'IDP_OLDER_THAN'}),
    'all-services': Flags.boolean({description: 'Include the idp environments of every service on the configured clusters, not only this repository\'s.', env: 'IDP_ALL_SERVICES', allowNo: true}),
    cluster: Flags.string({char: 'c', description: 'Only this cluster alias from .idp.yml.', env: 'IDP_CLUSTER'}),
    timeout: Flags.string({description: 'Limit for each teardown step.', env: 'IDP_TIMEOUT', default: '10m'}),
    concurrency: Flags.integer({description: 'How many environments to remove at once (1 to 16).', default: 4, min: 1, max: 16}),
  }

  async execute(): Promise<Served<EnvGcResult>> {
    const {envGc, renderEnvGc} = await import('../../lib/env/gc.js')
    const {flags} = this
    return this.serve(envGc, renderEnvGc, {
      dir: this.dir,
      olderThan: flags['older-than'],
      allServices: flags['all-services'],
      cluster: flags.cluster,
      timeout: flags.timeout,
      dryRun: flags['dry-run'],
      keepOnFailure: flags['keep-on-failure'],
      yes: flags.yes,
      concurrency: flags.concurrency,
    })
  }
}

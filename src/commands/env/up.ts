import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, imageCheckFlags, type Served} from '../../lib/cli/base-command.js'
import type {EnvUpResult} from '../../lib/env/up.js'

export default class EnvUp extends BaseCommand<typeof EnvUp, EnvUpResult> {
  static override summary = 'Bring up (or update) an ephemeral preview environment.'
  static override description = `Runs one plan (see --dry-run): preflight (tools, the image in its registry, cluster reachable, name), a lock (a Lease on the host cluster, so two runs of one environment never overlap), the namespace with idp's labels and annotations (owner, expiry, commit, PR), then at the same time the vcluster (driver vcluster) or a namespace-scoped kubeconfig (driver namespace) and Terraform (init in the environment's workspace, then one apply, whose outputs become helm values), then helm upgrade --install with --wait and rollback on failure.

Settings come from the environments entry of .idp.yml that matches ENV (an exact name or a pattern such as pr-*). ENV defaults to pr-N with --pr N, else the git branch. Running up again updates in place; after a failure, running it again picks up from what the cluster holds (every step is safe to repeat). On failure or Ctrl-C, completed steps are undone (or kept with --keep-on-failure, with the commands to clean up). ~/.kube/config and the current context are never changed: idp uses private kubeconfigs under its state directory.`

  static override examples = [
    {description: 'Preview environment for pull request 42 with a given image tag', command: '<%= config.bin %> <%= command.id %> --pr 42 --image-tag sha-1a2b3c4'},
    {description: 'A preview named after the current branch (when a pattern such as feature-* matches it), kept for 8 hours', command: '<%= config.bin %> <%= command.id %> --ttl 8h'},
    {description: 'Show every step with its exact command line, change nothing', command: '<%= config.bin %> <%= command.id %> pr-42 --dry-run'},
    {description: 'The cluster pulls from a registry this machine cannot reach: do not check that the image exists', command: '<%= config.bin %> <%= command.id %> pr-42 --image-tag v1.4.2 --skip-image-check'},
    {description: 'In CI: JSON result with the URL and kubeconfig path', command: '<%= config.bin %> <%= command.id %> --pr "$PR" --sha "$GITHUB_SHA" --json'},
  ]

  static override args = {
    env: Args.string({description: 'Preview environment name (a DNS label matching a pattern of .idp.yml, e.g. pr-*); default pr-N from --pr, else the git branch.', required: false}),
  }

  static override flags = {
    ...changeFlags,
    ...imageCheckFlags,
    pr: Flags.string({description: 'Pull request number: ENV defaults to pr-N, the namespace gets the label, and a sticky PR comment is kept (with GITHUB_TOKEN).', env: 'IDP_PR'}),
    sha: Flags.string({description: 'Git commit being deployed (default: GITHUB_SHA, else git rev-parse HEAD).', env: 'IDP_SHA'}),
    'image-tag': Flags.string({description: 'Image tag passed to helm as image.tag (default: image.tag of .idp.yml, which defaults to the commit).', env: 'IDP_IMAGE_TAG'}),
    ttl: Flags.string({description: 'Time to live, e.g. 8h or 3d (default: the environment\'s ttl); sets the expires-at annotation `idp env gc` reads.', env: 'IDP_TTL'}),
    timeout: Flags.string({description: 'How long helm waits for the release to be ready (and the limit for other steps).', env: 'IDP_TIMEOUT', default: '10m'}),
  }

  async execute(): Promise<Served<EnvUpResult>> {
    const {envUp, renderEnvUp} = await import('../../lib/env/up.js')
    const {flags} = this
    return this.serve(envUp, renderEnvUp, {
      dir: this.dir,
      env: this.args.env,
      pr: flags.pr,
      sha: flags.sha,
      imageTag: flags['image-tag'],
      ttl: flags.ttl,
      timeout: flags.timeout,
      dryRun: flags['dry-run'],
      keepOnFailure: flags['keep-on-failure'],
      skipImageCheck: flags['skip-image-check'],
    })
  }
}

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, degradedGraceFlags, imageCheckFlags, type Served} from '../lib/cli/base-command.js'
import type {DeployResult} from '../lib/deploy/deploy.js'

export default class Deploy extends BaseCommand<typeof Deploy, DeployResult> {
  static override summary = 'Deploy the service to an environment through Argo CD or helm, and wait until it is healthy.'
  static override description = `Before anything changes, idp asks the image's registry whether image.repository of .idp.yml with the tag exists (exit 4 when it does not; --skip-image-check for registries this machine cannot reach). Then it runs one plan (see --dry-run). With deploy.strategy argocd: argocd app create --upsert (the Application <service>-<env> in Argo CD's namespace, pointing at deploy.argocd.repoURL/path at the revision, with the environment's values files and image.tag), argocd app sync, then waits up to --timeout until the sync has run and the Application is Synced and Healthy (reading it first, so one that is already healthy returns at once; a Degraded lasting less than --degraded-grace is taken for part of the rollout). With deploy.strategy helm: helm upgrade --install with --wait and rollback on failure (--rollback-on-failure on helm 4, --atomic on helm 3).

Argo CD is reached through its API server when ARGOCD_SERVER is set (token from ARGOCD_AUTH_TOKEN, which argocd reads itself and idp never puts in argv); otherwise with argocd --core, straight to the environment's cluster through idp's private kubeconfig. deploy.argocd.server is the destination cluster as Argo CD knows it.

A failed deploy is not undone: helm rolls its release back, and the Application keeps its history; the error says what was not healthy and how to roll back. See also idp deploy status, history and rollback (an environment named status, history or rollback is deployed with idp deploy -- NAME). Protected environments need --yes (or a confirmation in a terminal). ~/.kube/config and the current context are never changed.`

  static override examples = [
    {description: 'Deploy to staging, waiting up to 10 minutes for health', command: '<%= config.bin %> <%= command.id %> staging'},
    {description: 'Deploy a given image tag and git revision to production (protected) from CI', command: '<%= config.bin %> <%= command.id %> production --image-tag v1.4.2 --revision v1.4.2 --yes --json'},
    {description: 'Show the exact argocd or helm command lines, change nothing', command: '<%= config.bin %> <%= command.id %> staging --dry-run'},
    {description: 'The cluster pulls from a registry this machine cannot reach: do not check that the image exists', command: '<%= config.bin %> <%= command.id %> staging --image-tag v1.4.2 --skip-image-check'},
    {description: 'Through an Argo CD API server', command: 'ARGOCD_SERVER=argocd.example.com ARGOCD_AUTH_TOKEN=... <%= config.bin %> <%= command.id %> staging --timeout 15m'},
  ]

  static override args = {
    env: Args.string({description: 'Environment to deploy to (a DNS label configured in .idp.yml, e.g. staging).', required: true}),
  }

  static override flags = {
    ...changeFlags,
    ...imageCheckFlags,
    revision: Flags.string({description: 'Git revision Argo CD syncs (default: deploy.argocd.targetRevision, which defaults to HEAD). Argo CD strategy only.', env: 'IDP_REVISION'}),
    'image-tag': Flags.string({description: 'Image tag passed as image.tag (default: image.tag of .idp.yml, which defaults to the commit).', env: 'IDP_IMAGE_TAG'}),
    timeout: Flags.string({description: 'How long to wait for the deployment to be synced and healthy, e.g. 10m.', env: 'IDP_TIMEOUT', default: '10m'}),
    ...degradedGraceFlags,
  }

  async execute(): Promise<Served<DeployResult>> {
    const {deploy, renderDeploy} = await import('../lib/deploy/deploy.js')
    const {flags} = this
    return this.serve(deploy, renderDeploy, {dir: this.dir, env: this.args.env, revision: flags.revision, imageTag: flags['image-tag'], timeout: flags.timeout, degradedGrace: flags['degraded-grace'], dryRun: flags['dry-run'], keepOnFailure: flags['keep-on-failure'], yes: flags.yes, skipImageCheck: flags['skip-image-check']})
  }
}

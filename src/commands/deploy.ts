import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, isCi} from '../lib/cli/base-command.js'
import type {DeployMetadata} from '../lib/deploy/plan.js'
import type {JsonPlan} from '../lib/plan/format.js'
import type {StepRecord} from '../lib/plan/types.js'

export interface DeployResult {
  env: string
  service: string
  strategy: 'argocd' | 'helm'
  cluster: string
  namespace: string
  /** argocd: the Application name. */
  app?: string
  appNamespace?: string
  /** helm: the release name. */
  release?: string
  /** argocd: the git revision synced (or requested, on a dry run); helm: the release revision number. */
  revision?: string
  imageTag?: string
  /** argocd: Healthy, Progressing, Degraded, ...; helm: the release status (deployed). */
  health?: string
  /** argocd: Synced or OutOfSync. */
  sync?: string
  rollback: string
  /** argocd: this run created the Application (false: it updated idp's existing one). */
  created?: boolean
  dryRun: boolean
  plan: JsonPlan
  steps?: StepRecord[]
}

export default class Deploy extends BaseCommand<typeof Deploy> {
  static override summary = 'Deploy the service to an environment through Argo CD or helm, and wait until it is healthy.'
  static override description = `Runs one plan (see --dry-run). With deploy.strategy argocd: argocd app create --upsert (the Application <service>-<env> in Argo CD's namespace, pointing at deploy.argocd.repoURL/path at the revision, with the environment's values files and image.tag), argocd app sync, then argocd app wait --sync --health --operation up to --timeout. With deploy.strategy helm: helm upgrade --install with --wait and rollback on failure (--rollback-on-failure on helm 4, --atomic on helm 3).

Argo CD is reached through its API server when ARGOCD_SERVER is set (token from ARGOCD_AUTH_TOKEN, which argocd reads itself and idp never puts in argv); otherwise with argocd --core, straight to the environment's cluster through idp's private kubeconfig. deploy.argocd.server is the destination cluster as Argo CD knows it.

A failed deploy is not undone: helm rolls its release back, and the Application keeps its history; the error says what was not healthy and how to roll back. Protected environments need --yes (or a confirmation in a terminal). ~/.kube/config and the current context are never changed.`

  static override examples = [
    {description: 'Deploy to staging, waiting up to 10 minutes for health', command: '<%= config.bin %> <%= command.id %> staging'},
    {description: 'Deploy a given image tag and git revision to production (protected) from CI', command: '<%= config.bin %> <%= command.id %> production --image-tag v1.4.2 --revision v1.4.2 --yes --json'},
    {description: 'Show the exact argocd or helm command lines, change nothing', command: '<%= config.bin %> <%= command.id %> staging --dry-run'},
    {description: 'Through an Argo CD API server', command: 'ARGOCD_SERVER=argocd.example.com ARGOCD_AUTH_TOKEN=... <%= config.bin %> <%= command.id %> staging --timeout 15m'},
  ]

  static override args = {
    env: Args.string({description: 'Environment to deploy to (a DNS label configured in .idp.yml, e.g. staging).', required: true}),
  }

  static override flags = {
    ...changeFlags,
    revision: Flags.string({description: 'Git revision Argo CD syncs (default: deploy.argocd.targetRevision, which defaults to HEAD). Argo CD strategy only.', env: 'IDP_REVISION'}),
    'image-tag': Flags.string({description: 'Image tag passed as image.tag (default: image.tag of .idp.yml, which defaults to the commit).', env: 'IDP_IMAGE_TAG'}),
    timeout: Flags.string({description: 'How long to wait for the deployment to be synced and healthy, e.g. 10m.', env: 'IDP_TIMEOUT', default: '10m'}),
  }

  private planText?: string

  async execute(): Promise<DeployResult> {
    const flags = this.flags
    const [{assertDnsLabel}, {parseDuration}, {UsageError, CancelledError}] = await Promise.all([import('../lib/cli/names.js'), import('../lib/config/duration.js'), import('../lib/cli/errors.js')])
    // Bad input fails before anything reads the world, let alone changes it.
    const name = assertDnsLabel(this.args.env, 'environment name')
    const timeoutMs = parseDuration(flags.timeout)
    if (flags.revision !== undefined && flags.revision.trim() === '') throw new UsageError('--revision is empty.', {hint: 'Pass a git branch, tag or commit, e.g. --revision v1.4.2.'})
    if (flags['image-tag'] !== undefined && !/^[\w][\w.-]{0,127}$/u.test(flags['image-tag'])) {
      throw new UsageError(`Invalid image tag "${flags['image-tag']}".`, {hint: 'An image tag is letters, digits, "_", "." and "-", at most 128 characters, e.g. --image-tag v1.4.2.'})
    }

    const [{loadConfig}, {resolveEnvironment}, {expandTemplate}, {createToolRunner}, {stateDir}, context, deployContext, {deployPaths, planDeploy, seconds}, {envStatePaths}, {planForJson, formatPlan}] = await Promise.all([
      import('../lib/config/load.js'),
      import('../lib/config/environments.js'),
      import('../lib/config/template.js'),
      import('../lib/tools/runner.js'),
      import('../lib/cli/paths.js'),
      import('../lib/env/context.js'),
      import('../lib/deploy/context.js'),
      import('../lib/deploy/plan.js'),
      import('../lib/env/paths.js'),
      import('../lib/plan/format.js'),
    ])
    const loaded = await loadConfig({dir: this.dir, required: true})
    const {config} = loaded
    const runner = createToolRunner({logger: (line) => this.out.debug(line)})
    const git = await context.gitFacts(runner, this.dir)
    const env = resolveEnvironment(config, name, {root: loaded.root, vars: context.templateVars({sha: git.sha, branch: git.branch})})
    const settings = deployContext.deploySettings(config, env)

    if (env.protected && !flags.yes && !flags['dry-run']) {
      if (!this.interactive) {
        throw new UsageError(`Environment ${name} is protected: deploying to it needs confirmation.`, {hint: `Pass --yes (or set IDP_YES=true) to deploy to ${name} without a prompt.`})
      }
      const {confirm} = await import('@inquirer/prompts')
      const ok = await confirm({message: `Deploy ${env.service} to protected environment ${name} (namespace ${env.namespace} on ${env.cluster.alias})?`, default: false}, {output: process.stderr})
      if (!ok) throw new CancelledError(`Deploy to ${name} cancelled: not confirmed.`, {hint: 'Nothing was changed.'})
    }

    const imageTag = flags['image-tag'] ?? (config.image ? expandTemplate(config.image.tag, {...env.vars}, 'image.tag') : undefined)
    const revision = settings.argocd ? (flags.revision ?? expandTemplate(settings.argocd.targetRevision, {...env.vars}, 'deploy.argocd.targetRevision')) : undefined
    if (flags.revision !== undefined && !settings.argocd) this.out.warn('--revision applies to Argo CD deploys only; helm deploys the chart in the working tree.')
    const tools = await context.checkTools(runner, [settings.strategy === 'argocd' ? 'argocd' : 'helm'], {required: !flags['dry-run']})
    for (const problem of tools.problems) this.out.warn(`${problem} (a real run stops here)`)

    const state = stateDir()
    const envPaths = envStatePaths(state, env.service, env.name, env.cluster.alias)
    const plan = planDeploy(
      {env, strategy: settings.strategy, ...(settings.argocd ? {argocd: settings.argocd} : {}), ...(revision ? {revision} : {}), ...(imageTag ? {imageTag} : {}), timeoutMs, root: loaded.root},
      {helmMajor: tools.helmMajor, argocd: deployContext.argocdConnection(), paths: deployPaths(envPaths.dir, envPaths.hostKubeconfig), tools: tools.tools, holder: context.lockHolder(git.owner)},
    )
    const about = plan.metadata as unknown as DeployMetadata
    const base = {
      env: about.env,
      service: about.service,
      strategy: about.strategy,
      cluster: about.cluster,
      namespace: about.namespace,
      ...(about.app ? {app: about.app, appNamespace: about.appNamespace} : {}),
      ...(about.release ? {release: about.release} : {}),
      ...(about.imageTag ? {imageTag: about.imageTag} : {}),
      rollback: about.rollback,
    }
    if (flags['dry-run']) {
      this.planText = formatPlan(plan)
      return {...base, ...(about.targetRevision ? {revision: about.targetRevision} : {}), dryRun: true, plan: planForJson(plan)}
    }

    const [{applyPlan, chooseRenderer}, {createEnvHandlers, createEvidenceSampler, withHelmEvidence}, {withDeployOutcome}, {createDeployHandlers}] = await Promise.all([
      import('../lib/plan/apply.js'),
      import('../lib/env/handlers.js'),
      import('../lib/deploy/outcome.js'),
      import('../lib/deploy/handlers.js'),
    ])
    const sampler = settings.strategy === 'helm' ? createEvidenceSampler({kubeconfig: envPaths.hostKubeconfig, namespace: env.namespace}) : undefined
    const deployRunner = withDeployOutcome(sampler ? withHelmEvidence(runner, sampler) : runner, {
      ...(about.app ? {name: about.app} : {}),
      ...(about.appGetArgv ? {appGetArgv: about.appGetArgv} : {}),
      ...(about.strategy === 'argocd' && about.kubeconfig ? {kubeconfig: about.kubeconfig} : {}),
      timeoutSeconds: seconds(timeoutMs),
      rollback: about.rollback,
    })
    try {
      const result = await applyPlan(plan, {
        runner: deployRunner,
        handlers: {...createEnvHandlers({runner}), ...createDeployHandlers({runner})},
        signal: this.signal,
        renderer: chooseRenderer({json: this.flags.json, isTTY: Boolean(process.stderr.isTTY), ci: isCi(), columns: process.stderr.columns}),
        keepOnFailure: flags['keep-on-failure'],
        journal: {dir: envPaths.dir, key: 'deploy'},
        collectEvidence: async (step) => {
          if (step.id === 'helm' && sampler) return sampler.evidence()
          if (step.id === 'wait') return deployRunner.evidence()
          return undefined
        },
        verbose: this.flags.verbose,
      })
      for (const warning of result.warnings ?? []) this.out.warn(warning)
      const deployed = deployRunner.deployed()
      const revision = deployed.revision ?? about.targetRevision
      const check = result.steps.find((s) => s.id === 'check')?.result as {exists?: boolean} | undefined
      return {...base, ...(check ? {created: !check.exists} : {}), ...(revision ? {revision} : {}), ...(deployed.health ? {health: deployed.health} : {}), ...(deployed.sync ? {sync: deployed.sync} : {}), dryRun: false, plan: planForJson(plan), steps: result.steps}
    } finally {
      await sampler?.stop()
    }
  }

  protected override human(result: DeployResult): string {
    if (result.dryRun) return `${this.planText ?? ''}\n\nDry run: nothing was changed.`
    const what = result.strategy === 'argocd' ? `Application ${result.appNamespace}/${result.app}` : `helm release ${result.release}`
    const lines = [`✓ Deployed ${result.service} to ${result.env} (${what}${result.created ? ', created' : ''} → namespace ${result.namespace} on ${result.cluster})`]
    if (result.revision) lines.push(`  Revision:  ${result.revision}`)
    if (result.imageTag) lines.push(`  Image tag: ${result.imageTag}`)
    lines.push(`  Health:    ${result.health ?? 'unknown'}${result.sync ? ` (${result.sync})` : ''}`)
    lines.push(`  Roll back: ${result.rollback}`)
    return lines.join('\n')
  }
}

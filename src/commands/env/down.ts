import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, isCi} from '../../lib/cli/base-command.js'
import type {JsonPlan} from '../../lib/plan/format.js'
import type {StepRecord} from '../../lib/plan/types.js'

export interface EnvDownResult {
  env: string
  service: string
  namespace: string
  cluster: string
  /** ours: torn down; absent: already gone; foreign: a namespace idp does not own, left alone. */
  found: 'ours' | 'absent' | 'foreign' | 'unknown'
  alreadyGone: boolean
  dryRun: boolean
  plan: JsonPlan
  steps?: StepRecord[]
}

export default class EnvDown extends BaseCommand<typeof EnvDown> {
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

  private planText?: string

  async execute(): Promise<EnvDownResult> {
    const flags = this.flags
    const [{assertDnsLabel}, context, {parseDuration}, {UsageError}] = await Promise.all([
      import('../../lib/cli/names.js'),
      import('../../lib/env/context.js'),
      import('../../lib/config/duration.js'),
      import('../../lib/cli/errors.js'),
    ])
    if (this.args.env !== undefined) assertDnsLabel(this.args.env, 'environment name')
    const pr = context.parsePr(flags.pr)
    if (this.args.env === undefined && pr === undefined) throw new UsageError('Missing environment name.', {hint: 'Pass ENV (e.g. `idp env down pr-42`) or --pr N.'})
    const timeoutMs = parseDuration(flags.timeout)

    const [{loadConfig}, {resolveEnvironment}, {createToolRunner}, {stateDir}, {planEnvDown}, {envStatePaths}, {planForJson, formatPlan}, {prCommentPoster}] = await Promise.all([
      import('../../lib/config/load.js'),
      import('../../lib/config/environments.js'),
      import('../../lib/tools/runner.js'),
      import('../../lib/cli/paths.js'),
      import('../../lib/env/plan-down.js'),
      import('../../lib/env/paths.js'),
      import('../../lib/plan/format.js'),
      import('../../lib/env/handlers.js'),
    ])
    const loaded = await loadConfig({dir: this.dir, required: true})
    const {config} = loaded
    const name = context.defaultEnvName({env: this.args.env, pr})
    // Templates in the settings may use {{sha}}/{{branch}}; down must work from any checkout, so fill them loosely.
    const runner = createToolRunner({logger: (line) => this.out.debug(line)})
    const git = await context.gitFacts(runner, this.dir)
    const env = resolveEnvironment(config, name, {root: loaded.root, vars: context.templateVars({pr, sha: git.sha ?? 'unknown', branch: git.branch ?? 'unknown'})})
    if (env.protected) throw new UsageError(`Environment ${name} is protected; idp env down refuses it.`, {hint: 'Remove `protected: true` from .idp.yml first if you really mean to tear it down.'})

    const state = stateDir()
    const paths = envStatePaths(state, env.service, env.name, env.cluster.alias)
    let found: EnvDownResult['found'] = 'unknown'
    let driver: 'vcluster' | 'namespace' | undefined
    if (!flags['dry-run']) {
      const host = await context.inspectHost(env, state)
      found = host.found
      driver = host.driver
      if (host.found === 'foreign') {
        this.out.warn(`Namespace ${env.namespace} is not labelled as idp's environment ${env.service}/${env.name} (app.kubernetes.io/managed-by=idp, idp.dev/service, idp.dev/env); nothing was deleted.`)
      }
    }
    const target = context.prTarget(config, pr)
    const poster = target ? await prCommentPoster(config) : undefined
    const prComment = poster ? target : undefined
    // A dry run does not look at the cluster: it shows the full teardown.
    const plan = planEnvDown({env, found: found === 'unknown' ? 'ours' : found, ...(driver ? {driver} : {}), timeoutMs, ...(prComment ? {prComment} : {})}, {holder: context.lockHolder(git.owner), paths})
    const base = {env: env.name, service: env.service, namespace: env.namespace, cluster: env.cluster.alias, found, alreadyGone: found === 'absent'}
    if (flags['dry-run']) {
      this.planText = formatPlan(plan)
      return {...base, dryRun: true, plan: planForJson(plan)}
    }
    const [{applyPlan, chooseRenderer}, {createEnvHandlers}] = await Promise.all([import('../../lib/plan/apply.js'), import('../../lib/env/handlers.js')])
    const result = await applyPlan(plan, {
      runner,
      handlers: createEnvHandlers({runner, github: poster, bin: this.config.bin}),
      signal: this.signal,
      renderer: chooseRenderer({json: this.flags.json, isTTY: Boolean(process.stderr.isTTY), ci: isCi(), columns: process.stderr.columns}),
      keepOnFailure: flags['keep-on-failure'],
      journal: {dir: paths.dir, key: 'journal-down'},
      verbose: this.flags.verbose,
    })
    for (const warning of result.warnings ?? []) this.out.warn(warning)
    return {...base, dryRun: false, plan: planForJson(plan), steps: result.steps}
  }

  protected override human(result: EnvDownResult): string {
    if (result.dryRun) return `${this.planText ?? ''}\n\nDry run: nothing was changed.`
    if (result.found === 'foreign') return `Nothing deleted: namespace ${result.namespace} on ${result.cluster} is not idp's environment ${result.service}/${result.env}.`
    if (result.found === 'absent') return `✓ Environment ${result.env} of ${result.service} is already gone (no namespace ${result.namespace} on ${result.cluster}); local files and leftovers cleaned up.`
    return `✓ Environment ${result.env} of ${result.service} torn down (namespace ${result.namespace} on ${result.cluster}).`
  }
}

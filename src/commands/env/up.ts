import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, changeFlags, isCi} from '../../lib/cli/base-command.js'
// Light modules every run needs are static imports: each `await import()` of its own is one more
// module for Node to resolve, read and link. Heavy ones (config validation, the executor, the
// Kubernetes client) stay behind `await import()`.
import {assertDnsLabel} from '../../lib/cli/names.js'
import {stateDir} from '../../lib/cli/paths.js'
import {parseDuration} from '../../lib/config/duration.js'
import {expandTemplate} from '../../lib/config/template.js'
import * as context from '../../lib/env/context.js'
import {envStatePaths} from '../../lib/env/paths.js'
import {type EnvUpMetadata, envReleaseNamespace, planEnvUp} from '../../lib/env/plan-up.js'
import {formatPlan, type JsonPlan, planForJson} from '../../lib/plan/format.js'
import type {StepRecord} from '../../lib/plan/types.js'
import {createToolRunner} from '../../lib/tools/runner.js'

export interface EnvUpResult {
  env: string
  service: string
  namespace: string
  cluster: string
  driver: string
  url?: string
  kubeconfig: string
  expiresAt?: string
  /** The environment existed and was updated in place. */
  updated: boolean
  teardown: string
  dryRun: boolean
  plan: JsonPlan
  steps?: StepRecord[]
  prComment?: string
}

export default class EnvUp extends BaseCommand<typeof EnvUp> {
  static override summary = 'Bring up (or update) an ephemeral preview environment.'
  static override description = `Runs one plan (see --dry-run): preflight (tools, cluster reachable, name), a lock (a Lease on the host cluster, so two runs of one environment never overlap), the namespace with idp's labels and annotations (owner, expiry, commit, PR), then at the same time the vcluster (driver vcluster) or a namespace-scoped kubeconfig (driver namespace) and Terraform (init in the environment's workspace, then one apply, whose outputs become helm values), then helm upgrade --install with --wait and rollback on failure.

Settings come from the environments entry of .idp.yml that matches ENV (an exact name or a pattern such as pr-*). ENV defaults to pr-N with --pr N, else the git branch. Running up again updates in place; after a failure it resumes. On failure or Ctrl-C, completed steps are undone (or kept with --keep-on-failure, with the commands to clean up). ~/.kube/config and the current context are never changed: idp uses private kubeconfigs under its state directory.`

  static override examples = [
    {description: 'Preview environment for pull request 42 with a given image tag', command: '<%= config.bin %> <%= command.id %> --pr 42 --image-tag sha-1a2b3c4'},
    {description: 'An environment named after the current branch, kept for 8 hours', command: '<%= config.bin %> <%= command.id %> --ttl 8h'},
    {description: 'Show every step with its exact command line, change nothing', command: '<%= config.bin %> <%= command.id %> pr-42 --dry-run'},
    {description: 'In CI: JSON result with the URL and kubeconfig path', command: '<%= config.bin %> <%= command.id %> --pr "$PR" --sha "$GITHUB_SHA" --json'},
  ]

  static override args = {
    env: Args.string({description: 'Environment name (a DNS label); default pr-N from --pr, else the git branch.', required: false}),
  }

  static override flags = {
    ...changeFlags,
    pr: Flags.string({description: 'Pull request number: ENV defaults to pr-N, the namespace gets the label, and a sticky PR comment is kept (with GITHUB_TOKEN).', env: 'IDP_PR'}),
    sha: Flags.string({description: 'Git commit being deployed (default: GITHUB_SHA, else git rev-parse HEAD).', env: 'IDP_SHA'}),
    'image-tag': Flags.string({description: 'Image tag passed to helm as image.tag (default: image.tag of .idp.yml, which defaults to the commit).', env: 'IDP_IMAGE_TAG'}),
    ttl: Flags.string({description: 'Time to live, e.g. 8h or 3d (default: the environment\'s ttl); sets the expires-at annotation `idp env gc` reads.', env: 'IDP_TTL'}),
    timeout: Flags.string({description: 'How long helm waits for the release to be ready (and the limit for other steps).', env: 'IDP_TIMEOUT', default: '10m'}),
  }

  private planText?: string

  async execute(): Promise<EnvUpResult> {
    const flags = this.flags
    // Bad input fails before anything reads the world, let alone changes it.
    if (this.args.env !== undefined) assertDnsLabel(this.args.env, 'environment name')
    const pr = context.parsePr(flags.pr)
    const ttlMs = flags.ttl === undefined ? undefined : parseDuration(flags.ttl)
    const timeoutMs = parseDuration(flags.timeout)

    const [{loadConfig}, {resolveEnvironment}] = await Promise.all([import('../../lib/config/load.js'), import('../../lib/config/environments.js')])
    const dryRun = flags['dry-run']
    // A real run needs the Kubernetes client and the executor: load them while tools and git answer.
    // The Kubernetes client too: its files are read while the config and git are looked at.
    const applyModules = dryRun
      ? undefined
      : Promise.all([import('../../lib/plan/apply.js'), import('../../lib/env/handlers.js'), import('../../lib/env/cluster.js'), import('../../lib/kube/client-node-loader.js').then((m) => m.loadClientNode())])
    applyModules?.catch(() => {})
    const loaded = await loadConfig({dir: this.dir, required: true})
    const {config} = loaded
    const runner = createToolRunner({logger: (line) => this.out.debug(line)})
    const git = await context.gitFacts(runner, this.dir, process.env, {sha: flags.sha})
    const name = context.defaultEnvName({env: this.args.env, pr, branch: git.branch})
    const sha = flags.sha ?? git.sha
    const vars = context.templateVars({pr, sha, branch: git.branch})
    const env = resolveEnvironment(config, name, {root: loaded.root, vars})
    if (env.protected) {
      const {UsageError} = await import('../../lib/cli/errors.js')
      throw new UsageError(`Environment ${name} is protected; \`idp env up\` manages ephemeral environments only.`, {hint: 'Deploy to protected environments with `idp deploy`.'})
    }
    const imageTag = flags['image-tag'] ?? (config.image ? expandTemplate(config.image.tag, {...env.vars}, 'image.tag') : undefined)
    if (env.driver === 'vcluster' && !env.vcluster?.server) {
      this.out.warn(`vcluster.server is not set for ${env.key}: \`vcluster connect --print\` then port-forwards, which works only while it keeps running. Set vcluster.server to where the virtual cluster's API is exposed (ingress or LoadBalancer).`)
    }
    const state = stateDir()
    // The cluster is looked at (read-only) while the version probes run; a tool problem is still reported first.
    const hostLookup = dryRun ? undefined : context.inspectHost(env, state)
    hostLookup?.catch(() => {})
    const tools = await context.checkTools(runner, context.envTools(env), {required: !dryRun})
    for (const problem of tools.problems) this.out.warn(`${problem} (a real run stops here)`)

    const paths = envStatePaths(state, env.service, env.name, env.cluster.alias)
    let existing: 'ours' | 'none' | undefined
    if (hostLookup) {
      const host = await hostLookup
      if (host.found === 'foreign') {
        const {UsageError} = await import('../../lib/cli/errors.js')
        throw new UsageError(`Namespace ${env.namespace} already exists on cluster ${env.cluster.alias} and is not an idp environment of ${env.service}/${env.name}.`, {
          hint: 'idp never adopts a namespace it did not create. Change environments.<name>.namespace in .idp.yml, or remove that namespace if it is unused.',
          details: {namespace: env.namespace, labels: host.foreignLabels},
        })
      }
      existing = host.found === 'ours' ? 'ours' : 'none'
    }
    // A PR comment needs a token; without one the step is left out rather than failing.
    const target = context.prTarget(config, pr)
    const poster = target ? await (await import('../../lib/env/handlers.js')).prCommentPoster(config) : undefined
    const prComment = poster ? target : undefined
    const plan = planEnvUp(
      {env, imageTag, ttlMs, timeoutMs, ...(prComment ? {prComment} : {})},
      {helmMajor: tools.helmMajor, owner: git.owner, holder: context.lockHolder(git.owner), sha, pr: pr ?? (env.vars.pr === undefined ? undefined : Number(env.vars.pr)), now: new Date(), paths, existing, tools: tools.tools},
    )
    // The result describes the environment exactly as the plan does.
    const {update, ...about} = plan.metadata as unknown as EnvUpMetadata
    const base = {...about, updated: update, teardown: `${this.config.bin} env down ${env.name}`}
    if (dryRun) {
      this.planText = formatPlan(plan)
      return {...base, dryRun: true, plan: planForJson(plan)}
    }

    const [{applyPlan, chooseRenderer}, {createEnvHandlers, createEvidenceSampler, postFailureComment, withHelmEvidence}] = (await applyModules)!
    const sampler = createEvidenceSampler({kubeconfig: paths.kubeconfig, namespace: envReleaseNamespace(env)})
    const handlers = createEnvHandlers({runner, github: poster, bin: this.config.bin})
    try {
      const result = await applyPlan(plan, {
        runner: withHelmEvidence(runner, sampler),
        handlers,
        signal: this.signal,
        renderer: chooseRenderer({json: this.flags.json, isTTY: Boolean(process.stderr.isTTY), ci: isCi(), columns: process.stderr.columns}),
        keepOnFailure: flags['keep-on-failure'],
        journal: {dir: paths.dir, key: 'journal'},
        collectEvidence: async (step) => (step.id === 'helm' ? sampler.evidence() : undefined),
        verbose: this.flags.verbose,
      })
      for (const warning of result.warnings ?? []) this.out.warn(warning)
      const comment = result.steps.find((s) => s.id === 'pr-comment' && s.status === 'done')?.result as {url?: string} | undefined
      return {...base, dryRun: false, plan: planForJson(plan), steps: result.steps, ...(comment?.url ? {prComment: comment.url} : {})}
    } catch (error) {
      // Kept resources belong to the user now; a kept lock would only block the next up or down.
      if (flags['keep-on-failure']) await releaseLock(handlers, plan).catch(() => undefined)
      if (prComment && poster) await postFailureComment(poster, prComment, {env: env.name, bin: this.config.bin, sha, cancelled: this.signal.aborted}).catch(() => undefined)
      throw error
    } finally {
      await sampler.stop()
    }
  }

  protected override human(result: EnvUpResult): string {
    if (result.dryRun) return `${this.planText ?? ''}\n\nDry run: nothing was changed.`
    const lines = [`✓ Environment ${result.env} of ${result.service} is ${result.updated ? 'updated' : 'up'} (namespace ${result.namespace} on ${result.cluster}, ${result.driver} driver)`]
    if (result.url) lines.push(`  URL:        ${result.url}`)
    lines.push(`  Kubeconfig: ${result.kubeconfig}   (export KUBECONFIG=$(${this.config.bin} env kubeconfig ${result.env}))`)
    lines.push(`  Expires:    ${result.expiresAt ?? 'never'}`)
    if (result.prComment) lines.push(`  PR comment: ${result.prComment}`)
    lines.push(`  Tear down:  ${result.teardown}`)
    return lines.join('\n')
  }
}

async function releaseLock(handlers: Record<string, import('../../lib/plan/apply.js').StepHandler>, plan: import('../../lib/plan/types.js').Plan): Promise<void> {
  const unlock = plan.steps.find((step) => step.id === 'unlock')
  if (!unlock || unlock.action.kind === 'tool') return
  await handlers['env.unlock']!(unlock.action, {signal: new AbortController().signal, results: new Map(), step: unlock})
}

/**
 * The API and local work of the env plans (`env up`, `env down`, `env gc`), keyed by op. Tool
 * steps go straight through the ToolRunner; these handlers do what needs a result in hand
 * (a lock, "only if idp owns it", kubeconfigs with credentials, terraform outputs).
 * Reached through `await import()`, so client-node loads only when a plan really runs; `yaml` loads
 * only in the handlers that read or write YAML.
 */
import {readFile, rm} from 'node:fs/promises'

import {InternalError, PrerequisiteError, RemoteError, ToolError} from '../cli/errors.js'
import {writePrivateFile} from '../cli/paths.js'
import {redact, registerSecret} from '../cli/redact.js'
import {isNotFound, kubeCall, kubeClientCache, kubeError} from '../kube/client.js'
import {vclusterKubeconfigText} from './vcluster-kubeconfig.js'
import type {Handlers} from '../plan/apply.js'
import {commandLine, shellQuote} from '../plan/format.js'
import {type OpParams, type ToolAction, toolRunOptions} from '../plan/types.js'
import type {EnvOps} from './ops.js'
import {parseTerraformUiLine, type TerraformOutput, terraformUiOutputs} from '../tools/terraform.js'
import type {RunOptions, ToolRunner} from '../tools/types.js'
import {ANNOTATIONS, isOwnedBy, LABELS} from './labels.js'
import {type PrCommentPoster, prCommentBody} from './pr-comment.js'
import {findNamespace, writeHostKubeconfig} from './cluster.js'
import {acquireLock, type LockResult, releaseLock} from './lock.js'
import {applySecret, deleteOurSecrets, restartDeployment} from '../secrets/kube.js'
import type {SecretValues} from '../vault/secrets.js'

export interface EnvHandlerOptions {
  runner: ToolRunner
  /** Posts the PR comment; absent: the github.prComment step fails (it is optional, so a warning). */
  github?: PrCommentPoster
  /** The CLI name in the teardown command of the comment. */
  bin?: string
  /** Where KUBECONFIG and HOME are read from (default: this process's environment). */
  env?: NodeJS.ProcessEnv
  now?: () => Date
  /** The values of the Secrets the plan writes, read from Vault before it ran; in memory only. */
  secretValues?: SecretValues
}

/** `terraform output -json`: name → {sensitive, type, value}, sensitive values included. */
function parseOutputJson(stdout: string, argv: string[]): Record<string, TerraformOutput> {
  let parsed: unknown
  try {
    parsed = JSON.parse(stdout || '{}')
  } catch {
    throw new ToolError('`terraform output -json` did not print JSON.', {tool: 'terraform', argv}, {hint: 'Run it by hand in the Terraform directory (with TF_DATA_DIR and TF_WORKSPACE as --dry-run shows) to see what it printed.'})
  }
  const outputs: Record<string, TerraformOutput> = {}
  for (const [name, entry] of Object.entries((parsed ?? {}) as Record<string, {sensitive?: boolean; type?: unknown; value?: unknown}>)) {
    outputs[name] = {sensitive: entry?.sensitive === true, type: entry?.type, value: entry?.value}
  }
  return outputs
}

/** Every string inside a value, so sensitive terraform outputs can be registered as secrets. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (typeof value === 'number' || typeof value === 'boolean') return [String(value)]
  if (Array.isArray(value)) return value.flatMap((item) => strings(item))
  if (value && typeof value === 'object') return Object.values(value).flatMap((item) => strings(item))
  return []
}

/** Take an environment's Lease (the lock step, or `env gc` around its re-read and removal). */
export async function acquireEnvLock(params: OpParams<'env.lock'>, kube = kubeClientCache(), now: () => Date = () => new Date()): Promise<LockResult> {
  const {coordination} = await kube(params.kubeconfig)
  return acquireLock(coordination, params, now)
}

/** Release an environment's Lease if this run holds it (the unlock step, or after a kept failure). */
export async function releaseEnvLock(params: OpParams<'env.unlock'>, kube = kubeClientCache()): Promise<{released: boolean}> {
  const {coordination} = await kube(params.kubeconfig)
  return releaseLock(coordination, params)
}

/**
 * Copy the host kubeconfig with every context's namespace set to `namespace` (0600). The host
 * context's credentials, narrowed to the namespace by default only: real RBAC scoping (a
 * ServiceAccount per environment) is `idp access`'s job.
 */
export async function writeNamespaceKubeconfig(p: OpParams<'env.writeNamespaceKubeconfig'>): Promise<{file: string}> {
  const {parse, stringify} = await import('../cli/yaml.js')
  const doc = parse(await readFile(p.hostKubeconfig, 'utf8')) as {contexts?: Array<{name: string; context: Record<string, unknown>}>}
  for (const context of doc.contexts ?? []) context.context.namespace = p.namespace
  await writePrivateFile(p.file, stringify(doc))
  return {file: p.file}
}

export function createEnvHandlers(options: EnvHandlerOptions): Handlers<keyof EnvOps> {
  const {runner} = options
  const kube = kubeClientCache()
  const now = options.now ?? (() => new Date())

  return {
    async 'env.preflight'(action) {
      const p = action.params
      const versions: Record<string, string | undefined> = {}
      for (const tool of p.tools) versions[tool] = (await runner.require(tool)).version
      const reach = (await writeHostKubeconfig({context: p.context, ...(p.kubeconfigPath ? {kubeconfig: p.kubeconfigPath} : {})}, p.hostKubeconfig, {requireReachable: true, ...(options.env ? {env: options.env} : {})}))!
      return {server: reach.server, version: reach.version, tools: versions}
    },

    async 'env.lock'(action) {
      return acquireEnvLock(action.params, kube, now)
    },

    async 'env.unlock'(action) {
      return releaseEnvLock(action.params, kube)
    },

    async 'kube.ensureNamespace'(action) {
      const p = action.params
      const {core} = await kube(p.kubeconfig)
      const live = await findNamespace(core, p.name)
      if (!live) {
        await kubeCall(`create Namespace ${p.name}`, () => core.createNamespace({body: {apiVersion: 'v1', kind: 'Namespace', metadata: {name: p.name, labels: p.labels, annotations: p.annotations}}}))
        return {created: true}
      }
      if (!isOwnedBy(live, p.service, p.env)) {
        throw new RemoteError(`Namespace ${p.name} exists and is not an idp environment of ${p.service}/${p.env} (it lacks ${LABELS.managedBy}=idp, ${LABELS.service}=${p.service}, ${LABELS.env}=${p.env}).`, {
          hint: 'idp never adopts a namespace it did not create. Pick another namespace template in .idp.yml (environments.<name>.namespace), or delete that namespace if it is unused.',
        })
      }
      if (live.status?.phase === 'Terminating') {
        throw new RemoteError(`Namespace ${p.name} is still being deleted (Terminating).`, {hint: `Wait until \`KUBECONFIG=${shellQuote([p.kubeconfig])} kubectl get namespace ${p.name}\` no longer finds it, then run env up again.`})
      }
      // An update keeps when and by whom the environment was first created.
      const annotations = {...live.metadata?.annotations, ...p.annotations}
      const created = live.metadata?.annotations?.[ANNOTATIONS.createdAt]
      if (created) annotations[ANNOTATIONS.createdAt] = created
      const body = {...live, metadata: {...live.metadata, labels: {...live.metadata?.labels, ...p.labels}, annotations}}
      await kubeCall(`update Namespace ${p.name}`, () => core.replaceNamespace({name: p.name, body}))
      return {created: false}
    },

    async 'kube.ensureStateNamespace'(action) {
      const p = action.params
      const {core} = await kube(p.kubeconfig)
      const {ensureStateNamespace} = await import('./tf-state.js')
      return ensureStateNamespace(core, p)
    },

    async 'kube.removeIdleDefaultState'(action) {
      const p = action.params
      const {core, coordination} = await kube(p.kubeconfig)
      const {removeIdleDefaultState} = await import('./tf-state.js')
      return removeIdleDefaultState(core, coordination, p)
    },

    async 'kube.deleteNamespace'(action) {
      const p = action.params
      const {core} = await kube(p.kubeconfig)
      const live = await findNamespace(core, p.name)
      if (!live) return {deleted: false, reason: 'already gone'}
      if (!isOwnedBy(live, p.service, p.env)) return {deleted: false, reason: 'not labelled as this idp environment; left alone'}
      try {
        await core.deleteNamespace({name: p.name})
      } catch (error) {
        if (isNotFound(error)) return {deleted: false, reason: 'already gone'}
        throw kubeError(error, `delete Namespace ${p.name}`)
      }
      return {deleted: true}
    },

    async 'env.writeNamespaceKubeconfig'(action, ctx) {
      ctx.signal.throwIfAborted()
      return writeNamespaceKubeconfig(action.params)
    },

    async 'env.writeVclusterKubeconfig'(action, ctx) {
      const p = action.params
      await writePrivateFile(p.file, await vclusterKubeconfigText(runner, p, {signal: ctx.signal, timeoutMs: 120_000}))
      return {file: p.file}
    },

    async 'env.terraformApply'(action, ctx) {
      const p = action.params
      const run = (tool: ToolAction, extra: RunOptions) =>
        runner.run(tool.tool, tool.argv, {
          ...toolRunOptions(tool),
          signal: ctx.signal,
          ...extra,
        })
      ctx.onLine?.(`$ ${commandLine(p.apply, runner.removedEnv(p.apply.env))}`)
      // Progress as terraform's human UI words it; a line that is not a UI message shows as it came.
      const applied = await run(p.apply, {onLine: (line) => ctx.onLine?.(parseTerraformUiLine(line)?.text ?? line)})
      let outputs = terraformUiOutputs(applied.stdout)
      // Ask terraform again when apply could not give every value: a sensitive output (its outputs
      // message leaves the value out), no outputs message, or a value holding a known secret,
      // masked in the redacted stdout.
      const incomplete =
        !outputs || Object.values(outputs).some((output) => !('value' in output) || JSON.stringify(output.value).includes('***'))
      if (incomplete) {
        ctx.onLine?.(`$ ${commandLine(p.outputs, runner.removedEnv(p.outputs.env))}`)
        // rawStdout: sensitive values are in there; they are registered as secrets before anything prints.
        const {stdout} = await run(p.outputs, {rawStdout: true})
        outputs = parseOutputJson(stdout, p.outputs.argv)
      }
      const infra: Record<string, unknown> = {}
      const sensitive: string[] = []
      for (const [name, output] of Object.entries(outputs ?? {})) {
        if (output.sensitive) {
          sensitive.push(name)
          for (const text of strings(output.value)) if (text.length >= 4) registerSecret(text)
        }
        infra[name] = output.value
      }
      // JSON, which is YAML to helm: no YAML library on the way to the helm step.
      await writePrivateFile(p.file, `${JSON.stringify({infra}, null, 2)}\n`)
      return {file: p.file, outputs: Object.keys(infra), sensitive, outputCommand: incomplete}
    },

    async 'env.writeTfVars'(action) {
      const p = action.params
      await writePrivateFile(p.file, `${JSON.stringify(p.vars, null, 2)}\n`)
      return {file: p.file, variables: Object.keys(p.vars)}
    },

    async 'env.removeFiles'(action) {
      const p = action.params
      // A directory among them (Terraform's data dir) goes with what it holds; links are removed, never followed.
      for (const file of p.files) await rm(file, {force: true, recursive: true})
      return {removed: p.files}
    },

    async 'kube.applySecrets'(action, ctx) {
      const p = action.params
      const clients = await kube(p.kubeconfig)
      const owner = {service: p.service, env: p.env}
      const applied: string[] = []
      const created: string[] = []
      for (const ref of p.secrets) {
        ctx.signal.throwIfAborted()
        const value = options.secretValues?.get(ref.name)
        // The service reads every Secret before the plan runs; a plan run without them is a bug, not a user error.
        if (!value || value.source !== ref.source) throw new InternalError(`The values of Secret ${ref.name} (${ref.source}) were not read from Vault before the plan ran.`)
        const result = await applySecret(clients, p.namespace, owner, value)
        applied.push(ref.name)
        if (result.created) created.push(ref.name)
      }
      const pruned = p.prune ? await deleteOurSecrets(clients, p.namespace, owner, applied) : []
      return {applied, created, pruned}
    },

    async 'kube.deleteSecrets'(action) {
      const p = action.params
      const clients = await kube(p.kubeconfig)
      try {
        return {deleted: await deleteOurSecrets(clients, p.namespace, {service: p.service, env: p.env})}
      } catch (error) {
        // The namespace (or the vcluster) may be gone already: nothing left to delete.
        if (error instanceof RemoteError && error.details?.statusCode === 404) return {deleted: []}
        throw error
      }
    },

    async 'kube.restartDeployments'(action) {
      const p = action.params
      const clients = await kube(p.kubeconfig)
      // kubectl rollout restart writes the time as RFC 3339 in the local zone; UTC is one of those.
      const at = now().toISOString().replace(/\.\d{3}Z$/u, 'Z')
      for (const name of p.deployments) await restartDeployment(clients, p.namespace, name, at)
      return {restarted: p.deployments, at}
    },

    async 'env.recordResult'(action) {
      const p = action.params
      const {core} = await kube(p.kubeconfig)
      const live = await kubeCall(`read Namespace ${p.namespace}`, () => core.readNamespace({name: p.namespace}))
      const annotations = {...live.metadata?.annotations, [ANNOTATIONS.status]: p.status, ...(p.url ? {[ANNOTATIONS.url]: p.url} : {})}
      await kubeCall(`annotate Namespace ${p.namespace}`, () => core.replaceNamespace({name: p.namespace, body: {...live, metadata: {...live.metadata, annotations}}}))
      return {status: p.status}
    },

    async 'github.prComment'(action) {
      const p = action.params
      if (!options.github) throw new PrerequisiteError('No GitHub token: the pull-request comment was not posted.', {hint: 'export GITHUB_TOKEN=... to keep a comment on the pull request.'})
      const body = prCommentBody({env: p.env, status: p.status, url: p.url, expiresAt: p.expiresAt, sha: p.sha, bin: options.bin ?? 'idp'})
      const result = await options.github.post({owner: p.owner, repo: p.repo, number: p.number, marker: p.marker}, body)
      return {url: result.url, created: result.created}
    },
  }
}

/**
 * Evidence for a failed helm step: what the namespace's pods and events say. Sampled while helm
 * waits, because `--rollback-on-failure`/`--atomic` removes the failing pods before helm exits;
 * the last sample before the failure is what explains it.
 */
const MAX_EVIDENCE_LINES = 80

export function createEvidenceSampler(options: {kubeconfig: string; namespace: string; intervalMs?: number; tailLines?: number}) {
  const kube = kubeClientCache()
  let last: string[] = []
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined

  async function sample(): Promise<string[]> {
    const {core} = await kube(options.kubeconfig)
    const lines: string[] = []
    const pods = await core.listNamespacedPod({namespace: options.namespace})
    for (const pod of pods.items) {
      const name = pod.metadata?.name ?? '?'
      const statuses = pod.status?.containerStatuses ?? []
      const ready = statuses.length > 0 && statuses.every((s) => s.ready)
      if (ready) continue
      const waiting = statuses.map((s) => s.state?.waiting?.reason ?? s.state?.terminated?.reason).filter(Boolean)
      lines.push(`pod ${name}: ${pod.status?.phase ?? 'Unknown'}${waiting.length > 0 ? ` (${waiting.join(', ')})` : ''}`)
      for (const container of pod.spec?.containers ?? []) {
        try {
          const log = await core.readNamespacedPodLog({name, namespace: options.namespace, container: container.name, tailLines: options.tailLines ?? 20})
          for (const line of String(log).split('\n').filter(Boolean)) lines.push(`  ${name}/${container.name}: ${line}`)
        } catch {
          // A container that never started has no log; the events say why.
        }
      }
    }
    const events = await core.listNamespacedEvent({namespace: options.namespace})
    for (const event of events.items.filter((e) => e.type === 'Warning').slice(-20)) {
      lines.push(`event ${event.involvedObject?.kind ?? ''}/${event.involvedObject?.name ?? ''}: ${event.reason ?? ''}: ${event.message ?? ''}`)
    }
    return lines.map((line) => redact(line))
  }

  // Everything seen while helm waited, in order, without repeats: a pod that crashed and was
  // replaced, or removed by the rollback, still tells why (bounded to the newest lines).
  const tick = async () => {
    try {
      const lines = await sample()
      last = [...new Set([...last, ...lines])].slice(-MAX_EVIDENCE_LINES)
    } catch {
      // Sampling is best effort; helm's own error still says what failed.
    }
  }

  return {
    start() {
      const interval = options.intervalMs ?? 1000
      const loop = () => {
        running = tick().finally(() => {
          if (timer !== undefined) timer = setTimeout(loop, interval)
        })
      }
      timer = setTimeout(loop, Math.min(interval, 250))
    },
    async stop() {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      await running
    },
    /** A fresh sample if anything is still failing, else the last one taken while helm waited. */
    async evidence(): Promise<string[]> {
      await this.stop()
      let fresh: string[] = []
      try {
        fresh = await sample()
      } catch {
        // The namespace may be gone already; the samples taken while helm waited remain.
      }
      return [...new Set([...last, ...fresh])].slice(-MAX_EVIDENCE_LINES)
    },
  }
}

export type EvidenceSampler = ReturnType<typeof createEvidenceSampler>

/** A runner that samples evidence while `helm upgrade` runs (see createEvidenceSampler). */
export function withHelmEvidence(runner: ToolRunner, sampler: EvidenceSampler): ToolRunner {
  return {
    resolve: (tool) => runner.resolve(tool),
    require: (tool) => runner.require(tool),
    removedEnv: (env) => runner.removedEnv(env),
    async run(tool, args, runOptions) {
      if (tool !== 'helm' || args[0] !== 'upgrade') return runner.run(tool, args, runOptions)
      sampler.start()
      try {
        return await runner.run(tool, args, runOptions)
      } finally {
        await sampler.stop()
      }
    },
  }
}

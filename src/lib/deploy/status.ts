/**
 * `idp deploy status ENV`: what is running in an environment and whether it is well, read where the
 * delivery keeps it. Argo CD: the Application (`argocd app get -o json`: synced revision, health
 * with the unhealthy resources' messages, the last operation, whether automated sync is on).
 * Helm: the release's last revision (`helm history -o json`, which carries no values or manifest)
 * and its Deployments, ready/desired, with the messages of those not ready. Read-only.
 */
import {type Deps, type Human, idpCommandOf, type Service} from '../cli/deps.js'
import {PrerequisiteError, ToolError} from '../cli/errors.js'
import {redact} from '../cli/redact.js'
import {helmHistoryArgs, type HelmHistoryRow} from '../tools/helm.js'
import {configuredTarget, connectForReading, type DeployEnvironment, loadDeployEnvironment, requireDeployEnv} from './context.js'
import {type ArgoApp, argoProblems, argoStatus, autoSyncEnabled, problemLine, type ResourceProblem, sourceImageTag} from './outcome.js'
import {argocdCommand, argocdTarget, type ArgocdTarget, type DeployTarget, helmCommand} from './plan.js'

export interface DeployStatusRequest {
  dir: string
  /** Optional for the parser only: `idp deploy status` alone is a usage error naming ENV. */
  env?: string
}

/** A Deployment of a helm release: how many replicas are ready, and why not. */
export interface WorkloadStatus {
  kind: 'Deployment'
  name: string
  ready: number
  desired: number
  images: string[]
  /** The conditions and pod states that say why it is not ready (empty when ready). */
  messages: string[]
}

export interface DeployStatusResult extends DeployTarget {
  /** argocd: the git revision synced; helm: the release revision. */
  revision?: string
  /** The images running (helm: the Deployments'; argocd: Argo CD's summary, else the image.tag parameter). */
  images: string[]
  imageTag?: string
  /** Healthy, Progressing, Degraded, Missing, ... (helm: from the release status and its Deployments). */
  health: string
  healthMessage?: string
  healthy: boolean
  /** argocd: Synced or OutOfSync. */
  sync?: string
  /** argocd: automated sync is on (a rollback needs it off). */
  autoSync?: boolean
  /** helm: deployed, failed, pending-upgrade, ... */
  releaseStatus?: string
  chart?: string
  appVersion?: string
  /** When the revision was deployed (helm: updated; argocd: the last sync's end). */
  deployedAt?: string
  lastOperation?: {phase: string; message?: string; startedAt?: string; finishedAt?: string}
  /** helm: the release's Deployments. */
  workloads?: WorkloadStatus[]
  /** What is not healthy, with its message. */
  unhealthy: ResourceProblem[]
  conditions?: string[]
  /** The command that shows the same by hand, through the same connection. */
  inspect: string
}

/** The Application, read with the connection a deploy uses; a PrerequisiteError when there is none. */
export async function readApplication(de: DeployEnvironment, target: ArgocdTarget, deps: Pick<Deps, 'runner' | 'signal' | 'bin' | 'env'>, dir: string): Promise<ArgoApp> {
  // argocd answers a missing Application with PermissionDenied (exit 20), like one it may not read.
  const result = await deps.runner.run('argocd', target.appGetArgv, {...(target.kubeconfig ? {kubeconfig: target.kubeconfig} : {}), allowedExitCodes: [0, 20], signal: deps.signal, timeoutMs: 60_000})
  if (result.exitCode !== 0) {
    throw new PrerequisiteError(`Application ${target.appNamespace}/${target.name} of ${de.env.name} was not found (or may not be read) in Argo CD.`, {
      hint: `Deploy first with \`${idpCommandOf(deps, dir, ['deploy', de.env.name])}\`; argocd said: ${redact(result.stderr.trim().split('\n').pop() ?? '')}`,
      details: {app: target.name},
    })
  }
  return JSON.parse(result.stdout) as ArgoApp
}

/** `helm history -o json` of the release, oldest first; a PrerequisiteError when there is no release. */
export async function readHelmHistory(de: DeployEnvironment, kubeconfig: string, deps: Pick<Deps, 'runner' | 'signal' | 'bin' | 'env'>, dir: string, max?: number): Promise<HelmHistoryRow[]> {
  const release = de.env.service
  try {
    const {stdout} = await deps.runner.run('helm', helmHistoryArgs({release, namespace: de.env.namespace, ...(max ? {max} : {})}), {kubeconfig, signal: deps.signal, timeoutMs: 60_000})
    return (JSON.parse(stdout.trim() || '[]') as HelmHistoryRow[]).sort((a, b) => a.revision - b.revision)
  } catch (error) {
    if (error instanceof ToolError && /not found/iu.test(`${error.message}\n${error.facts.stderrTail ?? ''}`)) {
      throw new PrerequisiteError(`There is no helm release ${release} in namespace ${de.env.namespace} of ${de.env.name}.`, {
        hint: `Deploy first with \`${idpCommandOf(deps, dir, ['deploy', de.env.name])}\`.`,
      })
    }
    throw error
  }
}

export interface DeploymentLike {
  metadata?: {name?: string; namespace?: string; annotations?: Record<string, string>}
  spec?: {replicas?: number; selector?: {matchLabels?: Record<string, string>}; template?: {spec?: {containers?: Array<{image?: string}>}}}
  status?: {readyReplicas?: number; conditions?: Array<{type?: string; status?: string; reason?: string; message?: string}>}
}

export interface PodLike {
  metadata?: {name?: string; namespace?: string; labels?: Record<string, string>}
  status?: {phase?: string; containerStatuses?: Array<{name?: string; ready?: boolean; state?: {waiting?: {reason?: string; message?: string}; terminated?: {reason?: string; message?: string}}}>}
}

/** The Deployments helm created for the release (helm annotates every object it renders). */
export async function helmWorkloads(kubeconfig: string, namespace: string, release: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<WorkloadStatus[]> {
  const {createKubeClients, kubeCall} = await import('../kube/client.js')
  const clients = await createKubeClients(kubeconfig, env)
  const options = signal ? clients.withSignal(signal) : undefined
  const [deployments, pods] = await Promise.all([
    kubeCall(`list Deployments in ${namespace}`, () => clients.apps.listNamespacedDeployment({namespace}, options)),
    kubeCall(`list Pods in ${namespace}`, () => clients.core.listNamespacedPod({namespace}, options)),
  ])
  return (deployments.items as DeploymentLike[]).filter((d) => d.metadata?.annotations?.['meta.helm.sh/release-name'] === release).map((d) => workloadStatus(d, pods.items as PodLike[]))
}

/** A Deployment's ready/desired and, when not ready, why: its conditions and its pods' states (`pods`: of its namespace). */
export function workloadStatus(d: DeploymentLike, pods: PodLike[]): WorkloadStatus {
  const desired = d.spec?.replicas ?? 1
  const ready = d.status?.readyReplicas ?? 0
  const messages: string[] = []
  if (ready < desired) {
    for (const c of d.status?.conditions ?? []) {
      if (c.status !== 'True' || c.reason === 'ProgressDeadlineExceeded') messages.push(`${c.type ?? '?'}: ${c.reason ?? ''}${c.message ? `: ${c.message}` : ''}`)
    }
    const selector = Object.entries(d.spec?.selector?.matchLabels ?? {})
    for (const pod of pods) {
      if (!selector.every(([k, v]) => pod.metadata?.labels?.[k] === v)) continue
      for (const s of pod.status?.containerStatuses ?? []) {
        if (s.ready) continue
        const state = s.state?.waiting ?? s.state?.terminated
        messages.push(`pod ${pod.metadata?.name ?? '?'} container ${s.name ?? '?'}: ${state?.reason ?? pod.status?.phase ?? 'not ready'}${state?.message ? `: ${state.message}` : ''}`)
      }
    }
  }
  return {kind: 'Deployment' as const, name: d.metadata?.name ?? '?', ready, desired, images: (d.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? '').filter(Boolean), messages: messages.map((m) => redact(m))}
}

/**
 * The health of a helm release: Degraded when the release failed or a Deployment fails (crash
 * loops, image pulls, a progress deadline), Progressing while not deployed or not ready, else Healthy.
 */
export function helmHealth(releaseStatus: string | undefined, workloads: WorkloadStatus[]): 'Degraded' | 'Progressing' | 'Healthy' {
  const notReady = workloads.filter((w) => w.ready < w.desired)
  const failing = notReady.some((w) => w.messages.some((m) => /BackOff|Err|Failed|ProgressDeadlineExceeded/u.test(m)))
  return releaseStatus === 'failed' || failing ? 'Degraded' : releaseStatus !== 'deployed' || notReady.length > 0 ? 'Progressing' : 'Healthy'
}

/** The parts of helm's release record (the Secret helm's storage driver writes) idp reads. */
export interface HelmReleaseInfo {
  name: string
  namespace: string
  revision: number
  status?: string
  chart?: string
  chartVersion?: string
  appVersion?: string
  deployedAt?: string
  description?: string
}

interface SecretLike {
  metadata?: {namespace?: string; labels?: Record<string, string> | null}
  data?: Record<string, string> | null
}

/**
 * A helm release record from its storage Secret (type helm.sh/release.v1, labels owner=helm, name,
 * status, version): data.release is base64 of gzip'd JSON. Only the release's name, status, chart
 * metadata and times are kept; its values and manifest are never returned. Undefined when the
 * Secret is not a readable release.
 */
export async function helmReleaseOfSecret(secret: SecretLike): Promise<HelmReleaseInfo | undefined> {
  const labels = secret.metadata?.labels ?? {}
  const name = labels.name
  const revision = Number(labels.version)
  if (labels.owner !== 'helm' || !name || !Number.isInteger(revision)) return undefined
  const info: HelmReleaseInfo = {name, namespace: secret.metadata?.namespace ?? '', revision, ...(labels.status ? {status: labels.status} : {})}
  const data = secret.data?.release
  if (!data) return info
  try {
    const {gunzipSync} = await import('node:zlib')
    // The API's base64 of the Secret's bytes, which are helm's own base64 of the gzip'd JSON.
    let bytes = Buffer.from(Buffer.from(data, 'base64').toString('latin1'), 'base64')
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes)
    const release = JSON.parse(bytes.toString('utf8')) as {info?: {status?: string; last_deployed?: string; description?: string}; chart?: {metadata?: {name?: string; version?: string; appVersion?: string}}}
    const meta = release.chart?.metadata
    if (release.info?.status) info.status = release.info.status
    if (meta?.name) info.chart = meta.version ? `${meta.name}-${meta.version}` : meta.name
    if (meta?.version) info.chartVersion = meta.version
    if (meta?.appVersion) info.appVersion = meta.appVersion
    if (release.info?.last_deployed) info.deployedAt = release.info.last_deployed
    if (release.info?.description) info.description = redact(release.info.description)
  } catch {
    // An unreadable record still has its labels: name, revision, status.
  }
  return info
}

/** One line per Deployment of the release that is not ready, with why (for a helm timeout). */
export async function helmNotReady(kubeconfig: string, namespace: string, release: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const workloads = await helmWorkloads(kubeconfig, namespace, release, env)
  return workloads.filter((w) => w.ready < w.desired).map((w) => `Deployment ${namespace}/${w.name} ${w.ready}/${w.desired} ready${w.messages.length > 0 ? ` (${w.messages.join('; ')})` : ''}`)
}


export const deployStatus: Service<DeployStatusRequest, DeployStatusResult> = async (request, deps) => {
  const name = await requireDeployEnv(request.env, 'status', request, deps)
  const de = await loadDeployEnvironment(request.dir, name, deps)
  await deps.runner.require(de.settings.strategy === 'argocd' ? 'argocd' : 'helm')
  const {paths, connection} = await connectForReading(de, deps)
  if (de.settings.strategy === 'argocd') {
    const target = argocdTarget(de.env, de.settings.argocd!, connection, paths)
    return argocdStatusOf(await readApplication(de, target, deps, request.dir), de, target)
  }
  const host = paths.hostKubeconfig
  const release = de.env.service
  const [history, workloads] = await Promise.all([readHelmHistory(de, host, deps, request.dir, 1), helmWorkloads(host, de.env.namespace, release, deps.env, deps.signal)])
  const last = history[history.length - 1]!
  const notReady = workloads.filter((w) => w.ready < w.desired)
  const health = helmHealth(last.status, workloads)
  return {
    ...configuredTarget(de),
    release,
    revision: String(last.revision),
    images: [...new Set(workloads.flatMap((w) => w.images))],
    health,
    healthy: health === 'Healthy',
    ...(last.status ? {releaseStatus: last.status} : {}),
    ...(last.chart ? {chart: last.chart} : {}),
    ...(last.app_version ? {appVersion: last.app_version} : {}),
    ...(last.updated ? {deployedAt: last.updated} : {}),
    ...(last.description ? {lastOperation: {phase: last.status ?? 'unknown', message: last.description}} : {}),
    workloads,
    unhealthy: notReady.map((w) => ({kind: 'Deployment', namespace: de.env.namespace, name: w.name, health: `${w.ready}/${w.desired} ready`, ...(w.messages.length > 0 ? {message: w.messages.join('; ')} : {})})),
    inspect: helmCommand(host, ['status', release, '--namespace', de.env.namespace]),
  }
}

/** The typed status of an Application (also what a rollback reports). */
export function argocdStatusOf(app: ArgoApp, de: DeployEnvironment, target: ArgocdTarget): DeployStatusResult {
  return {
    ...configuredTarget(de),
    app: target.name,
    appNamespace: target.appNamespace,
    ...argoAppView(app, de.config.image?.repository),
    inspect: argocdCommand(target, target.appGetArgv),
  }
}

/** What an Application says about its environment: revision, images, sync and health, the last operation, what is not healthy. */
export function argoAppView(app: ArgoApp, repository: string | undefined): Omit<DeployStatusResult, 'env' | 'service' | 'strategy' | 'cluster' | 'namespace' | 'inspect'> {
  const st = argoStatus(app)
  const op = app.status?.operationState
  const source = op?.syncResult?.source ?? app.spec?.source
  const imageTag = sourceImageTag(source)
  const summarized = app.status?.summary?.images ?? []
  const images = summarized.length > 0 ? summarized : imageTag && repository ? [`${repository}:${imageTag}`] : []
  const health = st.health ?? 'Unknown'
  return {
    ...(st.revision ? {revision: st.revision} : {}),
    images,
    ...(imageTag ? {imageTag} : {}),
    health,
    ...(st.healthMessage ? {healthMessage: st.healthMessage} : {}),
    healthy: health === 'Healthy',
    ...(st.sync ? {sync: st.sync} : {}),
    autoSync: autoSyncEnabled(app),
    ...(op?.finishedAt ? {deployedAt: op.finishedAt} : {}),
    ...(op?.phase ? {lastOperation: {phase: op.phase, ...(op.message ? {message: op.message} : {}), ...(op.startedAt ? {startedAt: op.startedAt} : {}), ...(op.finishedAt ? {finishedAt: op.finishedAt} : {})}} : {}),
    unhealthy: argoProblems(app),
    ...((app.status?.conditions ?? []).length > 0 ? {conditions: (app.status?.conditions ?? []).map((c) => redact(`${c.type ?? '?'}: ${c.message ?? ''}`))} : {}),
  }
}

export const renderDeployStatus: Human<DeployStatusResult> = (r) => {
  const what = r.strategy === 'argocd' ? `Application ${r.appNamespace}/${r.app}` : `helm release ${r.release}`
  const lines = [`${r.healthy ? '✓' : '✗'} ${r.service} in ${r.env}: ${r.health}${r.healthMessage ? ` (${r.healthMessage})` : ''} (${what} → namespace ${r.namespace} on ${r.cluster})`]
  if (r.revision) lines.push(`  Revision:   ${r.revision}${r.strategy === 'helm' && r.releaseStatus ? ` (${r.releaseStatus})` : ''}`)
  if (r.images.length > 0) lines.push(`  Image:      ${r.images.join(', ')}`)
  else if (r.imageTag) lines.push(`  Image tag:  ${r.imageTag}`)
  if (r.chart) lines.push(`  Chart:      ${r.chart}${r.appVersion ? ` (app version ${r.appVersion})` : ''}`)
  if (r.sync) lines.push(`  Sync:       ${r.sync}${r.autoSync ? ' (automated sync on)' : ''}`)
  if (r.deployedAt) lines.push(`  Deployed:   ${r.deployedAt}`)
  if (r.lastOperation) lines.push(`  Last op:    ${r.lastOperation.phase}${r.lastOperation.message ? `: ${r.lastOperation.message}` : ''}`)
  for (const w of r.workloads ?? []) lines.push(`  Deployment ${w.name}: ${w.ready}/${w.desired} ready${w.ready < w.desired ? '  (not ready)' : ''}`)
  if (r.unhealthy.length > 0) {
    lines.push('  Not healthy:')
    for (const p of r.unhealthy) lines.push(`    ${problemLine(p)}`)
  }
  for (const c of r.conditions ?? []) lines.push(`  Condition:  ${c}`)
  lines.push(`  Inspect:    ${r.inspect}`)
  return lines.join('\n')
}

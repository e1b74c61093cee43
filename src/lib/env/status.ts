/**
 * Live facts about one environment for `idp env status`: what the cluster says beyond the labels.
 * Each fact is gathered on its own; one that cannot be read becomes a warning, not a failure,
 * since status is for looking, and a partial answer is what a person debugging needs.
 */
import {stat} from 'node:fs/promises'

import {type Human, idpCommandOf, type Service} from '../cli/deps.js'
import {UsageError} from '../cli/errors.js'
import {assertDnsLabel} from '../cli/names.js'
import {redact} from '../cli/redact.js'
import {deadline} from '../cli/sleep.js'
import {loadConfig} from '../config/load.js'
import {kubeError} from '../kube/client.js'
import {helmListArgs} from '../tools/helm.js'
import type {ToolRunner} from '../tools/types.js'
import {type VclusterListItem, vclusterList} from '../tools/vcluster.js'
import {type ClusterConnection, configuredClusters} from './cluster.js'
import {relativeExpiry} from './format.js'
import type {EnvRecord} from './labels.js'
import {listEnvironments} from './list.js'
import {type InsideVcluster, vclusterServer} from './vcluster-kubeconfig.js'
import {loadJournal} from '../plan/journal.js'
import {envKubeconfigPath, envStateDir, JOURNALS} from './paths.js'

export interface EnvStatusRequest {
  dir: string
  env: string
  /** Only look on this cluster alias. */
  cluster?: string
}

export interface EnvStatusResult {
  environment: EnvRecord
  live: Omit<EnvLiveFacts, 'warnings'>
  /** The environment's private kubeconfig on this machine, when `idp env up` ran here. */
  kubeconfig?: string
  /** The latest `env up`, `env down` or `deploy` of this environment run on this machine, from its journal. */
  lastRun?: LastRun
}

export interface LastRun {
  command: keyof typeof JOURNALS
  status: 'running' | 'complete' | 'failed' | 'cancelled'
  startedAt: string
  updatedAt: string
  /** The step that failed (or was interrupted), and why. */
  failedStep?: {id: string; title: string; error?: string}
  /** What was left behind and how to remove it, as the run printed it. */
  cleanup?: string[]
}

/**
 * The journals the plans wrote here, newest first: what a person debugging an environment wants
 * to know after a CI run or a laptop run went wrong. A journal that cannot be read is a warning.
 */
async function lastRunOf(dir: string, warn: (message: string) => void): Promise<LastRun | undefined> {
  const runs: LastRun[] = []
  for (const [command, key] of Object.entries(JOURNALS) as Array<[keyof typeof JOURNALS, string]>) {
    try {
      const journal = await loadJournal(dir, key)
      if (!journal) continue
      const failed = journal.steps.find((step) => step.status === 'failed')
      const title = failed ? journal.plan.steps.find((step) => step.id === failed.id)?.title : undefined
      runs.push({
        command,
        status: journal.status,
        startedAt: journal.startedAt,
        updatedAt: journal.updatedAt,
        ...(failed ? {failedStep: {id: failed.id, title: title ?? failed.id, ...(failed.error ? {error: failed.error} : {})}} : {}),
        ...(journal.cleanup ? {cleanup: journal.cleanup} : {}),
      })
    } catch (error) {
      warn(`Could not read the record of the last ${command}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  return runs.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0]
}

/** `env up failed at "helm upgrade ...": <first line of the error> (<when>, this machine)`. */
function lastRunLine(run: LastRun): string {
  const failure = run.failedStep ? ` at "${run.failedStep.title}"${run.failedStep.error ? `: ${run.failedStep.error.split('\n')[0]}` : ''}` : ''
  return `${run.command} ${run.status}${failure} (${run.updatedAt}, this machine)`
}

/**
 * `idp env status`: find the environment by its labels on the configured clusters (so it works
 * from any machine), then read what the cluster says about it now. Exits 2 when no environment
 * of that name exists for this service, naming the ones that do.
 */
export const envStatus: Service<EnvStatusRequest, EnvStatusResult> = async (request, deps) => {
  const name = assertDnsLabel(request.env, 'environment name')
  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  const service = loaded.config.service.name
  const targets = configuredClusters(loaded, request.cluster)
  // The whole service's list: the same single call, and it names the alternatives when ENV is not there.
  const listing = await listEnvironments({clusters: targets, stateDir: deps.stateDir, service, now: deps.now(), processEnv: deps.env, signal: deps.signal})
  for (const warning of listing.warnings) deps.out.warn(warning)
  const matches = listing.environments.filter((record) => record.env === name)
  const record = matches[0]
  if (!record) {
    const existing = [...new Set(listing.environments.map((r) => r.env))]
    const read = listing.clusters.filter((c) => c.ok).map((c) => c.cluster)
    // A failed `env up` that was undone leaves no environment, only its journal here: say how that
    // run ended, which is what the person asking for the status of a missing environment wants.
    const lastRun = await lastRunOf(envStateDir(deps.stateDir, service, name), (message) => deps.out.warn(message))
    const last = lastRun ? `Its last run on this machine: ${lastRunLine(lastRun)}. ` : ''
    throw new UsageError(`Environment "${name}" of service ${service} not found on cluster${read.length === 1 ? '' : 's'} ${read.join(', ')}.`, {
      hint:
        last +
        (existing.length > 0 ? `Existing environments: ${existing.join(', ')}. Create ${name} with \`${idpCommandOf(deps, request.dir, ['env', 'up', name])}\`.` : `This service has no environments. Create one with \`${idpCommandOf(deps, request.dir, ['env', 'up', name])}\`.`),
      details: {existing, ...(lastRun ? {lastRun} : {})},
    })
  }
  if (matches.length > 1) deps.out.warn(`Environment ${name} exists on several clusters (${matches.map((m) => m.cluster).join(', ')}); showing ${record.cluster}. Pass --cluster to pick one.`)
  const kubeconfig = envKubeconfigPath(deps.stateDir, service, name)
  const hasKubeconfig = await stat(kubeconfig).then(
    () => true,
    () => false,
  )
  const host = listing.connections.get(record.cluster)!
  const server = vclusterServer(loaded.config, name, loaded.root)
  const {warnings, ...live} = await gatherLiveFacts(record, host, deps.runner, {signal: deps.signal, inside: record.driver === 'vcluster' ? {kept: hasKubeconfig ? kubeconfig : undefined, server, env: deps.env} : undefined})
  for (const warning of warnings) deps.out.warn(warning)
  const lastRun = await lastRunOf(envStateDir(deps.stateDir, service, name), (message) => deps.out.warn(message))
  return {environment: record, live, ...(hasKubeconfig ? {kubeconfig} : {}), ...(lastRun ? {lastRun} : {})}
}

export const renderEnvStatus: Human<EnvStatusResult> = (result, view) => {
  const r = result.environment
  const lines = [
    `Environment ${r.env} of ${r.service}`,
    `  cluster:    ${r.cluster} (namespace ${r.namespace}, ${r.phase ?? 'phase unknown'})`,
    `  driver:     ${r.driver}`,
    `  owner:      ${r.owner || '-'}`,
    `  created:    ${r.createdAt}`,
    `  expires:    ${r.expiresAt ? `${r.expiresAt} (${relativeExpiry(r, view.now)})` : 'never'}`,
  ]
  if (r.status) lines.push(`  status:     ${r.status}`)
  if (r.url) lines.push(`  url:        ${r.url}`)
  if (r.sha) lines.push(`  git sha:    ${r.sha}`)
  if (r.pr) lines.push(`  pr:         #${r.pr}`)
  if (result.kubeconfig) lines.push(`  kubeconfig: ${result.kubeconfig}`)
  const run = result.lastRun
  if (run) {
    lines.push(`  last run:   ${lastRunLine(run)}`)
    for (const command of run.cleanup ?? []) lines.push(`    clean up: ${command}`)
  }
  const {deployments, helmReleases, vcluster, workloads} = result.live
  if (vcluster !== undefined) lines.push(`  vcluster:   ${vcluster ? `${vcluster.Name} ${vcluster.Status} (${vcluster.Version})` : 'not found'}`)
  if (workloads) lines.push(`  workloads:  ${workloads.where === 'vcluster' ? `inside the vcluster, namespace ${workloads.namespace}` : `namespace ${workloads.namespace}`}`)
  if (helmReleases) {
    lines.push(helmReleases.length === 0 ? '  helm:       no releases' : '  helm:')
    for (const h of helmReleases) lines.push(`    ${h.name}  ${h.status}  revision ${h.revision}  ${h.chart}`)
  }
  if (deployments) {
    lines.push(deployments.length === 0 ? '  deployments: none' : '  deployments:')
    for (const d of deployments) lines.push(`    ${d.name}  ${d.ready}/${d.desired} ready${d.ready < d.desired ? '  (not ready)' : ''}`)
  }
  return lines.join('\n')
}

export interface DeploymentFact {
  name: string
  desired: number
  ready: number
  available: number
  updated: number
}

export interface HelmReleaseFact {
  name: string
  revision: string
  status: string
  chart: string
  appVersion?: string
  updated?: string
}

export interface EnvLiveFacts {
  /** Where the workloads below were read: the environment's namespace on the host, or `default` inside its vcluster. */
  workloads?: {where: 'host' | 'vcluster'; namespace: string}
  deployments?: DeploymentFact[]
  helmReleases?: HelmReleaseFact[]
  vcluster?: VclusterListItem | null
  warnings: string[]
}

export async function gatherLiveFacts(record: EnvRecord, host: ClusterConnection, runner: ToolRunner, options: {signal?: AbortSignal; timeoutMs?: number; inside?: InsideVcluster} = {}): Promise<EnvLiveFacts> {
  // One list per fact, joined in a fixed order: the facts are read concurrently, the output must not depend on which finished first.
  const factWarnings: Record<'deployments' | 'helm' | 'vcluster', string[]> = {deployments: [], helm: [], vcluster: []}
  const timeoutMs = options.timeoutMs ?? 15_000
  const {signal} = deadline(timeoutMs, options.signal)
  const note = (fact: keyof typeof factWarnings, what: string, error: unknown) => factWarnings[fact].push(redact(`Could not read ${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`))

  // Where the workloads are: the namespace on the host, or `default` inside the vcluster.
  let connection = host
  let namespace = record.namespace
  let close = async () => {}
  let where: 'host' | 'vcluster' = 'host'
  // Without a kept kubeconfig the vcluster CLI connects; when it is missing, its own warning below says so.
  const canConnect = options.inside && (options.inside.kept !== undefined || (await runner.resolve('vcluster')).status !== 'missing')
  if (options.inside && canConnect && record.driver === 'vcluster') {
    try {
      const {openVcluster} = await import('./vcluster-kubeconfig.js')
      const opened = await openVcluster(record, host, runner, options.inside, {signal, timeoutMs})
      ;({connection, close} = opened)
      namespace = 'default'
      where = 'vcluster'
    } catch (error) {
      note('vcluster', `inside the vcluster of ${record.env} (showing the host namespace ${record.namespace} instead)`, error)
    }
  }
  const what = (kind: string) => (where === 'vcluster' ? `the ${kind} inside the vcluster of ${record.env}` : `the ${kind} in ${namespace}`)

  const deployments = (async () => {
    try {
      const list = await connection.clients.apps.listNamespacedDeployment({namespace}, connection.clients.withSignal(signal))
      return list.items.map((d) => ({
        name: d.metadata?.name ?? '',
        desired: d.spec?.replicas ?? 1,
        ready: d.status?.readyReplicas ?? 0,
        available: d.status?.availableReplicas ?? 0,
        updated: d.status?.updatedReplicas ?? 0,
      }))
    } catch (error) {
      note('deployments', what('Deployments'), kubeError(error, `list Deployments in ${namespace}`))
      return undefined
    }
  })()

  const helmReleases = (async () => {
    try {
      if ((await runner.resolve('helm')).status === 'missing') {
        factWarnings.helm.push('helm is not installed: helm releases not shown.')
        return undefined
      }
      const {stdout} = await runner.run('helm', helmListArgs({namespace}), {kubeconfig: connection.kubeconfig, signal, timeoutMs})
      const rows = (JSON.parse(stdout.trim() || '[]') ?? []) as Array<{name: string; revision: string; status: string; chart: string; app_version?: string; updated?: string}>
      return rows.map((r) => ({name: r.name, revision: String(r.revision), status: r.status, chart: r.chart, ...(r.app_version ? {appVersion: r.app_version} : {}), ...(r.updated ? {updated: r.updated} : {})}))
    } catch (error) {
      note('helm', what('helm releases'), error)
      return undefined
    }
  })()

  const vcluster = (async () => {
    if (record.driver !== 'vcluster') return undefined
    try {
      if ((await runner.resolve('vcluster')).status === 'missing') {
        factWarnings.vcluster.push('vcluster is not installed: the vcluster status is not shown.')
        return undefined
      }
      const items = await vclusterList(runner, {namespace: record.namespace}, {kubeconfig: host.kubeconfig, signal, timeoutMs})
      return items.find((item) => item.Namespace === record.namespace) ?? null
    } catch (error) {
      note('vcluster', `the vcluster in ${record.namespace}`, error)
      return undefined
    }
  })()

  const [d, h, v] = await Promise.all([deployments, helmReleases, vcluster]).finally(() => close())
  const warnings = [...factWarnings.deployments, ...factWarnings.helm, ...factWarnings.vcluster]
  return {workloads: {where, namespace}, ...(d ? {deployments: d} : {}), ...(h ? {helmReleases: h} : {}), ...(v === undefined ? {} : {vcluster: v}), warnings}
}

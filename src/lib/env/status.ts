/**
 * Live facts about one environment for `idp env status`: what the cluster says beyond the labels.
 * Each fact is gathered on its own; one that cannot be read becomes a warning, not a failure,
 * since status is for looking, and a partial answer is what a person debugging needs.
 */
import {redact} from '../cli/redact.js'
import {kubeError} from '../kube/client.js'
import {helmListArgs} from '../tools/helm.js'
import type {ToolRunner} from '../tools/types.js'
import {type VclusterListItem, vclusterList} from '../tools/vcluster.js'
import type {EnvRecord} from './labels.js'
import type {ClusterConnection} from './cluster.js'

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
  deployments?: DeploymentFact[]
  helmReleases?: HelmReleaseFact[]
  vcluster?: VclusterListItem | null
  warnings: string[]
}

export async function gatherLiveFacts(record: EnvRecord, connection: ClusterConnection, runner: ToolRunner, options: {signal?: AbortSignal; timeoutMs?: number} = {}): Promise<EnvLiveFacts> {
  // One list per fact, joined in a fixed order: the facts are read concurrently, the output must not depend on which finished first.
  const factWarnings: Record<'deployments' | 'helm' | 'vcluster', string[]> = {deployments: [], helm: [], vcluster: []}
  const timeoutMs = options.timeoutMs ?? 15_000
  const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs)
  const note = (fact: keyof typeof factWarnings, what: string, error: unknown) => factWarnings[fact].push(redact(`Could not read ${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`))

  const deployments = (async () => {
    try {
      const list = await connection.clients.apps.listNamespacedDeployment({namespace: record.namespace}, connection.clients.withSignal(signal))
      return list.items.map((d) => ({
        name: d.metadata?.name ?? '',
        desired: d.spec?.replicas ?? 1,
        ready: d.status?.readyReplicas ?? 0,
        available: d.status?.availableReplicas ?? 0,
        updated: d.status?.updatedReplicas ?? 0,
      }))
    } catch (error) {
      note('deployments', `the Deployments in ${record.namespace}`, kubeError(error, `list Deployments in ${record.namespace}`))
      return undefined
    }
  })()

  const helmReleases = (async () => {
    try {
      if ((await runner.resolve('helm')).status === 'missing') {
        factWarnings.helm.push('helm is not installed: helm releases not shown.')
        return undefined
      }
      const {stdout} = await runner.run('helm', helmListArgs({namespace: record.namespace}), {kubeconfig: connection.kubeconfig, signal, timeoutMs})
      const rows = (JSON.parse(stdout.trim() || '[]') ?? []) as Array<{name: string; revision: string; status: string; chart: string; app_version?: string; updated?: string}>
      return rows.map((r) => ({name: r.name, revision: String(r.revision), status: r.status, chart: r.chart, ...(r.app_version ? {appVersion: r.app_version} : {}), ...(r.updated ? {updated: r.updated} : {})}))
    } catch (error) {
      note('helm', `the helm releases in ${record.namespace}`, error)
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
      const items = await vclusterList(runner, {namespace: record.namespace}, {kubeconfig: connection.kubeconfig, signal, timeoutMs})
      return items.find((item) => item.Namespace === record.namespace) ?? null
    } catch (error) {
      note('vcluster', `the vcluster in ${record.namespace}`, error)
      return undefined
    }
  })()

  const [d, h, v] = await Promise.all([deployments, helmReleases, vcluster])
  const warnings = [...factWarnings.deployments, ...factWarnings.helm, ...factWarnings.vcluster]
  return {...(d ? {deployments: d} : {}), ...(h ? {helmReleases: h} : {}), ...(v === undefined ? {} : {vcluster: v}), warnings}
}

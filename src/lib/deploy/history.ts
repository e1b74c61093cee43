/**
 * `idp deploy history ENV`: the revisions an environment has run, newest first, each with the id
 * `idp deploy rollback --to` takes. Argo CD: the Application's `status.history` (what `argocd app
 * history` prints; it has no JSON output, `app get -o json` carries the same entries). Helm: `helm
 * history -o json`, and each revision's image from its values (`helm get values --all`, read for
 * image.repository/image.tag only, never printed). Read-only.
 */
import type {Human, Service} from '../cli/deps.js'
import {helmGetValuesArgs} from '../tools/helm.js'
import {configuredTarget, connectForReading, loadDeployEnvironment, requireDeployEnv} from './context.js'
import {sourceImageTag} from './outcome.js'
import {argocdTarget, type DeployTarget} from './plan.js'
import {readApplication, readHelmHistory} from './status.js'

export interface DeployHistoryRequest {
  dir: string
  env?: string
  /** At most this many entries (helm: passed as --max). */
  max: number
}

export interface HistoryEntry {
  /** What `idp deploy rollback --to` takes: Argo CD's history id, helm's release revision. */
  id: number
  deployedAt?: string
  /** argocd: the git revision synced. */
  revision?: string
  image?: string
  imageTag?: string
  /** helm: superseded, deployed, failed, ... */
  status?: string
  chart?: string
  appVersion?: string
  description?: string
  /** The revision running now. */
  current: boolean
}

export interface DeployHistoryResult extends DeployTarget {
  /** Newest first. */
  entries: HistoryEntry[]
}

interface ValuesImage {
  image?: {repository?: unknown; tag?: unknown}
}

export const deployHistory: Service<DeployHistoryRequest, DeployHistoryResult> = async (request, deps) => {
  const name = await requireDeployEnv(request.env, 'history', request, deps)
  const de = await loadDeployEnvironment(request.dir, name, deps)
  await deps.runner.require(de.settings.strategy === 'argocd' ? 'argocd' : 'helm')
  const {paths, connection} = await connectForReading(de, deps)
  const base = configuredTarget(de)
  const repository = de.config.image?.repository
  if (de.settings.strategy === 'argocd') {
    const target = argocdTarget(de.env, de.settings.argocd!, connection, paths)
    const app = await readApplication(de, target, deps, request.dir)
    const history = app.status?.history ?? []
    const currentId = history.at(-1)?.id
    const entries = history
      .slice(-request.max)
      .reverse()
      .map((h) => {
        const imageTag = sourceImageTag(h.source)
        return {
          id: h.id,
          ...(h.deployedAt ? {deployedAt: h.deployedAt} : {}),
          ...(h.revision ? {revision: h.revision} : {}),
          ...(imageTag ? {imageTag, ...(repository ? {image: `${repository}:${imageTag}`} : {})} : {}),
          current: h.id === currentId,
        }
      })
    return {...base, app: target.name, appNamespace: target.appNamespace, entries}
  }
  const release = de.env.service
  const rows = await readHelmHistory(de, paths.hostKubeconfig, deps, request.dir, request.max)
  const current = [...rows].reverse().find((r) => r.status === 'deployed')?.revision
  const entries = await Promise.all(
    rows.reverse().map(async (row) => {
      let image: {image?: string; imageTag?: string} = {}
      try {
        const {stdout} = await deps.runner.run('helm', helmGetValuesArgs({release, namespace: de.env.namespace, revision: row.revision}), {kubeconfig: paths.hostKubeconfig, signal: deps.signal, timeoutMs: 60_000, rawStdout: true})
        const values = JSON.parse(stdout || '{}') as ValuesImage | null
        const tag = values?.image?.tag
        const repo = values?.image?.repository
        if (typeof tag === 'string' || typeof tag === 'number') image = {imageTag: String(tag), ...(typeof repo === 'string' ? {image: `${repo}:${String(tag)}`} : {})}
      } catch {
        // A revision whose values cannot be read is still part of the history.
      }
      return {
        id: row.revision,
        ...(row.updated ? {deployedAt: row.updated} : {}),
        ...image,
        ...(row.status ? {status: row.status} : {}),
        ...(row.chart ? {chart: row.chart} : {}),
        ...(row.app_version ? {appVersion: row.app_version} : {}),
        ...(row.description ? {description: row.description} : {}),
        current: row.revision === current,
      }
    }),
  )
  return {...base, release, entries}
}

export const renderDeployHistory: Human<DeployHistoryResult> = (r) => {
  const what = r.strategy === 'argocd' ? `Application ${r.appNamespace}/${r.app}` : `helm release ${r.release}`
  if (r.entries.length === 0) return `No deployments of ${r.service} to ${r.env} yet (${what}).`
  const header = r.strategy === 'argocd' ? ['ID', 'DEPLOYED', 'REVISION', 'IMAGE', ''] : ['REVISION', 'UPDATED', 'STATUS', 'CHART', 'IMAGE', 'DESCRIPTION']
  const rows = r.entries.map((e) =>
    r.strategy === 'argocd'
      ? [String(e.id), e.deployedAt ?? '', e.revision ?? '', e.image ?? e.imageTag ?? '', e.current ? '(current)' : '']
      : [String(e.id), e.deployedAt ?? '', `${e.status ?? ''}${e.current ? ' (current)' : ''}`, e.chart ?? '', e.image ?? e.imageTag ?? '', e.description ?? ''],
  )
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i]!.length)))
  const table = [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd())
  return [`History of ${r.service} in ${r.env} (${what}), newest first:`, ...table].join('\n')
}

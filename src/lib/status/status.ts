/**
 * `idp status`: the one screen for the service in this repository (or, with --all-services, a
 * team's view across every idp environment on the configured clusters). Everything is read
 * in-process from the clusters, concurrently, one LIST per kind per cluster (status/read.ts): the
 * environments (env list), the grants (access list), helm's releases and Deployments or Argo CD's
 * Applications (deploy status's health reading). What needs attention comes first, each with the
 * idp command that deals with it. `--watch` redraws on a terminal and prints only changes elsewhere.
 */
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import type {GrantRecord} from '../access/bindings.js'
import {type Deps, type Human, idpCommandOf, type Service, type View} from '../cli/deps.js'
import {UsageError} from '../cli/errors.js'
import {table} from '../cli/output.js'
import {matchKey, resolveEnvironment} from '../config/environments.js'
import {durationProblem, formatDuration, parseDuration} from '../config/duration.js'
import {type LoadedConfig, loadConfig} from '../config/load.js'
import {shellQuote} from '../plan/format.js'
import {argoAppView, helmHealth, workloadStatus} from '../deploy/status.js'
import {argocdConnection} from '../deploy/context.js'
import {argocdGlobals} from '../deploy/plan.js'
import type {ArgoApp} from '../deploy/outcome.js'
import {argocdAppListArgs} from '../tools/argocd.js'
import {redact} from '../cli/redact.js'
import {configuredClusters} from '../env/cluster.js'
import {vclusterServer} from '../env/vcluster-kubeconfig.js'
import {relativeExpiry, roughDuration} from '../env/format.js'
import {envSelector, type EnvRecord, LABELS, sanitizeLabelValue} from '../env/labels.js'
import {type ClusterReading, closeVclusterPool, readCluster, slots, VCLUSTER_CONNECTS, VCLUSTER_READS, type VclusterPool, type VclusterReading} from './read.js'
import {sleep} from '../cli/sleep.js'

export interface StatusRequest {
  dir: string
  /** Every service's environments on the configured clusters (the team view), not only this repository's. */
  allServices: boolean
  /** Only environments of this owner: the team (idp.dev/team) or the person who created them. */
  owner?: string
  /** Refresh until Ctrl-C. */
  watch: boolean
  /** --interval as written (e.g. 5s). */
  interval?: string
  /** --json: one document, so not with --watch. */
  json: boolean
}

/** The service, from .idp.yml and, when present, catalog-info.yaml (the Backstage entry wins). */
export interface ServiceInfo {
  name: string
  owner: string
  lifecycle?: string
  system?: string
  description?: string
  links: Array<{url: string; title?: string}>
  /** The catalog-info.yaml read, relative to the repository; null when there is none. */
  catalogFile: string | null
}

export interface EnvironmentStatus {
  service: string
  env: string
  cluster: string
  namespace: string
  /** configured: an exact name of .idp.yml (staging, production); preview: one that exists for a pattern; found: another service's (--all-services). */
  kind: 'configured' | 'preview' | 'found'
  /** The environment's namespace carries idp's labels (it was created by `env up`). */
  labelled: boolean
  /** How what runs there was delivered: Argo CD, a helm release, a helm release inside the environment's vcluster, or nothing found. */
  delivery: 'argocd' | 'helm' | 'none' | 'vcluster'
  /** Healthy, Progressing, Degraded, Missing, Unknown (argocd's words; helm's judged like `deploy status`); NotDeployed when nothing runs. */
  health: string
  healthy: boolean
  healthMessage?: string
  /** argocd: Synced / OutOfSync. */
  sync?: string
  /** helm: deployed, failed, pending-upgrade, ... */
  releaseStatus?: string
  /** argocd: the git revision synced; helm: the release revision. */
  revision?: string
  /** The commit the environment was brought up from (env up's idp.dev/git-sha). */
  commit?: string
  imageTag?: string
  images: string[]
  /** helm: chart name-version and the chart version. */
  chart?: string
  chartVersion?: string
  deployedAt?: string
  /** helm: the release's Deployments, ready/desired. */
  workloads?: Array<{name: string; ready: number; desired: number}>
  /** What is not healthy and why. */
  problems: string[]
  /** What could not be read about this environment (its vcluster did not answer): its health is Unknown. */
  warning?: string
  url?: string
  owner?: string
  team?: string
  driver?: string
  pr?: string
  createdAt?: string
  expiresAt?: string
  expired: boolean
}

export interface AttentionItem {
  /** In the order shown: failed/degraded deployments, expired environments, expired grants, unreachable clusters. */
  kind: 'deployment' | 'expired-environment' | 'expired-grant' | 'cluster-unreachable'
  cluster: string
  service?: string
  env?: string
  message: string
  /** The idp command that deals with it, runnable as printed. */
  command: string
  /** Where to run it when not from here: another service's repository (--all-services). */
  where?: string
}

export interface ClusterStatus {
  cluster: string
  context: string
  reachable: boolean
  error?: string
  environments: number
  /** Kinds that could not be read there. */
  warnings: string[]
}

export interface StatusResult {
  /** The service of this repository (null with --all-services). */
  service: ServiceInfo | null
  scope: {allServices: boolean; owner: string | null}
  /** What needs attention, most urgent first. */
  attention: AttentionItem[]
  environments: EnvironmentStatus[]
  grants: GrantRecord[]
  clusters: ClusterStatus[]
  /** With ARGOCD_SERVER: the Argo CD API server the Applications were read through, and why not when they could not be. */
  argocdServer?: {server: string; ok: boolean; error?: string}
  /** When this was read (ISO 8601). */
  readAt: string
}

const MAX_INTERVAL_MS = 86_400_000

/** The request checked before anything is read: a usage error names the flag. */
function checkRequest(request: StatusRequest): number {
  if (request.owner !== undefined && request.owner.trim() === '') throw new UsageError('--owner needs a team or a person.', {hint: 'e.g. `--owner team-a` (the service owner of .idp.yml) or `--owner alice@example.com`.'})
  if (request.watch && request.json) throw new UsageError('--watch and --json do not go together: --json prints one document.', {hint: 'Use --json alone (e.g. from a script, in a loop), or --watch alone.'})
  if (request.interval !== undefined && !request.watch) throw new UsageError('--interval needs --watch.', {hint: 'e.g. `idp status --watch --interval 10s`.'})
  return request.interval === undefined ? 5000 : parseInterval(request.interval)
}

/** --interval: a duration of whole seconds or more (idp's durations have no smaller unit), at most a day. */
function parseInterval(text: string): number {
  const problem = durationProblem(text, MAX_INTERVAL_MS)
  if (problem) throw new UsageError(`Invalid --interval "${text}": ${problem}.`, {hint: 'A duration such as 5s, 30s or 1m.'})
  return parseDuration(text, MAX_INTERVAL_MS)
}

export const status: Service<StatusRequest, StatusResult> = async (request, deps) => {
  const intervalMs = checkRequest(request)
  const loaded = await loadConfig({dir: request.dir, required: true, env: deps.env})
  if (!request.watch) {
    const result = await readStatus(request, loaded, deps)
    for (const c of result.clusters) if (!c.reachable) deps.out.warn(`Skipped cluster "${c.cluster}": ${c.error ?? 'not reachable'}`)
    for (const c of result.clusters) for (const w of c.warnings) deps.out.warn(w)
    for (const e of result.environments) if (e.warning) deps.out.warn(`${e.service} ${e.env} on ${e.cluster}: ${e.warning}`)
    if (result.argocdServer?.error) deps.out.warn(`Argo CD Applications not read through ${result.argocdServer.server}: ${result.argocdServer.error}`)
    return result
  }
  return watch(request, loaded, deps, intervalMs)
}

/** One look at every configured cluster, put together. */
export async function readStatus(request: Pick<StatusRequest, 'dir' | 'allServices' | 'owner'>, loaded: LoadedConfig, deps: Pick<Deps, 'stateDir' | 'env' | 'signal' | 'now' | 'bin' | 'runner'>, pool?: VclusterPool): Promise<StatusResult> {
  const {config} = loaded
  const now = deps.now()
  const service = request.allServices ? undefined : config.service.name
  const targets = configuredClusters(loaded, undefined)
  const argocd = request.allServices || config.deploy.strategy === 'argocd'
  // Where idp deploy reaches Argo CD: its API server (ARGOCD_SERVER) is read once, else the Applications on each cluster.
  const connection = argocdConnection(deps.env)
  const viaServer = argocd && connection.mode === 'server' ? listServerApplications(connection.server, service ? {service, appNamespace: config.deploy.argocd?.namespace} : {}, deps) : undefined
  const vclusters = {runner: deps.runner, reads: slots(VCLUSTER_READS), connects: slots(VCLUSTER_CONNECTS), server: (record: EnvRecord) => (record.service === config.service.name ? vclusterServer(config, record.env, loaded.root) : undefined), ...(pool ? {pool} : {})}
  const [readings, server] = await Promise.all([
    Promise.all(targets.map((target) => readCluster(target, {stateDir: deps.stateDir, processEnv: deps.env, ...(service ? {service} : {}), now, argocd: argocd && !viaServer, vclusters, signal: deps.signal}))),
    viaServer,
  ])
  // Printed to run as printed: the same repository (--dir) and config (IDP_CONFIG) as this run;
  // for another service's item, no --dir of this repository (it would read this service's
  // config): the command runs in that service's repository, as the item's `where` says.
  const command = (args: string[], svc = config.service.name) => (svc === config.service.name ? idpCommandOf(deps, request.dir, args) : shellQuote([deps.bin, ...args]))

  let environments = assemble(loaded, readings, request.allServices, server?.apps ?? [])
  if (server?.error) {
    // The environments idp deploy manages are delivered through that Argo CD: not read, not known.
    for (const e of environments) if (e.kind !== 'preview' && e.delivery === 'none' && e.health !== 'Unknown') Object.assign(e, {health: 'Unknown', healthMessage: `Argo CD not read through ${server.server}: ${server.error}`})
  }
  const owner = request.owner?.trim()
  if (owner) environments = environments.filter((e) => e.team === sanitizeLabelValue(owner) || e.owner === owner || (e.service === config.service.name && config.service.owner === owner))
  const inView = new Set(environments.map((e) => `${e.cluster}/${e.namespace}`))
  const grants = readings.flatMap((r) => r.grants).filter((g) => inView.has(`${g.cluster}/${g.namespace}`))

  const attention: AttentionItem[] = []
  const elsewhere = (svc: string) => (svc === config.service.name ? {} : {where: `in the repository of service ${svc}`})
  for (const e of environments) {
    if (needsAttention(e)) {
      const why = e.problems[0] ?? e.healthMessage
      attention.push({
        kind: 'deployment',
        cluster: e.cluster,
        service: e.service,
        env: e.env,
        message: `${e.service} in ${e.env} on ${e.cluster} is ${e.health}${e.releaseStatus && e.releaseStatus !== 'deployed' ? ` (release ${e.releaseStatus})` : ''}${why ? `: ${why}` : ''}`,
        command: command(e.kind === 'configured' || e.delivery === 'argocd' ? ['deploy', 'status', e.env] : ['env', 'status', e.env], e.service),
        ...elsewhere(e.service),
      })
    }
  }
  for (const e of environments.filter((x) => x.expired)) {
    attention.push({
      kind: 'expired-environment',
      cluster: e.cluster,
      service: e.service,
      env: e.env,
      message: `${e.service} ${e.env} on ${e.cluster} ${relativeExpiry(e, now)}, awaiting env gc`,
      command: command(request.allServices ? ['env', 'gc', '--all-services'] : ['env', 'gc']),
    })
  }
  for (const g of grants.filter((x) => x.expired)) {
    const svc = environments.find((e) => e.cluster === g.cluster && e.namespace === g.namespace)?.service ?? config.service.name
    attention.push({
      kind: 'expired-grant',
      cluster: g.cluster,
      service: svc,
      env: g.env,
      message: `${g.role} for ${g.kind === 'Group' ? 'group ' : ''}${g.subject} in ${svc} ${g.env} on ${g.cluster} ${relativeExpiry(g, now)}, still in effect`,
      command: command(['access', 'revoke', '--expired', '--env', g.env], svc),
      ...elsewhere(svc),
    })
  }
  for (const r of readings.filter((x) => !x.ok)) {
    attention.push({kind: 'cluster-unreachable', cluster: r.target.alias, message: `cluster ${r.target.alias} (context ${r.target.context}) is not reachable: ${r.error ?? 'no answer'}`, command: command(['doctor'])})
  }

  return {
    service: request.allServices ? null : await serviceInfo(loaded),
    scope: {allServices: request.allServices, owner: owner ?? null},
    attention,
    environments,
    grants,
    clusters: readings.map((r) => ({cluster: r.target.alias, context: r.target.context, reachable: r.ok, ...(r.error ? {error: r.error} : {}), environments: environments.filter((e) => e.cluster === r.target.alias).length, warnings: r.warnings})),
    ...(server ? {argocdServer: {server: server.server, ok: !server.error, ...(server.error ? {error: server.error} : {})}} : {}),
    readAt: now.toISOString(),
  }
}

/**
 * idp's Applications through Argo CD's API server (ARGOCD_SERVER, its token in ARGOCD_AUTH_TOKEN,
 * which argocd reads itself), the way `idp deploy` reaches it: one `argocd app list` for all of
 * them. Not readable is a warning, never a failure of the view.
 */
async function listServerApplications(server: string, filter: {service?: string; appNamespace?: string | undefined}, deps: Pick<Deps, 'runner' | 'signal'>): Promise<{server: string; apps: ArgoApp[]; error?: string}> {
  const argv = argocdAppListArgs({selector: envSelector(filter.service ? {service: filter.service} : {}), ...(filter.appNamespace ? {appNamespace: filter.appNamespace} : {}), globals: argocdGlobals({mode: 'server', server})})
  try {
    const {stdout} = await deps.runner.run('argocd', argv, {signal: deps.signal, timeoutMs: 30_000})
    const apps = JSON.parse(stdout.trim() || '[]') as ArgoApp[] | null
    return {server, apps: Array.isArray(apps) ? apps : []}
  } catch (error) {
    if (deps.signal.aborted) throw deps.signal.reason
    return {server, apps: [], error: redact(error instanceof Error ? error.message.split('\n')[0]! : String(error))}
  }
}

/** A deployment that failed or is not well: Degraded, a failed release or sync, resources missing. */
function needsAttention(e: EnvironmentStatus): boolean {
  return e.health === 'Degraded' || e.releaseStatus === 'failed' || (e.delivery === 'argocd' && e.health === 'Missing') || e.problems.some((p) => /^last operation: (Failed|Error)/u.test(p))
}

/** The environments to show: this service's configured ones and the previews that exist (or, --all-services, every labelled one), each with what runs there. `serverApps`: the Applications read through ARGOCD_SERVER. */
function assemble(loaded: LoadedConfig, readings: ClusterReading[], allServices: boolean, serverApps: ArgoApp[]): EnvironmentStatus[] {
  const {config, root} = loaded
  const reachable = new Map(readings.filter((r) => r.ok).map((r) => [r.target.alias, r]))
  const out: EnvironmentStatus[] = []
  const seen = new Set<string>()
  const add = (base: {service: string; env: string; cluster: string; namespace: string; kind: EnvironmentStatus['kind']; driver?: string}, record: EnvRecord | undefined) => {
    const key = `${base.cluster}/${base.namespace}`
    if (seen.has(key)) return undefined
    seen.add(key)
    const reading = reachable.get(base.cluster)
    const app = findApp([...(reading?.apps ?? []), ...serverApps], base)
    const entry: EnvironmentStatus = {
      ...base,
      ...(reading || app ? delivered(base, reading, app, record) : {delivery: 'none', health: 'Unknown', healthy: false, images: [], problems: [`cluster ${base.cluster} not reachable`]}),
      ...recordFacts(record),
      labelled: record !== undefined,
      expired: record?.expired ?? false,
    }
    out.push(entry)
    return entry
  }
  // Which configured environment an Application read through the API server is, for its cluster.
  const configured = new Map<string, string>()
  for (const key of Object.keys(config.environments).filter((k) => !k.includes('*'))) {
    let env
    try {
      env = resolveEnvironment(config, key, {root})
    } catch {
      continue // a namespace template that needs a value only a run has ({{sha}}): shown when its namespace is labelled
    }
    configured.set(env.name, env.cluster.alias)
    if (allServices) continue
    const record = reachable.get(env.cluster.alias)?.records.find((r) => r.env === env.name)
    add({service: env.service, env: env.name, cluster: env.cluster.alias, namespace: record?.namespace ?? env.namespace, kind: 'configured', driver: env.driver}, record)
  }
  const addApp = (app: ArgoApp, cluster: string | undefined) => {
    const labels = app.metadata?.labels ?? {}
    const namespace = app.spec?.destination?.namespace
    const service = labels[LABELS.service]
    const env = labels[LABELS.env]
    if (!service || !env || !namespace) return
    const mine = service === sanitizeLabelValue(config.service.name)
    const where = cluster ?? (mine ? configured.get(env) : undefined) ?? app.spec?.destination?.name ?? app.spec?.destination?.server ?? '?'
    const added = add({service, env, cluster: where, namespace, kind: mine ? 'configured' : 'found'}, undefined)
    const team = labels[LABELS.team]
    if (added && team) added.team = team
  }
  for (const reading of reachable.values()) {
    for (const record of reading.records) {
      const kind = record.service !== config.service.name ? 'found' : matchKey(config.environments, record.env)?.pattern === false ? 'configured' : 'preview'
      add({service: record.service, env: record.env, cluster: record.cluster, namespace: record.namespace, kind, driver: record.driver}, record)
    }
    // Deployed through Argo CD without an idp-labelled namespace (staging, production of other services).
    if (allServices) for (const app of reading.apps) addApp(app, reading.target.alias)
  }
  if (allServices) for (const app of serverApps) addApp(app, undefined)
  const order = {configured: 0, preview: 1, found: 2}
  return out.sort((a, b) => a.service.localeCompare(b.service) || order[a.kind] - order[b.kind] || a.env.localeCompare(b.env, undefined, {numeric: true}) || a.cluster.localeCompare(b.cluster))
}

/** The Application idp deploy made for an environment (labelled with its service and env). */
function findApp(apps: ArgoApp[], env: {service: string; env: string}): ArgoApp | undefined {
  return apps.find((a) => a.metadata?.labels?.[LABELS.service] === sanitizeLabelValue(env.service) && a.metadata?.labels?.[LABELS.env] === sanitizeLabelValue(env.env))
}

function recordFacts(record: EnvRecord | undefined): Partial<EnvironmentStatus> {
  if (!record) return {}
  return {
    ...(record.url ? {url: record.url} : {}),
    ...(record.owner ? {owner: record.owner} : {}),
    ...(record.team ? {team: record.team} : {}),
    ...(record.pr ? {pr: record.pr} : {}),
    ...(record.sha ? {commit: record.sha} : {}),
    createdAt: record.createdAt,
    ...(record.expiresAt ? {expiresAt: record.expiresAt} : {}),
  }
}

type Delivered = Pick<EnvironmentStatus, 'delivery' | 'health' | 'healthy' | 'images' | 'problems'> & Partial<EnvironmentStatus>

/** What runs in an environment, from the listings: its Application, else its helm release (inside its vcluster for a vcluster preview). */
function delivered(env: {service: string; env: string; namespace: string; driver?: string}, reading: ClusterReading | undefined, app: ArgoApp | undefined, record: EnvRecord | undefined): Delivered {
  if (app) {
    const v = argoAppView(app, undefined)
    const problems = [
      ...(v.lastOperation && /^(Failed|Error)$/u.test(v.lastOperation.phase) ? [`last operation: ${v.lastOperation.phase}${v.lastOperation.message ? `: ${v.lastOperation.message}` : ''}`] : []),
      ...v.unhealthy.map((p) => `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}: ${p.health ?? ''}${p.message ? ` (${p.message})` : ''}`),
      ...(v.conditions ?? []),
    ]
    return {
      delivery: 'argocd',
      health: v.health,
      healthy: v.healthy,
      ...(v.healthMessage ? {healthMessage: v.healthMessage} : {}),
      ...(v.sync ? {sync: v.sync} : {}),
      ...(v.revision ? {revision: v.revision} : {}),
      ...(v.imageTag ? {imageTag: v.imageTag} : {}),
      images: v.images,
      ...(v.deployedAt ? {deployedAt: v.deployedAt} : {}),
      problems,
    }
  }
  if (!reading) return {delivery: 'none', health: 'Unknown', healthy: false, images: [], problems: []}
  if ((record?.driver ?? env.driver) === 'vcluster') {
    // Its release and Deployments live inside the vcluster (namespace default); the host namespace holds the vcluster itself.
    const inside: VclusterReading | undefined = reading.vclusters.get(env.namespace)
    if (!inside?.ok) {
      const why = inside?.error ?? 'not read'
      return {delivery: 'vcluster', health: 'Unknown', healthy: false, images: [], problems: [], healthMessage: `the vcluster could not be read: ${why}`, warning: `the vcluster could not be read (health unknown): ${why}`}
    }
    return helmDelivered(env, inside, 'default', `in the vcluster of ${env.env}`, 'vcluster')
  }
  return helmDelivered(env, reading, env.namespace, '', 'helm')
}

/** A helm release's health from its record and its Deployments in `namespace` (`where` says which cluster, for messages). */
function helmDelivered(env: {service: string; namespace: string}, found: Pick<ClusterReading, 'releases' | 'deployments' | 'pods'>, namespace: string, where: string, delivery: 'helm' | 'vcluster'): Delivered {
  const releases = found.releases.filter((r) => r.namespace === namespace)
  const release = releases.find((r) => r.name === env.service) ?? releases[0]
  if (!release) return {delivery: delivery === 'vcluster' ? 'vcluster' : 'none', health: 'NotDeployed', healthy: false, images: [], problems: []}
  const pods = found.pods.filter((p) => p.metadata?.namespace === namespace)
  const workloads = found.deployments
    .filter((d) => d.metadata?.namespace === namespace && d.metadata?.annotations?.['meta.helm.sh/release-name'] === release.name)
    .map((d) => workloadStatus(d, pods))
  const health = helmHealth(release.status, workloads)
  const images = [...new Set(workloads.flatMap((w) => w.images))]
  const tags = [...new Set(images.map((i) => /:([^:/@]+)$/u.exec(i)?.[1]).filter((t): t is string => Boolean(t)))]
  return {
    delivery,
    health,
    healthy: health === 'Healthy',
    ...(release.status ? {releaseStatus: release.status} : {}),
    revision: String(release.revision),
    ...(tags.length === 1 ? {imageTag: tags[0]} : {}),
    images,
    ...(release.chart ? {chart: release.chart} : {}),
    ...(release.chartVersion ? {chartVersion: release.chartVersion} : {}),
    ...(release.deployedAt ? {deployedAt: release.deployedAt} : {}),
    workloads: workloads.map((w) => ({name: w.name, ready: w.ready, desired: w.desired})),
    problems: [
      ...(release.status === 'failed' && release.description ? [`release: ${release.description}`] : []),
      ...workloads.filter((w) => w.ready < w.desired).map((w) => `Deployment ${namespace}/${w.name}${where ? ` ${where}` : ''} ${w.ready}/${w.desired} ready${w.messages.length > 0 ? ` (${w.messages.join('; ')})` : ''}`),
    ],
  }
}

async function serviceInfo(loaded: LoadedConfig): Promise<ServiceInfo> {
  const s = loaded.config.service
  const info: ServiceInfo = {name: s.name, owner: s.owner, lifecycle: s.lifecycle, ...(s.system ? {system: s.system} : {}), ...(s.description ? {description: s.description} : {}), links: [], catalogFile: null}
  const file = path.join(loaded.root, 'catalog-info.yaml')
  if (!existsSync(file)) return info
  info.catalogFile = 'catalog-info.yaml'
  // yaml loads only where YAML is read (docs/architecture.md).
  const {parseAllDocuments} = await import('../cli/yaml.js')
  let entities: CatalogEntity[]
  try {
    entities = parseAllDocuments(readFileSync(file, 'utf8')).flatMap((d) => ('errors' in d && d.errors.length > 0 ? [] : [d.toJSON() as CatalogEntity]))
  } catch {
    // A malformed catalog is not this command's to judge (Backstage's is): .idp.yml's facts stand.
    return info
  }
  return {...info, ...catalogFacts(entities)}
}

interface CatalogEntity {
  kind?: string
  metadata?: {name?: unknown; description?: unknown; links?: Array<{url?: unknown; title?: unknown}>}
  spec?: {owner?: unknown; lifecycle?: unknown; system?: unknown}
}

/** The Component of a catalog-info.yaml (the first, or the first entity): what Backstage shows. */
function catalogFacts(entities: CatalogEntity[]): Partial<ServiceInfo> {
  const entity = entities.find((e) => e?.kind === 'Component') ?? entities[0]
  if (!entity) return {}
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  const facts: Partial<ServiceInfo> = {}
  const owner = str(entity.spec?.owner)
  const lifecycle = str(entity.spec?.lifecycle)
  const system = str(entity.spec?.system)
  const description = str(entity.metadata?.description)
  if (owner) facts.owner = owner
  if (lifecycle) facts.lifecycle = lifecycle
  if (system) facts.system = system
  if (description) facts.description = description
  facts.links = (Array.isArray(entity.metadata?.links) ? entity.metadata.links : []).flatMap((l) => {
    const url = str(l?.url)
    const title = str(l?.title)
    return url ? [{url, ...(title ? {title} : {})}] : []
  })
  return facts
}

// ---------------------------------------------------------------------------------------------
// Rendering

const mark = (e: EnvironmentStatus) => (e.healthy ? '✓' : e.health === 'Degraded' || e.releaseStatus === 'failed' ? '✗' : e.health === 'NotDeployed' ? '-' : '~')

export const renderStatus: Human<StatusResult> = (result, view) => {
  const lines: string[] = []
  const s = result.service
  if (s) {
    lines.push(`${s.name}  owner ${s.owner}${s.lifecycle ? ` · ${s.lifecycle}` : ''}${s.system ? ` · system ${s.system}` : ''}`)
    if (s.description) lines.push(`  ${s.description}`)
    for (const l of s.links) lines.push(`  ${l.title ? `${l.title}: ` : ''}${l.url}`)
  } else {
    lines.push(`Every service's environments${result.scope.owner ? ` owned by ${result.scope.owner}` : ''} on ${result.clusters.map((c) => c.cluster).join(', ')}`)
  }
  lines.push('')
  if (result.attention.length > 0) {
    lines.push(`Needs attention (${result.attention.length}):`)
    for (const a of result.attention) lines.push(`  ! ${a.message}\n      → ${a.command}${a.where ? `  (${a.where})` : ''}`)
  } else {
    lines.push('Nothing needs attention.')
  }
  lines.push('')
  if (result.environments.length === 0) {
    // "No environments." only when every cluster was read: an unreachable one may hold some.
    const unread = result.clusters.filter((c) => !c.reachable).map((c) => c.cluster)
    lines.push(
      unread.length === 0
        ? 'No environments.'
        : unread.length === result.clusters.length
          ? `No environments read: cluster${unread.length === 1 ? '' : 's'} ${unread.join(', ')} not reachable.`
          : `No environments on ${result.clusters.filter((c) => c.reachable).map((c) => c.cluster).join(', ')}; cluster${unread.length === 1 ? '' : 's'} ${unread.join(', ')} not reachable (not read).`,
    )
  } else {
    const rows = result.environments.map((e) => [
      `${mark(e)} ${e.env}`,
      ...(result.scope.allServices ? [e.service] : []),
      e.cluster,
      `${e.health}${e.sync ? `/${e.sync}` : ''}${e.releaseStatus && e.releaseStatus !== 'deployed' ? ` (${e.releaseStatus})` : ''}${e.workloads && e.workloads.length > 0 ? ` ${e.workloads.reduce((n, w) => n + w.ready, 0)}/${e.workloads.reduce((n, w) => n + w.desired, 0)}` : ''}`,
      revisionCell(e),
      e.imageTag ?? (e.images.length > 0 ? e.images.join(',') : '-'),
      e.chartVersion ?? '-',
      e.owner ?? '-',
      e.createdAt ? roughDuration(Math.max(0, view.now.getTime() - new Date(e.createdAt).getTime())) : e.deployedAt ? roughDuration(Math.max(0, view.now.getTime() - new Date(e.deployedAt).getTime())) : '-',
      e.expiresAt ? relativeExpiry(e, view.now) : 'never',
      e.url ?? '',
    ])
    lines.push(table(['ENV', ...(result.scope.allServices ? ['SERVICE'] : []), 'CLUSTER', 'HEALTH', 'REVISION', 'IMAGE', 'CHART', 'OWNER', 'AGE', 'EXPIRES', 'URL'], rows))
  }
  if (result.grants.length > 0) {
    lines.push('', 'Access:')
    lines.push(table(['ENV', 'SUBJECT', 'ROLE', 'EXPIRES', 'GRANTED BY'], result.grants.map((g) => [g.env, `${g.kind === 'Group' ? 'group:' : ''}${g.subject}`, g.role, g.expiresAt ? relativeExpiry(g, view.now) : 'never', g.grantedBy ?? ''])))
  }
  const unread = result.clusters.filter((c) => c.reachable && c.warnings.length > 0)
  for (const c of unread) for (const w of c.warnings) lines.push(`(cluster ${c.cluster}: ${w})`)
  for (const e of result.environments) if (e.warning) lines.push(`(${e.env} on ${e.cluster}: ${e.warning})`)
  if (result.argocdServer?.error) lines.push(`(Argo CD ${result.argocdServer.server}: ${result.argocdServer.error})`)
  return lines.join('\n')
}

function revisionCell(e: EnvironmentStatus): string {
  const parts: string[] = []
  if (e.revision) parts.push(e.delivery === 'argocd' ? e.revision.slice(0, 12) : `r${e.revision}`)
  if (e.commit && e.commit !== e.revision) parts.push(e.commit.slice(0, 7))
  return parts.join(' ') || '-'
}

/** One line per item, keyed: what --watch compares between rounds without a terminal. */
export function statusLines(result: StatusResult): Map<string, string> {
  const lines = new Map<string, string>()
  for (const e of result.environments) {
    const facts = [
      e.health + (e.sync ? `/${e.sync}` : ''),
      ...(e.releaseStatus ? [`release ${e.releaseStatus}`] : []),
      ...(e.revision ? [`revision ${e.revision}`] : []),
      ...(e.imageTag ? [`image ${e.imageTag}`] : []),
      ...(e.chartVersion ? [`chart ${e.chartVersion}`] : []),
      ...(e.workloads && e.workloads.length > 0 ? [`ready ${e.workloads.map((w) => `${w.ready}/${w.desired}`).join(',')}`] : []),
      ...(e.expired ? ['expired'] : []),
    ]
    lines.set(`env ${e.service}/${e.env} on ${e.cluster}`, facts.join(', '))
  }
  for (const g of result.grants) lines.set(`grant ${g.role} ${g.kind === 'Group' ? 'group:' : ''}${g.subject} in ${g.env} on ${g.cluster}`, g.expired ? 'expired' : g.expiresAt ? `until ${g.expiresAt}` : 'no expiry')
  for (const c of result.clusters) lines.set(`cluster ${c.cluster}`, c.reachable ? 'reachable' : `not reachable: ${c.error ?? ''}`)
  return lines
}

/** Until Ctrl-C: redraw on a terminal; elsewhere a line per item that changed (all of them the first time). */
async function watch(request: StatusRequest, loaded: LoadedConfig, deps: Deps, intervalMs: number): Promise<never> {
  // The vclusters read well stay open between rounds (one `vcluster connect` each per watch), closed on the way out.
  const pool: VclusterPool = new Map()
  try {
    return await watchRounds(request, loaded, deps, intervalMs, pool)
  } finally {
    await closeVclusterPool(pool)
  }
}

async function watchRounds(request: StatusRequest, loaded: LoadedConfig, deps: Deps, intervalMs: number, pool: VclusterPool): Promise<never> {
  const terminal = deps.out.stdoutIsTerminal()
  let previous = new Map<string, string>()
  for (;;) {
    const result = await readStatus(request, loaded, deps, pool)
    const now = deps.now()
    if (terminal) {
      const view: View = {bin: deps.bin, cwd: process.cwd(), now, dir: request.dir, ...(deps.env.IDP_CONFIG ? {configFile: deps.env.IDP_CONFIG} : {})}
      deps.out.redraw(`${renderStatus(result, view) ?? ''}\n\nEvery ${formatDuration(intervalMs)}, last read ${now.toISOString().slice(11, 19)}Z. Ctrl-C to stop.`)
    } else {
      const current = statusLines(result)
      const stamp = now.toISOString().replace(/\.\d+Z$/u, 'Z')
      const changed: string[] = []
      for (const [key, line] of current) if (previous.get(key) !== line) changed.push(`${stamp} ${key}: ${line}`)
      for (const key of previous.keys()) if (!current.has(key)) changed.push(`${stamp} ${key}: gone`)
      if (changed.length > 0) deps.out.line(changed.join('\n'))
      previous = current
    }
    await sleep(intervalMs, deps.signal)
  }
}


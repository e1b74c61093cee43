// The argocd test double: the real CLI's flag surface and error texts (contracts/argocd.json),
// working in --core mode against a Kubernetes API (stand-in): Application/AppProject objects
// (argoproj.io/v1alpha1). There is no Argo CD controller in tests, so the double plays it too:
// a requested sync completes at once; health is Healthy unless the Application carries the
// annotation idp.test/simulate-health (e.g. Degraded), and idp.test/simulate-sync: Failed fails it.
import {existsSync, readFileSync} from 'node:fs'
import {isDeepStrictEqual} from 'node:util'
import {parse as parseYaml, stringify as stringifyYaml} from 'yaml'
import {boolSets, commandWords, fill, loadFacts, withoutIndexes} from './cli.mjs'
import {KubeClient, KubeError, loadKubeconfig, selectContext} from './kube.mjs'
import {FlagError, FlagSet, HelpRequested, renderHelp, suggestionsFor} from './pflag.mjs'

const facts = loadFacts('argocd')
export const VERSION = process.env.IDP_DOUBLE_ARGOCD_VERSION || facts.version.VERSION
export const IMPLEMENTED = ['app create', 'app sync', 'app wait', 'app get', 'app delete', 'app list', 'app rollback', 'app set', 'proj role create', 'proj role add-policy', 'proj role remove-policy', 'proj role delete']
const COMMIT7 = facts.source.commit.slice(0, 7)
const HEALTH_ANNOTATION = 'idp.test/simulate-health'
const SYNC_ANNOTATION = 'idp.test/simulate-sync'
const POLL_MS = Number(process.env.IDP_DOUBLE_ARGOCD_POLL_MS || 200)
const PROJECT_SCOPED = ['applications', 'applicationsets', 'logs', 'exec', 'clusters', 'repositories']

/** errors.CheckError (exit 20) or a direct log.Fatal (exit 1). */
class Fatal extends Error {
  constructor(message, exitCode = facts.errors.runtime.exitCode) {
    super(message)
    this.exitCode = exitCode
  }
}
class ShowHelp extends Error {}

const VERSION_COMMAND = {
  useLine: 'argocd version [flags]',
  aliases: [],
  args: {names: [], min: 0, max: null},
  flags: [
    {name: 'client', shorthand: null, type: 'bool', default: false},
    {name: 'short', shorthand: null, type: 'bool', default: false},
    {name: 'output', shorthand: 'o', type: 'string', default: 'wide'},
  ],
}

function flagsOf(command) {
  return [...command.flags, ...facts.globalFlags, facts.implicitFlags.help]
}

function stdoutError(message, suffix = '') {
  process.stdout.write(`${fill(facts.errors.flagAndCommand.format.replace('\\n', '\n'), {}).replace('<message>', message)}${suffix}`)
  process.exit(facts.errors.flagAndCommand.exitCode)
}

let logFormat = 'json'

function logFatal(message, exitCode) {
  const time = new Date().toISOString().replace(/\.\d+Z$/u, 'Z')
  const line = logFormat === 'text' ? `time="${time}" level=fatal msg=${JSON.stringify(message)}` : JSON.stringify({level: 'fatal', msg: message, time})
  process.stderr.write(`${line}\n`)
  process.exit(exitCode)
}

/** Walk the command tree (groups app, proj, proj role, account) like cobra's Find. */
function findCommand(argv) {
  const all = {...facts.commands, version: VERSION_COMMAND}
  const paths = Object.keys(all)
  const globals = [...facts.globalFlags, facts.implicitFlags.help]
  const {long, short} = boolSets(globals)
  const words = commandWords(argv, long, short)
  const path = []
  const used = []
  for (const {word, index} of words) {
    const candidate = [...path, word].join(' ')
    if (!paths.some((p) => p === candidate || p.startsWith(`${candidate} `))) break
    path.push(word)
    used.push(index)
    if (all[candidate]) return {name: candidate, command: all[candidate], rest: withoutIndexes(argv, used)}
  }
  if (path.length === 0 && words.length > 0) {
    const tops = [...new Set(paths.map((p) => p.split(' ')[0]))]
    const suggestions = suggestionsFor(words[0].word, tops)
    const suffix = suggestions.length > 0 ? `\n\nDid you mean this?\n${suggestions.map((s) => `\t${s}\n`).join('')}` : ''
    stdoutError(fill(facts.errors.flagAndCommand.messages.unknownCommand, {arg: words[0].word}) + suffix, `${facts.errors.unknownCommandSuffix.replace(/^\n/u, '')}\n`)
  }
  // A group without a (known) sub-command prints its help and exits 1, as argocd's groups do.
  const group = path.join(' ') || 'argocd'
  const children = [...new Set(paths.filter((p) => p.startsWith(path.length ? `${group} ` : '')).map((p) => p.split(' ')[path.length]))]
  process.stdout.write(`Usage:\n  argocd ${path.join(' ')}${path.length ? ' ' : ''}[command]\n\nAvailable Commands:\n${children.map((c) => `  ${c}`).join('\n')}\n`)
  process.exit(path.length === 0 && words.length === 0 && argv.some((a) => a === '-h' || a === '--help') ? 0 : 1)
}

/** ARGOCD_OPTS supplies defaults for the root persistent flags. */
function applyArgocdOpts(fs) {
  const opts = process.env.ARGOCD_OPTS
  if (!opts) return
  const tokens = opts.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/gu)?.map((t) => t.replaceAll(/^["']|["']$/gu, '')) ?? []
  const defaults = new FlagSet(facts.globalFlags)
  try {
    defaults.parse(tokens)
  } catch (error) {
    logFatal(`Failed to parse ARGOCD_OPTS: ${error.message}`, 1)
  }
  for (const name of defaults.changed) fs.values[name] = defaults.values[name]
}

export async function main(argv) {
  const {name, command, rest} = findCommand(argv)
  const flags = flagsOf(command)
  const fs = new FlagSet(flags)
  applyArgocdOpts(fs)
  if (process.env.ARGOCD_SERVER && !fs.values.server) fs.values.server = process.env.ARGOCD_SERVER
  if (process.env.ARGOCD_AUTH_TOKEN && !fs.values['auth-token']) fs.values['auth-token'] = process.env.ARGOCD_AUTH_TOKEN
  let args
  try {
    args = fs.parse(rest)
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(renderHelp(command.useLine, flags))
      return
    }
    if (error instanceof FlagError) return stdoutError(error.message)
    throw error
  }
  for (const warning of fs.warnings) process.stderr.write(`${warning}\n`)
  logFormat = fs.values.logformat
  if (!['json', 'text'].includes(logFormat)) logFatal(`Unknown log format '${logFormat}'`, 1)
  try {
    if (name === 'version') return version(fs.values)
    if (!IMPLEMENTED.includes(name)) throw new Fatal(`the argocd test double does not implement "argocd ${name}"`, 1)
    const ctx = {args, flags: fs.values, changed: fs.changed, command}
    if (!fs.values.core) {
      // The API client is created before anything else is looked at (contract: app create notes).
      if (!fs.values.server && !configuredServer(fs.values.config)) throw new Fatal(facts.errors.directLogFatal.serverUnspecified, facts.errors.directLogFatal.exitCode)
      throw new Fatal('the argocd test double implements only --core mode (it cannot speak gRPC to an Argo CD server)')
    }
    await HANDLERS[name](ctx)
  } catch (error) {
    if (error instanceof ShowHelp) {
      process.stdout.write(renderHelp(command.useLine, flags))
      process.exit(facts.errors.wrongPositionalArgs.exitCode)
    }
    if (error instanceof Fatal) return logFatal(error.message, error.exitCode)
    if (error instanceof KubeError) return logFatal(error.message, facts.errors.runtime.exitCode)
    return logFatal(error?.message ?? String(error), facts.errors.runtime.exitCode)
  }
}

function configuredServer(configPath) {
  if (!configPath || !existsSync(configPath.replace('$HOME', process.env.HOME ?? ''))) return undefined
  const doc = parseYaml(readFileSync(configPath.replace('$HOME', process.env.HOME ?? ''), 'utf8')) ?? {}
  const current = (doc.contexts ?? []).find((c) => c.name === doc['current-context'])
  return current?.server
}

function version(flags) {
  const v = `v${VERSION}+${COMMIT7}`
  if (flags.output === 'json') {
    process.stdout.write(`${JSON.stringify({client: {Version: v, BuildDate: '', GitCommit: facts.source.commit, GitTreeState: 'clean', GoVersion: '', Compiler: 'gc', Platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`}}, null, 2)}\n`)
    return
  }
  process.stdout.write(fill(facts.version.shortOutput, {version: VERSION, commit7: COMMIT7}) + '\n')
  if (!flags.short) {
    process.stdout.write(`  BuildDate: \n  GitCommit: ${facts.source.commit}\n  GitTreeState: clean\n  Compiler: gc\n  Platform: ${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}\n`)
  }
  if (!flags.client) throw new Fatal('the argocd test double has no server to report a version for; use --client')
}

function kube(flags) {
  const selected = selectContext(loadKubeconfig(), flags['kube-context'])
  return {client: new KubeClient(selected), namespace: selected.namespace || 'default'}
}

const appsPath = (ns, name) => `/apis/argoproj.io/v1alpha1/namespaces/${encodeURIComponent(ns)}/applications${name ? `/${encodeURIComponent(name)}` : ''}`
const projPath = (ns, name) => `/apis/argoproj.io/v1alpha1/namespaces/${encodeURIComponent(ns)}/appprojects${name ? `/${encodeURIComponent(name)}` : ''}`

/** NAMESPACE/NAME or NAME (+ -N). */
function qualify(ref, flags, fallbackNs) {
  const slash = ref.indexOf('/')
  if (slash !== -1) return {namespace: ref.slice(0, slash), name: ref.slice(slash + 1)}
  return {namespace: flags['app-namespace'] || fallbackNs, name: ref}
}

const permissionDenied = () => new Fatal('rpc error: code = PermissionDenied desc = permission denied')
const invalidSpec = (name, why) => new Fatal(`rpc error: code = InvalidArgument desc = application spec for ${name} is invalid: InvalidSpecError: ${why}`)

function keyValues(list, flagName) {
  const out = {}
  for (const item of list) {
    const eq = item.indexOf('=')
    if (eq === -1) throw new Fatal(`Invalid ${flagName} '${item}': must be of the form key=value`, 1)
    out[item.slice(0, eq)] = item.slice(eq + 1)
  }
  return out
}

/** cmd/util/app.go: build the Application from flags (a subset: the flags idp and tests use). */
function appFromFlags(name, namespace, flags, changed, base) {
  const app = base ? structuredClone(base) : {apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: {}, spec: {}}
  app.apiVersion = 'argoproj.io/v1alpha1'
  app.kind = 'Application'
  app.metadata = {...app.metadata, name, namespace}
  if (flags.label.length > 0) app.metadata.labels = {...app.metadata.labels, ...keyValues(flags.label, 'label')}
  if (flags.annotations.length > 0) app.metadata.annotations = {...app.metadata.annotations, ...keyValues(flags.annotations, 'annotation')}
  if (flags['set-finalizer']) app.metadata.finalizers = ['resources-finalizer.argocd.argoproj.io']
  const spec = app.spec
  const source = {...spec.source}
  if (changed.has('repo')) source.repoURL = flags.repo
  if (changed.has('path')) source.path = flags.path
  if (changed.has('helm-chart')) source.chart = flags['helm-chart']
  if (changed.has('revision')) source.targetRevision = flags.revision
  if (changed.has('ref')) source.ref = flags.ref
  if (changed.has('source-name')) source.name = flags['source-name']
  const helm = {...source.helm}
  if (flags.values.length > 0) helm.valueFiles = flags.values
  if (changed.has('release-name')) helm.releaseName = flags['release-name']
  if (flags['helm-set'].length > 0) helm.parameters = flags['helm-set'].map((p) => ({name: p.slice(0, p.indexOf('=')), value: p.slice(p.indexOf('=') + 1)}))
  if (flags['helm-set-string'].length > 0) helm.parameters = [...(helm.parameters ?? []), ...flags['helm-set-string'].map((p) => ({name: p.slice(0, p.indexOf('=')), value: p.slice(p.indexOf('=') + 1), forceString: true}))]
  if (Object.keys(helm).length > 0) source.helm = helm
  if (Object.keys(source).length > 0) spec.source = source
  const destination = {...spec.destination}
  if (changed.has('dest-server')) destination.server = flags['dest-server']
  if (changed.has('dest-name')) destination.name = flags['dest-name']
  if (changed.has('dest-namespace')) destination.namespace = flags['dest-namespace']
  spec.destination = destination
  if (changed.has('project') || !spec.project) spec.project = flags.project || spec.project || 'default'
  if (changed.has('revision-history-limit')) spec.revisionHistoryLimit = flags['revision-history-limit']
  if (changed.has('sync-policy')) {
    switch (flags['sync-policy']) {
      case 'none':
      case 'manual':
        if (spec.syncPolicy) delete spec.syncPolicy.automated
        break
      case 'automated':
      case 'automatic':
      case 'auto':
        spec.syncPolicy = {...spec.syncPolicy, automated: {}}
        break
      default:
        throw new Fatal(`Invalid sync-policy: ${flags['sync-policy']}`, 1)
    }
  }
  if (spec.syncPolicy?.automated) {
    if (changed.has('auto-prune')) spec.syncPolicy.automated.prune = flags['auto-prune']
    if (changed.has('self-heal')) spec.syncPolicy.automated.selfHeal = flags['self-heal']
    if (changed.has('allow-empty')) spec.syncPolicy.automated.allowEmpty = flags['allow-empty']
  }
  if (flags['sync-option'].length > 0) spec.syncPolicy = {...spec.syncPolicy, syncOptions: flags['sync-option']}
  if (changed.has('sync-retry-limit') && flags['sync-retry-limit'] > 0) {
    const dur = (s) => `${s >= 60 ? `${Math.floor(s / 60)}m` : ''}${s % 60}s`
    spec.syncPolicy = {...spec.syncPolicy, retry: {limit: flags['sync-retry-limit'], backoff: {duration: dur(flags['sync-retry-backoff-duration']), maxDuration: dur(flags['sync-retry-backoff-max-duration']), factor: flags['sync-retry-backoff-factor']}}}
  }
  return app
}

/** The server-side checks of util/argo ValidateRepo/ValidateDestination that need no repo access. */
async function validateApp(client, app) {
  const {name} = app.metadata
  const s = app.spec.source
  if (!s?.repoURL || (!s.path && !s.chart && !s.ref)) throw invalidSpec(name, 'spec.source.repoURL and either spec.source.path, spec.source.chart, or spec.source.ref are required')
  const d = app.spec.destination
  if (d.server && d.name) throw invalidSpec(name, `application destination can't have both name and server defined: ${d.name} ${d.server}`)
  if (!d.server && !d.name) throw invalidSpec(name, 'Destination server missing from app spec')
  if (app.spec.project !== 'default' && !(await client.get(projPath(app.metadata.namespace, app.spec.project)))) {
    throw invalidSpec(name, `application references project ${app.spec.project} which does not exist`)
  }
}

function initialStatus(app) {
  return {sync: {status: 'OutOfSync', comparedTo: {source: app.spec.source ?? {}, destination: app.spec.destination}}, health: {status: 'Missing'}, summary: {}, sourceHydrator: {}}
}

/** Write spec/metadata, then status through the status subresource where the API has one. */
async function save(client, app) {
  const path = appsPath(app.metadata.namespace, app.metadata.name)
  let saved = (await client.replace(path, app)) ?? app
  if (app.status !== undefined && !isDeepStrictEqual(saved.status, app.status)) {
    saved = (await client.replace(`${path}/status`, {...saved, status: app.status})) ?? saved
  }
  return saved
}

/** How long a real controller (e.g. the Kubernetes stand-in's) gets before the double plays it. */
const CONTROLLER_GRACE_MS = Number(process.env.IDP_DOUBLE_ARGOCD_CONTROLLER_GRACE_MS || 1000)

function pendingSince(app) {
  if (app.operation) {
    const requested = app.operation.info?.find((i) => i.name === 'requestedAt')?.value
    return Date.parse(requested ?? app.metadata.creationTimestamp ?? new Date().toISOString())
  }
  if (app.spec.syncPolicy?.automated && app.status?.sync?.status !== 'Synced' && !app.status?.operationState) return Date.parse(app.metadata.creationTimestamp ?? new Date().toISOString())
  return undefined
}

/**
 * The Argo CD application controller, simulated: complete a requested operation (or an automated
 * sync of an out-of-sync app) and set sync/health status.
 */
async function controllerStep(client, app) {
  const since = pendingSince(app)
  if (since === undefined || Date.now() - since < CONTROLLER_GRACE_MS) return app
  const now = new Date().toISOString().replace(/\.\d+Z$/u, 'Z')
  // A rollback's operation carries the history entry's source; a sync syncs the spec's.
  const source = app.operation?.sync?.source ?? app.spec.source ?? {}
  const revision = app.operation?.sync?.source ? app.operation.sync.revision || source.targetRevision || 'HEAD' : app.spec.source?.targetRevision || 'HEAD'
  const failed = app.metadata.annotations?.[SYNC_ANNOTATION] === 'Failed'
  const {info: _info, ...requested} = app.operation ?? {}
  const operation = app.operation ? requested : {sync: {revision}, initiatedBy: {automated: true}}
  const next = structuredClone(app)
  delete next.operation
  const history = app.status?.history ?? []
  // controller/appcontroller.go persistRevisionHistory: only a successful sync is recorded, with the next id.
  const nextId = history.length > 0 ? history[history.length - 1].id + 1 : 0
  next.status = {
    ...next.status,
    sync: {status: failed || !isDeepStrictEqual(source, app.spec.source ?? {}) ? 'OutOfSync' : 'Synced', revision, comparedTo: {source: app.spec.source ?? {}, destination: app.spec.destination}},
    health: {status: failed ? 'Degraded' : (app.metadata.annotations?.[HEALTH_ANNOTATION] || 'Healthy'), lastTransitionTime: now},
    operationState: {operation, phase: failed ? 'Failed' : 'Succeeded', message: failed ? 'one or more objects failed to apply' : 'successfully synced (all tasks run)', startedAt: now, finishedAt: now, syncResult: {revision, source}},
    reconciledAt: now,
    history: failed ? history : [...history, {revision, deployedAt: now, id: nextId, source, deployStartedAt: now, initiatedBy: operation.initiatedBy}].slice(-(app.spec.revisionHistoryLimit ?? 10)),
    summary: app.status?.summary ?? {},
    sourceHydrator: app.status?.sourceHydrator ?? {},
  }
  return save(client, next)
}

async function getApp(client, ref) {
  const app = await client.get(appsPath(ref.namespace, ref.name))
  if (!app) throw permissionDenied()
  return app
}

/** The gRPC Application message has no TypeMeta, so the CLI prints no kind/apiVersion. */
function cliView(app) {
  const {metadata, spec, status, operation} = app
  return {metadata, spec, status: status ?? {sync: {status: 'Unknown', comparedTo: {source: {}, destination: {}}}, health: {}, summary: {}, sourceHydrator: {}}, ...(operation ? {operation} : {})}
}

function summary(app) {
  const s = app.spec.source ?? {}
  return [
    `Name:               ${app.metadata.namespace}/${app.metadata.name}`,
    `Project:            ${app.spec.project}`,
    `Server:             ${app.spec.destination.server ?? app.spec.destination.name ?? ''}`,
    `Namespace:          ${app.spec.destination.namespace ?? ''}`,
    `Repo:               ${s.repoURL ?? ''}`,
    `Target:             ${s.targetRevision ?? ''}`,
    `Path:               ${s.path ?? ''}`,
    `Sync Policy:        ${app.spec.syncPolicy?.automated ? 'Automated' : 'Manual'}`,
    `Sync Status:        ${app.status?.sync?.status ?? 'Unknown'}`,
    `Health Status:      ${app.status?.health?.status ?? ''}`,
  ].join('\n') + '\n'
}

function printApp(app, output) {
  if (output === 'json') process.stdout.write(`${JSON.stringify(cliView(app), null, facts.outputs.appGetJson.indent)}\n`)
  else if (output === 'yaml') process.stdout.write(stringifyYaml(cliView(app)))
  else if (output === 'wide' || output === '') process.stdout.write(summary(app))
  else if (output === 'tree' || output === 'tree=detailed') process.stdout.write(summary(app))
  else throw new Fatal(`unknown output format: ${output}`)
}

async function appCreate({args, flags, changed}) {
  const {client, namespace} = kube(flags)
  let base
  if (flags.file) {
    const text = flags.file === '-' ? readFileSync(0, 'utf8') : readFileSync(flags.file, 'utf8')
    base = parseYaml(text)
  }
  const argName = args.length === 1 ? args[0] : ''
  if (argName && flags.name && flags.name !== argName) throw new Fatal(`--name argument '${flags.name}' does not match app name ${argName}`)
  const ref = argName || flags.name || base?.metadata?.name || ''
  if (!ref) throw new ShowHelp()
  const {namespace: ns, name} = qualify(ref, flags, base?.metadata?.namespace || namespace)
  const app = appFromFlags(name, ns, flags, changed, base)
  await validateApp(client, app)
  const existing = await client.get(appsPath(ns, name))
  if (!existing) {
    app.status = initialStatus(app)
    await client.create(appsPath(ns), app)
    process.stdout.write(`application '${name}' created\n`)
    return
  }
  const sameMeta = isDeepStrictEqual(existing.metadata.labels ?? {}, app.metadata.labels ?? existing.metadata.labels ?? {}) && isDeepStrictEqual(existing.metadata.annotations ?? {}, app.metadata.annotations ?? existing.metadata.annotations ?? {})
  if (isDeepStrictEqual(existing.spec, app.spec) && sameMeta) {
    process.stdout.write(`application '${name}' unchanged\n`)
    return
  }
  if (!flags.upsert) throw new Fatal(facts.errors.appExistsDifferent)
  const updated = {...existing, metadata: {...existing.metadata, labels: app.metadata.labels ?? existing.metadata.labels, annotations: app.metadata.annotations ?? existing.metadata.annotations}, spec: app.spec}
  await client.replace(appsPath(ns, name), updated)
  process.stdout.write(`application '${name}' updated\n`)
}

function matchesSelector(obj, selector) {
  if (!selector) return true
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=')
    return v === undefined ? k in (obj.metadata.labels ?? {}) : obj.metadata.labels?.[k] === v
  })
}

async function selectApps(client, namespace, {args, flags}) {
  if (args.length > 0) return args.map((a) => qualify(a, flags, namespace))
  const items = (await client.get(appsPath(flags['app-namespace'] || namespace)))?.items ?? []
  const projects = Array.isArray(flags.project) ? flags.project : []
  return items.filter((a) => matchesSelector(a, flags.selector) && (projects.length === 0 || projects.includes(a.spec.project))).map((a) => ({namespace: a.metadata.namespace, name: a.metadata.name}))
}

async function appSync(ctx) {
  const {args, flags} = ctx
  if (args.length === 0 && !flags.selector && flags.project.length === 0) throw new ShowHelp()
  if (args.length > 1 && flags.selector) throw new Fatal('Cannot use selector option when application name(s) passed as argument(s)', 1)
  const {client, namespace} = kube(flags)
  const refs = await selectApps(client, namespace, ctx)
  if (refs.length === 0) throw new Fatal(`No matching apps found for filter: selector ${flags.selector}, projects ${flags.project}`, 1)
  for (const ref of refs) {
    let app = await getApp(client, ref)
    if (flags['dry-run']) continue
    app.operation = {sync: {revision: flags.revision || app.spec.source?.targetRevision || 'HEAD', ...(flags.prune ? {prune: true} : {}), syncStrategy: {hook: {}}}, initiatedBy: {username: 'admin'}, info: [{name: 'requestedAt', value: new Date().toISOString()}]}
    if (flags.async) {
      app.status = {...(app.status ?? initialStatus(app)), health: {status: 'Progressing'}}
      await save(client, app)
      continue
    }
    await save(client, app)
    // Like the real CLI, wait for the operation to finish (a controller, or the double after a grace period).
    for (;;) {
      app = await controllerStep(client, await getApp(client, ref))
      if (!app.operation && app.status?.operationState && app.status.operationState.phase !== 'Running') break
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, 100)))
    }
    if (flags.output === 'json' || flags.output === 'yaml') printApp(app, flags.output)
    else process.stdout.write(summary(app))
    const phase = app.status.operationState.phase
    if (phase !== 'Succeeded') throw new Fatal(fill(facts.errors.syncFailed, {phase}), 1)
  }
}

async function appWait(ctx) {
  const {args, flags} = ctx
  if (args.length === 0 && !flags.selector) throw new ShowHelp()
  const {client, namespace} = kube(flags)
  const refs = await selectApps(client, namespace, ctx)
  const explicit = ['sync', 'health', 'operation', 'suspended', 'degraded', 'delete', 'hydrated'].some((f) => flags[f])
  const want = explicit ? flags : {...flags, sync: true, health: true, operation: true}
  const started = Date.now()
  for (const ref of refs) {
    let previousHealth
    for (;;) {
      let app = await client.get(appsPath(ref.namespace, ref.name))
      if (!app) {
        if (want.delete) {
          process.stdout.write(`Application '${ref.namespace}/${ref.name}' deleted\n`)
          break
        }
        throw permissionDenied()
      }
      if (previousHealth === undefined) previousHealth = app.status?.health?.status
      app = await controllerStep(client, app)
      const health = app.status?.health?.status
      const waitingForHealth = want.health || want.suspended || want.degraded
      if (waitingForHealth && !want.degraded && health === 'Degraded' && previousHealth && !['Unknown', 'Degraded'].includes(previousHealth)) {
        throw new Fatal(fill(facts.errors.waitDegraded, {name: ref.name, previous: previousHealth}))
      }
      previousHealth = health
      const healthOk = !waitingForHealth || (want.health && health === 'Healthy') || (want.suspended && health === 'Suspended') || (want.degraded && health === 'Degraded')
      const syncOk = !want.sync || app.status?.sync?.status === 'Synced'
      const opOk = !want.operation || (!app.operation && app.status?.operationState?.phase !== 'Running')
      if (!want.delete && healthOk && syncOk && opOk) {
        printApp(app, flags.output)
        break
      }
      if (flags.timeout > 0 && Date.now() - started >= flags.timeout * 1000) {
        if (flags.output === 'json' || flags.output === 'yaml') printApp(app, flags.output)
        else process.stdout.write(`This is the state of the app after wait timed out:\n${summary(app)}\nThe command timed out waiting for the conditions to be met.\n`)
        throw new Fatal(fill(facts.errors.waitTimeout, {seconds: flags.timeout, name: ref.name}))
      }
      await new Promise((r) => setTimeout(r, POLL_MS))
    }
  }
}

/** spec.syncPolicy.automated set and not disabled (SyncPolicy.IsAutomatedSyncEnabled). */
function automatedSyncEnabled(app) {
  const automated = app.spec.syncPolicy?.automated
  return Boolean(automated) && automated.enabled !== false
}

/**
 * cmd/argocd/commands/app.go NewApplicationRollbackCommand: read the app, resolve the history id
 * (omitted: the previous deployment, History[len-2]), ask the server (which refuses while
 * automated sync is on), then wait for the operation only (watchOpts{operation: true}).
 */
async function appRollback({args, flags}) {
  if (args.length === 0) throw new ShowHelp()
  let depId = -1
  if (args.length > 1) {
    if (!/^[+-]?\d+$/u.test(args[1])) throw new Fatal(`strconv.Atoi: parsing ${JSON.stringify(args[1])}: invalid syntax`)
    depId = Number(args[1])
  }
  const {client, namespace} = kube(flags)
  const ref = qualify(args[0], flags, namespace)
  const app = await getApp(client, ref)
  const history = app.status?.history ?? []
  let info
  if (depId === -1) {
    if (history.length < 2) throw new Fatal(fill(facts.errors.rollbackNoPrevious, {name: app.metadata.name}))
    info = history[history.length - 2]
  } else {
    info = history.find((h) => h.id === depId)
    if (!info) throw new Fatal(fill(facts.errors.rollbackUnknownId, {name: app.metadata.name, id: depId}))
  }
  if (automatedSyncEnabled(app)) throw new Fatal(facts.errors.rollbackAutoSync)
  if (app.operation) throw new Fatal(facts.errors.operationInProgress)
  const syncOptions = app.spec.syncPolicy?.syncOptions
  app.operation = {
    sync: {revision: info.revision, ...(flags.prune ? {prune: true} : {}), ...(syncOptions ? {syncOptions} : {}), syncStrategy: {apply: {}}, source: info.source},
    initiatedBy: {username: 'admin'},
    info: [{name: 'requestedAt', value: new Date().toISOString()}],
  }
  await save(client, app)
  const started = Date.now()
  for (;;) {
    const current = await controllerStep(client, await getApp(client, ref))
    if (!current.operation && current.status?.operationState?.phase !== 'Running') {
      printApp(current, flags.output)
      return
    }
    if (flags.timeout > 0 && Date.now() - started >= flags.timeout * 1000) {
      if (flags.output === 'json' || flags.output === 'yaml') printApp(current, flags.output)
      throw new Fatal(fill(facts.errors.waitTimeout, {seconds: flags.timeout, name: ref.name}))
    }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

/**
 * cmd/util/app.go SetAppSpecOptions, for the one option the double implements (--sync-policy):
 * none/manual drops spec.syncPolicy.automated (and an empty syncPolicy), automated/auto/automatic
 * sets it. Any other option is refused as not implemented rather than ignored.
 */
async function appSet({args, flags, changed}) {
  if (args.length !== 1) throw new ShowHelp()
  const local = new Set(['sync-policy', 'app-namespace'])
  const other = [...changed].filter((name) => !local.has(name) && !facts.globalFlags.some((f) => f.name === name))
  if (other.length > 0) throw new Fatal(`the argocd test double implements only --sync-policy of "argocd app set" (got --${other.join(', --')})`, 1)
  if (!changed.has('sync-policy')) throw new Fatal('Please set at least one option to update', 1)
  const {client, namespace} = kube(flags)
  const ref = qualify(args[0], flags, namespace)
  const app = await getApp(client, ref)
  const policy = flags['sync-policy']
  if (['none', 'manual'].includes(policy)) {
    if (app.spec.syncPolicy) delete app.spec.syncPolicy.automated
    if (app.spec.syncPolicy && Object.keys(app.spec.syncPolicy).length === 0) delete app.spec.syncPolicy
  } else if (['automated', 'automatic', 'auto'].includes(policy)) {
    app.spec.syncPolicy = {...app.spec.syncPolicy, automated: {}}
  } else throw new Fatal(`Invalid sync-policy: ${policy}`, 1)
  await client.replace(appsPath(ref.namespace, ref.name), app)
}

async function appGet({args, flags}) {
  if (args.length === 0) throw new ShowHelp()
  const {client, namespace} = kube(flags)
  const app = await controllerStep(client, await getApp(client, qualify(args[0], flags, namespace)))
  printApp(app, flags.output)
}

async function appDelete(ctx) {
  const {args, flags} = ctx
  if (args.length === 0 && !flags.selector) throw new ShowHelp()
  const {client, namespace} = kube(flags)
  for (const ref of await selectApps(client, namespace, {...ctx, flags: {...flags, project: []}})) {
    if (!(await client.remove(appsPath(ref.namespace, ref.name)))) throw permissionDenied()
    process.stdout.write(`application '${ref.name}' deleted\n`)
  }
}

async function appList({flags}) {
  const {client, namespace} = kube(flags)
  let items = (await client.get(appsPath(flags['app-namespace'] || namespace)))?.items ?? []
  items = items.filter((a) => matchesSelector(a, flags.selector) && (flags.project.length === 0 || flags.project.includes(a.spec.project)) && (!flags.repo || a.spec.source?.repoURL === flags.repo) && (!flags.path || a.spec.source?.path === flags.path) && (!flags.cluster || [a.spec.destination.server, a.spec.destination.name].includes(flags.cluster)))
  const output = flags.output
  if (output === 'json') process.stdout.write(`${JSON.stringify(items.map(cliView), null, facts.outputs.appListJson.indent)}\n`)
  else if (output === 'yaml') process.stdout.write(stringifyYaml(items.map(cliView)))
  else if (output === 'name') process.stdout.write(items.map((a) => `${a.metadata.namespace}/${a.metadata.name}\n`).join(''))
  else if (output === 'wide' || output === '') {
    const rows = [['NAME', 'CLUSTER', 'NAMESPACE', 'PROJECT', 'STATUS', 'HEALTH', 'SYNCPOLICY', 'REPO', 'PATH', 'TARGET'], ...items.map((a) => [`${a.metadata.namespace}/${a.metadata.name}`, a.spec.destination.server ?? a.spec.destination.name ?? '', a.spec.destination.namespace ?? '', a.spec.project, a.status?.sync?.status ?? '', a.status?.health?.status ?? '', a.spec.syncPolicy?.automated ? 'Auto' : 'Manual', a.spec.source?.repoURL ?? '', a.spec.source?.path ?? '', a.spec.source?.targetRevision ?? ''])]
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
    process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n')
  } else throw new Fatal(`unknown output format: ${output}`)
}

async function project(flags, name) {
  const {client, namespace} = kube(flags)
  const proj = await client.get(projPath(namespace, name))
  if (!proj) throw new Fatal(`rpc error: code = NotFound desc = appprojects.argoproj.io "${name}" not found`)
  return {client, proj}
}

function twoArgs(args) {
  if (args.length !== 2) throw new ShowHelp()
  return args
}

async function roleCreate({args, flags}) {
  const [projName, role] = twoArgs(args)
  const {client, proj} = await project(flags, projName)
  const roles = proj.spec.roles ?? []
  if (roles.some((r) => r.name === role)) {
    process.stdout.write(`Role '${role}' already exists\n`)
    return
  }
  proj.spec.roles = [...roles, {name: role, ...(flags.description ? {description: flags.description} : {})}]
  await client.replace(projPath(proj.metadata.namespace, projName), proj)
  process.stdout.write(`Role '${role}' created\n`)
}

function policyOf(flags, projName, role) {
  return `p, proj:${projName}:${role}, ${flags.resource}, ${flags.action}, ${projName}/${flags.object}, ${flags.permission}`
}

async function roleAddPolicy({args, flags}) {
  const [projName, role] = twoArgs(args)
  if (!PROJECT_SCOPED.includes(flags.resource)) throw new ShowHelp()
  const {client, proj} = await project(flags, projName)
  const entry = (proj.spec.roles ?? []).find((r) => r.name === role)
  if (!entry) throw new Fatal(`role '${role}' does not exist in project '${projName}'`)
  entry.policies = [...(entry.policies ?? []), policyOf(flags, projName, role)]
  await client.replace(projPath(proj.metadata.namespace, projName), proj)
}

async function roleRemovePolicy({args, flags}) {
  const [projName, role] = twoArgs(args)
  if (!PROJECT_SCOPED.includes(flags.resource)) throw new ShowHelp()
  const {client, proj} = await project(flags, projName)
  const entry = (proj.spec.roles ?? []).find((r) => r.name === role)
  if (!entry) throw new Fatal(`role '${role}' does not exist in project '${projName}'`)
  const policy = policyOf(flags, projName, role)
  const kept = (entry.policies ?? []).filter((p) => p !== policy)
  if (kept.length === (entry.policies ?? []).length) return
  entry.policies = kept
  await client.replace(projPath(proj.metadata.namespace, projName), proj)
}

async function roleDelete({args, flags}) {
  const [projName, role] = twoArgs(args)
  const {client, proj} = await project(flags, projName)
  const roles = proj.spec.roles ?? []
  if (!roles.some((r) => r.name === role)) {
    process.stdout.write(`Role '${role}' does not exist in project\n`)
    return
  }
  proj.spec.roles = roles.filter((r) => r.name !== role)
  await client.replace(projPath(proj.metadata.namespace, projName), proj)
  process.stdout.write(`Role '${role}' deleted\n`)
}

const HANDLERS = {
  'app create': appCreate,
  'app sync': appSync,
  'app wait': appWait,
  'app get': appGet,
  'app delete': appDelete,
  'app list': appList,
  'app rollback': appRollback,
  'app set': appSet,
  'proj role create': roleCreate,
  'proj role add-policy': roleAddPolicy,
  'proj role remove-policy': roleRemovePolicy,
  'proj role delete': roleDelete,
}

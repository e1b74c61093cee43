// The vcluster test double: the real CLI's flag surface and error texts (contracts/vcluster.json)
// over a Kubernetes API stand-in. A "vcluster" is recorded on the host the way the real helm driver
// leaves it discoverable (StatefulSet app=vcluster,release=NAME + Secret vc-NAME with its kubeconfig);
// the virtual cluster itself is an isolated cluster on the stand-in (admin API /_standin/clusters/<id>).
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse as parseYaml, stringify as stringifyYaml} from 'yaml'
import {commandWords, boolSets, fill, loadFacts, withoutIndexes} from './cli.mjs'
import {KubeClient, KubeError, kubeconfigPaths, loadKubeconfig, rawRequest, selectContext, standInOf} from './kube.mjs'
import {FlagError, FlagSet, HelpRequested, renderHelp, suggestionsFor} from './pflag.mjs'

const facts = loadFacts('vcluster')
/** The version a build of the contract's commit line reports (override for "too old" tests). */
export const VERSION = process.env.IDP_DOUBLE_VCLUSTER_VERSION || facts.version.latestTagInSnapshot.replace(/^v/u, '')
export const IMPLEMENTED = ['create', 'connect', 'delete', 'list', 'pause', 'resume']

const CREATED_ANNOTATION = 'vcluster.loft.sh/created'
const PAUSED_ANNOTATION = 'loft.sh/paused'
const PAUSED_REPLICAS_ANNOTATION = 'loft.sh/paused-replicas'

class Fatal extends Error {}

const COLORS = {info: '0;1;36', done: '0;1;32', warn: '0;1;33', fatal: '0;1;31'}

function clock() {
  const d = new Date()
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')
}

/** loft-sh/log stream logger: coloured even without a TTY; info/done to stdout, warn/fatal to stderr. */
function makeLogger({silent, stdoutDiscarded}) {
  const line = (level, msg) => `\x1b[0;1;37m${clock()} \x1b[0m\x1b[${COLORS[level]}m${level} \x1b[0m${msg}\n`
  return {
    info: (msg) => !silent && !stdoutDiscarded && process.stdout.write(line('info', msg)),
    done: (msg) => !silent && !stdoutDiscarded && process.stdout.write(line('done', msg)),
    warn: (msg) => !silent && process.stderr.write(line('warn', msg)),
    fatal: (msg) => process.stderr.write(line('fatal', msg)),
  }
}

function fatalAndExit(message) {
  makeLogger({}).fatal(message)
  process.exit(facts.errors.exitCode)
}

function flagsOf(command) {
  return [...(command?.flags ?? []), ...facts.globalFlags, facts.implicitFlags.help, ...(command ? [] : [facts.implicitFlags.version])]
}

export async function main(argv) {
  const rootFlags = flagsOf(undefined)
  const {long, short} = boolSets(rootFlags)
  const words = commandWords(argv, long, short)
  const names = Object.keys(facts.commands)
  const first = words[0]
  const name = first && names.find((n) => n === first.word || facts.commands[n].aliases.includes(first.word))

  if (!first) {
    const fs = new FlagSet(rootFlags)
    try {
      fs.parse(argv)
    } catch (error) {
      if (error instanceof HelpRequested) return printHelp('vcluster [command]', rootFlags)
      return fatalAndExit(error.message)
    }
    emitWarnings(fs)
    if (fs.values.version) {
      process.stdout.write(fill(facts.version.versionOutput, {version: VERSION}) + '\n')
      return
    }
    return printHelp('vcluster [command]', rootFlags)
  }
  if (!name) {
    const suggestions = suggestionsFor(first.word, names)
    const suffix = suggestions.length > 0 ? `\n\nDid you mean this?\n${suggestions.map((s) => `\t${s}\n`).join('')}` : ''
    return fatalAndExit(fill(facts.errors.messages.unknownCommand, {arg: first.word}) + suffix)
  }
  const command = facts.commands[name]
  const flags = flagsOf(command)
  const fs = new FlagSet(flags)
  let args
  try {
    args = fs.parse(withoutIndexes(argv, [first.index]))
  } catch (error) {
    if (error instanceof HelpRequested) return printHelp(command.useLine, flags)
    if (error instanceof FlagError) return fatalAndExit(error.message)
    throw error
  }
  emitWarnings(fs)
  resolveDynamicDefaults(fs)
  try {
    checkArgs(name, command, args)
    if (!IMPLEMENTED.includes(name)) throw new Fatal(`the vcluster test double does not implement "vcluster ${name}"`)
    const log = makeLogger({silent: fs.values.silent, stdoutDiscarded: name === 'connect' && fs.values.print})
    await HANDLERS[name]({args, flags: fs.values, changed: fs.changed, log})
  } catch (error) {
    if (error instanceof Fatal || error instanceof KubeError) return fatalAndExit(error.message)
    return fatalAndExit(error?.message ?? String(error))
  }
}

/** Defaults the real CLI computes at run time (the contract records them as placeholders). */
function resolveDynamicDefaults(fs) {
  const dynamic = {
    'chart-version': VERSION,
    'background-proxy-image': process.env.VCLUSTER_BACKGROUND_PROXY_IMAGE || `ghcr.io/loft-sh/vcluster-pro:${VERSION}`,
    config: join(homedir(), '.vcluster', 'config.json'),
    project: '',
  }
  for (const [name, value] of Object.entries(dynamic)) {
    if (fs.byName.get(name)?.defaultIsDynamic && !fs.changed.has(name)) fs.values[name] = value
  }
}

function printHelp(useLine, flags) {
  process.stdout.write(renderHelp(useLine, flags))
}

function emitWarnings(fs) {
  for (const warning of fs.warnings) process.stderr.write(`${warning}\n`)
}

/** pkg/cli/util/args.go NamedPositionalArgsValidator, cobra.NoArgs and cobra.ExactArgs. */
function checkArgs(name, command, args) {
  const a = command.args
  // connect runs a command after the name: `vcluster connect NAME -- cmd args`
  const counted = a.commandAfterName ? args.slice(0, 1) : args
  if (a.max === 0 && args.length > 0) throw new Fatal(fill(facts.errors.messages.noArgsCommandGivenArg, {arg: args[0], cmd: name}))
  if (!a.errorMissing && (args.length < a.min || (a.max !== null && args.length > a.max))) {
    throw new Fatal(fill(facts.errors.messages.exactArgs, {n: a.min, received: args.length}))
  }
  if (counted.length < a.min) {
    throw new Fatal(fill(a.errorMissing, {useLine: command.useLine, received: args.length, expected: a.min, missing: a.names.slice(args.length).join(', ')}))
  }
  if (a.max !== null && args.length > a.max) {
    throw new Fatal(fill(a.errorExtra, {useLine: command.useLine, received: args.length, expected: a.max, extra: args.slice(a.max).join(', ')}))
  }
}

function checkDriver(flags, changed, platformFlagNames) {
  const driver = flags.driver || 'helm'
  if (!['helm', 'platform', 'docker'].includes(driver)) throw new Fatal(fill(facts.errors.invalidDriver, {driver}))
  const set = platformFlagNames.filter((n) => changed.has(n))
  if (driver !== 'platform' && set.length > 0) throw new Fatal(fill(facts.errors.platformFlags, {driver, flags: set.map((n) => `--${n}`).join(', ')}))
  if (driver !== 'helm') throw new Fatal(`the vcluster test double supports only the helm driver (got --driver ${driver})`)
}

function host(flags) {
  const config = loadKubeconfig()
  const selected = selectContext(config, flags.context)
  const client = new KubeClient(selected)
  const standIn = standInOf(client.server)
  return {config, selected, client, standIn}
}

const stsPath = (ns, name) => `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/statefulsets${name ? `/${encodeURIComponent(name)}` : ''}`
const secretPath = (ns, name) => `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets${name ? `/${encodeURIComponent(name)}` : ''}`
const nsPath = (ns) => `/api/v1/namespaces${ns ? `/${encodeURIComponent(ns)}` : ''}`
const virtualClusterId = (ns, name) => `vcluster-${ns}-${name}`

/** find.GetVCluster: in one namespace, or all of them; the error texts are the real ones. */
async function findVCluster(client, name, namespace) {
  const selector = encodeURIComponent('app=vcluster')
  const path = namespace ? `${stsPath(namespace)}?labelSelector=${selector}` : `/apis/apps/v1/statefulsets?labelSelector=${selector}`
  const list = (await client.get(path))?.items ?? []
  const matches = list.filter((s) => s.metadata?.labels?.release === name)
  if (matches.length === 0) return undefined
  if (matches.length > 1) throw new Fatal(`multiple vclusters with name ${name} found, please specify a namespace via --namespace to select the correct one`)
  return matches[0]
}

function statusOf(sts) {
  if (sts.metadata?.annotations?.[PAUSED_ANNOTATION] === 'true') return 'Paused'
  if ((sts.spec?.replicas ?? 1) === 0) return 'ScaledDown'
  return 'Running'
}

function contextNameFor(name, namespace, parent) {
  return fill(facts.outputs.connectPrint.contextName, {name, namespace, parentContext: parent})
}

async function create({args: [name], flags, changed, log}) {
  checkDriver(flags, changed, facts.platformOnlyCreateFlags)
  if (changed.has('update-current') && flags['update-current'] === false) log.warn('"--update-current=false" has no effect anymore. Please consider using "--connect=false".')
  for (const file of flags.values) {
    if (!existsSync(file)) throw new Fatal(`open ${file}: no such file or directory`)
    try {
      parseYaml(readFileSync(file, 'utf8'))
    } catch (error) {
      throw new Fatal(`parse values file ${file}: ${error.message.split('\n')[0]}`)
    }
  }
  const {selected, client, standIn} = host(flags)
  let namespace = flags.namespace
  if (!namespace) namespace = selected.namespace && selected.namespace !== 'default' ? selected.namespace : `vcluster-${name}`
  if (!standIn) throw new Fatal(`the vcluster test double needs a Kubernetes API stand-in (server ${client.server} is not <root>/clusters/<id>)`)

  const existing = await client.get(stsPath(namespace, name))
  if (existing && !flags.upgrade) throw new Fatal(facts.errors.alreadyExists.replaceAll('NAME', name).replaceAll('NS', namespace))

  if (flags['create-namespace']) {
    if (!(await client.get(nsPath(namespace)))) {
      log.info(`Creating namespace ${namespace}`)
      await client.create(nsPath(), {apiVersion: 'v1', kind: 'Namespace', metadata: {name: namespace, annotations: {[CREATED_ANNOTATION]: 'true'}}})
    }
  } else if (!(await client.get(nsPath(namespace)))) {
    throw new Fatal(`namespaces "${namespace}" not found`)
  }

  const id = virtualClusterId(namespace, name)
  log.info(`Create vcluster ${name}...`)
  const admin = await rawRequest(`${standIn.root}/_standin/clusters/${encodeURIComponent(id)}`, {method: 'PUT', headers: client.headers, tls: client.tls, body: {}})
  if (admin.status < 200 || admin.status >= 300) throw new Fatal(`create virtual cluster ${id} on the stand-in: status ${admin.status} ${admin.text}`)

  const chartVersion = flags['chart-version']
  const labels = {app: 'vcluster', release: name, chart: `${flags['chart-name']}-${chartVersion}`, heritage: 'Helm'}
  const server = `${standIn.root}/clusters/${id}`
  const kubeconfig = stringifyYaml({
    apiVersion: 'v1',
    clusters: [{cluster: {server}, name: 'my-vcluster'}],
    contexts: [{context: {cluster: 'my-vcluster', user: 'my-vcluster'}, name: 'my-vcluster'}],
    'current-context': 'my-vcluster',
    kind: 'Config',
    users: [{name: 'my-vcluster', user: tokenUser(selected.user)}],
  })
  const sts = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {name, namespace, labels, annotations: {'idp.test/virtual-cluster': id, 'idp.test/values-files': flags.values.length.toString()}},
    spec: {replicas: 1, serviceName: `${name}-headless`, selector: {matchLabels: {app: 'vcluster', release: name}}, template: {metadata: {labels: {app: 'vcluster', release: name}}, spec: {containers: [{name: 'syncer', image: `ghcr.io/loft-sh/vcluster-pro:${chartVersion}`}]}}},
  }
  if (existing) {
    sts.metadata = {...existing.metadata, labels: {...existing.metadata.labels, ...labels}, annotations: {...existing.metadata.annotations, ...sts.metadata.annotations}}
    sts.spec.replicas = existing.spec?.replicas ?? 1
    await client.replace(stsPath(namespace, name), sts)
  } else {
    await client.create(stsPath(namespace), sts)
  }
  const secret = {apiVersion: 'v1', kind: 'Secret', metadata: {name: `vc-${name}`, namespace, labels: {app: 'vcluster', release: name}}, type: 'Opaque', data: {config: Buffer.from(kubeconfig).toString('base64')}}
  if (await client.get(secretPath(namespace, `vc-${name}`))) await client.replace(secretPath(namespace, `vc-${name}`), secret)
  else await client.create(secretPath(namespace), secret)
  log.done(`Successfully ${existing ? 'upgraded' : 'created'} virtual cluster ${name} in namespace ${namespace}`)

  if (flags.connect || flags.print) {
    await connectTo({name, namespace, flags: {...flags, 'update-current': true}, log})
  }
}

function tokenUser(user) {
  const out = {}
  for (const key of ['token', 'client-certificate-data', 'client-key-data', 'username', 'password']) if (user?.[key]) out[key] = user[key]
  return out
}

async function connect({args, flags, changed, log}) {
  checkDriver(flags, changed, ['project'])
  if (flags['cluster-role'] && !flags['service-account']) throw new Fatal('expected --service-account to be defined as well')
  const [name, ...command] = args
  const {client} = host(flags)
  const sts = await findVCluster(client, name, flags.namespace)
  if (!sts) throw new Fatal(fill(facts.errors.notFound, {name}))
  if (statusOf(sts) === 'Paused') await setPaused(client, sts, false, log)
  if (statusOf(sts) === 'ScaledDown') {
    const ns = sts.metadata.namespace
    throw new Fatal(`tenant cluster control plane ${ns}/${name} is scaled down to zero replicas, run 'vcluster pause ${name} -n ${ns} && vcluster resume ${name} -n ${ns}' first`)
  }
  await connectTo({name, namespace: sts.metadata.namespace, flags, log, command})
}

/** Build the kubeconfig of the vcluster as connect_helm.go writes it (one cluster/context/user). */
async function connectTo({name, namespace, flags, log, command = []}) {
  const {selected, client} = host(flags)
  const secret = await client.get(secretPath(namespace, `vc-${name}`))
  if (!secret?.data?.config) throw new Fatal(`couldn't find vcluster kubeconfig secret vc-${name} in namespace ${namespace}`)
  const inner = parseYaml(Buffer.from(secret.data.config, 'base64').toString('utf8'))
  const innerCtx = selectContext(inner)
  const contextName = flags['kube-config-context-name'] || contextNameFor(name, namespace, selected.contextName)
  let server = innerCtx.cluster.server
  if (flags.server) server = /^https?:\/\//u.test(flags.server) ? flags.server : `https://${flags.server}`
  const cluster = {server}
  if (flags.insecure) cluster['insecure-skip-tls-verify'] = true
  else if (innerCtx.cluster['certificate-authority-data']) cluster['certificate-authority-data'] = innerCtx.cluster['certificate-authority-data']
  const kubeconfig = {
    apiVersion: 'v1',
    clusters: [{cluster, name: contextName}],
    contexts: [{context: {cluster: contextName, user: contextName}, name: contextName}],
    'current-context': contextName,
    kind: 'Config',
    users: [{name: contextName, user: innerCtx.user}],
  }
  const text = stringifyYaml(kubeconfig)
  if (command.length > 0) {
    const dir = mkdtempSync(join(tmpdir(), 'vcluster-double-'))
    const file = join(dir, 'kubeconfig.yaml')
    writeFileSync(file, text, {mode: 0o600})
    const code = await new Promise((resolveCode) => {
      const child = spawn(command[0], command.slice(1), {stdio: 'inherit', env: {...process.env, KUBECONFIG: file}})
      child.on('error', (error) => {
        log.fatal(`Error executing command: ${error.message}`)
        resolveCode(1)
      })
      child.on('exit', (c) => resolveCode(c ?? 1))
    })
    rmSync(dir, {recursive: true, force: true})
    process.exitCode = code
    return
  }
  if (flags.print) {
    process.stdout.write(text)
    return
  }
  mergeIntoKubeconfig(kubeconfig, contextName)
  log.done(`Switched active kube context to ${contextName}`)
}

/** Without --print the real CLI merges the context into the default kubeconfig and switches to it. */
function mergeIntoKubeconfig(kubeconfig, contextName) {
  const path = kubeconfigPaths()[0]
  const doc = existsSync(path) ? (parseYaml(readFileSync(path, 'utf8')) ?? {}) : {apiVersion: 'v1', kind: 'Config'}
  for (const key of ['clusters', 'contexts', 'users']) {
    doc[key] = [...(doc[key] ?? []).filter((e) => e.name !== contextName), ...kubeconfig[key]]
  }
  doc['current-context'] = contextName
  writeFileSync(path, stringifyYaml(doc), {mode: 0o600})
}

function removeFromKubeconfig(contextName) {
  const path = kubeconfigPaths()[0]
  if (!existsSync(path)) return
  const doc = parseYaml(readFileSync(path, 'utf8')) ?? {}
  if (!(doc.contexts ?? []).some((c) => c.name === contextName)) return
  for (const key of ['clusters', 'contexts', 'users']) doc[key] = (doc[key] ?? []).filter((e) => e.name !== contextName)
  if (doc['current-context'] === contextName) doc['current-context'] = ''
  writeFileSync(path, stringifyYaml(doc), {mode: 0o600})
}

async function list({flags, changed, log}) {
  checkDriver(flags, changed, [])
  const {client, selected} = host(flags)
  const selector = encodeURIComponent('app=vcluster')
  const path = flags.namespace ? `${stsPath(flags.namespace)}?labelSelector=${selector}` : `/apis/apps/v1/statefulsets?labelSelector=${selector}`
  const items = (await client.get(path))?.items ?? []
  const rows = items.filter((s) => s.metadata?.labels?.release).map((s) => {
    const created = s.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/u, 'Z')
    const name = s.metadata.labels.release
    return {
      Created: created,
      Name: name,
      Namespace: s.metadata.namespace,
      Version: (s.metadata.labels.chart ?? '').replace(/^.*?-(?=\d)/u, ''),
      Status: statusOf(s),
      AgeSeconds: Math.max(0, Math.round((Date.now() - Date.parse(created)) / 1000)),
      Connected: selected.contextName === contextNameFor(name, s.metadata.namespace, parentOf(selected.contextName)),
    }
  })
  if (flags.output === 'json') {
    // json.MarshalIndent of a nil slice is `null`, written through the logger at info level.
    if (!flags.silent) process.stdout.write(`${JSON.stringify(rows.length > 0 ? rows : null, null, facts.outputs.listJson.indent)}\n`)
    return
  }
  if (rows.length === 0) {
    log.info('No virtual clusters found')
    return
  }
  const header = ['NAME', 'NAMESPACE', 'STATUS', 'VERSION', 'CONNECTED', 'AGE']
  const table = [header, ...rows.map((r) => [r.Name, r.Namespace, r.Status, r.Version, r.Connected ? 'True' : '', `${r.AgeSeconds}s`])]
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)))
  if (!flags.silent) process.stdout.write(`${table.map((row) => `  ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')}`.trimEnd()).join('\n')}\n`)
}

function parentOf(contextName) {
  const m = /^vcluster_[^_]+_[^_]+_(.+)$/u.exec(contextName)
  return m ? m[1] : contextName
}

async function remove({args: [name], flags, changed, log}) {
  checkDriver(flags, changed, ['project'])
  const {client, standIn, selected} = host(flags)
  const sts = await findVCluster(client, name, flags.namespace)
  if (!sts) {
    if (flags['ignore-not-found']) {
      log.info(`vcluster ${name} was not found`)
      return
    }
    throw new Fatal(fill(facts.errors.notFound, {name}))
  }
  const ns = sts.metadata.namespace
  log.info(`Delete vcluster ${name}...`)
  await client.remove(stsPath(ns, name))
  await client.remove(secretPath(ns, `vc-${name}`))
  const id = sts.metadata.annotations?.['idp.test/virtual-cluster'] ?? virtualClusterId(ns, name)
  if (standIn) {
    const res = await rawRequest(`${standIn.root}/_standin/clusters/${encodeURIComponent(id)}`, {method: 'DELETE', headers: client.headers, tls: client.tls})
    if (res.status >= 300 && res.status !== 404) throw new Fatal(`delete virtual cluster ${id} on the stand-in: status ${res.status}`)
  }
  log.done(`Successfully deleted virtual cluster ${name} in namespace ${ns}`)
  if (flags['delete-context']) removeFromKubeconfig(contextNameFor(name, ns, parentOf(selected.contextName)))
  const namespace = await client.get(nsPath(ns))
  if (namespace && (flags['delete-namespace'] || (flags['auto-delete-namespace'] && namespace.metadata?.annotations?.[CREATED_ANNOTATION] === 'true'))) {
    await client.remove(nsPath(ns))
    log.done(`Successfully deleted virtual cluster namespace ${ns}`)
  }
}

async function setPaused(client, sts, paused, log) {
  const ns = sts.metadata.namespace
  const name = sts.metadata.name
  const annotations = {...sts.metadata.annotations}
  let replicas
  if (paused) {
    annotations[PAUSED_ANNOTATION] = 'true'
    annotations[PAUSED_REPLICAS_ANNOTATION] = String(sts.spec?.replicas ?? 1)
    replicas = 0
  } else {
    replicas = Number(annotations[PAUSED_REPLICAS_ANNOTATION] ?? 1) || 1
    delete annotations[PAUSED_ANNOTATION]
    delete annotations[PAUSED_REPLICAS_ANNOTATION]
  }
  const updated = {...sts, metadata: {...sts.metadata, annotations}, spec: {...sts.spec, replicas}}
  const saved = await client.replace(stsPath(ns, name), updated)
  Object.assign(sts, saved ?? updated)
  if (paused) log.done(`Successfully paused vcluster ${ns}/${name}`)
  else log.done(`Successfully resumed vcluster ${name} in namespace ${ns}`)
}

async function pause({args: [name], flags, changed, log}) {
  checkDriver(flags, changed, ['project', 'prevent-wakeup'])
  const {client} = host(flags)
  const sts = await findVCluster(client, name, flags.namespace)
  if (!sts) throw new Fatal(fill(facts.errors.notFound, {name}))
  await setPaused(client, sts, true, log)
}

async function resume({args: [name], flags, changed, log}) {
  checkDriver(flags, changed, ['project'])
  const {client} = host(flags)
  const sts = await findVCluster(client, name, flags.namespace)
  if (!sts) throw new Fatal(fill(facts.errors.notFound, {name}))
  await setPaused(client, sts, false, log)
}

const HANDLERS = {create, connect, delete: remove, list, pause, resume}

import {createHash} from 'node:crypto'
import {readFile, rm, stat} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {cacheKey, defineCache, fileIdentity, isRecord} from '../cli/cache.js'
import {PrerequisiteError} from '../cli/errors.js'
import {writePrivateFile} from '../cli/paths.js'
import {registerSecret} from '../cli/redact.js'

/**
 * Kubeconfig handling the way kubectl does it (KUBECONFIG list of files, else ~/.kube/config;
 * the first file that defines a name wins), with two rules of idp's own: a context is always
 * picked by name, never the current one by accident, and the user's files are only read.
 */
type Entry = Record<string, unknown>

interface Named {
  entry: Entry
  /** The file that defined it; relative paths inside are relative to this file. */
  source: string
}

export interface Kubeconfig {
  /** Files that existed and were read, in order. */
  files: string[]
  clusters: Map<string, Named>
  users: Map<string, Named>
  contexts: Map<string, Named>
  currentContext?: string
}

export interface ResolvedCluster {
  name: string
  server: string
  certificateAuthorityData?: string
  certificateAuthority?: string
  insecureSkipTlsVerify?: boolean
  tlsServerName?: string
  proxyUrl?: string
}

export interface ResolvedUser {
  name: string
  token?: string
  tokenFile?: string
  clientCertificateData?: string
  clientCertificate?: string
  clientKeyData?: string
  clientKey?: string
  username?: string
  password?: string
  /** An exec credential plugin or auth-provider is configured: the reachability checks do not run it (API calls do, kube/exec-credential.ts). */
  usesPlugin: boolean
}

export interface ResolvedContext {
  name: string
  namespace?: string
  source: string
  cluster: ResolvedCluster
  user: ResolvedUser
}

/** The kubeconfig files kubectl would read: an explicit file, else KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPaths(options: {kubeconfigPath?: string; env?: NodeJS.ProcessEnv} = {}): string[] {
  const env = options.env ?? process.env
  if (options.kubeconfigPath) return [path.resolve(expandHome(options.kubeconfigPath, env))]
  const list = (env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean)
  if (list.length > 0) return list.map((p) => path.resolve(expandHome(p, env)))
  return [path.join(env.HOME || os.homedir(), '.kube', 'config')]
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  return p === '~' || p.startsWith('~/') ? path.join(env.HOME || os.homedir(), p.slice(1)) : p
}

function asEntries(value: unknown): Array<{name: string; body: Entry}> {
  if (!Array.isArray(value)) return []
  return value.flatMap((item) => {
    if (!item || typeof item !== 'object') return []
    const {name} = item as Entry
    if (typeof name !== 'string') return []
    const key = Object.keys(item as Entry).find((k) => k !== 'name')
    const body = key ? (item as Entry)[key] : {}
    return [{name, body: (body && typeof body === 'object' ? body : {}) as Entry}]
  })
}

/**
 * A kubeconfig's text as data. JSON (what idp writes) is parsed as JSON; anything else with
 * `yaml`, loaded only then (JSON is YAML, so the result is the same either way).
 */
async function parseKubeconfigText(text: string): Promise<unknown> {
  if (text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text) ?? {}
    } catch {}
  }
  const {parse} = await import('../cli/yaml.js')
  return parse(text) ?? {}
}

export async function readKubeconfig(options: {kubeconfigPath?: string; env?: NodeJS.ProcessEnv} = {}): Promise<Kubeconfig> {
  const config: Kubeconfig = {files: [], clusters: new Map(), users: new Map(), contexts: new Map()}
  for (const file of kubeconfigPaths(options)) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      // kubectl skips missing files of a KUBECONFIG list; an explicitly named file must exist.
      if (options.kubeconfigPath) {
        throw new PrerequisiteError(`Cannot read the kubeconfig ${file}: ${(error as Error).message}`, {
          hint: 'Fix the `kubeconfig` path of this cluster in .idp.yml, or remove it to use KUBECONFIG / ~/.kube/config.',
        })
      }
      continue
    }
    let doc: Entry
    try {
      doc = (await parseKubeconfigText(text)) as Entry
    } catch (error) {
      throw new PrerequisiteError(`The kubeconfig ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, {
        hint: 'Check it with `kubectl config view`, or point KUBECONFIG at a valid file.',
      })
    }
    config.files.push(file)
    for (const [field, map] of [
      ['clusters', config.clusters],
      ['users', config.users],
      ['contexts', config.contexts],
    ] as const) {
      for (const {name, body} of asEntries(doc[field])) if (!map.has(name)) map.set(name, {entry: body, source: file})
    }
    if (!config.currentContext && typeof doc['current-context'] === 'string' && doc['current-context']) config.currentContext = doc['current-context']
  }
  for (const {entry} of config.users.values()) registerUserSecrets(entry)
  return config
}

/** Credentials in a kubeconfig user entry are secrets wherever they might be printed. */
export function registerUserSecrets(user: Entry): void {
  for (const key of ['token', 'password', 'client-key-data']) registerSecret(str(user[key]))
  const provider = user['auth-provider'] as Entry | undefined
  const providerConfig = (provider?.config ?? {}) as Entry
  for (const key of ['id-token', 'refresh-token', 'access-token', 'client-secret']) registerSecret(str(providerConfig[key]))
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

function where(config: Kubeconfig): string {
  return config.files.length > 0 ? config.files.join(', ') : 'no kubeconfig file found'
}

/** The context named `name`; a PrerequisiteError listing the available ones when it does not exist. */
export function selectContext(config: Kubeconfig, name: string): ResolvedContext {
  const context = config.contexts.get(name)
  if (!context) {
    const available = [...config.contexts.keys()]
    // kind names its contexts kind-<cluster>: `kind create cluster` alone makes kind-kind, not the one asked for.
    const kind = /^kind-[a-z0-9][a-z0-9.-]*$/u.test(name) ? `\`kind create cluster --name ${name.slice(5)}\` makes it locally. ` : ''
    throw new PrerequisiteError(`Kube context "${name}" not found (${where(config)}).`, {
      hint:
        available.length > 0
          ? `Available contexts: ${available.join(', ')}. Set clusters.<name>.context in .idp.yml to one of them, or add the context to your kubeconfig. ${kind}`.trim()
          : `No contexts are defined. ${kind}Create one with your cloud CLI's "update-kubeconfig", or set KUBECONFIG to a file that has it.`,
      details: {context: name, available},
    })
  }
  const clusterName = str(context.entry.cluster)
  const userName = str(context.entry.user)
  const cluster = clusterName ? config.clusters.get(clusterName) : undefined
  if (!cluster || !str(cluster.entry.server)) {
    throw new PrerequisiteError(`Kube context "${name}" refers to cluster "${clusterName ?? ''}", which is missing or has no server (${where(config)}).`, {
      hint: 'Repair the context with `kubectl config set-context` / `kubectl config set-cluster`, or pick another context.',
    })
  }
  const user = userName ? config.users.get(userName) : undefined
  const u = user?.entry ?? {}
  const c = cluster.entry
  const abs = (value: unknown, source: string) => (str(value) ? path.resolve(path.dirname(source), str(value)!) : undefined)
  return {
    name,
    namespace: str(context.entry.namespace),
    source: context.source,
    cluster: {
      name: clusterName!,
      server: str(c.server)!,
      certificateAuthorityData: str(c['certificate-authority-data']),
      certificateAuthority: abs(c['certificate-authority'], cluster.source),
      insecureSkipTlsVerify: c['insecure-skip-tls-verify'] === true,
      tlsServerName: str(c['tls-server-name']),
      proxyUrl: str(c['proxy-url']),
    },
    user: {
      name: userName ?? '',
      token: str(u.token),
      tokenFile: user ? abs(u.tokenFile, user.source) : undefined,
      clientCertificateData: str(u['client-certificate-data']),
      clientCertificate: user ? abs(u['client-certificate'], user.source) : undefined,
      clientKeyData: str(u['client-key-data']),
      clientKey: user ? abs(u['client-key'], user.source) : undefined,
      username: str(u.username),
      password: str(u.password),
      usesPlugin: Boolean(u.exec || u['auth-provider']),
    },
  }
}

/** Load the kubeconfig and pick a context by name, in one step. */
export async function resolveContext(options: {context: string; kubeconfigPath?: string; env?: NodeJS.ProcessEnv}): Promise<ResolvedContext> {
  return selectContext(await readKubeconfig(options), options.context)
}

/** Relative file references stop working once the entry moves to another directory: make them absolute. */
function absolutePaths(entry: Entry, source: string, keys: string[]): Entry {
  const out: Entry = structuredClone(entry)
  for (const key of keys) {
    const value = str(out[key])
    if (value) out[key] = path.resolve(path.dirname(source), value)
  }
  const exec = out.exec as Entry | undefined
  const command = str(exec?.command)
  // kubectl resolves an exec command with a path separator relative to the kubeconfig's directory.
  if (exec && command && command.includes('/') && !path.isAbsolute(command)) exec.command = path.resolve(path.dirname(source), command)
  return out
}

export interface PrivateKubeconfig {
  file: string
  context: string
  server: string
  namespace?: string
  /** sha256 of the copy's text: the same value means the same cluster and credentials. */
  sha256: string
}

/**
 * Copy one context (with its cluster and user) into a private, minified kubeconfig (0600)
 * that idp hands to every child tool as KUBECONFIG. The user's own files are never written.
 * The copy is JSON (every kubeconfig reader reads it; no YAML parser needed to read it back).
 * Next to it, `<file>.source.json` records what it was copied from (the context, and each
 * kubeconfig file kubectl would read, with its inode, size and times, or its absence), the idp
 * build, and a hash of the copy: while all of that is unchanged, a later call uses the copy as it
 * is, without reading the user's files again. Any change to them, to KUBECONFIG, to the context
 * or to the copy means a fresh copy. A source changed in the last seconds is not trusted to show
 * its next change in its times (a rewrite of the same size within the clock's resolution), so then
 * no record is kept and the next call copies again.
 */
export async function writePrivateKubeconfig(options: {context: string; kubeconfigPath?: string; file: string; env?: NodeJS.ProcessEnv}): Promise<PrivateKubeconfig> {
  const file = path.resolve(options.file)
  const sources = kubeconfigPaths(options)
  const states = await Promise.all(sources.map(fileState))
  const origin = {context: options.context, sources: states.map(({path, state}) => ({path, state}))}
  const key = cacheKey(origin.context, ...origin.sources.flatMap(({path, state}) => [path, state]))
  if (!sources.includes(file)) {
    const kept = await keptCopy(file, key, options.context)
    if (kept) return kept
  }
  const config = await readKubeconfig(options)
  const resolved = selectContext(config, options.context)
  const context = config.contexts.get(options.context)!
  const cluster = config.clusters.get(resolved.cluster.name)!
  const user = resolved.user.name ? config.users.get(resolved.user.name) : undefined
  const contextBody: Entry = {cluster: resolved.cluster.name, user: resolved.user.name}
  if (resolved.namespace) contextBody.namespace = resolved.namespace
  for (const [key, value] of Object.entries(context.entry)) if (!(key in contextBody) && key !== 'namespace') contextBody[key] = value
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{name: resolved.cluster.name, cluster: absolutePaths(cluster.entry, cluster.source, ['certificate-authority'])}],
    users: [{name: resolved.user.name, user: user ? absolutePaths(user.entry, user.source, ['client-certificate', 'client-key', 'tokenFile']) : {}}],
    contexts: [{name: options.context, context: contextBody}],
    'current-context': options.context,
    preferences: {},
  }
  if (config.files.includes(file)) {
    throw new PrerequisiteError(`Refusing to write the private kubeconfig over ${file}, which is one of your kubeconfig files.`, {
      hint: 'idp never modifies your kubeconfig; choose another target file.',
    })
  }
  const text = `${JSON.stringify(doc, null, 2)}\n`
  const written: PrivateKubeconfig = {file, context: options.context, server: resolved.cluster.server, namespace: resolved.namespace, sha256: sha256(text)}
  // The old record must not outlive its copy; without a record the next call copies again.
  await rm(originFile(file), {force: true}).catch(() => {})
  await writePrivateFile(file, text)
  if (states.every((source) => source.mtimeMs === undefined || Date.now() - source.mtimeMs > SETTLED_MS)) {
    const record: CopyRecord = {sha256: written.sha256, server: written.server, ...(written.namespace ? {namespace: written.namespace} : {})}
    await copyRecords.write(originFile(file), key, record, origin)
  }
  return written
}

/** How long ago a source must have last changed for its times to be trusted to show the next change. */
const SETTLED_MS = 2000

interface FileState {
  path: string
  /** fileIdentity, or "absent". */
  state: string
}

/**
 * What `<copy>.source.json` keeps of a copy, under a key of its context, each source's identity
 * and the build (another build copies again); the context and sources are written beside it, for
 * people.
 */
interface CopyRecord {
  /** sha256 of the copy as written, so a copy written by another process (or edited) is not taken for this one. */
  sha256: string
  server: string
  namespace?: string
}

const copyRecords = defineCache<CopyRecord>({
  version: 2,
  valid: (value) => isRecord(value) && typeof value.sha256 === 'string' && typeof value.server === 'string',
})

const originFile = (file: string) => `${file}.source.json`
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

async function fileState(file: string): Promise<FileState & {mtimeMs?: number}> {
  try {
    const info = await stat(file, {bigint: true})
    return {path: file, state: fileIdentity(info), mtimeMs: Number(info.mtimeMs)}
  } catch {
    return {path: file, state: 'absent'}
  }
}

/**
 * The copy at `file`, when its record has `key` (made from exactly these sources, for this
 * context, by this build) and it has not changed since. Its user's credentials are registered as
 * secrets (the other users in your kubeconfig files are not read then; no tool is ever given them).
 */
async function keptCopy(file: string, key: string, context: string): Promise<PrivateKubeconfig | undefined> {
  const [record, text] = await Promise.all([copyRecords.read(originFile(file), key), readFile(file, 'utf8').catch(() => undefined)])
  if (!record || text === undefined || record.sha256 !== sha256(text)) return undefined
  try {
    const doc = JSON.parse(text) as {users?: Array<{user?: Entry}>; 'current-context'?: string}
    if (doc['current-context'] !== context) return undefined
    for (const user of doc.users ?? []) if (user.user) registerUserSecrets(user.user)
  } catch {
    return undefined
  }
  return {file, context, server: record.server, ...(record.namespace ? {namespace: record.namespace} : {}), sha256: record.sha256}
}

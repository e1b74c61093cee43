// The minimum of client-go the doubles need: load the kubeconfig the process was given
// (KUBECONFIG list or ~/.kube/config, like kubectl), pick a context, and talk JSON to the API.
import {existsSync, readFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import {homedir} from 'node:os'
import {delimiter, resolve} from 'node:path'
import {parse as parseYaml} from 'yaml'

export class KubeError extends Error {
  constructor(message, status, body) {
    super(message)
    this.status = status
    this.body = body
  }
}

export function kubeconfigPaths(env = process.env) {
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).filter(Boolean).map((p) => resolve(p))
  return [resolve(homedir(), '.kube', 'config')]
}

/** Merge kubeconfig files with client-go's rule: the first file to set a value wins. */
export function loadKubeconfig(env = process.env) {
  const merged = {clusters: [], contexts: [], users: [], 'current-context': undefined}
  for (const path of kubeconfigPaths(env)) {
    if (!existsSync(path)) continue
    const doc = parseYaml(readFileSync(path, 'utf8')) ?? {}
    merged['current-context'] ??= doc['current-context'] || undefined
    for (const key of ['clusters', 'contexts', 'users']) {
      for (const entry of doc[key] ?? []) if (!merged[key].some((e) => e.name === entry.name)) merged[key].push(entry)
    }
  }
  return merged
}

/** Resolve the context to use; the error texts are client-go's. */
export function selectContext(config, contextOverride) {
  const name = contextOverride || config['current-context']
  if (!name) throw new KubeError('invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable')
  const context = config.contexts.find((c) => c.name === name)?.context
  if (!context) throw new KubeError(`context "${name}" does not exist`)
  const cluster = config.clusters.find((c) => c.name === context.cluster)?.cluster
  if (!cluster) throw new KubeError(`invalid configuration: cluster "${context.cluster}" not found`)
  const user = config.users.find((u) => u.name === context.user)?.user ?? {}
  return {contextName: name, namespace: context.namespace ?? '', cluster, user, clusterName: context.cluster, userName: context.user}
}

function fileOrData(data, file) {
  if (data) return Buffer.from(data, 'base64')
  if (file) return readFileSync(file)
  return undefined
}

/** A tiny JSON client for one cluster (server URL + credentials from a kubeconfig). */
export class KubeClient {
  constructor({cluster, user}) {
    this.server = cluster.server.replace(/\/+$/u, '')
    this.tls = {
      ca: fileOrData(cluster['certificate-authority-data'], cluster['certificate-authority']),
      cert: fileOrData(user['client-certificate-data'], user['client-certificate']),
      key: fileOrData(user['client-key-data'], user['client-key']),
      rejectUnauthorized: !cluster['insecure-skip-tls-verify'],
    }
    this.headers = {}
    const token = user.token ?? (user.tokenFile ? readFileSync(user.tokenFile, 'utf8').trim() : undefined)
    if (token) this.headers.authorization = `Bearer ${token}`
    else if (user.username) this.headers.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`
  }

  request(method, path, body, contentType = 'application/json') {
    return rawRequest(`${this.server}${path}`, {method, headers: this.headers, tls: this.tls, body, contentType})
  }

  /** JSON request; 404 → undefined for GET, other non-2xx → KubeError with the Status message. */
  async json(method, path, body, contentType) {
    const res = await this.request(method, path, body, contentType)
    if (res.status === 404 && method === 'GET') return undefined
    let parsed
    try {
      parsed = res.text ? JSON.parse(res.text) : undefined
    } catch {
      parsed = undefined
    }
    if (res.status < 200 || res.status >= 300) {
      const message = parsed?.message ?? `the server responded with status ${res.status}`
      throw new KubeError(message, res.status, parsed)
    }
    return parsed
  }

  get(path) {
    return this.json('GET', path)
  }

  create(path, obj) {
    return this.json('POST', path, obj)
  }

  replace(path, obj) {
    return this.json('PUT', path, obj)
  }

  mergePatch(path, patch) {
    return this.json('PATCH', path, patch, 'application/merge-patch+json')
  }

  async remove(path) {
    const res = await this.request('DELETE', path)
    if (res.status === 404) return false
    if (res.status < 200 || res.status >= 300) throw new KubeError(`delete ${path}: status ${res.status}`, res.status)
    return true
  }
}

export function rawRequest(url, {method = 'GET', headers = {}, tls = {}, body, contentType = 'application/json'} = {}) {
  const target = new URL(url)
  const lib = target.protocol === 'https:' ? https : http
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  return new Promise((resolvePromise, reject) => {
    const req = lib.request(target, {
      method,
      headers: {accept: 'application/json', ...headers, ...(payload === undefined ? {} : {'content-type': contentType, 'content-length': Buffer.byteLength(payload)})},
      ...(target.protocol === 'https:' ? tls : {}),
    }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolvePromise({status: res.statusCode, text: Buffer.concat(chunks).toString('utf8')}))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(30_000, () => req.destroy(new Error(`request to ${target.origin} timed out`)))
    if (payload !== undefined) req.write(payload)
    req.end()
  })
}

/**
 * The test stand-in serves each cluster under <root>/clusters/<id>; its admin API lives at
 * <root>/_standin/clusters/<id>. Returns undefined for a server that is not a stand-in.
 */
export function standInOf(server) {
  const m = /^(?<root>https?:\/\/[^/]+(?:\/.*?)?)\/clusters\/(?<id>[^/]+)\/?$/u.exec(server)
  return m ? {root: m.groups.root, id: m.groups.id} : undefined
}

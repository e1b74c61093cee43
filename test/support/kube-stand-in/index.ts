// A Kubernetes API stand-in for tests: real kubectl, helm and @kubernetes/client-node talk to it
// over HTTP. Start one per test file, stop it in afterAll.
//
//   const kube = await startKubeStandIn()
//   const kubeconfig = kube.kubeconfig()            // admin on the "host" cluster
//   const alice = kube.kubeconfig('host', {user: 'alice'})   // token auth, RBAC applies
//   kube.faults.neverReady('shop-pr-1', 'shop')     // that Deployment never becomes available
//   await kube.stop()
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import fs from 'node:fs'
import type http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {stringify} from 'yaml'
import {ADMIN, Cluster, type ListOptions, type User} from './cluster.js'
import {type ArgoOutcome, type ControllerFaults, Controllers} from './controllers.js'
import {createServer, listen, type RequestRecord, type ServerState} from './server.js'
import {apiVersionOf, type KubeObject} from './types.js'

export type {KubeObject} from './types.js'
export type {RequestRecord} from './server.js'

export interface KubeStandInOptions {
  /** Delay before the simulated controllers act (Deployments become available), default 20 ms. */
  controllerDelayMs?: number
  /** Install the Argo CD CRDs (Application, AppProject) in the host cluster; default true. */
  argocd?: boolean
  /**
   * Serve HTTPS with a throw-away self-signed certificate (made with openssl; its CA goes into
   * every kubeconfig). kubectl and helm send bearer tokens only over TLS, so token users
   * (kubeconfig({user})) need this; the default is plain HTTP.
   */
  tls?: boolean
}

export interface KubeconfigOptions {
  /** Authenticate as this user with a bearer token (RBAC applies); default: admin without a token. */
  user?: string
  groups?: string[]
  /** Use this token (registered for `user`); default: a random one. */
  token?: string
  /** Context and cluster name in the file; default "standin-<clusterId>". */
  context?: string
  namespace?: string
  /** Where to write; default a new file in the stand-in's temp dir. */
  path?: string
}

export interface StoreApi {
  readonly cluster: Cluster
  get(apiVersion: string, kind: string, name: string, namespace?: string): KubeObject | undefined
  list(apiVersion: string, kind: string, namespace?: string, options?: ListOptions): KubeObject[]
  create(obj: KubeObject): KubeObject
  /** Create or replace (status included) an object, as admin. */
  put(obj: KubeObject): KubeObject
  delete(apiVersion: string, kind: string, name: string, namespace?: string): boolean
}

export interface KubeStandIn {
  /** Base URL of the server; clusters live at `${url}/clusters/<id>`. */
  url: string
  /** PEM of the self-signed certificate when started with `tls: true` (also in every kubeconfig). */
  caCertificate?: string
  /** The API server URL of one cluster (for a kubeconfig's `server`). */
  serverUrl(clusterId?: string): string
  kubeconfig(clusterId?: string, options?: KubeconfigOptions): string
  clusters: {create(id: string, options?: {argocd?: boolean}): string; delete(id: string): boolean; list(): string[]}
  store(clusterId?: string): StoreApi
  faults: {
    /** The Deployment (or StatefulSet) never becomes available; its pod crash-loops with an Event and a log saying why. */
    neverReady(namespace: string, name: string, options?: {reason?: string; message?: string; log?: string}): void
    /** The next `times` (default 1) requests whose method and path match fail with `status`. */
    failNext(method: string, path: RegExp | string, status: number, options?: {times?: number; message?: string}): void
    /** Every request waits `ms` first (0 turns it off). */
    delay(ms: number): void
    /** Ends every open watch now (clients re-list and re-watch). */
    dropWatches(): void
    /**
     * How an Argo CD Application sync ends: Healthy (default), Degraded, Progressing, OutOfSync or
     * Failed; with forMs, the next sync's health lasts that long and then turns Healthy.
     */
    argo(name: string, outcome: ArgoOutcome, namespace?: string, options?: {forMs?: number}): void
    reset(): void
  }
  /** Every request the server has seen (method, path, query, content type, user, status). */
  requests(): RequestRecord[]
  stop(): Promise<void>
}

async function selfSignedCertificate(dir: string): Promise<{key: string; cert: string; ca: string}> {
  const key = path.join(dir, 'tls.key')
  const cert = path.join(dir, 'tls.crt')
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=kube-stand-in',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-addext', 'basicConstraints=critical,CA:TRUE',
  ])
  const pem = fs.readFileSync(cert, 'utf8')
  return {key: fs.readFileSync(key, 'utf8'), cert: pem, ca: pem}
}

export async function startKubeStandIn(options: KubeStandInOptions = {}): Promise<KubeStandIn> {
  const delay = options.controllerDelayMs ?? 20
  const faults: ControllerFaults = {neverReady: new Map(), argo: new Map(), argoFor: new Map()}
  const controllers = new Map<string, Controllers>()
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-kube-stand-in-'))
  let kubeconfigCount = 0

  const state: ServerState = {
    clusters: new Map(),
    tokens: new Map<string, User>(),
    failRules: [],
    delayMs: 0,
    requests: [],
    openWatches: new Set<http.ServerResponse>(),
    url: '',
    createCluster(id, opts = {}) {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(id)) throw new Error(`invalid stand-in cluster id "${id}"`)
      const existing = state.clusters.get(id)
      if (existing) return existing
      const cluster = new Cluster(id, {argocd: opts.argocd ?? (id === 'host' ? options.argocd !== false : false)})
      state.clusters.set(id, cluster)
      controllers.set(id, new Controllers(cluster, faults, delay))
      return cluster
    },
    deleteCluster(id) {
      const cluster = state.clusters.get(id)
      if (!cluster) return false
      controllers.get(id)?.stop()
      controllers.delete(id)
      state.clusters.delete(id)
      for (const res of state.openWatches) if (res.req?.url?.startsWith(`/clusters/${id}/`)) res.end()
      return true
    },
  }
  state.createCluster('host')
  const tls = options.tls ? await selfSignedCertificate(tempDir) : undefined
  const server = createServer(state, tls)
  const port = await listen(server)
  state.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`

  const clusterOf = (id: string) => {
    const cluster = state.clusters.get(id)
    if (!cluster) throw new Error(`the stand-in has no cluster "${id}"`)
    return cluster
  }
  const typeOf = (cluster: Cluster, apiVersion: string, kind: string) => {
    const type = cluster.typeForKind(apiVersion, kind)
    if (!type) throw new Error(`the stand-in cluster "${cluster.id}" does not serve ${apiVersion} ${kind}`)
    return type
  }

  const standIn: KubeStandIn = {
    url: state.url,
    caCertificate: tls?.cert,
    serverUrl: (clusterId = 'host') => `${state.url}/clusters/${clusterOf(clusterId).id}`,
    kubeconfig(clusterId = 'host', opts = {}) {
      clusterOf(clusterId)
      const name = opts.context ?? `standin-${clusterId}`
      const userName = opts.user ?? 'admin'
      const user: Record<string, unknown> = {}
      // Always a token: over TLS a kubeconfig user without credentials makes kubectl prompt for a password.
      const token = opts.token ?? `standin-${randomBytes(16).toString('hex')}`
      state.tokens.set(token, opts.user ? {name: opts.user, groups: [...(opts.groups ?? []), 'system:authenticated']} : ADMIN)
      user.token = token
      const config = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name,
            cluster: {
              server: `${state.url}/clusters/${clusterId}`,
              // Over plain HTTP, @kubernetes/client-node 1.x refuses the server unless this is set.
              ...(tls ? {'certificate-authority-data': Buffer.from(tls.cert).toString('base64')} : {'insecure-skip-tls-verify': true}),
            },
          },
        ],
        users: [{name: `${name}-${userName}`, user}],
        contexts: [{name, context: {cluster: name, user: `${name}-${userName}`, ...(opts.namespace ? {namespace: opts.namespace} : {})}}],
        'current-context': name,
        preferences: {},
      }
      const file = opts.path ?? path.join(tempDir, `kubeconfig-${clusterId}-${++kubeconfigCount}.yaml`)
      fs.mkdirSync(path.dirname(file), {recursive: true})
      fs.writeFileSync(file, stringify(config), {mode: 0o600})
      return file
    },
    clusters: {
      create: (id, opts) => {
        state.createCluster(id, opts)
        return `${state.url}/clusters/${id}`
      },
      delete: (id) => state.deleteCluster(id),
      list: () => [...state.clusters.keys()],
    },
    store(clusterId = 'host') {
      const cluster = clusterOf(clusterId)
      return {
        cluster,
        get: (apiVersion, kind, name, namespace = '') => cluster.tryGet(typeOf(cluster, apiVersion, kind), namespace, name),
        list: (apiVersion, kind, namespace, listOptions) => cluster.list(typeOf(cluster, apiVersion, kind), namespace, listOptions),
        create: (obj) => cluster.create(typeOf(cluster, String(obj.apiVersion), String(obj.kind)), obj.metadata?.namespace ?? '', obj),
        put(obj) {
          const type = typeOf(cluster, String(obj.apiVersion), String(obj.kind))
          const ns = obj.metadata?.namespace ?? ''
          const live = cluster.tryGet(type, ns, obj.metadata!.name)
          if (!live) return cluster.create(type, ns, obj)
          const updated = cluster.update(type, ns, obj.metadata!.name, {...obj, metadata: {...obj.metadata, resourceVersion: undefined}})
          if (obj.status === undefined || !type.subresources?.includes('status')) return updated
          return cluster.update(type, ns, obj.metadata!.name, {...updated, status: obj.status}, {subresource: 'status'})
        },
        delete(apiVersion, kind, name, namespace = '') {
          const type = typeOf(cluster, apiVersion, kind)
          if (!cluster.tryGet(type, namespace, name)) return false
          cluster.delete(type, namespace, name)
          return true
        },
      }
    },
    faults: {
      neverReady(namespace, name, opts = {}) {
        const reason = opts.reason ?? 'CrashLoopBackOff'
        const message = opts.message ?? 'back-off 40s restarting failed container'
        faults.neverReady.set(`${namespace}/${name}`, {
          reason,
          message,
          log: opts.log ?? `Error: required environment variable DATABASE_URL is not set\nexiting with status 1\n`,
        })
        for (const c of controllers.values()) c.kickDeployment(namespace, name)
      },
      failNext(method, pathPattern, status, opts = {}) {
        const pattern = typeof pathPattern === 'string' ? new RegExp(pathPattern) : pathPattern
        state.failRules.push({method: method.toUpperCase(), path: pattern, status, message: opts.message, times: opts.times ?? 1})
      },
      delay(ms) {
        state.delayMs = ms
      },
      dropWatches() {
        for (const res of [...state.openWatches]) res.end()
      },
      argo(name, outcome, namespace, options = {}) {
        const key = namespace ? `${namespace}/${name}` : name
        faults.argo.set(key, outcome)
        if (options.forMs === undefined) faults.argoFor.delete(key)
        else faults.argoFor.set(key, options.forMs)
      },
      reset() {
        faults.neverReady.clear()
        faults.argo.clear()
        faults.argoFor.clear()
        state.failRules.length = 0
        state.delayMs = 0
      },
    },
    requests: () => [...state.requests],
    async stop() {
      for (const c of controllers.values()) c.stop()
      for (const res of state.openWatches) res.end()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      fs.rmSync(tempDir, {recursive: true, force: true})
    },
  }
  return standIn
}

export {ADMIN, apiVersionOf}

import type {AppsV1Api, ConfigurationOptions, CoordinationV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, RbacAuthorizationV1Api} from '@kubernetes/client-node'

import {RemoteError} from '../cli/errors.js'
import {loadKubeClient} from '../cli/lazy.js'
import {redact} from '../cli/redact.js'
import {pooledInsteadOf} from './agents.js'
import type {ExecConfig} from './exec-credential.js'

/**
 * The Kubernetes clients idp uses, all built from one private kubeconfig file (never the user's
 * files directly, never the current context by accident: the private file has exactly one).
 *
 * Note for writers: `objects.patch` defaults to strategic merge, which real API servers refuse
 * for custom resources. Pass `patchStrategy.MergePatch` or `patchStrategy.ServerSideApply`
 * (with a fieldManager of "idp") explicitly.
 */
export interface KubeClients {
  kc: KubeConfig
  core: CoreV1Api
  coordination: CoordinationV1Api
  rbac: RbacAuthorizationV1Api
  apps: AppsV1Api
  objects: KubernetesObjectApi
  /** client-node's patch content types, from the same (code-cached) load as the clients. */
  patchStrategy: typeof PatchStrategy
  /** The API server URL, for messages. */
  server: string
  /**
   * Per-call options for the API methods that tie the request to an AbortSignal (a timeout,
   * Ctrl-C): client-node 1.x has no request timeout of its own, and a black-holed API server
   * would otherwise hold a command for minutes.
   */
  withSignal(signal: AbortSignal): ConfigurationOptions
}

/** The field manager idp uses for server-side apply, so ownership of fields is visible. */
export const FIELD_MANAGER = 'idp'

/** The auth-provider name that stands for a kubeconfig's exec plugin, run by idp (exec-credential.ts). */
const PLUGIN_PROVIDER = 'idp-exec-plugin'

export async function createKubeClients(kubeconfigFile: string, env: NodeJS.ProcessEnv = process.env): Promise<KubeClients> {
  // client-node is heavy (1.8 MB); only commands that talk to a cluster pay for it, with a code cache.
  const k8s = await loadKubeClient()
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(kubeconfigFile)
  // kubectl talks plain HTTP to an http:// server (`kubectl proxy`, local API servers); client-node
  // refuses unless skipTLSVerify is set, which means nothing without TLS. Match kubectl.
  const plainHttp = kc.clusters.some((cluster) => cluster.server.startsWith('http:') && !cluster.skipTLSVerify)
  // A credential plugin runs through idp (exec-credential.ts: once per process, not per request).
  const user = kc.getCurrentUser()
  const exec = user?.exec as ExecConfig | undefined
  if (plainHttp || exec) {
    kc.loadFromOptions({
      clusters: kc.clusters.map((cluster) => (cluster.server.startsWith('http:') ? {...cluster, skipTLSVerify: true} : cluster)),
      users: kc.users.map((entry) => (exec && entry === user ? {...entry, exec: undefined, authProvider: {name: PLUGIN_PROVIDER, config: {}}} : entry)),
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    })
  }
  if (exec) {
    const {execCredential} = await import('./exec-credential.js')
    const cluster = kc.getCurrentCluster() ?? undefined
    kc.addAuthenticator({
      isAuthProvider: (candidate) => (candidate?.authProvider as {name?: string} | undefined)?.name === PLUGIN_PROVIDER,
      async applyAuthentication(_user, opts) {
        const credential = await execCredential(exec, {env, kubeconfig: kubeconfigFile, ...(cluster ? {cluster} : {})})
        if (credential.clientCertificateData && credential.clientKeyData) Object.assign(opts, {cert: credential.clientCertificateData, key: credential.clientKeyData})
        if (credential.token) opts.headers = {...opts.headers, Authorization: `Bearer ${credential.token}`}
      },
    })
  }
  // Every API client authenticates through kc; its per-request agent becomes the shared keep-alive
  // pool, so the calls of a command reuse one connection (agents.ts).
  const authenticate = kc.applySecurityAuthentication.bind(kc)
  kc.applySecurityAuthentication = async (context) => {
    await authenticate(context)
    const agent = pooledInsteadOf(context.getAgent())
    if (agent) context.setAgent(agent)
  }
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    patchStrategy: k8s.PatchStrategy,
    server: kc.getCurrentCluster()?.server ?? '',
    withSignal: (signal) => ({
      // The object-style APIs pass options to the observable layer, so middleware returns Observables.
      middleware: [
        {
          pre(context) {
            context.setSignal(signal)
            return new k8s.Observable(Promise.resolve(context))
          },
          post: (response) => new k8s.Observable(Promise.resolve(response)),
        },
      ],
      middlewareMergeStrategy: 'append',
    }),
  }
}

interface StatusBody {
  kind?: string
  status?: string
  message?: string
  reason?: string
  code?: number
}

interface ApiExceptionLike {
  code?: unknown
  body?: unknown
  message?: string
  cause?: unknown
}

/** The HTTP status of a client-node ApiException, or undefined for anything else. */
export function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof RemoteError) {
    const status = error.details?.statusCode
    return typeof status === 'number' ? status : undefined
  }
  if (typeof error !== 'object' || error === null) return undefined
  const {code} = error as ApiExceptionLike
  // Network errors carry string codes (ECONNREFUSED); ApiException carries the HTTP status.
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined
}

/** The Kubernetes Status object in an ApiException body (a string in client-node 1.x for errors). */
function statusBody(error: unknown): StatusBody | undefined {
  const body = (error as ApiExceptionLike | undefined)?.body
  if (body && typeof body === 'object') return body as StatusBody
  if (typeof body === 'string' && body.trim().startsWith('{')) {
    try {
      return JSON.parse(body) as StatusBody
    } catch {
      return undefined
    }
  }
  return undefined
}

export function isNotFound(error: unknown): boolean {
  return httpStatusOf(error) === 404
}

export function isConflict(error: unknown): boolean {
  return httpStatusOf(error) === 409
}

/** The errno-style code of a network failure, looking through fetch's `cause` chain. */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const {code, errno, cause} = current as {code?: unknown; errno?: unknown; cause?: unknown}
    if (typeof code === 'string' && /^E[A-Z_]+$/u.test(code)) return code
    if (typeof errno === 'string' && /^E[A-Z_]+$/u.test(errno)) return errno
    current = cause
  }
  return undefined
}

const NETWORK_HINTS: Record<string, string> = {
  ECONNREFUSED: 'Nothing is listening at the API server address. Check that the cluster is running and that clusters.<alias>.context in .idp.yml names the right context; `idp doctor` checks every configured context.',
  ENOTFOUND: 'The API server host name does not resolve. Check the context in .idp.yml and your network/VPN; `idp doctor` checks every configured context.',
  ETIMEDOUT: 'The API server did not answer in time. Check your network/VPN and the context in .idp.yml; `idp doctor` checks every configured context.',
  ECONNRESET: 'The connection to the API server was reset. Check your network/VPN and retry; `idp doctor` checks every configured context.',
}

function statusHint(status: number): string {
  if (status === 401) return 'The cluster rejected the credentials of this context. Log in again (e.g. your cloud CLI\'s "update-kubeconfig") and retry.'
  if (status === 403) return 'The context\'s user lacks the permission. Ask a cluster admin for the RBAC rights, or use a context that has them.'
  if (status === 404) return 'The object or API does not exist on this cluster. Check the name, namespace and the cluster\'s Kubernetes version.'
  if (status === 409) return 'The object changed or already exists. Re-run the command; if it persists, inspect the object with kubectl.'
  if (status === 422) return 'The API server rejected the object as invalid; the message says which field.'
  if (status === 429 || status >= 500) return 'The API server is overloaded or failing. Wait a moment and retry.'
  return 'Inspect the object with kubectl, or re-run with --verbose.'
}

/**
 * Turn what client-node threw into a RemoteError (exit 6): "<what>: <status> <reason>: <message>"
 * for API refusals, "could not reach" with a hint for network failures. `what` says what idp was
 * doing ("list namespaces on cluster dev"). No credentials: only the server's Status text and
 * codes go into the message, and it passes through the redactor.
 */
export function kubeError(error: unknown, what: string): RemoteError {
  if (error instanceof RemoteError) return error
  const status = httpStatusOf(error)
  if (status !== undefined) {
    const body = statusBody(error)
    const reason = body?.reason ?? ''
    const message = body?.message ?? ''
    const text = [`${status}${reason ? ` ${reason}` : ''}`, message].filter(Boolean).join(': ')
    return new RemoteError(redact(`Kubernetes refused to ${what}: ${text}`), {
      hint: statusHint(status),
      details: {statusCode: status, ...(reason ? {reason} : {}), ...(message ? {kubeMessage: redact(message)} : {})},
    })
  }
  const code = networkCode(error)
  const raw = error instanceof Error ? error.message : String(error)
  // fetch errors repeat the URL with query strings; keep only the first line.
  const first = raw.split('\n')[0] ?? raw
  return new RemoteError(redact(`Could not reach Kubernetes to ${what}: ${code && !first.includes(code) ? `${code}: ` : ''}${first}`), {
    hint: (code && NETWORK_HINTS[code]) ?? 'Check that the cluster is reachable and the context in .idp.yml is right; `idp doctor` checks every configured context.',
    details: code ? {networkCode: code} : {},
  })
}

/** Run one Kubernetes call, mapping failures with `kubeError`. */
export async function kubeCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    throw kubeError(error, what)
  }
}

/** One client set per private kubeconfig file, created on first use and shared after. */
export function kubeClientCache(): (file: string) => Promise<KubeClients> {
  const cache = new Map<string, Promise<KubeClients>>()
  return (file) => {
    let clients = cache.get(file)
    if (!clients) {
      clients = createKubeClients(file)
      cache.set(file, clients)
    }
    return clients
  }
}

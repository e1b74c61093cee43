/**
 * A kubeconfig user's exec credential plugin (`users[].user.exec`: `aws eks get-token`,
 * `gke-gcloud-auth-plugin`, `kubelogin`, ...), run for idp's own API calls the way kubectl runs it
 * (client.authentication.k8s.io, KUBERNETES_EXEC_INFO, `env` entries over the environment idp's
 * tools get, non-interactive) and as few times as kubectl would: once per process and credential,
 * again only after the credential's expirationTimestamp. client-node, left to itself, ran the
 * plugin again for every request when the credential has no expiry (8 times in one `env up`).
 *
 * kubectl, helm and vcluster, started by idp with the private kubeconfig, run the plugin
 * themselves, as they do for any kubeconfig. The reachability checks (`idp doctor`, preflight)
 * do not run it: they report that the context uses one.
 */
import {readFile} from 'node:fs/promises'

import {RemoteError} from '../cli/errors.js'
import {redact, registerSecret} from '../cli/redact.js'
import {shellQuote} from '../plan/format.js'
import {runCredentialPlugin} from '../tools/runner.js'

/** The kubeconfig's `exec` entry, as client-node reads it. */
export interface ExecConfig {
  apiVersion?: string
  command?: string
  args?: string[] | null
  env?: Array<{name: string; value: string}> | null
  installHint?: string
  provideClusterInfo?: boolean
  interactiveMode?: string
}

/** What a plugin's ExecCredential gives: a bearer token, or a client certificate and key. */
export interface ExecCredential {
  token?: string
  clientCertificateData?: string
  clientKeyData?: string
  /** Epoch ms of status.expirationTimestamp; undefined: valid for the life of the process. */
  expiresAt?: number
}

/** The cluster as client-node has it, for plugins that ask for it (provideClusterInfo). */
export interface ExecCluster {
  server: string
  caData?: string
  caFile?: string
  skipTLSVerify?: boolean
  tlsServerName?: string
  proxyUrl?: string
}

export interface ExecContext {
  cluster?: ExecCluster
  /** The environment idp's tools get; the plugin's own `env` entries go over it. */
  env: NodeJS.ProcessEnv
  /** The private kubeconfig, for the command a failure message prints. */
  kubeconfig: string
  /** How long one run may take (default 2 minutes). */
  timeoutMs?: number
}

const SUPPORTED = new Set(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'])

interface Entry {
  promise: Promise<ExecCredential>
  expiresAt?: number
  settled: boolean
}

/** Credentials of this process, per plugin and cluster: the plugin runs once for all of them. */
const credentials = new Map<string, Entry>()

/** The credential for this plugin: cached for the process, fetched again once it expired. */
export function execCredential(exec: ExecConfig, context: ExecContext, now: () => number = Date.now): Promise<ExecCredential> {
  const key = JSON.stringify([exec, exec.provideClusterInfo ? context.cluster : undefined])
  const cached = credentials.get(key)
  if (cached && (!cached.settled || cached.expiresAt === undefined || cached.expiresAt > now())) return cached.promise
  const entry: Entry = {settled: false, promise: runPlugin(exec, context)}
  credentials.set(key, entry)
  entry.promise.then(
    (credential) => {
      entry.settled = true
      entry.expiresAt = credential.expiresAt
    },
    // A failure is not kept: the next call runs the plugin again.
    () => credentials.delete(key),
  )
  return entry.promise
}

/** Forget every credential (tests). */
export function clearExecCredentials(): void {
  credentials.clear()
}

async function runPlugin(exec: ExecConfig, context: ExecContext): Promise<ExecCredential> {
  const command = exec.command ?? ''
  const shown = shellQuote([command, ...(exec.args ?? [])])
  const retry = `Check it by hand through the same connection: \`KUBECONFIG=${shellQuote([context.kubeconfig])} kubectl version\`.`
  const fail = (why: string, hint = retry) => new RemoteError(redact(`The kubeconfig's credential plugin \`${shown}\` ${why}`), {hint})
  if (!command) throw fail('names no command (users[].user.exec.command).', 'Fix the kubeconfig user of this context.')
  const apiVersion = exec.apiVersion ?? ''
  if (!SUPPORTED.has(apiVersion)) throw fail(`asks for apiVersion "${apiVersion}"; kubectl and idp speak client.authentication.k8s.io/v1 and v1beta1.`, 'Update the kubeconfig (your cloud CLI\'s "update-kubeconfig" writes a current one).')
  if (exec.interactiveMode === 'Always') throw fail('needs a terminal (interactiveMode: Always), which idp does not give it.', `Log in with the plugin's own command first, or use a credential that needs no terminal. ${retry}`)

  const spec: Record<string, unknown> = {interactive: false}
  if (exec.provideClusterInfo && context.cluster) spec.cluster = await clusterInfo(context.cluster)
  const env: Record<string, string | undefined> = {...context.env}
  for (const {name, value} of exec.env ?? []) env[name] = value
  env.KUBERNETES_EXEC_INFO = JSON.stringify({apiVersion, kind: 'ExecCredential', spec})

  const outcome = await runCredentialPlugin(command, exec.args ?? [], {env, timeoutMs: context.timeoutMs ?? 120_000})
  if (outcome.spawnError) throw fail(`could not start: ${outcome.spawnError}.`, exec.installHint?.trim() || `Install it, or fix users[].user.exec.command in the kubeconfig. ${retry}`)
  if (outcome.stoppedBy) throw fail(outcome.stoppedBy === 'timeout' ? `did not answer within ${Math.round((context.timeoutMs ?? 120_000) / 1000)} s and was stopped.` : 'was stopped.')
  if (outcome.exitCode !== 0) {
    const last = outcome.stderr.trim().split('\n').at(-1)?.trim()
    throw fail(`exited ${outcome.exitCode ?? 'by a signal'}${last ? `: ${last}` : '.'}`)
  }
  return parseCredential(outcome.stdout, apiVersion, fail)
}

function parseCredential(stdout: string, apiVersion: string, fail: (why: string) => RemoteError): ExecCredential {
  let parsed: {apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown>}
  try {
    parsed = JSON.parse(stdout) as typeof parsed
  } catch {
    throw fail('printed something other than an ExecCredential (JSON expected on stdout).')
  }
  if (parsed?.kind !== 'ExecCredential') throw fail(`printed kind "${String(parsed?.kind)}", not ExecCredential.`)
  if (parsed.apiVersion !== apiVersion) throw fail(`answered with apiVersion "${String(parsed.apiVersion)}" to a request for ${apiVersion}.`)
  const status = parsed.status ?? {}
  const text = (name: string) => (typeof status[name] === 'string' && status[name] !== '' ? (status[name] as string) : undefined)
  const credential: ExecCredential = {token: text('token'), clientCertificateData: text('clientCertificateData'), clientKeyData: text('clientKeyData')}
  for (const value of Object.values(credential)) registerSecret(value as string | undefined)
  if (!credential.token && !(credential.clientCertificateData && credential.clientKeyData)) throw fail('gave neither a token nor a client certificate and key.')
  const expiry = text('expirationTimestamp')
  if (expiry !== undefined) {
    const at = Date.parse(expiry)
    if (Number.isNaN(at)) throw fail(`gave an expirationTimestamp that is not a time: ${expiry}.`)
    credential.expiresAt = at
  }
  return credential
}

async function clusterInfo(cluster: ExecCluster): Promise<Record<string, unknown>> {
  const ca = cluster.caData ?? (cluster.caFile ? (await readFile(cluster.caFile)).toString('base64') : undefined)
  return {
    server: cluster.server,
    ...(ca ? {'certificate-authority-data': ca} : {}),
    ...(cluster.tlsServerName ? {'tls-server-name': cluster.tlsServerName} : {}),
    ...(cluster.skipTLSVerify ? {'insecure-skip-tls-verify': true} : {}),
    ...(cluster.proxyUrl ? {'proxy-url': cluster.proxyUrl} : {}),
  }
}

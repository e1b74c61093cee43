import {createHash} from 'node:crypto'
import http from 'node:http'
import https from 'node:https'

/**
 * Keep-alive connections to Kubernetes API servers, one pool per server identity, shared by every
 * request of the process: the /version reachability check and all client-node API calls.
 *
 * client-node 1.x gives every API call a new https.Agent, so each call opened its own TCP
 * connection and did a full TLS handshake: two to three round trips before the request is even
 * sent, which against a remote cluster is 0.1-0.3 s per call, and `env up` makes about ten.
 * Idle sockets do not keep the process alive (Node unrefs a socket while it waits in the pool),
 * and one idle for IDLE_MS is closed: load balancers in front of API servers drop idle connections
 * (60 s is common), and a request sent on a connection that was dropped fails instead of
 * reconnecting. The limit applies only to idle sockets: Node's agent destroys a socket that times
 * out while in the pool, and a request in flight only gets a 'timeout' event, which nothing here acts on.
 * Left as is: a server that closes an idle connection at the very moment idp reuses it fails that
 * one request with ECONNRESET (neither node-fetch nor client-node retries). Servers and load
 * balancers close idle connections after 60 s or more, well past the 15 s idp keeps them, and
 * Node honours a server's `Keep-Alive: timeout` hint when it is shorter.
 */
export type TlsAgentOptions = Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'>

const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const

const pools = new Map<string, http.Agent>()

/** How long a connection may sit unused in the pool. */
const IDLE_MS = 15_000

/** A value of the TLS options as text for the pool key: PEM as a string or a Buffer are the same bytes. */
function canonical(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('base64')
  if (typeof value === 'string') return Buffer.from(value, 'utf8').toString('base64')
  if (Array.isArray(value)) return value.map((item) => canonical(item))
  if (value && typeof value === 'object' && 'buf' in value) return {buf: canonical((value as {buf: unknown}).buf), passphrase: canonical((value as {passphrase?: unknown}).passphrase)}
  return value ?? null
}

/**
 * The shared keep-alive agent for these connection settings. Two callers share one only when every
 * TLS setting is the same (the key is a hash: keys and passphrases are never kept as text).
 */
export function pooledAgent(protocol: 'http:' | 'https:', tls: TlsAgentOptions = {}): http.Agent {
  const picked: TlsAgentOptions = {}
  // Plain HTTP has no TLS settings: one pool, whatever a caller passed.
  if (protocol === 'https:') for (const field of TLS_FIELDS) if (tls[field] !== undefined) (picked as Record<string, unknown>)[field] = tls[field]
  // Unset means what Node does when it is unset, so an explicit `true` shares the pool.
  if (protocol === 'https:') picked.rejectUnauthorized ??= process.env.NODE_TLS_REJECT_UNAUTHORIZED !== '0'
  const id = createHash('sha256')
    .update(JSON.stringify([protocol, ...TLS_FIELDS.map((field) => canonical(picked[field]))]))
    .digest('base64url')
  let agent = pools.get(id)
  if (!agent) {
    // No maxSockets: node-fetch 2 (under client-node) reports a false "Premature close" when
    // requests queue for a socket another request frees (node-fetch#1767).
    agent = protocol === 'https:' ? new https.Agent({...picked, keepAlive: true, timeout: IDLE_MS}) : new http.Agent({keepAlive: true, timeout: IDLE_MS})
    pools.set(id, agent)
  }
  return agent
}

/**
 * client-node's agent for one request, swapped for the shared pool when it is a plain http(s)
 * agent; proxy agents (a cluster's proxy-url) are left as client-node made them.
 */
export function pooledInsteadOf(agent: http.Agent | https.Agent | undefined): http.Agent | https.Agent | undefined {
  if (!agent) return agent
  const proto = Object.getPrototypeOf(agent) as object
  if (proto === https.Agent.prototype) return pooledAgent('https:', (agent as https.Agent).options as TlsAgentOptions)
  if (proto === http.Agent.prototype) return pooledAgent('http:')
  return agent
}

/** Close every pooled connection (tests that stop a server they talked to). */
export function closePooledAgents(): void {
  for (const agent of pools.values()) agent.destroy()
  pools.clear()
}

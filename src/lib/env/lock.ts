/**
 * One `up` or `down` of an environment at a time: a coordination.k8s.io Lease on the host
 * cluster, visible to every machine (a local lock file would not stop a CI job and a laptop).
 * A crashed run's lease expires on its own; a live one makes the second run fail clearly.
 */
import type {CoordinationV1Api, V1Lease} from '@kubernetes/client-node'

import {RemoteError} from '../cli/errors.js'
import {isConflict, isNotFound, kubeCall, kubeError} from '../kube/client.js'
import {shellQuote} from '../plan/format.js'

export interface LockRequest {
  /** The private kubeconfig the Lease is reached through: the printed removal command uses it. */
  kubeconfig?: string
  namespace: string
  name: string
  holder: string
  leaseSeconds: number
  labels?: Record<string, string>
}

export interface LockResult {
  acquired: true
  /** Another holder's lease had expired and was taken over. */
  tookOver?: string
}

/** Kubernetes MicroTime wants exactly six fractional digits (RFC3339Micro). */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/u, '.$1000Z')
}

/** A Date that goes into JSON as a MicroTime (client-node sends V1MicroTime fields as they are). */
class MicroTime extends Date {
  override toJSON(): string {
    return microTime(this)
  }
}

function leaseBody(request: LockRequest, now: Date, resourceVersion?: string): V1Lease {
  const time = new MicroTime(now.getTime())
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {name: request.name, namespace: request.namespace, ...(request.labels ? {labels: request.labels} : {}), ...(resourceVersion ? {resourceVersion} : {})},
    spec: {holderIdentity: request.holder, leaseDurationSeconds: request.leaseSeconds, acquireTime: time, renewTime: time},
  }
}

/** When a lease runs out (renewTime + duration), or undefined when it has no times. */
export function leaseExpiry(lease: V1Lease): Date | undefined {
  const renew = lease.spec?.renewTime ?? lease.spec?.acquireTime
  const seconds = lease.spec?.leaseDurationSeconds
  if (!renew || seconds === undefined) return undefined
  const at = new Date(String(renew instanceof Date ? renew.toISOString() : renew))
  return Number.isNaN(at.getTime()) ? undefined : new Date(at.getTime() + seconds * 1000)
}

function heldError(request: LockRequest, holder: string, expires: Date | undefined): RemoteError {
  const until = expires ? ` until ${expires.toISOString()}` : ''
  return new RemoteError(`Environment is locked: ${holder} holds Lease ${request.namespace}/${request.name}${until}.`, {
    hint: `Another \`idp env up\` or \`idp env down\` of this environment is running. Wait for it to finish and retry. If that run died, the lock expires by itself${until ? ` at ${expires!.toISOString()}` : ''}, or remove it: ${request.kubeconfig ? `KUBECONFIG=${shellQuote([request.kubeconfig])} ` : ''}kubectl delete lease ${request.name} --namespace ${request.namespace}`,
    details: {lease: `${request.namespace}/${request.name}`, holder, ...(expires ? {expiresAt: expires.toISOString()} : {})},
  })
}

export async function acquireLock(api: CoordinationV1Api, request: LockRequest, now: () => Date = () => new Date()): Promise<LockResult> {
  const what = `create Lease ${request.namespace}/${request.name}`
  try {
    await api.createNamespacedLease({namespace: request.namespace, body: leaseBody(request, now())})
    return {acquired: true}
  } catch (error) {
    if (!isConflict(error)) throw kubeError(error, what)
  }
  const live = await kubeCall(`read Lease ${request.namespace}/${request.name}`, () => api.readNamespacedLease({name: request.name, namespace: request.namespace}))
  const holder = live.spec?.holderIdentity ?? ''
  const expires = leaseExpiry(live)
  if (holder && holder !== request.holder && (!expires || expires.getTime() > now().getTime())) throw heldError(request, holder, expires)
  try {
    // resourceVersion makes the take-over atomic: of two runs racing for an expired lease, one gets 409.
    await api.replaceNamespacedLease({name: request.name, namespace: request.namespace, body: leaseBody(request, now(), live.metadata?.resourceVersion)})
  } catch (error) {
    if (isConflict(error)) throw heldError(request, 'another run', undefined)
    throw kubeError(error, `take over Lease ${request.namespace}/${request.name}`)
  }
  return holder && holder !== request.holder ? {acquired: true, tookOver: holder} : {acquired: true}
}

/** Delete the lease if `holder` holds it; someone else's lease (or none) is left alone. */
export async function releaseLock(api: CoordinationV1Api, request: Pick<LockRequest, 'namespace' | 'name' | 'holder'>): Promise<{released: boolean}> {
  let live: V1Lease
  try {
    live = await api.readNamespacedLease({name: request.name, namespace: request.namespace})
  } catch (error) {
    if (isNotFound(error)) return {released: false}
    throw kubeError(error, `read Lease ${request.namespace}/${request.name}`)
  }
  if (live.spec?.holderIdentity !== request.holder) return {released: false}
  try {
    await api.deleteNamespacedLease({name: request.name, namespace: request.namespace})
  } catch (error) {
    if (isNotFound(error)) return {released: false}
    throw kubeError(error, `delete Lease ${request.namespace}/${request.name}`)
  }
  return {released: true}
}

/**
 * The Kubernetes work of the access plans, keyed by op. Reached through `await import()`, so
 * client-node loads only when a plan really runs.
 */

import {RemoteError} from '../cli/errors.js'
import {FIELD_MANAGER, isNotFound, kubeCall, kubeClientCache, kubeError, type KubeClients} from '../kube/client.js'
import type {Handlers} from '../plan/apply.js'
import type {AccessOps} from './plan.js'
import {ACCESS_ANNOTATIONS, isAccessBinding} from './bindings.js'

async function readBinding(clients: KubeClients, namespace: string, name: string) {
  try {
    return await clients.rbac.readNamespacedRoleBinding({name, namespace})
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw kubeError(error, `read RoleBinding ${namespace}/${name}`)
  }
}

export function createAccessHandlers(options: {now?: () => Date} = {}): Handlers<keyof AccessOps> {
  const kube = kubeClientCache()
  const now = options.now ?? (() => new Date())
  return {
    async 'access.apply'(action) {
      const p = action.params
      const clients = await kube(p.kubeconfig)
      const {metadata} = p.object
      const what = `${p.object.kind} ${metadata.namespace}/${metadata.name}`
      let replaced = false
      if (p.object.kind === 'RoleBinding') {
        const live = await readBinding(clients, metadata.namespace, metadata.name)
        if (live && !isAccessBinding(live)) {
          throw new RemoteError(`RoleBinding ${metadata.namespace}/${metadata.name} exists and was not created by idp.`, {
            hint: 'idp never takes over bindings it did not create. Remove or rename that binding, then grant again.',
          })
        }
        // roleRef is immutable: when the role's definition changed kind or target, replace the binding.
        if (live && (live.roleRef.kind !== p.object.roleRef.kind || live.roleRef.name !== p.object.roleRef.name)) {
          await kubeCall(`delete ${what} to change its roleRef`, () => clients.rbac.deleteNamespacedRoleBinding({name: metadata.name, namespace: metadata.namespace}))
          replaced = true
        }
      }
      // Server-side apply: idempotent, and a second grant just moves the expiry.
      await kubeCall(`apply ${what}`, () => clients.objects.patch(p.object, undefined, undefined, FIELD_MANAGER, true, clients.patchStrategy.ServerSideApply))
      return {applied: what, ...(replaced ? {replaced} : {})}
    },

    async 'access.delete'(action) {
      const p = action.params
      const clients = await kube(p.kubeconfig)
      const live = await readBinding(clients, p.namespace, p.name)
      if (!live) return {deleted: false, reason: 'already gone'}
      if (!isAccessBinding(live, p.service)) return {deleted: false, reason: 'not labelled as an idp grant of this service; left alone'}
      if (p.onlyIfExpired) {
        const expiresAt = new Date(live.metadata?.annotations?.[ACCESS_ANNOTATIONS.expiresAt] ?? '')
        if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() > now().getTime()) return {deleted: false, reason: 'renewed since it was listed; kept'}
      }
      try {
        await clients.rbac.deleteNamespacedRoleBinding({name: p.name, namespace: p.namespace})
      } catch (error) {
        if (isNotFound(error)) return {deleted: false, reason: 'already gone'}
        throw kubeError(error, `delete RoleBinding ${p.namespace}/${p.name}`)
      }
      const roleRemoved = live.roleRef.kind === 'Role' ? await removeUnusedRole(clients, p.namespace, live.roleRef.name) : false
      return {deleted: true, ...(roleRemoved ? {roleRemoved: live.roleRef.name} : {})}
    },
  }
}

/**
 * A Role idp wrote for a rules role is shared by that role's grants in the namespace: it goes with
 * the last binding that refers to it, and only when idp labelled it.
 */
async function removeUnusedRole(clients: KubeClients, namespace: string, name: string): Promise<boolean> {
  const bindings = await kubeCall(`list RoleBindings in ${namespace}`, () => clients.rbac.listNamespacedRoleBinding({namespace}))
  if (bindings.items.some((b) => b.roleRef.kind === 'Role' && b.roleRef.name === name)) return false
  let role
  try {
    role = await clients.rbac.readNamespacedRole({name, namespace})
  } catch (error) {
    if (isNotFound(error)) return false
    throw kubeError(error, `read Role ${namespace}/${name}`)
  }
  if (!isAccessBinding(role)) return false
  try {
    await clients.rbac.deleteNamespacedRole({name, namespace})
  } catch (error) {
    if (isNotFound(error)) return false
    throw kubeError(error, `delete Role ${namespace}/${name}`)
  }
  return true
}

/**
 * The Kubernetes side of secrets from Vault: the Secrets idp writes into an environment (server-side
 * apply through client-node, never a tool's argv or a file), labelled as idp's so only those are
 * updated, pruned or deleted; what differs from Vault (key names only); and the rollout restart of
 * the Deployments that use a changed Secret, the way `kubectl rollout restart` does it.
 */
import type {V1Deployment, V1PodSpec, V1Secret} from '@kubernetes/client-node'

import {RemoteError} from '../cli/errors.js'
import {FIELD_MANAGER, isNotFound, kubeCall, kubeError, type KubeClients} from '../kube/client.js'
import {isOurSecret, RESTARTED_AT, SECRET_ANNOTATIONS, type SecretOwner, secretLabels, secretSelector} from './labels.js'
import type {SecretValue} from '../vault/secrets.js'

export async function readSecret(clients: KubeClients, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await clients.core.readNamespacedSecret({name, namespace})
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw kubeError(error, `read Secret ${namespace}/${name}`)
  }
}

/** The Secrets idp wrote for this environment in `namespace`. */
export async function listOurSecrets(clients: KubeClients, namespace: string, owner: SecretOwner): Promise<V1Secret[]> {
  const list = await kubeCall(`list Secrets in ${namespace}`, () => clients.core.listNamespacedSecret({namespace, labelSelector: secretSelector(owner)}))
  return list.items.filter((secret) => isOurSecret(secret, owner))
}

/** A live Secret's data, decoded; held in memory for a comparison only. */
export function liveData(secret: V1Secret | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(secret?.data ?? {})) out[key] = Buffer.from(value, 'base64').toString('utf8')
  for (const [key, value] of Object.entries(secret?.stringData ?? {})) out[key] = value
  return out
}

/**
 * Create or update one Secret by server-side apply (field manager idp): keys idp no longer applies
 * are removed, keys another manager added stay. A Secret of that name idp did not write is refused.
 */
export async function applySecret(clients: KubeClients, namespace: string, owner: SecretOwner, value: SecretValue): Promise<{created: boolean}> {
  const live = await readSecret(clients, namespace, value.name)
  if (live && !isOurSecret(live, owner)) {
    throw new RemoteError(`Secret ${namespace}/${value.name} exists and was not written by idp for ${owner.service}/${owner.env}.`, {
      hint: `idp never takes over a Secret it did not create. Rename the mapping in .idp.yml (secrets.env), or remove that Secret if it is unused.`,
    })
  }
  const body = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: value.name,
      namespace,
      labels: secretLabels(owner),
      annotations: {[SECRET_ANNOTATIONS.vaultPath]: value.source, [SECRET_ANNOTATIONS.vaultVersion]: String(value.version)},
    },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(value.data).map(([key, text]) => [key, Buffer.from(text, 'utf8').toString('base64')])),
  }
  await kubeCall(`apply Secret ${namespace}/${value.name}`, () => clients.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, clients.patchStrategy.ServerSideApply))
  return {created: !live}
}

/** Delete the Secrets idp wrote for this environment, except `keep`. */
export async function deleteOurSecrets(clients: KubeClients, namespace: string, owner: SecretOwner, keep: string[] = []): Promise<string[]> {
  const deleted: string[] = []
  for (const secret of await listOurSecrets(clients, namespace, owner)) {
    const name = secret.metadata?.name
    if (!name || keep.includes(name)) continue
    try {
      await clients.core.deleteNamespacedSecret({name, namespace})
      deleted.push(name)
    } catch (error) {
      if (!isNotFound(error)) throw kubeError(error, `delete Secret ${namespace}/${name}`)
    }
  }
  return deleted.sort()
}

export interface SecretChange {
  /** The Kubernetes Secret. */
  name: string
  /** `<mount>/<path>` in Vault; absent for a Secret no mapping names any more. */
  source?: string
  version?: number
  /** create: not in the cluster; update: some key differs; unchanged; remove: idp's Secret no mapping names. */
  action: 'create' | 'update' | 'unchanged' | 'remove'
  added: string[]
  removed: string[]
  changed: string[]
}

/** Compare what Vault holds with the live Secrets by key: names only, never a value. */
export function secretChanges(values: SecretValue[], live: V1Secret[]): SecretChange[] {
  const byName = new Map(live.map((secret) => [secret.metadata?.name ?? '', secret]))
  const changes: SecretChange[] = values.map((value) => {
    const secret = byName.get(value.name)
    const current = liveData(secret)
    const added = Object.keys(value.data).filter((key) => !Object.hasOwn(current, key))
    const removed = Object.keys(current).filter((key) => !Object.hasOwn(value.data, key))
    const changed = Object.keys(value.data).filter((key) => Object.hasOwn(current, key) && current[key] !== value.data[key])
    const action = !secret ? 'create' : added.length + removed.length + changed.length > 0 ? 'update' : 'unchanged'
    return {name: value.name, source: value.source, version: value.version, action, added: added.sort(), removed: removed.sort(), changed: changed.sort()}
  })
  for (const secret of live) {
    const name = secret.metadata?.name
    if (!name || values.some((value) => value.name === name)) continue
    changes.push({name, action: 'remove', added: [], removed: Object.keys(liveData(secret)).sort(), changed: []})
  }
  return changes.sort((a, b) => a.name.localeCompare(b.name))
}

/** The Secret names a pod spec reads: envFrom, env valueFrom, volumes (also projected). */
export function secretsUsedBy(spec: V1PodSpec | undefined): string[] {
  const names = new Set<string>()
  for (const container of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const from of container.envFrom ?? []) if (from.secretRef?.name) names.add(from.secretRef.name)
    for (const variable of container.env ?? []) if (variable.valueFrom?.secretKeyRef?.name) names.add(variable.valueFrom.secretKeyRef.name)
  }
  for (const volume of spec?.volumes ?? []) {
    if (volume.secret?.secretName) names.add(volume.secret.secretName)
    for (const source of volume.projected?.sources ?? []) if (source.secret?.name) names.add(source.secret.name)
  }
  return [...names].sort()
}

/** The Deployments in `namespace` whose pods read any of `secrets`. */
export async function deploymentsUsing(clients: KubeClients, namespace: string, secrets: string[]): Promise<string[]> {
  if (secrets.length === 0) return []
  const list = await kubeCall(`list Deployments in ${namespace}`, () => clients.apps.listNamespacedDeployment({namespace}))
  return list.items
    .filter((deployment: V1Deployment) => secretsUsedBy(deployment.spec?.template?.spec).some((name) => secrets.includes(name)))
    .map((deployment) => deployment.metadata?.name ?? '')
    .filter(Boolean)
    .sort()
}

/** `kubectl rollout restart deployment/<name>`: a strategic merge patch of the pod template's restartedAt annotation. */
export async function restartDeployment(clients: KubeClients, namespace: string, name: string, at: string): Promise<void> {
  const body = {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name, namespace}, spec: {template: {metadata: {annotations: {[RESTARTED_AT]: at}}}}}
  await kubeCall(`restart Deployment ${namespace}/${name}`, () => clients.objects.patch(body, undefined, undefined, FIELD_MANAGER, undefined, clients.patchStrategy.StrategicMergePatch))
}

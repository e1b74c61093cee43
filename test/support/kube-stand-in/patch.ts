// The four PATCH flavours the API server speaks, reduced to the semantics clients rely on.
import type {KubeObject} from './types.js'

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: any, patch: any): any {
  if (!isObject(patch)) return structuredClone(patch)
  const result: Record<string, any> = isObject(target) ? {...target} : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = mergePatch(result[key], value)
  }
  return result
}

class PatchError extends Error {}
export {PatchError}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer ${pointer}`)
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** RFC 6902 JSON patch. */
export function jsonPatch(target: any, ops: any[]): any {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be an array of operations')
  let doc = structuredClone(target)
  const parentOf = (path: string[]): [any, string] => {
    let cur = doc
    for (const key of path.slice(0, -1)) {
      cur = Array.isArray(cur) ? cur[Number(key)] : cur?.[key]
      if (cur === undefined) throw new PatchError(`path not found: /${path.join('/')}`)
    }
    return [cur, path[path.length - 1]!]
  }
  const get = (path: string[]) => {
    let cur = doc
    for (const key of path) {
      cur = Array.isArray(cur) ? cur[Number(key)] : cur?.[key]
      if (cur === undefined) throw new PatchError(`path not found: /${path.join('/')}`)
    }
    return cur
  }
  const remove = (path: string[]) => {
    const [parent, key] = parentOf(path)
    const value = get(path)
    if (Array.isArray(parent)) parent.splice(Number(key), 1)
    else delete parent[key]
    return value
  }
  const add = (path: string[], value: any) => {
    if (path.length === 0) {
      doc = value
      return
    }
    const [parent, key] = parentOf(path)
    if (Array.isArray(parent)) {
      if (key === '-') parent.push(value)
      else parent.splice(Number(key), 0, value)
    } else parent[key] = value
  }
  for (const op of ops) {
    const path = decodePointer(op.path)
    switch (op.op) {
      case 'add':
        add(path, structuredClone(op.value))
        break
      case 'remove':
        remove(path)
        break
      case 'replace':
        get(path)
        if (path.length === 0) doc = structuredClone(op.value)
        else {
          const [parent, key] = parentOf(path)
          parent[Array.isArray(parent) ? Number(key) : key] = structuredClone(op.value)
        }
        break
      case 'move':
        add(path, remove(decodePointer(op.from)))
        break
      case 'copy':
        add(path, structuredClone(get(decodePointer(op.from))))
        break
      case 'test':
        if (JSON.stringify(get(path)) !== JSON.stringify(op.value)) throw new PatchError(`test operation failed at ${op.path}`)
        break
      default:
        throw new PatchError(`unknown JSON patch operation ${op.op}`)
    }
  }
  return doc
}

// Merge keys of the list fields clients patch in practice (from the Kubernetes API types).
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  conditions: 'type',
  tolerations: 'key',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  ownerReferences: 'uid',
}

function mergeKeyFor(field: string, items: any[]): string | undefined {
  const key = MERGE_KEYS[field]
  // Service ports merge on "port", container ports on "containerPort".
  if (field === 'ports' && items.some((i) => isObject(i) && 'port' in i && !('containerPort' in i))) return 'port'
  return key
}

/** Strategic merge patch: merge patch, except lists with a merge key merge element by element. */
export function strategicMergePatch(target: any, patch: any, field = ''): any {
  if (!isObject(patch)) return structuredClone(patch)
  if (patch.$patch === 'replace') {
    const {$patch: _ignored, ...rest} = patch
    return structuredClone(rest)
  }
  if (patch.$patch === 'delete') return undefined
  const result: Record<string, any> = isObject(target) ? {...target} : {}
  const retainKeys: string[] | undefined = patch.$retainKeys
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$setElementOrder/') || key === '$retainKeys' || key === '$patch') continue
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const list = key.slice('$deleteFromPrimitiveList/'.length)
      if (Array.isArray(result[list])) result[list] = result[list].filter((v: unknown) => !(value as unknown[]).includes(v))
      continue
    }
    if (value === null) {
      delete result[key]
      continue
    }
    if (Array.isArray(value)) {
      const mergeKey = mergeKeyFor(key, [...value, ...(Array.isArray(result[key]) ? result[key] : [])])
      if (mergeKey && Array.isArray(result[key]) && value.every(isObject)) {
        const merged: any[] = result[key].map((v: any) => structuredClone(v))
        for (const item of value) {
          const index = merged.findIndex((m) => isObject(m) && m[mergeKey] === item[mergeKey])
          if (item.$patch === 'delete') {
            if (index >= 0) merged.splice(index, 1)
          } else if (index >= 0) merged[index] = strategicMergePatch(merged[index], item, key)
          else merged.push(strategicMergePatch(undefined, item, key))
        }
        result[key] = merged
      } else result[key] = structuredClone(value)
      continue
    }
    result[key] = strategicMergePatch(result[key], value, key)
  }
  if (retainKeys) for (const key of Object.keys(result)) if (!retainKeys.includes(key)) delete result[key]
  void field
  return result
}

/** Removes from `target` the fields present in `previous` but not in `next` (what a manager stopped applying). */
function pruneDropped(target: any, previous: any, next: any): any {
  if (!isObject(target) || !isObject(previous)) return target
  const result = {...target}
  for (const key of Object.keys(previous)) {
    if (!isObject(next) || !(key in next)) delete result[key]
    else if (isObject(previous[key]) && isObject(next[key])) result[key] = pruneDropped(result[key], previous[key], next[key])
  }
  return result
}

/**
 * Server-side apply without conflict detection: fields this manager applied last time and no
 * longer applies are removed, then the applied configuration is merged in (lists with merge
 * keys element by element, other lists replaced).
 */
export function serverSideApply(live: KubeObject | undefined, applied: KubeObject, previousApplied: KubeObject | undefined): KubeObject {
  const base = live ? pruneDropped(live, previousApplied, applied) : {}
  return strategicMergePatch(base, applied)
}

/** managedFields' fieldsV1 for an applied configuration (the set of field paths it sets). */
export function fieldsV1(value: any): any {
  if (!isObject(value)) return {}
  const out: Record<string, any> = {}
  for (const [key, v] of Object.entries(value)) {
    if (key === 'apiVersion' || key === 'kind') continue
    out[`f:${key}`] = isObject(v) ? fieldsV1(v) : {}
  }
  return out
}

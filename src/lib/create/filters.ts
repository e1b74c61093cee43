/**
 * The template filters Backstage's scaffolder registers by default (createDefaultFilters), with
 * the same inputs and outputs, so public templates render the same under `idp create`.
 * idp has no Backstage integrations config, so hosts are classified by well-known names.
 */

export interface RepoSpec {
  host: string
  owner?: string
  repo: string
  organization?: string
  workspace?: string
  project?: string
}

type HostType = 'github' | 'gitlab' | 'bitbucket' | 'azure' | 'gerrit' | 'gitea'

function hostType(host: string): HostType {
  const h = host.toLowerCase()
  if (h === 'dev.azure.com' || h.endsWith('.visualstudio.com')) return 'azure'
  if (h.includes('bitbucket')) return 'bitbucket'
  if (h.includes('gitlab')) return 'gitlab'
  if (h.includes('gerrit')) return 'gerrit'
  if (h.includes('gitea')) return 'gitea'
  return 'github'
}

/** `github.com?owner=o&repo=r` → {host, owner, repo, ...}, as the RepoUrlPicker produces it. */
export function parseRepoUrl(repoUrl: unknown): RepoSpec {
  if (typeof repoUrl !== 'string' || repoUrl === '') throw new Error(`Invalid repo URL "${String(repoUrl)}": expected a string like github.com?owner=OWNER&repo=REPO.`)
  let parsed: URL
  try {
    parsed = new URL(`https://${repoUrl}`)
  } catch {
    throw new Error(`Invalid repo URL "${repoUrl}": expected a string like github.com?owner=OWNER&repo=REPO.`)
  }
  const param = (name: string) => parsed.searchParams.get(name) ?? undefined
  const spec: RepoSpec = {host: parsed.host, owner: param('owner'), repo: param('repo') ?? '', organization: param('organization'), workspace: param('workspace'), project: param('project')}
  const type = hostType(spec.host)
  if (type === 'bitbucket') {
    if (spec.host === 'bitbucket.org' && !spec.workspace) throw new Error(`Invalid repo URL "${repoUrl}": missing workspace.`)
    if (!spec.project) throw new Error(`Invalid repo URL "${repoUrl}": missing project.`)
  } else if (type === 'azure') {
    if (!spec.project) throw new Error(`Invalid repo URL "${repoUrl}": missing project.`)
  } else if (type === 'gerrit') {
    // Gerrit has no owner.
  } else if (!spec.owner) {
    throw new Error(`Invalid repo URL "${repoUrl}": missing owner.`)
  }
  if (!spec.repo) throw new Error(`Invalid repo URL "${repoUrl}": missing repo.`)
  // Backstage passes filter results through JSON, which drops undefined members.
  return JSON.parse(JSON.stringify(spec)) as RepoSpec
}

export function projectSlug(repoUrl: unknown): string {
  const {owner, repo} = parseRepoUrl(repoUrl)
  return `${owner}/${repo}`
}

export interface CompoundEntityRef {
  kind: string
  namespace: string
  name: string
}

/** `[kind:][namespace/]name` → {kind, namespace, name}; same rules as @backstage/catalog-model. */
export function parseEntityRef(ref: unknown, context?: {defaultKind?: string; defaultNamespace?: string}): CompoundEntityRef {
  if (!ref) throw new Error('Entity reference must not be empty')
  const defaultKind = context?.defaultKind
  const defaultNamespace = context?.defaultNamespace || 'default'
  let kind: string | undefined
  let namespace: string | undefined
  let name: string | undefined
  if (typeof ref === 'string') {
    let colon = ref.indexOf(':')
    const slash = ref.indexOf('/')
    if (slash !== -1 && slash < colon) colon = -1
    const k = colon === -1 ? undefined : ref.slice(0, colon)
    const ns = slash === -1 ? undefined : ref.slice(colon + 1, slash)
    const n = ref.slice(Math.max(colon + 1, slash + 1))
    if (k === '' || ns === '' || n === '') throw new TypeError(`Entity reference "${ref}" was not on the form [<kind>:][<namespace>/]<name>`)
    kind = k ?? defaultKind
    namespace = ns ?? defaultNamespace
    name = n
  } else if (typeof ref === 'object') {
    const r = ref as Partial<CompoundEntityRef>
    kind = r.kind ?? defaultKind
    namespace = r.namespace ?? defaultNamespace
    name = r.name
  }
  const textual = JSON.stringify(ref)
  if (!kind) throw new Error(`Entity reference ${textual} had missing or empty kind (e.g. did not start with "component:" or similar)`)
  if (!namespace) throw new Error(`Entity reference ${textual} had missing or empty namespace`)
  if (!name) throw new Error(`Entity reference ${textual} had missing or empty name`)
  return {kind, namespace, name}
}

/** `obj | pick('a.b')`: like lodash `get`, but only over own properties. */
export function pick(obj: unknown, key: unknown): unknown {
  if (typeof key !== 'string' && typeof key !== 'number') return undefined
  let current: unknown = obj
  for (const part of String(key).replace(/\[(\w+)\]/gu, '.$1').split('.').filter(Boolean)) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) return undefined
    current = (current as Record<string, unknown>)[part]
  }
  return current
}

export const DEFAULT_FILTERS: Record<string, (...args: any[]) => unknown> = {
  parseRepoUrl,
  projectSlug,
  parseEntityRef,
  pick,
}

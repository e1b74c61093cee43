import {type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument} from 'yaml'
import type * as z from 'zod/mini'

import {ConfigError, type ConfigProblem} from '../cli/errors.js'
import {dnsLabelProblem} from '../cli/names.js'
import {configSchema, type IdpConfig, SECRET_NAME_PATTERN} from './schema.js'
import {globToRegExp} from './glob.js'
import {closest} from './suggest.js'
import {vaultPathProblem} from './vault-path.js'

type Segment = string | number
type Issue = z.core.$ZodIssue

/** A problem before it has a position: where it is (key path) and whether it points at the key. */
interface RawProblem {
  path: Segment[]
  atKey?: boolean
  message: string
  expected?: string
  found?: string
  suggestion?: string
}

export interface ConfigCheck {
  /** The validated config, with defaults applied; undefined when there are problems. */
  config?: IdpConfig
  problems: ConfigProblem[]
}

/**
 * Validate the text of an `.idp.yml`: YAML syntax, the schema and the cross-key rules, all at
 * once, each problem with the line and column of the offending node (or of its parent key when
 * the node is missing). Pure: no file system access; `file` only labels the problems.
 */
export function checkConfigText(text: string, file?: string): ConfigCheck {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true, strict: true})
  const position = (offset: number) => {
    const {line, col} = lineCounter.linePos(offset)
    return {line, column: col}
  }
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error) => ({
      file,
      ...position(error.pos[0]),
      path: '',
      message: `YAML syntax error: ${error.message.replace(/\s+/gu, ' ').trim()}`,
    }))
    return {problems}
  }

  let data: unknown
  try {
    data = doc.toJS({maxAliasCount: 100})
  } catch (error) {
    return {problems: [{file, line: 1, column: 1, path: '', message: `YAML could not be read: ${error instanceof Error ? error.message : String(error)}`}]}
  }
  if (data === null || data === undefined) data = {}

  const raw: RawProblem[] = []
  const result = configSchema.safeParse(data)
  if (!result.success) raw.push(...result.error.issues.flatMap((issue) => fromIssue(issue, [], data)))
  raw.push(...crossChecks(data))

  const problems = dedupe(raw)
    .map((p) => ({...p, ...locate(doc, p.path, p.atKey, position)}))
    .map(({path: keyPath, atKey: _atKey, line, column, ...rest}) => ({file, line, column, path: formatPath(keyPath), ...rest}))
    .sort((a, b) => a.line - b.line || a.column - b.column)
  if (problems.length > 0 || !result.success) return {problems}
  return {config: result.data, problems: []}
}

/** Validate and return the config, or throw one ConfigError holding every problem. */
export function parseConfigText(text: string, file?: string): IdpConfig {
  const {config, problems} = checkConfigText(text, file)
  if (!config) throw configError(problems, file)
  return config
}

/** `FILE:LINE:COL  path: message (expected X, found Y) — did you mean Z?` */
export function formatProblem(problem: ConfigProblem): string {
  const where = [problem.file ?? '.idp.yml', problem.line, problem.column].filter((part) => part !== undefined).join(':')
  const facts = [problem.expected ? `expected ${problem.expected}` : '', problem.found ? `found ${problem.found}` : ''].filter(Boolean).join(', ')
  return `${where}  ${problem.path ? `${problem.path}: ` : ''}${problem.message}${facts ? ` (${facts})` : ''}${problem.suggestion ? ` — did you mean ${problem.suggestion}?` : ''}`
}

export function configError(problems: ConfigProblem[], file?: string): ConfigError {
  const name = file ?? '.idp.yml'
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
  return new ConfigError(`${name} is not valid (${count}):\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`, problems, {
    hint: `Fix the lines above; \`idp config schema --output idp.schema.json\` gives your editor completion and checks. Every key is explained in \`idp config example\`.`,
  })
}


// --- zod issues → problems -------------------------------------------------------------------

function fromIssue(issue: Issue, base: Segment[], data: unknown): RawProblem[] {
  const at = [...base, ...(issue.path as Segment[])]
  const value = valueAt(data, at)
  switch (issue.code) {
    case 'invalid_type': {
      const expected = describeType(issue.expected)
      if (value === undefined) return [{path: at, message: 'required key is missing', expected, found: 'nothing'}]
      return [{path: at, message: 'wrong type', expected, found: describeValue(value)}]
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v))
      const suggestion = typeof value === 'string' ? closest(value, issue.values.filter((v): v is string => typeof v === 'string')) : undefined
      if (at.length === 1 && at[0] === 'version') {
        return [{path: at, message: value === undefined ? 'required key is missing' : 'unsupported schema version', expected: values.join(' or '), found: value === undefined ? 'nothing' : describeValue(value)}]
      }
      return [{path: at, message: value === undefined ? 'required key is missing' : 'not an allowed value', expected: values.length === 1 ? values[0] : `one of ${values.join(', ')}`, found: value === undefined ? 'nothing' : describeValue(value), suggestion: suggestion && JSON.stringify(suggestion)}]
    }
    case 'unrecognized_keys': {
      const allowed = keysAt(at)
      return issue.keys.map((key) => ({
        path: [...at, key],
        atKey: true,
        message: `unknown key "${key}"`,
        expected: allowed.length > 0 ? `one of ${allowed.join(', ')}` : undefined,
        suggestion: closest(key, allowed),
      }))
    }
    case 'invalid_format':
      return [{path: at, message: issue.message, expected: issue.format === 'regex' && 'pattern' in issue ? `text matching ${String(issue.pattern)}` : issue.format === 'url' ? 'an http(s) URL' : `a valid ${issue.format}`, found: describeValue(value)}]
    case 'too_small':
    case 'too_big': {
      const empty = issue.code === 'too_small' && Number(issue.minimum) === 1 && (typeof value === 'string' || Array.isArray(value))
      const limit = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum)
      const unit = issue.origin === 'string' ? 'character' : issue.origin === 'array' ? 'item' : ''
      const bound = `${issue.code === 'too_small' ? 'at least' : 'at most'} ${limit}`
      return [{path: at, message: empty ? 'must not be empty' : issue.code === 'too_small' ? 'too small' : 'too big', expected: `${bound}${unit ? ` ${unit}${limit === 1 ? '' : 's'}` : ''}`, found: describeValue(value)}]
    }
    case 'invalid_union': {
      // Report the branch that fits the value's shape (an object for an object), not every branch.
      const branches = issue.errors.filter((branch) => !branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0))
      const best = branches.sort((a, b) => a.length - b.length)[0]
      if (best) return best.flatMap((inner) => fromIssue(inner, at, data))
      const expected = issue.errors.flatMap((branch) => branch.filter((inner) => inner.code === 'invalid_type' && inner.path.length === 0).map((inner) => describeType((inner as {expected: string}).expected)))
      return [{path: at, message: 'wrong type', expected: orList([...new Set(expected)]), found: describeValue(value)}]
    }
    case 'custom': {
      const params = (issue.params ?? {}) as {expected?: string; suggestion?: string}
      return [{path: at, message: issue.message, expected: params.expected, found: describeValue(value), suggestion: params.suggestion}]
    }
    default:
      return [{path: at, message: issue.message, found: value === undefined ? undefined : describeValue(value)}]
  }
}

function orList(items: string[]): string | undefined {
  if (items.length <= 1) return items[0]
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`
}

function describeType(type: string): string {
  switch (type) {
    case 'object':
      return 'a mapping'
    case 'array':
      return 'a list'
    case 'boolean':
      return 'true or false'
    case 'number':
    case 'int':
      return 'a number'
    case 'string':
      return 'text'
    default:
      return type
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null (an empty value)'
  if (Array.isArray(value)) return `a list of ${value.length}`
  if (typeof value === 'object') return 'a mapping'
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text
}

// --- schema walking for "did you mean" ---------------------------------------------------------

interface ZodDef {
  type: string
  shape?: Record<string, {_zod: {def: ZodDef}}>
  innerType?: {_zod: {def: ZodDef}}
  valueType?: {_zod: {def: ZodDef}}
  element?: {_zod: {def: ZodDef}}
  options?: {_zod: {def: ZodDef}}[]
  in?: {_zod: {def: ZodDef}}
}

/** zod's own description of the schema; only the fields ZodDef names are read. */
function rootDef(): ZodDef {
  const def: {type: string} = configSchema._zod.def
  return def
}

/** The keys the schema allows in the mapping at `at`. */
export function keysAt(at: Segment[]): string[] {
  let defs: ZodDef[] = [rootDef()]
  for (const segment of at) defs = defs.flatMap((def) => childDefs(unwrap(def), segment))
  return [...new Set(defs.flatMap((def) => unwrap(def)).flatMap((def) => (def.type === 'object' && def.shape ? Object.keys(def.shape) : [])))]
}

function unwrap(def: ZodDef): ZodDef[] {
  if (def.innerType) return unwrap(def.innerType._zod.def)
  if (def.type === 'pipe' && def.in) return unwrap(def.in._zod.def)
  if (def.type === 'union' && def.options) return def.options.flatMap((option) => unwrap(option._zod.def))
  return [def]
}

function childDefs(defs: ZodDef[], segment: Segment): ZodDef[] {
  return defs.flatMap((def) => {
    if (def.type === 'object' && def.shape && typeof segment === 'string' && def.shape[segment]) return [def.shape[segment]._zod.def]
    if (def.type === 'record' && def.valueType) return [def.valueType._zod.def]
    if (def.type === 'array' && def.element) return [def.element._zod.def]
    return []
  })
}

// --- rules across keys -------------------------------------------------------------------------

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const entries = (value: unknown): [string, unknown][] => (isRecord(value) ? Object.entries(value) : [])

/** Rules zod cannot see key by key. They read the raw data defensively, so they run even when other parts are invalid. */
function crossChecks(data: unknown): RawProblem[] {
  if (!isRecord(data)) return []
  const problems: RawProblem[] = []
  const clusters = entries(data.clusters).map(([alias]) => alias)
  const environments = entries(data.environments)
  const envKeys = environments.map(([key]) => key)

  for (const alias of clusters) {
    const problem = dnsLabelProblem(alias)
    if (problem) problems.push({path: ['clusters', alias], atKey: true, message: `cluster alias "${alias}" is not a DNS-1123 label: ${problem}`, expected: 'lower-case letters, digits and "-"'})
  }

  for (const [key, env] of environments) {
    const keyProblem = environmentKeyProblem(key)
    if (keyProblem) problems.push({path: ['environments', key], atKey: true, message: `environment "${key}": ${keyProblem}`, expected: 'a DNS-1123 label, or a pattern using * such as pr-*'})
    if (!isRecord(env)) continue
    if (typeof env.cluster === 'string' && !clusters.includes(env.cluster)) {
      problems.push({
        path: ['environments', key, 'cluster'],
        message: clusters.length === 0 ? `unknown cluster "${env.cluster}": no clusters are defined` : `unknown cluster "${env.cluster}"`,
        expected: clusters.length === 0 ? 'a key of clusters (add a clusters: section)' : `one of ${clusters.join(', ')}`,
        found: JSON.stringify(env.cluster),
        suggestion: closest(env.cluster, clusters),
      })
    }
    if (env.vcluster !== undefined && (env.driver ?? 'namespace') !== 'vcluster') {
      problems.push({path: ['environments', key, 'vcluster'], atKey: true, message: 'vcluster settings have no effect without driver: vcluster', expected: 'driver: vcluster, or no vcluster key', found: `driver: ${String(env.driver ?? 'namespace (the default)')}`})
    }
  }

  const deploy = data.deploy
  if (isRecord(deploy)) {
    const strategy = deploy.strategy ?? 'helm'
    if (strategy === 'argocd' && deploy.argocd === undefined) {
      problems.push({path: ['deploy', 'strategy'], message: 'strategy argocd needs deploy.argocd', expected: 'deploy.argocd with at least repoURL and path', found: 'no argocd key'})
    }
    if (strategy === 'helm' && deploy.argocd !== undefined) {
      problems.push({path: ['deploy', 'argocd'], atKey: true, message: 'argocd settings have no effect with strategy helm', expected: 'strategy: argocd, or no argocd key', found: `strategy: ${deploy.strategy === undefined ? 'helm (the default)' : 'helm'}`})
    }
  }

  const secrets = data.secrets
  if (isRecord(secrets)) {
    const vault = isRecord(secrets.vault) ? secrets.vault : {}
    const auth = isRecord(vault.auth) ? vault.auth : {}
    if (auth.method === 'jwt' && auth.role === undefined) {
      problems.push({path: ['secrets', 'vault', 'auth'], message: 'method jwt needs the role to log in with', expected: 'auth.role: the JWT auth role bound to this repository', found: 'no role key'})
    }
    if (auth.method !== 'jwt') {
      for (const key of ['role', 'audience'] as const) {
        if (auth[key] !== undefined) problems.push({path: ['secrets', 'vault', 'auth', key], atKey: true, message: `${key} has no effect without method: jwt`, expected: 'method: jwt, or no ' + key + ' key', found: `method: ${String(auth.method ?? 'token (the default)')}`})
      }
    }
    const secretName = new RegExp(SECRET_NAME_PATTERN, 'u')
    for (const [env, mappings] of entries(secrets.env)) {
      const keyProblem = environmentKeyProblem(env)
      if (keyProblem) problems.push({path: ['secrets', 'env', env], atKey: true, message: `environment "${env}": ${keyProblem}`, expected: 'a DNS-1123 label, or a pattern using * such as pr-*'})
      else if (!envKeys.includes(env) && !envKeys.some((key) => key.includes('*') && globToRegExp(key).test(env))) {
        problems.push({path: ['secrets', 'env', env], atKey: true, message: `unknown environment "${env}"`, expected: envKeys.length > 0 ? `one of ${envKeys.join(', ')} (or a name they match)` : 'a key of environments (none are defined)', found: JSON.stringify(env), suggestion: closest(env, envKeys)})
      }
      for (const [name, source] of entries(mappings)) {
        if (!secretName.test(name) || name.length > 253) {
          problems.push({path: ['secrets', 'env', env, name], atKey: true, message: `"${name}" is not a Kubernetes Secret name`, expected: 'a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", at most 253 characters'})
        }
        const vaultPath = isRecord(source) ? source.path : undefined
        if (typeof vaultPath === 'string' && vaultPath !== '' && vaultPathProblem(vaultPath)) {
          problems.push({path: ['secrets', 'env', env, name, 'path'], message: vaultPathProblem(vaultPath)!, expected: 'a path inside the mount such as shop/{{env}}/db (no leading or trailing "/", no data/)', found: JSON.stringify(vaultPath)})
        }
        if (isRecord(source) && Array.isArray(source.keys) && new Set(source.keys).size !== source.keys.length) {
          problems.push({path: ['secrets', 'env', env, name, 'keys'], message: 'a key is listed twice', expected: 'each key once', found: describeValue(source.keys)})
        }
      }
    }
  }

  const access = data.access
  if (isRecord(access)) {
    const roles = entries(access.roles)
    const roleNames = roles.map(([name]) => name)
    for (const [name, role] of roles) {
      const problem = dnsLabelProblem(name)
      if (problem) problems.push({path: ['access', 'roles', name], atKey: true, message: `role name "${name}" is not a DNS-1123 label: ${problem}`, expected: 'lower-case letters, digits and "-"'})
      if (isRecord(role) && (role.clusterRole === undefined) === (role.rules === undefined)) {
        problems.push({path: ['access', 'roles', name], message: role.clusterRole === undefined ? 'a role needs clusterRole or rules' : 'a role has either clusterRole or rules, not both', expected: 'exactly one of clusterRole, rules', found: describeValue(role)})
      }
    }
    const policy = isRecord(access.policy) ? access.policy : {}
    const knownRole = (role: unknown, at: Segment[]) => {
      if (typeof role === 'string' && !roleNames.includes(role)) {
        problems.push({path: at, message: `unknown role "${role}"`, expected: roleNames.length > 0 ? `one of ${roleNames.join(', ')}` : 'a key of access.roles (none are defined)', found: JSON.stringify(role), suggestion: closest(role, roleNames)})
      }
    }
    if (Array.isArray(policy.requireReason)) policy.requireReason.forEach((role, i) => knownRole(role, ['access', 'policy', 'requireReason', i]))
    for (const [env, forbidden] of entries(policy.forbid)) {
      if (!envKeys.includes(env) && !envKeys.some((key) => key.includes('*') && globToRegExp(key).test(env))) {
        problems.push({path: ['access', 'policy', 'forbid', env], atKey: true, message: `unknown environment "${env}"`, expected: envKeys.length > 0 ? `one of ${envKeys.join(', ')} (or a name they match)` : 'a key of environments (none are defined)', found: JSON.stringify(env), suggestion: closest(env, envKeys)})
      }
      if (Array.isArray(forbidden)) forbidden.forEach((role, i) => knownRole(role, ['access', 'policy', 'forbid', env, i]))
    }
  }
  return problems
}

/** Why an environment key is neither a DNS-1123 label nor a `*` pattern, or undefined. */
export function environmentKeyProblem(key: string): string | undefined {
  if (key === '*') return undefined
  const problem = dnsLabelProblem(key.includes('*') ? key.replaceAll('*', 'x') : key)
  if (!problem) return undefined
  return /[?[\]{}]/u.test(key) ? 'only * is a wildcard (no ?, [] or {})' : key.includes('*') ? `as a pattern, ${problem}` : problem
}


// --- positions -----------------------------------------------------------------------------------

function valueAt(data: unknown, at: Segment[]): unknown {
  let current = data
  for (const segment of at) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment]
    else if (isRecord(current)) current = Object.hasOwn(current, segment) ? current[String(segment)] : undefined
    else return undefined
  }
  return current
}

/**
 * Line and column of the node at `at`. When a key is missing, the position of the deepest key
 * that exists (the mapping that lacks it); `atKey` points at the key instead of its value.
 */
function locate(doc: Document, at: Segment[], atKey: boolean | undefined, position: (offset: number) => {line: number; column: number}): {line: number; column: number} {
  let node: unknown = doc.contents
  let keyNode: Node | undefined
  let lastNode: Node | undefined = isNode(node) ? node : undefined
  for (const segment of at) {
    if (isAlias(node)) node = node.resolve(doc)
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment))
      if (!pair) return at.length > 0 && keyNode ? start(keyNode, position) : start(lastNode, position)
      keyNode = isNode(pair.key) ? pair.key : undefined
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      keyNode = undefined
      node = node.items[segment]
    } else {
      return start(keyNode ?? lastNode, position)
    }
    if (isNode(node)) lastNode = node
    else return start(keyNode ?? lastNode, position)
  }
  if (atKey && keyNode) return start(keyNode, position)
  return start(isNode(node) ? node : (keyNode ?? lastNode), position)
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value)
  return typeof key === 'string' ? key : undefined
}

function start(node: Node | undefined, position: (offset: number) => {line: number; column: number}): {line: number; column: number} {
  const offset = node?.range?.[0]
  return offset === undefined ? {line: 1, column: 1} : position(offset)
}

function formatPath(at: Segment[]): string {
  return at
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`
      if (/^[^.[\]\s"]+$/u.test(segment)) return i === 0 ? segment : `.${segment}`
      return `[${JSON.stringify(segment)}]`
    })
    .join('')
}

function dedupe(problems: RawProblem[]): RawProblem[] {
  const seen = new Set<string>()
  return problems.filter((p) => {
    const key = `${JSON.stringify(p.path)}|${p.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

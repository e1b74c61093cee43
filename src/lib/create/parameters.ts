import {parse as parseYaml} from 'yaml'

import {UsageError} from '../cli/errors.js'
import {repositoryNameProblem} from '../cli/names.js'
import {readBoundedText} from '../cli/paths.js'
import type {ParameterPage, PropertySchema, TemplateDocument} from './template-schema.js'

/**
 * Template parameters (JSON Schema pages in spec.parameters) become prompts and `--set` keys.
 * Values come, lowest precedence first, from: schema defaults, NAME (for `name`/`component_id`),
 * `--values FILE`, `--set key=value`, then the wizard on a TTY.
 */

export interface Parameter {
  key: string
  schema: PropertySchema
  required: boolean
  page: number
}

export interface Page {
  title?: string
  description?: string
  parameters: Parameter[]
}

export const NAME_KEYS = ['name', 'component_id'] as const

export function parameterPages(doc: TemplateDocument): Page[] {
  const raw = doc.spec.parameters
  const pages: ParameterPage[] = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  return pages.map((page, index) => ({
    title: page.title,
    description: page.description,
    parameters: Object.entries(page.properties ?? {}).map(([key, schema]) => ({key, schema, required: (page.required ?? []).includes(key), page: index})),
  }))
}

export function allParameters(pages: Page[]): Parameter[] {
  return pages.flatMap((p) => p.parameters)
}

export function schemaType(schema: PropertySchema): string {
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type
  if (t) return t
  if (schema.enum?.length) return typeof schema.enum[0] === 'number' ? 'number' : typeof schema.enum[0] === 'boolean' ? 'boolean' : 'string'
  return 'string'
}

/** `key=value` pairs from repeated --set flags. */
export function parseSetFlags(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new UsageError(`--set "${pair}" is not key=value.`, {hint: 'Write --set owner=team-a (repeat --set for more parameters).'})
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1)
  }
  return out
}

export async function readValuesFile(file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readBoundedText(file)
  } catch (error) {
    throw new UsageError(`Cannot read --values file ${file}: ${(error as Error).message}.`, {cause: error, hint: 'Pass a YAML or JSON file with one key per template parameter.'})
  }
  let data: unknown
  try {
    data = parseYaml(text)
  } catch (error) {
    throw new UsageError(`--values file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, {hint: 'Write the answers as a YAML mapping, e.g. "owner: team-a".'})
  }
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`--values file ${file} must hold a mapping of parameter names to values.`, {hint: 'e.g.\nname: shop\nowner: team-a'})
  return data as Record<string, unknown>
}

/**
 * A value as an error may quote it: never a secret parameter's (a redactor masks a secret as
 * registered, and JSON escaping — `hunter"2` as `hunter\"2` — would slip past it).
 */
function quoted(value: unknown, schema: PropertySchema | undefined): string {
  return schema && (schema['ui:field'] === 'Secret' || schema['ui:widget'] === 'password') ? 'a value (secret, not shown)' : JSON.stringify(value)
}

/** Turn a flag string (or a YAML value) into the parameter's JSON Schema type. */
export function coerceValue(key: string, value: unknown, schema: PropertySchema | undefined, source: string): unknown {
  const type = schema ? schemaType(schema) : 'string'
  const bad = (expected: string): never => {
    throw new UsageError(`${source}: parameter "${key}" must be ${expected}, got ${quoted(value, schema)}.`, {hint: describeParameter(key, schema)})
  }
  if (typeof value !== 'string') {
    if (type === 'string' && (typeof value === 'number' || typeof value === 'boolean')) return String(value)
    return value
  }
  switch (type) {
    case 'number':
    case 'integer': {
      const n = value.trim() === '' ? Number.NaN : Number(value)
      if (!Number.isFinite(n)) bad(type === 'integer' ? 'an integer' : 'a number')
      return n
    }
    case 'boolean': {
      const v = value.trim().toLowerCase()
      if (['true', 'yes', 'y', '1', 'on'].includes(v)) return true
      if (['false', 'no', 'n', '0', 'off'].includes(v)) return false
      return bad('true or false')
    }
    case 'array': {
      const trimmed = value.trim()
      if (trimmed.startsWith('[')) {
        try {
          return JSON.parse(trimmed)
        } catch {
          return bad('a JSON array or a comma-separated list')
        }
      }
      return trimmed === '' ? [] : trimmed.split(',').map((s) => s.trim())
    }
    case 'object': {
      try {
        const parsed = parseYaml(value) as unknown
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed
      } catch {}
      return bad('a JSON/YAML object')
    }
    default:
      return value
  }
}

/** Why a value does not fit its schema, or undefined. */
export function valueProblem(value: unknown, schema: PropertySchema): string | undefined {
  const type = schemaType(schema)
  switch (type) {
    case 'string':
      if (typeof value !== 'string') return 'must be a string'
      if (schema.minLength !== undefined && value.length < schema.minLength) return `must be at least ${schema.minLength} characters`
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return `must be at most ${schema.maxLength} characters`
      if (schema.pattern !== undefined && !compilePattern(schema.pattern).test(value)) return patternProblem(schema)
      if (schema['ui:field'] === 'RepoUrlPicker' && value !== '') return repoUrlProblem(value, schema)
      break
    case 'number':
    case 'integer':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number'
      if (type === 'integer' && !Number.isInteger(value)) return 'must be an integer'
      if (schema.minimum !== undefined && value < schema.minimum) return `must be at least ${schema.minimum}`
      if (schema.maximum !== undefined && value > schema.maximum) return `must be at most ${schema.maximum}`
      break
    case 'boolean':
      if (typeof value !== 'boolean') return 'must be true or false'
      break
    case 'array':
      if (!Array.isArray(value)) return 'must be a list'
      if (schema.items?.enum) {
        const bad = value.find((item) => !schema.items?.enum?.includes(item))
        if (bad !== undefined) return `contains ${JSON.stringify(bad)}, which is not one of ${schema.items.enum.map((e) => JSON.stringify(e)).join(', ')}`
      }
      break
    case 'object':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'must be an object'
      break
    default:
      break
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) return `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`
  return undefined
}

/** The DNS-1123 label patterns templates use for names (Backstage's own templates and idp's). */
const DNS_LABEL_PATTERNS = new Set(['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', '^([a-z0-9]|[a-z0-9][-a-z0-9]*[a-z0-9])$', '^[a-z0-9-]+$', '^[a-z0-9]+(-[a-z0-9]+)*$'])

/** A pattern mismatch in words: people do not read regular expressions. */
function patternProblem(schema: PropertySchema): string {
  if (DNS_LABEL_PATTERNS.has(schema.pattern!)) return 'must be lowercase letters, digits and dashes, starting and ending with a letter or digit (e.g. my-service)'
  if (schema.description) return `is not in the form the template expects: ${schema.description.trim().replace(/\.$/u, '')}`
  return `must match the pattern ${schema.pattern}`
}

/** A RepoUrlPicker value: host?owner=OWNER&repo=REPO on one of the template's allowed hosts, checked as typed, not at the end. */
function repoUrlProblem(value: string, schema: PropertySchema): string | undefined {
  const example = 'github.com?owner=ORG&repo=NAME'
  let url: URL
  try {
    url = new URL(`https://${value}`)
  } catch {
    return `must be HOST?owner=OWNER&repo=REPO, e.g. ${example}`
  }
  if (url.pathname !== '/' || !url.search) return `must be HOST?owner=OWNER&repo=REPO, e.g. ${example}`
  const allowed = ((schema['ui:options']?.allowedHosts as unknown[] | undefined) ?? []).filter((h): h is string => typeof h === 'string')
  if (allowed.length > 0 && !allowed.includes(url.host)) return `must be on ${allowed.join(' or ')} (got ${url.host})`
  const owner = url.searchParams.get('owner') ?? url.searchParams.get('organization') ?? url.searchParams.get('workspace')
  if (!owner) return `names no owner: add &owner=OWNER, e.g. ${example}`
  const repo = url.searchParams.get('repo')
  if (!repo) return `names no repository: add &repo=NAME, e.g. ${example}`
  if (!/^[A-Za-z0-9._-]+$/u.test(repo) || !/^[A-Za-z0-9._-]+$/u.test(owner)) return 'has an owner or repository name with characters GitHub does not allow (letters, digits, ".", "_" and "-")'
  if (owner.startsWith('-') || owner.endsWith('-')) return `has an owner "${owner}" that GitHub does not allow: an account name cannot start or end with "-"`
  const repoProblem = repositoryNameProblem(repo)
  if (repoProblem) return `names a repository GitHub does not allow ("${repo}": ${repoProblem})`
  return undefined
}

const patternCache = new Map<string, RegExp>()

function compilePattern(pattern: string): RegExp {
  let re = patternCache.get(pattern)
  if (!re) {
    try {
      re = new RegExp(pattern, 'u')
    } catch {
      re = new RegExp(pattern)
    }
    patternCache.set(pattern, re)
  }
  return re
}

export function describeParameter(key: string, schema: PropertySchema | undefined): string {
  if (!schema) return `Pass --set ${key}=VALUE.`
  const parts = [schema.title ? `${schema.title}` : key]
  if (schema.description) parts.push(`— ${schema.description}`)
  const type = schemaType(schema)
  if (schema.enum) parts.push(`(one of: ${schema.enum.map(String).join(', ')})`)
  else if (schema.pattern) parts.push(DNS_LABEL_PATTERNS.has(schema.pattern) ? '(lowercase letters, digits and dashes)' : `(${type}, pattern ${schema.pattern})`)
  else parts.push(`(${type})`)
  return `${parts.join(' ')}. Pass --set ${key}=VALUE or put "${key}:" in a --values file.`
}

/** A RepoUrlPicker value from the template's allowed hosts, a configured owner and the name. */
export function repoUrlDefault(schema: PropertySchema, owner: string | undefined, name: string | undefined): string | undefined {
  if (schema['ui:field'] !== 'RepoUrlPicker' || !owner || !name) return undefined
  const hosts = (schema['ui:options']?.allowedHosts as unknown[] | undefined) ?? []
  const host = typeof hosts[0] === 'string' ? hosts[0] : 'github.com'
  return `${host}?owner=${encodeURIComponent(owner)}&repo=${encodeURIComponent(name)}`
}

export interface ResolveInput {
  pages: Page[]
  /** From --values FILE. */
  fileValues?: Record<string, unknown>
  valuesFile?: string
  /** From --set. */
  setValues?: Record<string, string>
  /** NAME argument: default for `name`/`component_id`. */
  name?: string
  /** Owner for RepoUrlPicker defaults (from .idp.yml repo.owner). */
  repoOwner?: string
}

export interface ResolvedValues {
  values: Record<string, unknown>
  /** Keys given explicitly (file, --set, NAME) — the wizard does not ask for them again. */
  given: Set<string>
  /** Keys passed that the template does not declare. */
  unknown: string[]
}

/** Merge defaults, NAME, --values and --set; typed and validated, but missing required values allowed. */
export function resolveValues(input: ResolveInput): ResolvedValues {
  const params = new Map(allParameters(input.pages).map((p) => [p.key, p]))
  const values: Record<string, unknown> = {}
  const given = new Set<string>()
  const unknown: string[] = []
  for (const param of params.values()) {
    if (param.schema.default !== undefined) values[param.key] = structuredClone(param.schema.default)
  }
  if (input.name) {
    for (const key of NAME_KEYS) {
      if (params.has(key)) {
        values[key] = input.name
        given.add(key)
      }
    }
  }
  const apply = (source: Record<string, unknown>, label: string) => {
    for (const [key, raw] of Object.entries(source)) {
      // Setting values["__proto__"] would swap the object's prototype (and "satisfy" any required
      // parameter through it): such names are not parameters.
      if (UNSAFE_KEYS.has(key)) throw new UsageError(`${label}: "${key}" cannot be a parameter name.`, {hint: 'Parameter names are the keys of the template\'s parameters (see `idp templates list` and the template.yaml).'})
      const param = params.get(key)
      if (!param) unknown.push(key)
      const value = coerceValue(key, raw, param?.schema, label)
      if (param) {
        const problem = valueProblem(value, param.schema)
        if (problem) throw new UsageError(`${label}: parameter "${key}" ${problem} (got ${quoted(value, param.schema)}).`, {hint: describeParameter(key, param.schema)})
      }
      values[key] = value
      given.add(key)
    }
  }
  if (input.fileValues) apply(input.fileValues, `--values ${input.valuesFile ?? 'file'}`)
  if (input.setValues) apply(input.setValues, '--set')
  const name = input.name ?? NAME_KEYS.map((k) => values[k]).find((v): v is string => typeof v === 'string')
  for (const param of params.values()) {
    if (values[param.key] !== undefined) continue
    const repoUrl = repoUrlDefault(param.schema, input.repoOwner, name)
    if (repoUrl) values[param.key] = repoUrl
  }
  return {values, given, unknown}
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

/** Every required parameter has a value and every value fits; otherwise a UsageError naming the first. */
export function assertComplete(pages: Page[], values: Record<string, unknown>): void {
  const missing = allParameters(pages).filter((p) => p.required && (values[p.key] === undefined || values[p.key] === ''))
  if (missing.length > 0) {
    const first = missing[0] as Parameter
    const names = missing.map((p) => `"${p.key}"`).join(', ')
    throw new UsageError(`Missing required template parameter${missing.length > 1 ? 's' : ''} ${names}.`, {
      hint: `${describeParameter(first.key, first.schema)}${missing.length > 1 ? ` Also set: ${missing.slice(1).map((p) => p.key).join(', ')}.` : ''}`,
    })
  }
  for (const param of allParameters(pages)) {
    const value = values[param.key]
    if (value === undefined) continue
    const problem = valueProblem(value, param.schema)
    if (problem) throw new UsageError(`Template parameter "${param.key}" ${problem} (got ${quoted(value, param.schema)}).`, {hint: describeParameter(param.key, param.schema)})
  }
}

import {createRequire} from 'node:module'
import nunjucks from 'nunjucks'

import {DEFAULT_FILTERS} from './filters.js'
import {type JsonValue, toSafeJson} from './safe-json.js'

/**
 * The scaffolder's templater (Backstage's SecureTemplater), in process.
 *
 * Backstage runs nunjucks inside an isolate. Here nunjucks runs in idp's own process, so the
 * compiled template gets a hardened copy of nunjucks' runtime instead: every member lookup,
 * variable lookup and call the template makes goes through the functions below, which refuse
 * `constructor`, `__proto__`, `prototype`, inherited members and any function that is not a
 * registered filter, global, macro or a whitelisted string/array method. Values are passed as
 * null-prototype JSON copies. Together this keeps template expressions from reaching
 * `Function`, `process` or `require` (see test/unit/render-security.test.ts for payloads).
 */

const require = createRequire(import.meta.url)
const baseRuntime = require('nunjucks/src/runtime') as Record<string, any>

export class TemplateSecurityError extends Error {
  override name = 'TemplateSecurityError'
}

const BLOCKED_NAMES = new Set([
  'constructor', '__proto__', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__',
  'caller', 'callee', 'arguments', 'call', 'apply', 'bind', 'valueOf', 'toString', 'toLocaleString', 'hasOwnProperty',
  'isPrototypeOf', 'propertyIsEnumerable', 'process', 'require', 'global', 'globalThis', 'module', 'exports', 'eval', 'Function', 'import',
])

const STRING_METHODS = new Set([
  'split', 'toUpperCase', 'toLowerCase', 'trim', 'trimStart', 'trimEnd', 'replace', 'replaceAll', 'startsWith', 'endsWith',
  'includes', 'indexOf', 'lastIndexOf', 'slice', 'substring', 'substr', 'padStart', 'padEnd', 'charAt', 'at', 'concat', 'repeat',
  'search', 'match', 'normalize', 'localeCompare',
])
const ARRAY_METHODS = new Set(['join', 'slice', 'includes', 'indexOf', 'lastIndexOf', 'concat', 'at', 'flat'])
const NUMBER_METHODS = new Set(['toFixed', 'toPrecision'])
const MAX_RANGE = 100_000
const MAX_REPEAT_LENGTH = 10_000_000

/** Functions a template may call. Filled with globals, macros and method wrappers as they are made. */
const callable = new WeakSet<(...args: any[]) => unknown>()

function allow<F extends (...args: any[]) => unknown>(fn: F): F {
  callable.add(fn)
  return fn
}

function deny(name: unknown): never {
  throw new TemplateSecurityError(`Access to "${String(name)}" is not allowed in templates.`)
}

/** Arguments passed to host methods must be data: no functions (callbacks), no host objects. */
function dataArgs(args: unknown[]): unknown[] {
  for (const arg of args) {
    if (typeof arg === 'function') deny('a function as an argument')
    if (arg !== null && typeof arg === 'object' && !(arg instanceof RegExp) && !Array.isArray(arg) && Object.getPrototypeOf(arg) !== null && Object.getPrototypeOf(arg) !== Object.prototype) deny('an object as an argument')
  }
  return args
}

function boundMethod(target: string | unknown[] | number, method: string): (...args: unknown[]) => unknown {
  return allow((...args: unknown[]) => {
    if (method === 'repeat' && typeof target === 'string' && target.length * Number(args[0]) > MAX_REPEAT_LENGTH) throw new TemplateSecurityError('repeat() result too large.')
    const result = (target as any)[method](...dataArgs(args))
    return toSafeJson(result) ?? result
  })
}

function isIndex(key: unknown): boolean {
  return typeof key === 'number' || (typeof key === 'string' && /^(0|[1-9]\d*)$/u.test(key))
}

function safeMemberLookup(obj: unknown, key: unknown): unknown {
  if (obj === undefined || obj === null) return undefined
  if (typeof key !== 'string' && typeof key !== 'number') deny(typeof key)
  if (typeof key === 'string' && BLOCKED_NAMES.has(key)) deny(key)
  if (typeof obj === 'function') deny(`${String(key)} of a function`)
  if (typeof obj === 'string') {
    if (key === 'length' || isIndex(key)) return obj[key as any]
    if (typeof key === 'string' && STRING_METHODS.has(key)) return boundMethod(obj, key)
    return undefined
  }
  if (typeof obj === 'number') {
    if (typeof key === 'string' && NUMBER_METHODS.has(key)) return boundMethod(obj, key)
    return undefined
  }
  if (Array.isArray(obj)) {
    if (key === 'length' || isIndex(key)) return obj[key as any]
    if (typeof key === 'string' && ARRAY_METHODS.has(key)) return boundMethod(obj, key)
    return undefined
  }
  if (obj instanceof RegExp) {
    if (key === 'test') return allow((s: unknown) => obj.test(String(s)))
    if (key === 'source' || key === 'flags') return obj[key]
    return undefined
  }
  if (typeof obj !== 'object') return undefined
  if (!Object.hasOwn(obj, key)) return undefined
  const value = (obj as Record<string, unknown>)[key]
  if (typeof value === 'function') {
    if (!callable.has(value as any)) return undefined
    return allow((...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(obj, args))
  }
  return value
}

function safeCallWrap(fn: unknown, name: string, context: unknown, args: unknown[]): unknown {
  if (!fn) throw new Error(`Unable to call \`${name}\`, which is undefined or falsey`)
  if (typeof fn !== 'function') throw new Error(`Unable to call \`${name}\`, which is not a function`)
  if (!callable.has(fn as any)) deny(`calling ${name}`)
  return fn.apply(context, args)
}

function safeContextOrFrameLookup(context: any, frame: any, name: string): unknown {
  if (BLOCKED_NAMES.has(name)) deny(name)
  const value = baseRuntime.contextOrFrameLookup(context, frame, name)
  if (typeof value === 'function' && !callable.has(value)) return undefined
  return value
}

function safeMakeMacro(...args: unknown[]): unknown {
  return allow(baseRuntime.makeMacro(...args))
}

/** JavaScript's String() for output, without calling methods on null-prototype objects. */
function stringify(value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'function') return ''
  if (Array.isArray(value)) return value.map((item) => (item === null || item === undefined ? '' : stringify(item))).join(',')
  if (value instanceof baseRuntime.SafeString) return String(value)
  if (typeof value === 'object') return '[object Object]'
  return String(value)
}

function safeSuppressValue(value: unknown, autoescape: boolean): unknown {
  if (value !== null && (typeof value === 'object' || typeof value === 'function') && !(value instanceof baseRuntime.SafeString)) value = stringify(value)
  return baseRuntime.suppressValue(value, autoescape)
}

const safeRuntime = Object.freeze({
  ...baseRuntime,
  memberLookup: safeMemberLookup,
  callWrap: safeCallWrap,
  contextOrFrameLookup: safeContextOrFrameLookup,
  makeMacro: safeMakeMacro,
  suppressValue: safeSuppressValue,
})

function safeGlobals(): Record<string, (...args: any[]) => unknown> {
  return {
    range: allow((start: number, stop?: number, step?: number) => {
      const [first, to, by] = stop === undefined ? [0, Number(start), 1] : [Number(start), Number(stop), Number(step) || 1]
      let from = first
      if (!Number.isFinite(from) || !Number.isFinite(to) || !Number.isFinite(by)) return []
      if (Math.abs((to - from) / by) > MAX_RANGE) throw new TemplateSecurityError(`range() larger than ${MAX_RANGE} items.`)
      const out: number[] = []
      if (by > 0) for (; from < to; from += by) out.push(from)
      else for (; from > to; from += by) out.push(from)
      return out
    }),
    cycler: allow((...items: unknown[]) => {
      let index = -1
      const state: Record<string, unknown> = Object.create(null)
      state.current = null
      state.reset = allow(() => {
        index = -1
        state.current = null
      })
      state.next = allow(() => {
        index = (index + 1) % Math.max(items.length, 1)
        state.current = items[index]
        return state.current
      })
      return state
    }),
    joiner: allow((sep?: string) => {
      let first = true
      return allow(() => {
        const value = first ? '' : (sep ?? ',')
        first = false
        return value
      })
    }),
  }
}

export interface RendererOptions {
  /** Jinja2/cookiecutter syntax: `{{ cookiecutter.x }}` instead of `${{ values.x }}`, plus `jsonify`. */
  cookiecutterCompat?: boolean
  trimBlocks?: boolean
  lstripBlocks?: boolean
  /** Extra filters; their arguments and results cross as JSON, as in Backstage. */
  filters?: Record<string, (...args: any[]) => unknown>
}

export type RenderContext = Record<string, unknown>

export interface Renderer {
  /** Render a template string to text. `name` appears in error messages. */
  renderString(template: string, context: RenderContext, name?: string): string
  /**
   * Render a step input the way Backstage's workflow runner does: a string that is exactly one
   * `${{ expr }}` keeps the expression's type (object, number, boolean); other strings become
   * text; an empty result becomes undefined; objects and arrays are rendered member by member.
   * A string that does not render is kept as written when `onFailure` is given (Backstage).
   */
  renderValue(input: unknown, context: RenderContext, name?: string, onFailure?: RenderFailure): unknown
}

/**
 * Called for a string that does not render (unknown filter, syntax error, calling undefined):
 * with it, renderValue keeps the string as written, as Backstage's workflow runner does for step
 * inputs; without it, the error is thrown. A sandbox refusal is always thrown.
 */
export type RenderFailure = (input: string, error: TemplateRenderError) => void

export class TemplateRenderError extends Error {
  override name = 'TemplateRenderError'
  /** The template tried to reach what idp's sandbox refuses (TemplateSecurityError): never passed over. */
  readonly security: boolean
  constructor(
    message: string,
    readonly templateName?: string,
  ) {
    super(message)
    this.security = message.includes('TemplateSecurityError:')
  }
}

function cleanMessage(error: unknown, name?: string): string {
  const message = error instanceof Error ? error.message : String(error)
  // nunjucks prefixes the template's name (or "(unknown path)") and the original error's name;
  // callers put the location in front themselves, so drop it (and a bare "Error: "), keep line/column.
  let text = message.replace(/\n\s*/gu, ' ').trim()
  for (const prefix of ['(unknown path)', ...(name ? [`(${name})`] : [])]) if (text.startsWith(prefix)) text = text.slice(prefix.length).trim()
  return text.replace(/^((?:\[Line \d+, Column \d+\]\s*)?)Error: /u, '$1')
}

export function createRenderer(options: RendererOptions = {}): Renderer {
  const cookiecutter = options.cookiecutterCompat ?? false
  const env = new nunjucks.Environment([], {
    autoescape: false,
    throwOnUndefined: false,
    trimBlocks: options.trimBlocks ?? false,
    lstripBlocks: options.lstripBlocks ?? false,
    tags: cookiecutter ? {variableStart: '{{', variableEnd: '}}'} : {variableStart: '${{', variableEnd: '}}'},
  })
  // nunjucks looks filters up on a plain object: `| constructor` or `| valueOf` would reach
  // Object.prototype (valueOf hands back the filter table itself). Only registered filters exist.
  Object.setPrototypeOf(env.filters, null)
  for (const [name, value] of Object.entries(safeGlobals())) env.addGlobal(name, value)
  for (const [name, filter] of Object.entries({...DEFAULT_FILTERS, ...options.filters})) {
    env.addFilter(name, (...args: unknown[]) => toSafeJson(filter(...args.map((arg) => toPlainData(arg)))))
  }
  if (cookiecutter) env.addFilter('jsonify', env.getFilter('dump'))

  const compile = (template: string, name?: string): nunjucks.Template => {
    assertPlainNames(nunjucks.parser.parse(template, (env as unknown as {extensionsList: unknown}).extensionsList, (env as unknown as {opts: unknown}).opts))
    const compiled = new nunjucks.Template(template, env, name, true) as nunjucks.Template & {rootRenderFunc: (...args: any[]) => void}
    const root = compiled.rootRenderFunc
    compiled.rootRenderFunc = (e: unknown, context: unknown, frame: unknown, _runtime: unknown, cb: unknown) => root(e, context, frame, safeRuntime, cb)
    return compiled
  }

  const renderString = (template: string, context: RenderContext, name?: string): string => {
    const safeContext = toSafeJson(context) as Record<string, JsonValue>
    try {
      return compile(template, name).render(safeContext)
    } catch (error) {
      // Refused before nunjucks ran it (assertPlainNames): marked as a sandbox refusal like those nunjucks wraps.
      throw new TemplateRenderError(error instanceof TemplateSecurityError ? `${error.name}: ${error.message}` : cleanMessage(error, name), name)
    }
  }

  const renderValue = (input: unknown, context: RenderContext, name?: string, onFailure?: RenderFailure): unknown => {
    if (typeof input === 'string') {
      try {
        // Backstage's NunjucksWorkflowRunner.render: a lone expression keeps its type through
        // `| dump`; when that fails for any reason, the string is rendered as text.
        try {
          if (isSingleExpression(input, cookiecutter)) {
            const dumped = input.replace(/\$\{\{(.+)\}\}/gu, '${{ ( $1 ) | dump }}')
            const text = renderString(dumped, context, name)
            if (text === '') return undefined
            return JSON.parse(text)
          }
        } catch (error) {
          if (error instanceof TemplateRenderError && error.security) throw error
        }
        const text = renderString(input, context, name)
        return text === '' ? undefined : text
      } catch (error) {
        // ...and when the text does not render either, Backstage keeps the string as written.
        // idp does too, when asked (step inputs), but never for what its sandbox refused.
        if (!onFailure || !(error instanceof TemplateRenderError) || error.security) throw error
        onFailure(input, error)
        return input
      }
    }
    if (Array.isArray(input)) return input.map((item) => renderValue(item, context, name, onFailure))
    if (input !== null && typeof input === 'object') {
      const out: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(input)) {
        const rendered = renderValue(value, context, name, onFailure)
        if (rendered !== undefined) out[key] = rendered
      }
      return out
    }
    return input
  }

  return {renderString, renderValue}
}

/**
 * A name in a template (variable, filter, test, block, macro and its arguments, loop or set
 * target, import) must be an identifier. Nunjucks' compiler pastes names into the JavaScript it
 * generates between double quotes, unescaped; and its lexer takes any run of characters that are
 * not a delimiter as a name (`a"b`), while its parser takes a quoted string where a name should be
 * in several places (`{% set "a" = 1 %}`, `is "a"`, `{% macro "m"() %}`, a loop's second variable,
 * a macro's keyword argument). Either way `${{ 1 is 'x"+(code)+"' }}` ran any code in the
 * renderer's process, past every runtime guard above. So names are checked on the parsed
 * template, before anything is compiled. (Dots: a filter's name may be dotted, `a.b`.)
 */
const PLAIN_NAME = /^[\p{L}_$][\p{L}\p{N}_$]*(?:\.[\p{L}_$][\p{L}\p{N}_$]*)*$/u

interface ParsedNode {
  typename?: string
  value?: unknown
  lineno?: number
  colno?: number
  children?: ParsedNode[]
  [field: string]: unknown
}

function refuseName(node: ParsedNode | undefined, shown: unknown): never {
  const at = node?.lineno === undefined ? '' : `[Line ${node.lineno + 1}, Column ${(node.colno ?? 0) + 1}] `
  throw new TemplateSecurityError(`${at}${JSON.stringify(String(shown))} is not a name; a name in a template is letters, digits and "_".`)
}

/** A node in a name's place: a Symbol (or a quoted string, which nunjucks accepts there) that is an identifier. */
function assertName(node: ParsedNode | undefined): void {
  if (node?.typename !== 'Symbol' && node?.typename !== 'Literal') return refuseName(node, node?.typename ?? 'nothing')
  if (typeof node.value !== 'string' || !PLAIN_NAME.test(node.value)) refuseName(node, node.value)
}

function assertPlainNames(root: unknown): void {
  const seen = new Set<unknown>()
  const walk = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return
    seen.add(value)
    const node = value as ParsedNode
    const kids = (field: unknown) => ((field as ParsedNode | undefined)?.children ?? []) as ParsedNode[]
    switch (node.typename) {
      case 'Symbol':
        assertName(node)
        break
      case 'Set':
        for (const target of (node.targets as ParsedNode[] | undefined) ?? []) assertName(target)
        break
      case 'For':
      case 'AsyncEach':
      case 'AsyncAll': {
        const name = node.name as ParsedNode | undefined
        for (const part of name?.typename === 'Array' ? kids(name) : [name]) assertName(part)
        break
      }
      case 'Macro':
      case 'Caller':
        assertName(node.name as ParsedNode)
        for (const arg of kids(node.args)) {
          if (arg.typename === 'KeywordArgs') for (const pair of kids(arg)) assertName(pair.key as ParsedNode)
          else assertName(arg)
        }
        break
      case 'Is': {
        const right = node.right as ParsedNode | undefined
        // `is none`, `is true`, `is false` parse as literals and name the tests null, true, false.
        if (right?.typename === 'Literal' && (right.value === null || typeof right.value === 'boolean')) break
        assertName(right?.typename === 'FunCall' ? (right.name as ParsedNode) : right)
        break
      }
      case 'FromImport':
        for (const name of kids(node.names)) {
          if (name.typename === 'Pair') {
            assertName(name.key as ParsedNode)
            assertName(name.value as ParsedNode)
          } else assertName(name)
        }
        break
      case 'Import':
        assertName(node.target as ParsedNode)
        break
      case 'Block':
        assertName(node.name as ParsedNode)
        break
      default:
    }
    for (const child of Object.values(node)) walk(child)
  }
  walk(root)
}

/** Filter arguments cross into host code as ordinary JSON, never as live template objects. */
function toPlainData(value: unknown): unknown {
  if (value === undefined) return undefined
  const safe = toSafeJson(value)
  return safe === undefined ? undefined : JSON.parse(JSON.stringify(safe))
}

declare module 'nunjucks' {
  /** Nunjucks' parser and node classes: exported by the package, left out of @types/nunjucks. */
  export const parser: {parse(src: string, extensions: unknown, opts: unknown): {children: Array<{children?: unknown[]}>}}
  export const nodes: {TemplateData: new (...args: any[]) => unknown}
  interface Environment {
    /** The table getFilter reads (a plain object in nunjucks). */
    filters: Record<string, unknown>
  }
}

/** True when the whole string is one `${{ expression }}` (Backstage's isSingleTemplateString). */
export function isSingleExpression(input: string, cookiecutter = false): boolean {
  if (cookiecutter || !input.includes('${{')) return false
  try {
    const parsed = nunjucks.parser.parse(input, [], {autoescape: false, tags: {variableStart: '${{', variableEnd: '}}'}})
    return parsed.children.length === 1 && !(parsed.children[0]?.children?.[0] instanceof nunjucks.nodes.TemplateData)
  } catch {
    return false
  }
}

// GitHub Actions expressions (`${{ ... }}` and `if:`), evaluated with GitHub's own evaluator:
// @actions/expressions (github.com/actions/languageservices, the library the Actions VS Code
// extension and actionlint's upstream use), which implements the operators, the loose equality
// and its case-insensitive string comparison, `||`/`&&` returning operands, and the well-known
// functions (contains, startsWith, endsWith, format, join, toJSON, fromJSON).
//
// What this module adds is strictness, so that a workflow the runner does not understand fails
// instead of reading as empty:
// - only the contexts GitHub makes available at that place of the workflow parse (`secrets` in a
//   job's `if:` is an error, as on GitHub; `matrix`, `needs`, `inputs`... are never available);
// - only the functions available there (hashFiles in steps, the status functions in `if:`);
// - `github` (with its event payload) and `steps` are strict objects: a property this runner does
//   not provide is an error naming it, never null. `env`, `vars` and `secrets` return null for an
//   unset name, as GitHub does, since the runner knows all of them;
// - an object or array interpolated into a string is an error (GitHub would print "Object").
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {data, Evaluator, Lexer, Parser} from '@actions/expressions'
import picomatch from 'picomatch'
import type {Expr} from '@actions/expressions'

type Json = string | number | boolean | null | Json[] | {[key: string]: Json}
export type ExpressionData = data.ExpressionData

export class ExpressionFailure extends Error {
  constructor(
    message: string,
    readonly expression: string,
  ) {
    super(`${message} (in \${{ ${expression} }})`)
    this.name = 'ExpressionFailure'
  }
}

/** The contexts a workflow's expressions may read. */
export interface Contexts {
  github: Record<string, Json>
  env: Record<string, string>
  vars: Record<string, string>
  secrets: Record<string, string>
  steps: Record<string, {outputs: Record<string, string>; outcome: string; conclusion: string}>
}
export type ContextName = keyof Contexts

/** Where in a workflow an expression is, which decides what it may use (GitHub's context availability table). */
export type Place = 'workflow.env' | 'concurrency' | 'job.if' | 'job.env' | 'step.if' | 'step'

const AVAILABLE: Record<Place, {contexts: ContextName[]; functions: string[]}> = {
  'workflow.env': {contexts: ['github', 'secrets', 'vars'], functions: []},
  concurrency: {contexts: ['github', 'vars'], functions: []},
  'job.if': {contexts: ['github', 'vars'], functions: ['always', 'success', 'failure', 'cancelled']},
  'job.env': {contexts: ['github', 'secrets', 'vars'], functions: []},
  'step.if': {contexts: ['github', 'env', 'vars', 'steps'], functions: ['always', 'success', 'failure', 'cancelled', 'hashfiles']},
  step: {contexts: ['github', 'env', 'vars', 'secrets', 'steps'], functions: ['hashfiles']},
}

const STATUS_FUNCTIONS = ['always', 'success', 'failure', 'cancelled']

export interface EvaluateOptions {
  place: Place
  /** For hashFiles: the files are matched under GITHUB_WORKSPACE. */
  workspace?: string
  /** For the status functions: the job's state so far. */
  jobStatus?: 'success' | 'failure' | 'cancelled'
}

/** Objects whose missing properties are an error rather than null. */
const strict = new WeakSet<data.Dictionary>()

function toData(value: Json | undefined, isStrict: boolean, at: string): ExpressionData {
  if (value === undefined) throw new Error(`${at} is undefined: the runner gave the context no value`)
  if (value === null) return new data.Null()
  if (typeof value === 'string') return new data.StringData(value)
  if (typeof value === 'number') return new data.NumberData(value)
  if (typeof value === 'boolean') return new data.BooleanData(value)
  if (Array.isArray(value)) return new data.Array(...value.map((v, i) => toData(v, isStrict, `${at}[${i}]`)))
  const dict = new data.Dictionary(...Object.entries(value).map(([key, v]) => ({key, value: toData(v, isStrict, `${at}.${key}`)})))
  if (isStrict) strict.add(dict)
  return dict
}

function contextData(contexts: Contexts, names: readonly ContextName[]): data.Dictionary {
  const dict = new data.Dictionary()
  for (const name of names) {
    if (name === 'steps') {
      // Strict on step ids and on a step's own keys, not on its outputs (an output never set is '').
      const steps = new data.Dictionary()
      strict.add(steps)
      for (const [id, step] of Object.entries(contexts.steps)) {
        const entry = new data.Dictionary(
          {key: 'outputs', value: toData(step.outputs, false, `steps.${id}.outputs`)},
          {key: 'outcome', value: new data.StringData(step.outcome)},
          {key: 'conclusion', value: new data.StringData(step.conclusion)},
        )
        strict.add(entry)
        steps.add(id, entry)
      }
      dict.add(name, steps)
    } else {
      dict.add(name, toData(contexts[name] as Json, name === 'github', name))
    }
  }
  return dict
}

/** A key of an index access, as GitHub reads it: a string, or a number's string form. */
function keyOf(index: ExpressionData): string | undefined {
  if (index.kind === data.Kind.String) return (index as data.StringData).value
  return undefined
}

class StrictEvaluator extends Evaluator {
  constructor(
    n: Expr,
    context: data.Dictionary,
    functions: Map<string, {name: string; minArgs: number; maxArgs: number; call: (...args: ExpressionData[]) => ExpressionData}>,
    private readonly source: string,
  ) {
    super(n, context, functions)
  }

  override visitIndexAccess(ia: Parameters<Evaluator['visitIndexAccess']>[0]): ExpressionData {
    const target = this.eval(ia.expr)
    if (target.kind === data.Kind.Dictionary && strict.has(target as data.Dictionary) && ia.index.constructor.name !== 'Star') {
      const key = keyOf(this.eval(ia.index))
      if (key === undefined || (target as data.Dictionary).get(key) === undefined) {
        const known = (target as data.Dictionary).pairs().map((p) => p.key)
        throw new ExpressionFailure(`the runner provides no property ${JSON.stringify(key)} here (it has: ${known.join(', ') || 'nothing'})`, this.source)
      }
    }
    return super.visitIndexAccess(ia)
  }
}

/** Every file under the workspace (relative, with /), .git left out as @actions/glob's callers do. */
function workspaceFiles(root: string, dir = ''): string[] {
  return fs.readdirSync(path.join(root, dir), {withFileTypes: true}).flatMap((entry) => {
    const rel = dir ? `${dir}/${entry.name}` : entry.name
    if (entry.isDirectory()) return rel === '.git' ? [] : workspaceFiles(root, rel)
    return entry.isFile() ? [rel] : []
  })
}

/** GitHub's hashFiles: the SHA-256 of the SHA-256 of each matching file (sorted by path), '' when none match. */
export function hashFiles(workspace: string, patterns: string[]): string {
  const matches = new Set<string>()
  for (const pattern of patterns) {
    if (pattern.startsWith('!') || path.isAbsolute(pattern) || pattern.split('/').includes('..')) {
      throw new Error(`hashFiles(${JSON.stringify(pattern)}): only relative include patterns are supported by this runner`)
    }
    const isMatch = picomatch(pattern, {dot: true})
    for (const file of workspaceFiles(workspace)) if (isMatch(file)) matches.add(path.join(workspace, file))
  }
  if (matches.size === 0) return ''
  const outer = createHash('sha256')
  for (const file of [...matches].sort()) outer.update(createHash('sha256').update(fs.readFileSync(file)).digest())
  return outer.digest('hex')
}

function parse(expression: string, options: EvaluateOptions): {tree: Expr; usesStatus: boolean} {
  const available = AVAILABLE[options.place]
  const {tokens} = new Lexer(expression).lex()
  const unknown = tokens.find((t) => t.type === 0)
  if (unknown) throw new ExpressionFailure(`unexpected ${JSON.stringify(unknown.lexeme)}`, expression)
  const functions = available.functions.map((name) => (name === 'hashfiles' ? {name: 'hashFiles', minArgs: 1, maxArgs: 255} : {name, minArgs: 0, maxArgs: 0}))
  let tree: Expr
  try {
    tree = new Parser(tokens, available.contexts, functions).parse()
  } catch (error) {
    throw new ExpressionFailure(`${(error as Error).message} (available at ${options.place}: contexts ${available.contexts.join(', ')}; functions ${available.functions.join(', ') || 'none beyond the built-in ones'})`, expression)
  }
  const usesStatus = tokens.some((t, i) => t.type === 19 && tokens[i + 1]?.type === 1 && STATUS_FUNCTIONS.includes(t.lexeme.toLowerCase()))
  return {tree, usesStatus}
}

function functionTable(expression: string, options: EvaluateOptions) {
  const status = options.jobStatus
  const needStatus = () => {
    if (!status) throw new ExpressionFailure('a status function outside a job', expression)
    return status
  }
  const fns = new Map<string, {name: string; minArgs: number; maxArgs: number; call: (...args: ExpressionData[]) => ExpressionData}>()
  fns.set('always', {name: 'always', minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(true)})
  fns.set('success', {name: 'success', minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(needStatus() === 'success')})
  fns.set('failure', {name: 'failure', minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(needStatus() === 'failure')})
  fns.set('cancelled', {name: 'cancelled', minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(needStatus() === 'cancelled')})
  fns.set('hashfiles', {
    name: 'hashFiles',
    minArgs: 1,
    maxArgs: 255,
    call: (...args) => {
      if (!options.workspace) throw new ExpressionFailure('hashFiles without a workspace', expression)
      return new data.StringData(hashFiles(options.workspace, args.map((a) => a.coerceString())))
    },
  })
  return fns
}

/** Evaluate one expression (the text inside `${{ }}`). */
export function evaluate(expression: string, contexts: Contexts, options: EvaluateOptions): ExpressionData {
  const {tree} = parse(expression, options)
  return run(tree, expression, contexts, options)
}

function run(tree: Expr, expression: string, contexts: Contexts, options: EvaluateOptions): ExpressionData {
  try {
    return new StrictEvaluator(tree, contextData(contexts, AVAILABLE[options.place].contexts), functionTable(expression, options), expression).evaluate()
  } catch (error) {
    if (error instanceof ExpressionFailure) throw error
    throw new ExpressionFailure((error as Error).message, expression)
  }
}

/** A value as GitHub writes it into a string: null '', booleans and numbers as text; an object or array is an error. */
export function asString(value: ExpressionData, expression: string): string {
  if (value.kind === data.Kind.Dictionary || value.kind === data.Kind.Array) {
    throw new ExpressionFailure(`the value is ${value.kind === data.Kind.Array ? 'an array' : 'an object'}, not text (use toJSON)`, expression)
  }
  return value.coerceString()
}

/** The `${{ ... }}` spans of a string, as the runner finds them (a `}}` inside a quoted string does not end one). */
function spans(text: string): Array<{start: number; end: number; expression: string}> {
  const out: Array<{start: number; end: number; expression: string}> = []
  let at = 0
  for (;;) {
    const start = text.indexOf('${{', at)
    if (start < 0) return out
    let i = start + 3
    let quoted = false
    let end = -1
    for (; i < text.length; i++) {
      const c = text[i]
      if (c === "'") {
        if (quoted && text[i + 1] === "'") i++
        else quoted = !quoted
      } else if (!quoted && c === '}' && text[i + 1] === '}') {
        end = i + 2
        break
      }
    }
    if (end < 0) throw new ExpressionFailure('unterminated ${{', text.slice(start + 3))
    out.push({start, end, expression: text.slice(start + 3, end - 2).trim()})
    at = end
  }
}

/** Replace every `${{ ... }}` in a string with its value. */
export function interpolate(text: string, contexts: Contexts, options: EvaluateOptions): string {
  let out = ''
  let at = 0
  for (const span of spans(text)) {
    out += text.slice(at, span.start) + asString(evaluate(span.expression, contexts, options), span.expression)
    at = span.end
  }
  return out + text.slice(at)
}

/**
 * A job's or step's `if:` as GitHub decides it: the text may be written with or without `${{ }}`
 * (as one expression); without a status function it means `success() && (...)`.
 */
export function condition(text: string | boolean | undefined, contexts: Contexts, options: EvaluateOptions): boolean {
  if (text === undefined) return options.jobStatus === undefined || options.jobStatus === 'success'
  if (typeof text === 'boolean') return text && (options.jobStatus === undefined || options.jobStatus === 'success')
  const trimmed = text.trim()
  const only = spans(trimmed)
  let expression = trimmed
  if (only.length > 0) {
    if (only.length !== 1 || only[0]!.start !== 0 || only[0]!.end !== trimmed.length) {
      throw new ExpressionFailure('an if: must be one expression, not text around ${{ }}', trimmed)
    }
    expression = only[0]!.expression
  }
  const {tree, usesStatus} = parse(expression, options)
  const value = run(tree, expression, contexts, options)
  const truthy = !(value.kind === data.Kind.Null || (value.kind === data.Kind.Boolean && !(value as data.BooleanData).value) || (value.kind === data.Kind.String && (value as data.StringData).value === '') || (value.kind === data.Kind.Number && ((value as data.NumberData).value === 0 || Number.isNaN((value as data.NumberData).value))))
  if (usesStatus) return truthy
  return (options.jobStatus === undefined || options.jobStatus === 'success') && truthy
}

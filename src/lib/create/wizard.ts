import type {Prompter} from '../cli/prompter.js'
import {allParameters, coerceValue, type Page, type Parameter, schemaType, valueProblem} from './parameters.js'
import {maskSecrets} from './prepare.js'

/**
 * The interactive wizard: one prompt per template parameter, page by page, validated as typed.
 * The prompts are injected (the service's Prompter; tests pass the same prompts rendered through
 * @inquirer/testing).
 */

export interface WizardOptions {
  prompts: Prompter
  /** Values already known (defaults and explicit); defaults become prompt defaults. */
  values: Record<string, unknown>
  /** Keys given explicitly: not asked again. */
  given: Set<string>
  /** Only ask for required parameters that have no value (--yes). */
  onlyMissing?: boolean
  /** Where page titles and descriptions go (stderr). */
  write: (text: string) => void
}

function messageFor(param: Parameter): string {
  const title = param.schema.title ?? param.key
  return param.schema.description ? `${title} (${param.schema.description})` : title
}

function validator(param: Parameter): (raw: string) => true | string {
  return (raw: string) => {
    if (raw === '') return param.required ? `${param.schema.title ?? param.key} is required.` : true
    let value: unknown
    try {
      value = coerceValue(param.key, raw, param.schema, 'input')
    } catch (error) {
      return (error as Error).message.replace(/^input: /u, '')
    }
    const problem = valueProblem(value, param.schema)
    return problem ? `${param.schema.title ?? param.key} ${problem}.` : true
  }
}

async function ask(param: Parameter, current: unknown, prompts: Prompter): Promise<unknown> {
  const schema = param.schema
  const type = schemaType(schema)
  const message = messageFor(param)
  if (schema.enum && schema.enum.length > 0) {
    const names = schema.enumNames ?? (schema['ui:enumNames'] as string[] | undefined)
    return prompts.select({
      message,
      choices: schema.enum.map((value, i) => ({name: names?.[i] ?? String(value), value})),
      default: current,
    })
  }
  if (type === 'boolean') return prompts.confirm({message, default: typeof current === 'boolean' ? current : false})
  if (type === 'number' || type === 'integer') {
    const answer = await prompts.number({
      message,
      default: typeof current === 'number' ? current : undefined,
      required: param.required,
      min: schema.minimum,
      max: schema.maximum,
      step: type === 'integer' ? 1 : 'any',
      validate: (value) => (value === undefined ? (param.required ? `${schema.title ?? param.key} is required.` : true) : validator(param)(String(value))),
    })
    return answer
  }
  if (type === 'array' && schema.items?.enum) {
    const selected = Array.isArray(current) ? current : []
    return prompts.checkbox({message, choices: schema.items.enum.map((value) => ({name: String(value), value, checked: selected.includes(value)})), required: param.required})
  }
  const secret = schema['ui:field'] === 'Secret' || schema['ui:widget'] === 'password'
  const defaultText = current === undefined ? undefined : typeof current === 'string' ? current : JSON.stringify(current)
  const raw = secret ? await prompts.password({message, mask: true, validate: validator(param)}) : await prompts.input({message, default: defaultText, validate: validator(param)})
  if (raw === '') return undefined
  return coerceValue(param.key, raw, schema, 'input')
}

/** Ask, page by page, for the parameters not given explicitly. Returns the merged values. */
export async function runWizard(pages: Page[], options: WizardOptions): Promise<Record<string, unknown>> {
  const values = {...options.values}
  for (const page of pages) {
    const todo = page.parameters.filter((p) => {
      if (options.given.has(p.key)) return false
      if (p.schema['ui:widget'] === 'hidden' || p.schema['ui:field'] === 'hidden') return false
      if (options.onlyMissing) return p.required && (values[p.key] === undefined || values[p.key] === '')
      return true
    })
    if (todo.length === 0) continue
    if (page.title) options.write(`\n${page.title}${page.description ? `\n${page.description}` : ''}\n`)
    for (const param of todo) {
      const answer = await ask(param, values[param.key], options.prompts)
      if (answer === undefined) delete values[param.key]
      else values[param.key] = answer
    }
  }
  return values
}

/** What the wizard collected, for the summary before the confirmation: every parameter with a value, secrets as ***. */
export function wizardSummary(pages: Page[], values: Record<string, unknown>, about: {template: string; directory: string}): string {
  const shown = maskSecrets(pages, values)
  const rows = allParameters(pages)
    .filter((param) => shown[param.key] !== undefined && shown[param.key] !== '')
    .map((param) => [param.schema.title ?? param.key, typeof shown[param.key] === 'string' ? (shown[param.key] as string) : JSON.stringify(shown[param.key])])
  const width = Math.max(8, ...rows.map(([title]) => title!.length))
  return ['', `About to create ${about.directory} from template ${about.template}:`, ...rows.map(([title, value]) => `  ${title!.padEnd(width)}  ${value}`), ''].join('\n')
}

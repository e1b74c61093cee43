import {isMap, LineCounter, parseDocument} from 'yaml'
import * as z from 'zod/mini'

import {ConfigError, type ConfigProblem} from '../cli/errors.js'
import {readBoundedText} from '../cli/paths.js'
import '../config/zod-setup.js'

/**
 * A Backstage `scaffolder.backstage.io/v1beta3` Template, as far as idp reads it. Unknown keys
 * are kept (Backstage templates carry UI hints and metadata idp does not use).
 */
const optionalString = () => z.optional(z.string())
const strings = () => z.array(z.string())

const propertySchema = z.looseObject({
  type: z.optional(z.union([z.string(), strings()])),
  title: optionalString(),
  description: optionalString(),
  default: z.optional(z.unknown()),
  enum: z.optional(z.array(z.unknown())),
  enumNames: z.optional(strings()),
  pattern: optionalString(),
  minLength: z.optional(z.number()),
  maxLength: z.optional(z.number()),
  minimum: z.optional(z.number()),
  maximum: z.optional(z.number()),
  items: z.optional(z.looseObject({type: optionalString(), enum: z.optional(z.array(z.unknown()))})),
  'ui:field': optionalString(),
  'ui:widget': optionalString(),
  'ui:options': z.optional(z.record(z.string(), z.unknown())),
})

const pageSchema = z.looseObject({
  title: optionalString(),
  description: optionalString(),
  required: z.optional(strings()),
  properties: z.optional(z.record(z.string(), propertySchema)),
})

const stepSchema = z.looseObject({
  id: optionalString(),
  name: optionalString(),
  action: z.string().check(z.minLength(1)),
  input: z.optional(z.record(z.string(), z.unknown())),
  if: z.optional(z.union([z.string(), z.boolean()])),
  each: z.optional(z.unknown()),
})

export const templateSchema = z.looseObject({
  apiVersion: z.literal('scaffolder.backstage.io/v1beta3'),
  kind: z.literal('Template'),
  metadata: z.looseObject({
    name: z.string().check(z.minLength(1)),
    title: optionalString(),
    description: optionalString(),
    tags: z.optional(strings()),
  }),
  spec: z.looseObject({
    owner: optionalString(),
    type: optionalString(),
    parameters: z.optional(z.union([pageSchema, z.array(pageSchema)])),
    steps: z.array(stepSchema),
    output: z.optional(z.record(z.string(), z.unknown())),
  }),
})

export type PropertySchema = z.infer<typeof propertySchema>
export type ParameterPage = z.infer<typeof pageSchema>
export type TemplateStep = z.infer<typeof stepSchema>
export type TemplateDocument = z.infer<typeof templateSchema>

/** Parse and validate a template.yaml. Every problem is reported with file:line:col. */
export async function readTemplateFile(file: string): Promise<TemplateDocument> {
  let text: string
  try {
    text = await readBoundedText(file)
  } catch (error) {
    throw new ConfigError(`Cannot read template ${file}: ${(error as Error).message}.`, [], {cause: error, hint: 'Check that the template directory contains a template.yaml (a regular file of at most 1 MiB).'})
  }
  return parseTemplateText(text, file)
}

export function parseTemplateText(text: string, file = 'template.yaml'): TemplateDocument {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true})
  const hint = 'A template is a Backstage Template (apiVersion: scaffolder.backstage.io/v1beta3, kind: Template) with spec.parameters and spec.steps.'
  if (doc.errors.length > 0) {
    const problems: ConfigProblem[] = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0])
      return {file, line: pos.line, column: pos.col, path: '', message: e.message.split('\n')[0] ?? e.message}
    })
    throw new ConfigError(`${file}:${problems[0]?.line}:${problems[0]?.column}: invalid YAML: ${problems[0]?.message}`, problems, {hint})
  }
  const data = doc.toJS() as unknown
  const parsed = templateSchema.safeParse(data)
  if (parsed.success) return parsed.data
  const problems: ConfigProblem[] = parsed.error.issues.map((issue) => {
    const keyPath = issue.path.map(String)
    const position = positionOf(doc, lineCounter, keyPath)
    return {file, ...position, path: keyPath.join('.'), message: issue.message}
  })
  const first = problems[0]
  const where = first?.line ? `${file}:${first.line}:${first.column}` : file
  throw new ConfigError(`${where}: ${first?.path ? `${first.path}: ` : ''}${first?.message ?? 'invalid template'}${problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : ''}`, problems, {hint})
}

function positionOf(doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter, keyPath: string[]): {line?: number; column?: number} {
  // Point at the deepest node that exists on the path (a missing key points at its parent).
  for (let depth = keyPath.length; depth >= 0; depth--) {
    const node = doc.getIn(keyPath.slice(0, depth), true) as {range?: [number, number, number]} | undefined
    const target = depth === 0 ? doc.contents : node
    const range = (target as {range?: [number, number, number]} | null | undefined)?.range
    if (range) {
      const pos = lineCounter.linePos(range[0])
      return {line: pos.line, column: pos.col}
    }
    if (depth === 0 && isMap(doc.contents)) break
  }
  return {}
}

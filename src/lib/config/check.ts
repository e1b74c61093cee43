/**
 * `idp config validate`, `idp config schema` and `idp config example`: the config file checked
 * whole (every problem at once, with file:line:col), the JSON Schema editors use to check it as it
 * is typed, and the annotated example every key is documented in.
 */
import {readFile, rename, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'

import type {Human, Service} from '../cli/deps.js'
import {UsageError} from '../cli/errors.js'
import {displayPath, packageRoot} from '../cli/paths.js'
import {loadConfig} from './load.js'

export interface ConfigValidateRequest {
  dir: string
  /** A file to check, relative to `dir`; default: search for .idp.yml from `dir` up to the git root. */
  file?: string
}

export interface ConfigValidateResult {
  file: string
  valid: true
  summary: {service: string; environments: number; clusters: number}
}

export const configValidate: Service<ConfigValidateRequest, ConfigValidateResult> = async (request, deps) => {
  const {config, filepath} = await loadConfig({dir: request.dir, file: request.file, required: true, env: deps.env})
  return {
    file: displayPath(filepath),
    valid: true,
    summary: {service: config.service.name, environments: Object.keys(config.environments).length, clusters: Object.keys(config.clusters).length},
  }
}

export const renderConfigValidate: Human<ConfigValidateResult> = (result) => {
  const {service, environments, clusters} = result.summary
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  return `✓ ${result.file} is valid (service ${service}, ${plural(environments, 'environment')}, ${plural(clusters, 'cluster')})`
}

export interface ConfigSchemaRequest {
  dir: string
  /** Write the schema to this file (relative to `dir`) instead of printing it. */
  output?: string
}

export interface ConfigSchemaResult {
  schema: Record<string, unknown>
  /** Where the schema was written, with --output. */
  output?: string
}

export const configSchema: Service<ConfigSchemaRequest, ConfigSchemaResult> = async (request) => {
  // zod builds the schema; `config validate` of an unchanged file must not load it.
  const {configJsonSchema} = await import('./json-schema.js')
  const schema = configJsonSchema()
  if (!request.output) return {schema}
  const target = path.resolve(request.dir, request.output)
  // Written beside the target, then renamed over it: a link planted at that name is replaced, not
  // written through (a repository's idp.schema.json -> a file elsewhere).
  const temporary = `${target}.${process.pid}.tmp`
  try {
    await writeFile(temporary, `${JSON.stringify(schema, null, 2)}\n`, {flag: 'wx'})
    await rename(temporary, target)
  } catch (error) {
    await rm(temporary, {force: true})
    throw new UsageError(`Cannot write ${displayPath(target)}: ${(error as Error).message}.`, {hint: 'Check that the directory exists and is writable.'})
  }
  return {schema, output: displayPath(target)}
}

/** The schema itself is the product: raw JSON on stdout, ready to redirect. */
export const renderConfigSchema: Human<ConfigSchemaResult> = (result) =>
  result.output ? `Wrote the JSON Schema of .idp.yml to ${result.output}` : JSON.stringify(result.schema, null, 2)

export interface ConfigExampleRequest {
  dir: string
  /** Write the example to this new file (relative to `dir`) instead of printing it; never over an existing one. */
  output?: string
}

export interface ConfigExampleResult {
  /** The annotated example .idp.yml, every key with a comment. */
  example: string
  output?: string
}

/** The annotated `.idp.yml.example` that ships with idp (the package root), wherever idp is installed. */
export const configExample: Service<ConfigExampleRequest, ConfigExampleResult> = async (request) => {
  const example = await readFile(path.join(packageRoot(), '.idp.yml.example'), 'utf8')
  if (!request.output) return {example}
  const target = path.resolve(request.dir, request.output)
  try {
    // wx: a file (or a link) already at that name is never written over or through.
    await writeFile(target, example, {flag: 'wx'})
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST'
    throw new UsageError(`Cannot write ${displayPath(target)}: ${exists ? 'it already exists' : (error as Error).message}.`, {
      hint: exists ? 'Give another --output (e.g. .idp.yml.example) and copy what you need from it.' : 'Check that the directory exists and is writable.',
    })
  }
  return {example, output: displayPath(target)}
}

export const renderConfigExample: Human<ConfigExampleResult> = (result) => (result.output ? `Wrote the annotated example of .idp.yml to ${result.output}` : result.example.replace(/\n$/u, ''))

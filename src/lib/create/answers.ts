/**
 * The wizard's answers, kept when `idp create` fails after the wizard (a target that exists, a
 * failed render, push or Ctrl-C), so the next run of the same template into the same directory
 * offers them as defaults instead of asking everything again. Through the one cache module
 * (cli/cache.ts: a hashed file name, checked on read, written whole and 0600) under idp's state
 * directory: `<state>/create-answers/`.
 *
 * Never a secret: a parameter marked secret (`ui:field: Secret`, `ui:widget: password`) is not
 * kept, nor is any value holding a string the redactor knows (a token typed into another field).
 * A run that succeeds removes the entry.
 */
import {rm} from 'node:fs/promises'
import path from 'node:path'

import {cacheKey, defineCache, entryFile, isRecord} from '../cli/cache.js'
import {redact} from '../cli/redact.js'
import {allParameters, type Page} from './parameters.js'
import {isSecret} from './prepare.js'
import type {LoadedTemplate} from './sources.js'

export interface KeptAnswers {
  /** The service's name the answers were for (its directory under --dir). */
  name?: string
  values: Record<string, unknown>
}

const answers = defineCache<KeptAnswers>({version: 1, valid: (value) => isRecord(value) && isRecord(value.values) && (value.name === undefined || typeof value.name === 'string')})

/** The template as a place: a bundled or --template-dir name, a path's directory, a git URL. */
function templateId(template: Pick<LoadedTemplate, 'source' | 'ref' | 'dir'>): string {
  return `${template.source}:${template.source === 'path' ? template.dir : template.ref}`
}

function slot(stateDir: string, template: Pick<LoadedTemplate, 'source' | 'ref' | 'dir'>, baseDir: string): {file: string; key: string} {
  const id = templateId(template)
  return {file: entryFile(path.join(stateDir, 'create-answers'), `${id}\u0000${path.resolve(baseDir)}`), key: cacheKey('create-answers', id, path.resolve(baseDir))}
}

/** What may be kept of the wizard's values: known parameters that are not secret, holding no known secret. */
export function keepable(pages: Page[], values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const param of allParameters(pages)) {
    const value = values[param.key]
    if (value === undefined || isSecret(param)) continue
    const text = typeof value === 'string' ? value : JSON.stringify(value)
    if (redact(text) !== text) continue
    out[param.key] = value
  }
  return out
}

/** Keep the answers of a failed run; whether they were written (never throws). */
export async function keepAnswers(stateDir: string, template: LoadedTemplate, baseDir: string, kept: KeptAnswers): Promise<boolean> {
  const {file, key} = slot(stateDir, template, baseDir)
  return answers.write(file, key, kept, {about: 'idp create: the wizard\'s answers of a run that failed (no secrets)'})
}

/** The answers kept for this template and directory, when they were for `name` (or the name is not known yet). */
export async function keptAnswers(stateDir: string, template: LoadedTemplate, baseDir: string, name: string | undefined): Promise<KeptAnswers | undefined> {
  const {file, key} = slot(stateDir, template, baseDir)
  const kept = await answers.read(file, key)
  return kept && (name === undefined || kept.name === undefined || kept.name === name) ? kept : undefined
}

/** Forget the answers once a run succeeded. */
export async function forgetAnswers(stateDir: string, template: LoadedTemplate, baseDir: string): Promise<void> {
  await rm(slot(stateDir, template, baseDir).file, {force: true}).catch(() => undefined)
}

/**
 * `idp templates list`, and where templates are looked for: --template-dir, then templates.dirs
 * of .idp.yml (relative to it), then the bundled ones.
 */
import path from 'node:path'

import type {Human, Service} from '../cli/deps.js'
import {table} from '../cli/output.js'
import type {LoadedConfig} from '../config/load.js'
import {loadConfig} from '../config/load.js'
import {listTemplates, type TemplateListing} from './sources.js'

/** Extra template directories, absolute: the flag's (relative to the working directory), then the config's. */
export function templateDirs(flagDirs: readonly string[] | undefined, loaded: Pick<LoadedConfig, 'config' | 'root'> | undefined, dir: string): string[] {
  const configDirs = (loaded?.config.templates?.dirs ?? []).map((d) => path.resolve(loaded?.root ?? dir, d))
  return [...(flagDirs ?? []).map((d) => path.resolve(d)), ...configDirs]
}

export interface TemplatesListRequest {
  dir: string
  templateDirs?: string[]
}

export interface TemplatesListResult {
  templates: TemplateListing[]
}

export const templatesList: Service<TemplatesListRequest, TemplatesListResult> = async (request, deps) => {
  const loaded = await loadConfig({dir: request.dir, env: deps.env})
  return {templates: await listTemplates(templateDirs(request.templateDirs, loaded, request.dir))}
}

export const renderTemplatesList: Human<TemplatesListResult> = (result, view) => {
  if (result.templates.length === 0) return 'No templates found.'
  return table(
    ['NAME', 'SOURCE', 'TITLE', 'PATH'],
    result.templates.map((t) => [t.name, t.source, t.title ?? '', path.relative(view.cwd, t.path) || '.']),
  )
}

/**
 * `idp create`: a new service from a golden-path template (a Backstage v1beta3 template). Every
 * check that can fail runs before the first write (prepare.ts); the plan renders, makes one
 * commit, optionally creates the GitHub repository and pushes, and a failure removes what this
 * run made.
 */
import path from 'node:path'

import type {Deps, Human, Service} from '../cli/deps.js'
import {IdpError, UsageError} from '../cli/errors.js'
import {assertDnsLabel, dnsLabelProblem} from '../cli/names.js'
import {requireValue} from '../cli/prompter.js'
import {parseTimeout} from '../config/duration.js'
import {loadConfig} from '../config/load.js'
import {assertTokenTransport, backstageSettings} from '../catalog/settings.js'
import {githubSettings} from '../github/client.js'
import {dryRunText, type JsonPlan, planForJson, shellQuote} from '../plan/format.js'
import {gitConfigIdentity, gitHeadSha} from '../tools/git.js'
import {forgetAnswers, keepable, keepAnswers, keptAnswers} from './answers.js'
import type {CreateMetadata, Visibility} from './plan.js'
import {type PreparedCreate, prepareCreate} from './prepare.js'
import {DEFAULT_RENDER_TIMEOUT} from './render-bound.js'
import {listTemplates, resolveTemplate} from './sources.js'
import {templateDirs} from './templates.js'
import {runWizard, wizardSummary} from './wizard.js'

export interface CreateRequest {
  /** The base directory (--dir), absolute: the service goes into <dir>/NAME. */
  dir: string
  name?: string
  /** A bundled or --template-dir NAME, a PATH, or a GIT_URL; asked for on a terminal when missing. */
  template?: string
  /** key=value pairs. */
  set?: string[]
  valuesFile?: string
  templateDirs?: string[]
  force: boolean
  publish: boolean
  owner?: string
  visibility?: Visibility
  branch?: string
  authorName?: string
  authorEmail?: string
  dryRun: boolean
  keepOnFailure: boolean
  /** Ask only for required parameters that have no value. */
  yes: boolean
  /** --render-timeout: how long rendering the template may take (default 1m). */
  renderTimeout?: string
  /** --backstage-url: the Backstage catalog to register in (wins over backstage.baseUrl and BACKSTAGE_URL). */
  backstageUrl?: string
}

/** What happened with the Backstage catalog (when the template has a catalog:register step). */
export interface CreateCatalogResult {
  registered: boolean
  /** Why it was not registered (no token, no URL, not published). */
  reason?: string
  /** The catalog's base URL, when registering. */
  backstage?: string
  /** The URL Backstage reads catalog-info.yaml from. */
  target?: string
  /** Refs of the entities the catalog read from it, e.g. component:default/shop. */
  entities?: string[]
  alreadyRegistered?: boolean
}

export interface CreateResult {
  plan?: JsonPlan<CreateMetadata>
  directory: string
  template: PreparedCreate['template']
  values: Record<string, unknown>
  skipped: PreparedCreate['skipped']
  files: string[]
  branch: string
  commit?: string
  catalogRegisterUrl?: string
  catalog?: CreateCatalogResult
  repository?: {htmlUrl: string; cloneUrl: string; owner: string; ownerType: string}
  dryRun: boolean
}

/**
 * The catalog settings of this run. A BACKSTAGE_URL the shell holds that is not an http(s) URL
 * stops only a run that would use it (--publish registers there); otherwise it is a warning, and
 * the catalog-import link is left out. --backstage-url and backstage.baseUrl are always checked.
 */
function backstageSettingsForCreate(request: CreateRequest, config: {baseUrl?: string} | undefined, deps: Deps): ReturnType<typeof backstageSettings> {
  try {
    return backstageSettings({flag: request.backstageUrl, config, env: deps.env})
  } catch (error) {
    if (request.publish || request.backstageUrl || config?.baseUrl) throw error
    deps.out.warn(`${(error as Error).message} Ignored: without --publish nothing is registered (no catalog-import link is printed).`)
    return backstageSettings({env: {...deps.env, BACKSTAGE_URL: undefined}})
  }
}

export const create: Service<CreateRequest, CreateResult> = async (request, deps: Deps) => {
  // Bad input fails before anything else, even before the template is read.
  if (request.name !== undefined) assertDnsLabel(request.name, 'name')
  const renderTimeoutMs = parseTimeout(request.renderTimeout ?? DEFAULT_RENDER_TIMEOUT)
  const loaded = await loadConfig({dir: request.dir, env: deps.env})
  const config = loaded?.config
  const backstage = backstageSettingsForCreate(request, config?.backstage, deps)
  const extraDirs = templateDirs(request.templateDirs, loaded, request.dir)
  // On a terminal the name comes first (it names the directory), with a default, checked as typed.
  const name =
    request.name ??
    (deps.prompter && request.template === undefined
      ? await deps.prompter.input({message: 'Name of the new service (its directory and DNS name)', default: 'my-service', validate: (value) => (dnsLabelProblem(value) ? `A name ${dnsLabelProblem(value)!.replace(/^it /u, '')}.` : true)})
      : undefined)
  const ref = await requireValue(request.template, '--template', deps.prompter, async (prompter) => {
    const choices = await listTemplates(extraDirs)
    if (choices.length === 0) throw new UsageError('No templates found.', {hint: 'Pass --template PATH or a git URL.'})
    return String(await prompter.select({message: 'Template', choices: choices.map((t) => ({name: `${t.name}${t.title ? ` — ${t.title}` : ''}`, value: t.name, ...(t.description ? {description: t.description} : {})}))}))
  })

  const template = await resolveTemplate(ref, {extraDirs, runner: deps.runner, signal: deps.signal})
  // The wizard's last answers: kept if this run fails after it, so the next run offers them.
  let answered: {name?: string; values: Record<string, unknown>} | undefined
  try {
    const github = githubSettings(deps.env, config)
    const identity = request.authorName && request.authorEmail ? {} : await gitConfigIdentity(deps.runner, request.dir)
    const {prompter} = deps
    const prepared = await prepareCreate({
      template,
      name,
      baseDir: request.dir,
      set: request.set,
      valuesFile: request.valuesFile,
      force: request.force,
      config,
      ask: prompter
        ? async (pages, resolved) => {
            const write = (text: string) => deps.out.report(text.replace(/\n$/u, ''))
            // Answers are kept when the user says no: the wizard goes round again with them as defaults.
            let values = resolved.values
            // And across runs: a run that failed after the wizard kept its answers (no secrets).
            const kept = await keptAnswers(deps.stateDir, template, request.dir, name)
            if (kept) {
              const defaults = Object.fromEntries(Object.entries(keepable(pages, kept.values)).filter(([key]) => !resolved.given.has(key)))
              if (Object.keys(defaults).length > 0) {
                values = {...values, ...defaults}
                write('Your answers from the last run, which failed, are the defaults.')
              }
            }
            for (;;) {
              values = await runWizard(pages, {prompts: prompter, values, given: resolved.given, onlyMissing: request.yes, write})
              const serviceName = name ?? [values.name, values.component_id].find((v): v is string => typeof v === 'string' && v !== '')
              answered = {...(serviceName ? {name: serviceName} : {}), values: keepable(pages, values)}
              if (request.yes) return values
              const target = path.join(request.dir, name ?? String(values.name ?? values.component_id ?? ''))
              write(wizardSummary(pages, values, {template: template.name, directory: path.relative(process.cwd(), target) || target}))
              if (await prompter.confirm({message: 'Create it?', default: true})) return values
            }
          }
        : undefined,
      git: {branch: request.branch, authorName: request.authorName, authorEmail: request.authorEmail, envName: deps.env.GIT_AUTHOR_NAME || undefined, envEmail: deps.env.GIT_AUTHOR_EMAIL || undefined, configName: identity.name, configEmail: identity.email},
      publish: {requested: request.publish, token: github.token, owner: request.owner, visibility: request.visibility, apiUrl: github.apiUrl, serverUrl: github.serverUrl, dryRun: request.dryRun},
      backstage: {baseUrl: backstage.baseUrl, hasToken: Boolean(backstage.token)},
      warn: (message) => deps.out.warn(message),
      signal: deps.signal,
      renderTimeoutMs,
    })
    const base: CreateResult = {
      directory: prepared.directory,
      template: prepared.template,
      values: prepared.values,
      skipped: prepared.skipped,
      files: prepared.files,
      branch: prepared.branch,
      ...(prepared.catalogRegisterUrl ? {catalogRegisterUrl: prepared.catalogRegisterUrl} : {}),
      ...(prepared.catalogRegistration
        ? {catalog: prepared.catalogRegistration.register ? {registered: false, backstage: prepared.catalogRegistration.baseUrl} : {registered: false, reason: prepared.catalogRegistration.reason}}
        : {}),
      dryRun: request.dryRun,
    }
    if (request.dryRun) return {plan: planForJson(prepared.plan, deps.runner), ...base}

    // The token's way to the catalog is checked before the first change, not after the repository exists.
    if (prepared.catalogRegistration?.register) assertTokenTransport(backstage, deps.env)
    await deps.runner.require('git')
    const [{createHandlers}, {createGitHubPublisher}] = await Promise.all([import('./handlers.js'), import('./publisher.js')])
    const publisher = prepared.publish && github.token ? await createGitHubPublisher({token: github.token, apiUrl: github.apiUrl, serverUrl: github.serverUrl}) : undefined
    const registration = prepared.catalogRegistration?.register ? prepared.catalogRegistration : undefined
    const catalog = registration && publisher ? new (await import('../catalog/client.js')).CatalogClient({baseUrl: registration.baseUrl, token: backstage.token, signal: deps.signal}) : undefined
    const {handlers, state, describe} = createHandlers({runner: deps.runner, publisher, catalog, rendered: prepared.rendered, renderTimeoutMs})
    await deps.plans.apply(prepared.plan, {handlers, describe, keepOnFailure: request.keepOnFailure})
    if (state.catalog && !state.catalog.exists) deps.out.warn(`${path.relative(prepared.directory, state.catalog.path)} was not generated; nothing to register in the Backstage catalog.`)
    const commit = await gitHeadSha(deps.runner, prepared.directory).catch(() => undefined)
    if (answered) await forgetAnswers(deps.stateDir, template, request.dir)
    const repo = state.repository
    return {
      ...base,
      files: state.files ?? base.files,
      ...(commit ? {commit} : {}),
      ...(repo ? {repository: {htmlUrl: repo.htmlUrl, cloneUrl: repo.cloneUrl, owner: repo.owner, ownerType: repo.ownerType}} : {}),
      ...(state.registration && registration
        ? {catalog: {registered: true, backstage: registration.baseUrl, target: state.registration.target, entities: state.registration.entities, alreadyRegistered: state.registration.alreadyRegistered}}
        : {}),
    }
  } catch (error) {
    if (answered && Object.keys(answered.values).length > 0 && (await keepAnswers(deps.stateDir, template, request.dir, answered)) && error instanceof IdpError) {
      const again = [deps.bin, 'create', ...(answered.name ? [answered.name] : []), '--template', template.ref, ...(path.resolve(request.dir) === process.cwd() ? [] : ['--dir', request.dir])]
      error.hint = `${error.hint ? `${error.hint} ` : ''}Your answers were kept (secrets excepted): run \`${shellQuote(again)}\` again to reuse them as defaults.`
    }
    throw error
  } finally {
    await template.cleanup()
  }
}

export const renderCreate: Human<CreateResult> = (result, view) => {
  if (result.dryRun) {
    const extra = [`Files (${result.files.length}): ${result.files.slice(0, 20).join(', ')}${result.files.length > 20 ? ', …' : ''}`]
    if (result.skipped.length > 0) extra.push(`Skipped steps: ${result.skipped.map((s) => `${s.id} (${s.action})`).join(', ')}`)
    return result.plan ? dryRunText(result.plan, extra) : extra.join('\n')
  }
  const rel = path.relative(view.cwd, result.directory) || '.'
  const lines = [`✓ Created ${path.basename(result.directory)} in ${rel} from template ${result.template.name} (${result.files.length} files, ${result.commit ? `commit ${result.commit.slice(0, 7)} ` : ''}on ${result.branch})`]
  if (result.repository) lines.push(`  Repository: ${result.repository.htmlUrl}`)
  if (result.catalog?.registered) {
    const what = result.catalog.entities && result.catalog.entities.length > 0 ? result.catalog.entities.join(', ') : 'catalog-info.yaml'
    lines.push(`  Backstage: ${result.catalog.alreadyRegistered ? 'already registered' : 'registered'} ${what} in ${result.catalog.backstage} (from ${result.catalog.target})`)
  } else {
    if (result.catalog?.reason) lines.push(`  Not registered in the Backstage catalog: ${result.catalog.reason}.`)
    if (result.catalogRegisterUrl) lines.push(`  Register in Backstage: ${result.catalogRegisterUrl}`)
  }
  if (result.skipped.length > 0) lines.push(`  Skipped steps: ${result.skipped.map((s) => `${s.id} (${s.action}: ${s.reason})`).join('; ')}`)
  lines.push(`  Next: cd ${rel}`)
  return lines.join('\n')
}

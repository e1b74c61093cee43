import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import path from 'node:path'

import {BaseCommand, changeFlags, isCi} from '../lib/cli/base-command.js'
import {UsageError} from '../lib/cli/errors.js'
import type {PreparedCreate} from '../lib/create/prepare.js'
import type {PromptSet} from '../lib/create/wizard.js'
import type {ToolRunner} from '../lib/tools/types.js'

export interface CreateResult {
  plan?: unknown
  directory: string
  template: PreparedCreate['template']
  values: Record<string, unknown>
  skipped: PreparedCreate['skipped']
  files: string[]
  branch: string
  commit?: string
  catalogRegisterUrl?: string
  repository?: {htmlUrl: string; cloneUrl: string; owner: string; ownerType: string}
  dryRun: boolean
}

export default class Create extends BaseCommand<typeof Create> {
  static override summary = 'Create a new service from a golden-path template (a Backstage template), offline.'
  static override description = `Renders a Backstage v1beta3 template (bundled NAME, a PATH, or a GIT_URL) into <--dir>/NAME, makes it a git repository with one commit, and optionally creates the GitHub repository and pushes (--publish).

Template parameters become prompts on a terminal; each can also be set with --set key=value or a --values file. With --no-input (or in CI) a missing required parameter is a usage error naming it. Steps: fetch:template and fetch:plain render locally, fs:delete/fs:rename run in the new directory, publish:github becomes git init + commit (+ GitHub with --publish), catalog:register keeps catalog-info.yaml in the repo and prints the register URL when backstage.baseUrl is configured. Other actions are reported as skipped.

Nothing is written before the name, the template, every parameter and the target directory are checked; a failure afterwards removes what this run created (and the GitHub repository it created, unless --keep-on-failure).`

  static override examples = [
    {description: 'Create my-svc from the bundled TypeScript template, answering prompts', command: '<%= config.bin %> <%= command.id %> my-svc --template typescript-service'},
    {description: 'Non-interactive, as in CI', command: '<%= config.bin %> <%= command.id %> my-svc --template typescript-service --set owner=team-a --no-input'},
    {description: 'Answers from a file', command: '<%= config.bin %> <%= command.id %> my-svc --template typescript-service --values answers.yaml'},
    {description: 'Show the plan of a local template without writing anything', command: '<%= config.bin %> <%= command.id %> my-svc --template ./my-templates/go --dry-run'},
    {description: 'Also create the GitHub repository and push (needs GITHUB_TOKEN)', command: "<%= config.bin %> <%= command.id %> my-svc --template typescript-service --set repoUrl='github.com?owner=acme&repo=my-svc' --publish"},
    {description: 'A template straight from git', command: '<%= config.bin %> <%= command.id %> my-svc --template https://github.com/acme/templates.git#go-service'},
  ]

  static override args = {
    name: Args.string({description: 'Name of the new service: a DNS-1123 label; the target directory is <--dir>/NAME and it is the default for a template parameter called name or component_id.', required: false}),
  }

  static override flags = {
    ...changeFlags,
    template: Flags.string({char: 't', description: 'Template: a bundled or --template-dir NAME, a PATH to a template directory (or its template.yaml), or a GIT_URL (https://, git@, file://, ...git[#subdir]).', env: 'IDP_TEMPLATE'}),
    set: Flags.string({char: 's', description: 'Set a template parameter: key=value (repeatable). Values are typed by the parameter schema (numbers, true/false, lists as a,b or JSON).', multiple: true}),
    values: Flags.string({description: 'YAML or JSON file with parameter values (--set wins).', env: 'IDP_VALUES'}),
    'template-dir': Flags.string({description: 'Extra directory of templates, searched before the bundled ones (repeatable; added to templates.dirs in .idp.yml).', multiple: true, env: 'IDP_TEMPLATE_DIR'}),
    force: Flags.boolean({description: 'Render into a target directory that is not empty.', env: 'IDP_FORCE'}),
    publish: Flags.boolean({description: 'Create the GitHub repository (user or org, from the template\'s repoUrl or repo.owner) and push. Needs GITHUB_TOKEN or GH_TOKEN; GITHUB_API_URL selects GitHub Enterprise.', env: 'IDP_PUBLISH'}),
    owner: Flags.string({description: 'GitHub user or organization for --publish (default: the template\'s repoUrl owner, then repo.owner in .idp.yml, then the token\'s user).', env: 'IDP_GITHUB_OWNER'}),
    visibility: Flags.string({description: 'Repository visibility for --publish (default: the template\'s repoVisibility, then repo.visibility, then private).', options: ['private', 'internal', 'public'], env: 'IDP_VISIBILITY'}),
    branch: Flags.string({description: 'Default branch (default: the template\'s publish:github defaultBranch, then repo.defaultBranch, then main).', env: 'IDP_DEFAULT_BRANCH'}),
    'author-name': Flags.string({description: 'Author of the initial commit (default: git config user.name, else "idp").', env: 'IDP_AUTHOR_NAME'}),
    'author-email': Flags.string({description: 'Author email of the initial commit (default: git config user.email, else idp@localhost).', env: 'IDP_AUTHOR_EMAIL'}),
  }

  async execute(): Promise<CreateResult> {
    const flags = this.flags
    const [{assertDnsLabel}, {resolveTemplate, listTemplates}, {prepareCreate}, {loadConfig}, {createToolRunner}, {gitConfigIdentity}] = await Promise.all([
      import('../lib/cli/names.js'),
      import('../lib/create/sources.js'),
      import('../lib/create/prepare.js'),
      import('../lib/config/load.js'),
      import('../lib/tools/runner.js'),
      import('../lib/tools/git.js'),
    ])
    // Bad input fails before anything else, even before the template is read.
    if (this.args.name !== undefined) assertDnsLabel(this.args.name, 'name')
    const loaded = await loadConfig({dir: this.dir})
    const config = loaded?.config
    const configDirs = (config?.templates?.dirs ?? []).map((d) => path.resolve(loaded?.root ?? this.dir, d))
    const extraDirs = [...(flags['template-dir'] ?? []).map((d) => path.resolve(d)), ...configDirs]
    const runner = createToolRunner({logger: (line) => this.out.debug(line)})

    const ref = await this.require(flags.template, '--template', async () => {
      const choices = await listTemplates(extraDirs)
      if (choices.length === 0) throw new UsageError('No templates found.', {hint: 'Pass --template PATH or a git URL.'})
      const prompts = await this.prompts()
      return String(await prompts.select({message: 'Template', choices: choices.map((t) => ({name: `${t.name}${t.title ? ` — ${t.title}` : ''}`, value: t.name, description: t.description}))}))
    })

    const template = await resolveTemplate(ref, {extraDirs, runner, signal: this.signal})
    try {
      const {githubSettings} = await import('../lib/github/client.js')
      const github = githubSettings(process.env, config)
      const identity = flags['author-name'] && flags['author-email'] ? {} : await gitConfigIdentity(runner, this.dir)
      const interactive = this.interactive
      const prepared = await prepareCreate({
        template,
        name: this.args.name,
        baseDir: this.dir,
        set: flags.set,
        valuesFile: flags.values,
        force: flags.force,
        config: config as Parameters<typeof prepareCreate>[0]['config'],
        ask: interactive ? (pages, resolved) => this.ask(pages, resolved) : undefined,
        git: {branch: flags.branch, authorName: flags['author-name'], authorEmail: flags['author-email'], configName: identity.name, configEmail: identity.email},
        publish: {
          requested: flags.publish,
          token: github.token,
          owner: flags.owner,
          visibility: flags.visibility as 'private' | undefined,
          apiUrl: github.apiUrl,
          serverUrl: github.serverUrl,
        },
        warn: (message) => this.out.warn(message),
      })
      const base: CreateResult = {
        directory: prepared.directory,
        template: prepared.template,
        values: prepared.values,
        skipped: prepared.skipped,
        files: prepared.files,
        branch: prepared.branch,
        ...(prepared.catalogRegisterUrl ? {catalogRegisterUrl: prepared.catalogRegisterUrl} : {}),
        dryRun: Boolean(flags['dry-run']),
      }
      if (flags['dry-run']) {
        const {planForJson, formatPlan} = await import('../lib/plan/format.js')
        this.planText = formatPlan(prepared.plan)
        return {plan: planForJson(prepared.plan), ...base}
      }
      return await this.apply(prepared, base, runner, github)
    } finally {
      await template.cleanup()
    }
  }

  private planText?: string

  private async apply(prepared: PreparedCreate, base: CreateResult, runner: ToolRunner, github: {token?: string; apiUrl: string; serverUrl: string}): Promise<CreateResult> {
    await runner.require('git')
    const [{applyPlan, chooseRenderer}, {createHandlers}, {gitHeadSha}] = await Promise.all([import('../lib/plan/apply.js'), import('../lib/create/handlers.js'), import('../lib/tools/git.js')])
    let publisher
    if (prepared.publish && github.token) {
      const {createGitHubPublisher} = await import('../lib/create/publisher.js')
      publisher = await createGitHubPublisher({token: github.token, apiUrl: github.apiUrl, serverUrl: github.serverUrl})
    }
    const {handlers, state} = createHandlers({runner, publisher})
    await applyPlan(prepared.plan, {
      runner,
      handlers,
      signal: this.signal,
      renderer: chooseRenderer({json: this.out.json, isTTY: Boolean(process.stderr.isTTY), ci: isCi()}),
      keepOnFailure: this.flags['keep-on-failure'],
      verbose: this.out.verbose,
    })
    if (state.catalog && !state.catalog.exists) this.out.warn(`${path.relative(prepared.directory, state.catalog.path)} was not generated; nothing to register in the Backstage catalog.`)
    const commit = await gitHeadSha(runner, prepared.directory).catch(() => undefined)
    const repo = state.repository
    return {
      ...base,
      files: state.files ?? base.files,
      ...(commit ? {commit} : {}),
      ...(repo ? {repository: {htmlUrl: repo.htmlUrl, cloneUrl: repo.cloneUrl, owner: repo.owner, ownerType: repo.ownerType}} : {}),
    }
  }

  private async prompts(): Promise<PromptSet> {
    const inquirer = await import('@inquirer/prompts')
    // Prompts draw on stderr: stdout carries only the result.
    const context = {output: process.stderr}
    return {
      input: (config) => inquirer.input(config, context),
      password: (config) => inquirer.password(config, context),
      number: (config) => inquirer.number(config as Parameters<typeof inquirer.number>[0], context) as Promise<number | undefined>,
      confirm: (config) => inquirer.confirm(config, context),
      select: (config) => inquirer.select(config, context),
      checkbox: (config) => inquirer.checkbox(config, context),
    }
  }

  private async ask(pages: Parameters<typeof import('../lib/create/wizard.js').runWizard>[0], resolved: {values: Record<string, unknown>; given: Set<string>}): Promise<Record<string, unknown>> {
    const {runWizard} = await import('../lib/create/wizard.js')
    return runWizard(pages, {prompts: await this.prompts(), values: resolved.values, given: resolved.given, onlyMissing: this.flags.yes, write: (text) => process.stderr.write(text)})
  }

  protected override human(result: CreateResult): string {
    if (result.dryRun) {
      const lines = [this.planText ?? '']
      lines.push(`\nFiles (${result.files.length}): ${result.files.slice(0, 20).join(', ')}${result.files.length > 20 ? ', …' : ''}`)
      if (result.skipped.length > 0) lines.push(`Skipped steps: ${result.skipped.map((s) => `${s.id} (${s.action})`).join(', ')}`)
      lines.push('Dry run: nothing was written.')
      return lines.join('\n')
    }
    const rel = path.relative(process.cwd(), result.directory) || '.'
    const lines = [`✓ Created ${path.basename(result.directory)} in ${rel} from template ${result.template.name} (${result.files.length} files, ${result.commit ? `commit ${result.commit.slice(0, 7)} ` : ''}on ${result.branch})`]
    if (result.repository) lines.push(`  Repository: ${result.repository.htmlUrl}`)
    if (result.catalogRegisterUrl) lines.push(`  Register in Backstage: ${result.catalogRegisterUrl}`)
    if (result.skipped.length > 0) lines.push(`  Skipped steps: ${result.skipped.map((s) => `${s.id} (${s.action}: ${s.reason})`).join('; ')}`)
    lines.push(`  Next: cd ${rel}`)
    return lines.join('\n')
  }
}

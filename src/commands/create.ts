import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {backstageFlags, BaseCommand, changeFlags, type Served} from '../lib/cli/base-command.js'
import type {CreateRequest, CreateResult} from '../lib/create/create.js'

export default class Create extends BaseCommand<typeof Create, CreateResult> {
  static override summary = 'Create a new service from a golden-path template (a Backstage template), offline.'
  static override description = `Renders a Backstage v1beta3 template (bundled NAME, a PATH, or a GIT_URL) into <--dir>/NAME, makes it a git repository with one commit, and optionally creates the GitHub repository and pushes (--publish).

Template parameters become prompts on a terminal; each can also be set with --set key=value or a --values file. With --no-input (or in CI) a missing required parameter is a usage error naming it. Steps: fetch:template and fetch:plain render locally, fs:delete/fs:rename run in the new directory, publish:github becomes git init + commit (+ GitHub with --publish), catalog:register keeps catalog-info.yaml in the repo; with --publish, a Backstage URL (--backstage-url, backstage.baseUrl, BACKSTAGE_URL) and BACKSTAGE_TOKEN it registers the new repository's catalog-info.yaml in the Backstage catalog (dry run first; already registered is fine), else it prints the register URL and why it did not register. Other actions are reported as skipped.

Nothing is written before the name, the template, every parameter and the target directory are checked; a failure afterwards removes what this run created (and the GitHub repository it created, unless --keep-on-failure).`

  static override examples = [
    {description: 'Create my-svc from the bundled TypeScript template, answering prompts', command: '<%= config.bin %> <%= command.id %> my-svc --template typescript-service'},
    {description: 'Non-interactive, as in CI', command: '<%= config.bin %> <%= command.id %> my-svc --template typescript-service --set owner=team-a --set repoUrl=\'github.com?owner=acme&repo=my-svc\' --no-input'},
    {description: 'Answers from a file', command: '<%= config.bin %> <%= command.id %> my-svc --template typescript-service --values answers.yaml'},
    {description: 'Show the plan of a local template without writing anything', command: '<%= config.bin %> <%= command.id %> my-svc --template ./my-templates/go --dry-run'},
    {description: 'Also create the GitHub repository and push (needs GITHUB_TOKEN)', command: "<%= config.bin %> <%= command.id %> my-svc --template typescript-service --set repoUrl='github.com?owner=acme&repo=my-svc' --publish"},
    {description: 'Publish and register the new component in the Backstage catalog (token from the environment, never a flag)', command: "BACKSTAGE_TOKEN=... <%= config.bin %> <%= command.id %> my-svc --template typescript-service --set owner=team-a --set repoUrl='github.com?owner=acme&repo=my-svc' --publish --backstage-url https://backstage.example.com"},
    {description: 'A template straight from git', command: '<%= config.bin %> <%= command.id %> my-svc --template https://github.com/acme/templates.git#go-service'},
  ]

  static override args = {
    name: Args.string({description: 'Name of the new service: a DNS-1123 label; the target directory is <--dir>/NAME and it is the default for a template parameter called name or component_id.', required: false}),
  }

  static override flags = {
    ...changeFlags,
    ...backstageFlags,
    template: Flags.string({char: 't', description: 'Template: a bundled or --template-dir NAME, a PATH to a template directory (or its template.yaml), or a GIT_URL (https://, git@, file://, ...git[#subdir]).', env: 'IDP_TEMPLATE'}),
    set: Flags.string({char: 's', description: 'Set a template parameter: key=value (repeatable). Values are typed by the parameter schema (numbers, true/false, lists as a,b or JSON).', multiple: true}),
    values: Flags.string({description: 'YAML or JSON file with parameter values (--set wins).', env: 'IDP_VALUES'}),
    'template-dir': Flags.string({description: 'Extra directory of templates, searched before the bundled ones (repeatable; added to templates.dirs in .idp.yml).', multiple: true, env: 'IDP_TEMPLATE_DIR'}),
    force: Flags.boolean({description: 'Render into a target directory that is not empty.', env: 'IDP_FORCE', allowNo: true}),
    publish: Flags.boolean({description: 'Create the GitHub repository (user or org, from the template\'s repoUrl or repo.owner) and push. Needs GITHUB_TOKEN or GH_TOKEN; GITHUB_API_URL selects GitHub Enterprise.', env: 'IDP_PUBLISH', allowNo: true}),
    owner: Flags.string({description: 'GitHub user or organization for --publish (default: the template\'s repoUrl owner, then repo.owner in .idp.yml, then the token\'s user).', env: 'IDP_GITHUB_OWNER'}),
    visibility: Flags.string({description: 'Repository visibility for --publish (default: the template\'s repoVisibility, then repo.visibility, then private).', options: ['private', 'internal', 'public'], env: 'IDP_VISIBILITY'}),
    branch: Flags.string({description: 'Default branch (default: the template\'s publish:github defaultBranch, then repo.defaultBranch, then main).', env: 'IDP_DEFAULT_BRANCH'}),
    'author-name': Flags.string({description: 'Author of the initial commit (default: git config user.name, else "idp").', env: 'IDP_AUTHOR_NAME'}),
    'author-email': Flags.string({description: 'Author email of the initial commit (default: git config user.email, else idp@localhost).', env: 'IDP_AUTHOR_EMAIL'}),
    'render-timeout': Flags.string({description: 'How long rendering the template may take before it is stopped (a runaway loop or regular expression in a template); nothing is written until it has finished.', env: 'IDP_RENDER_TIMEOUT', default: '1m'}),
  }

  async execute(): Promise<Served<CreateResult>> {
    const {create, renderCreate} = await import('../lib/create/create.js')
    const {flags} = this
    return this.serve(create, renderCreate, {
      dir: this.dir,
      name: this.args.name,
      template: flags.template,
      set: flags.set,
      valuesFile: flags.values,
      templateDirs: flags['template-dir'],
      force: flags.force,
      publish: flags.publish,
      owner: flags.owner,
      visibility: flags.visibility as CreateRequest['visibility'],
      branch: flags.branch,
      authorName: flags['author-name'],
      authorEmail: flags['author-email'],
      dryRun: flags['dry-run'],
      keepOnFailure: flags['keep-on-failure'],
      yes: flags.yes,
      renderTimeout: flags['render-timeout'],
      backstageUrl: flags['backstage-url'],
    })
  }
}

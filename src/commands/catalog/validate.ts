import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {backstageFlags, BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {CatalogValidateResult} from '../../lib/catalog/catalog.js'

export default class CatalogValidate extends BaseCommand<typeof CatalogValidate, CatalogValidateResult> {
  static override summary = 'Validate a catalog-info.yaml with Backstage\'s own validators, and the catalog\'s when one is configured.'
  static override description = `Checks every entity of FILE (default catalog-info.yaml; relative to --dir, which defaults to the working directory) offline with @backstage/catalog-model, as the catalog does when it reads a location: the entity schema, the default namespace, no foreign root fields, field formats and the built-in kinds (Component, API, Resource, System, Domain, Group, User, Location). When a Backstage URL is known (--backstage-url, backstage.baseUrl, BACKSTAGE_URL) and --offline is not given, each entity also goes through the catalog's POST /api/catalog/validate-entity, which runs its installed processors.

An invalid file is exit 3 with every problem and its line; a catalog that cannot be reached or refuses the token is exit 6.`
  static override examples = [
    {description: 'Validate ./catalog-info.yaml', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'A file elsewhere, only offline', command: '<%= config.bin %> <%= command.id %> services/shop/catalog-info.yaml --offline'},
    {description: 'Also ask a Backstage catalog, as JSON', command: 'BACKSTAGE_TOKEN=... <%= config.bin %> <%= command.id %> --backstage-url https://backstage.example.com --json'},
  ]

  static override args = {
    file: Args.string({description: 'The catalog file, relative to --dir (default catalog-info.yaml).', required: false}),
  }

  static override flags = {
    ...backstageFlags,
    offline: Flags.boolean({description: 'Only the offline validators, even when a Backstage URL is configured.'}),
  }

  async execute(): Promise<Served<CatalogValidateResult>> {
    const {catalogValidate, renderCatalogValidate} = await import('../../lib/catalog/catalog.js')
    return this.serve(catalogValidate, renderCatalogValidate, {dir: this.dir, backstageUrl: this.flags['backstage-url'], file: this.args.file, offline: this.flags.offline})
  }
}

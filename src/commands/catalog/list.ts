import * as Flags from '@oclif/core/flags'

import {backstageFlags, BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {CatalogListResult} from '../../lib/catalog/catalog.js'

export default class CatalogList extends BaseCommand<typeof CatalogList, CatalogListResult> {
  static override summary = 'List components (or other entities) of the Backstage catalog.'
  static override description = `Reads the Backstage catalog's API (GET /api/catalog/entities/by-query), all pages, and lists the entities of one kind (default component) with their type, lifecycle, owner and system. Filters combine: --owner matches the ownedBy relation (team-a means group:default/team-a), --system and --lifecycle the spec fields.

The catalog is --backstage-url, else backstage.baseUrl in .idp.yml, else BACKSTAGE_URL; the token is BACKSTAGE_TOKEN (a static external-access token), never a flag.`
  static override examples = [
    {description: 'The components team-a owns', command: '<%= config.bin %> <%= command.id %> --owner team-a'},
    {description: 'Production components of one system, as JSON', command: '<%= config.bin %> <%= command.id %> --system payments --lifecycle production --json'},
    {description: 'APIs of another Backstage', command: 'BACKSTAGE_TOKEN=... <%= config.bin %> <%= command.id %> --kind api --backstage-url https://backstage.example.com'},
  ]

  static override flags = {
    ...backstageFlags,
    owner: Flags.string({description: 'Only entities owned by this group or user: team-a, group:team-a or user:default/alice.'}),
    system: Flags.string({description: 'Only entities of this system (spec.system).'}),
    lifecycle: Flags.string({description: 'Only entities with this lifecycle (spec.lifecycle): experimental, production, deprecated, ...'}),
    kind: Flags.string({description: 'Entity kind to list.', default: 'component'}),
  }

  async execute(): Promise<Served<CatalogListResult>> {
    const {catalogList, renderCatalogList} = await import('../../lib/catalog/catalog.js')
    const {flags} = this
    return this.serve(catalogList, renderCatalogList, {dir: this.dir, backstageUrl: flags['backstage-url'], owner: flags.owner, system: flags.system, lifecycle: flags.lifecycle, kind: flags.kind})
  }
}

import * as Args from '@oclif/core/args'

import {backstageFlags, BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {CatalogShowResult} from '../../lib/catalog/catalog.js'

export default class CatalogShow extends BaseCommand<typeof CatalogShow, CatalogShowResult> {
  static override summary = 'Show one entity of the Backstage catalog: owner, links, annotations, repository.'
  static override description = `Reads GET /api/catalog/entities/by-name/KIND/NAMESPACE/NAME and shows the owner, type, lifecycle, system, links, annotations and the source repository. Run in the component's own repository (its .idp.yml names the same service), it also lists the environments .idp.yml defines for it.

The catalog is --backstage-url, else backstage.baseUrl in .idp.yml, else BACKSTAGE_URL; the token is BACKSTAGE_TOKEN. An entity the catalog does not have is exit 4.`
  static override examples = [
    {description: 'A component, with its environments when run in its repository', command: '<%= config.bin %> <%= command.id %> shop'},
    {description: 'Another kind or namespace, as JSON', command: '<%= config.bin %> <%= command.id %> api:payments/shop-api --json'},
  ]

  static override args = {
    name: Args.string({description: 'The entity: [kind:][namespace/]name (kind component and namespace default when left out).', required: true}),
  }

  static override flags = {
    ...backstageFlags,
  }

  async execute(): Promise<Served<CatalogShowResult>> {
    const {catalogShow, renderCatalogShow} = await import('../../lib/catalog/catalog.js')
    return this.serve(catalogShow, renderCatalogShow, {dir: this.dir, backstageUrl: this.flags['backstage-url'], name: this.args.name})
  }
}

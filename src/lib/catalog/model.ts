/**
 * An entity checked offline the way Backstage's catalog checks it when it processes a location,
 * with Backstage's own code (@backstage/catalog-model, loaded through cli/lazy.ts): the entity
 * policies the catalog applies by default (plugin-catalog-backend's CatalogBuilder: schema,
 * default namespace, no foreign root fields, field formats), then the built-in kind validators
 * (BuiltinKindsEntityProcessor) — an entity no validator accepts is refused, as the catalog does.
 */
import {loadCatalogModel} from '../cli/lazy.js'

export interface EntityProblem {
  message: string
}

export async function validateEntityOffline(entity: unknown): Promise<EntityProblem[]> {
  const model = await loadCatalogModel()
  const policy = model.EntityPolicies.allOf([
    new model.SchemaValidEntityPolicy(),
    new model.DefaultNamespaceEntityPolicy(),
    new model.NoForeignRootFieldsEntityPolicy(),
    new model.FieldFormatEntityPolicy(),
  ])
  let checked
  try {
    checked = await policy.enforce(entity as never)
  } catch (error) {
    return [{message: error instanceof Error ? error.message : String(error)}]
  }
  if (!checked) return [{message: 'the entity policies rejected the entity'}]
  const validators = [
    model.componentEntityV1alpha1Validator,
    model.apiEntityV1alpha1Validator,
    model.resourceEntityV1alpha1Validator,
    model.systemEntityV1alpha1Validator,
    model.domainEntityV1alpha1Validator,
    model.groupEntityV1alpha1Validator,
    model.userEntityV1alpha1Validator,
    model.locationEntityV1alpha1Validator,
  ]
  for (const validator of validators) {
    try {
      if (await validator.check(checked)) return []
    } catch (error) {
      return [{message: error instanceof Error ? error.message : String(error)}]
    }
  }
  return [{message: `no built-in kind validator accepts kind ${checked.kind} of apiVersion ${checked.apiVersion} (the catalog refuses it unless a plugin adds that kind)`}]
}

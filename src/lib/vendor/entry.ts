/**
 * Vendored dependencies in a build. The build (scripts/build.mjs, VENDORED) resolves every import
 * of oclif's entry points and of execa, in idp's code and in the bundled oclif plugins (help,
 * autocomplete), to a module that takes its exports from here, so the whole process shares one
 * copy of each, run from V8's code cache (./loader.ts): dist/vendor/<bundle>.cjs. Each entry point
 * (`@oclif/core/flags`, ...) is evaluated when first asked for. Not used from source: there the
 * imports are the packages themselves.
 */
import {loadVendor} from './index.js'

/** The exports of one entry point (e.g. `@oclif/core/flags`) of a vendored bundle (e.g. `oclif`). */
export function vendorEntry(bundle: string, id: string): Record<string, unknown> {
  const entry = loadVendor(bundle)[id] as Record<string, unknown> | undefined
  if (!entry) throw new Error(`dist/vendor/${bundle}.cjs has no entry ${id}; add it to VENDORED in scripts/build.mjs`)
  return entry
}

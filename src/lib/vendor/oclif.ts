/**
 * oclif in a build: the build resolves every `@oclif/core` import of idp's code and of the
 * bundled oclif plugins (help, autocomplete) to a module that takes its exports from here, so
 * commands, hooks and bin/run.js share one oclif: dist/vendor/oclif.cjs, run from V8's code cache
 * (./loader.ts). Each entry point (`@oclif/core/flags`, ...) is evaluated when first asked for.
 * Not used from source: there `@oclif/core` is the package itself.
 */
import {loadVendor} from './index.js'

const entries = loadVendor('oclif')

/** The exports of one of oclif's entry points, e.g. `@oclif/core/flags`. */
export function oclifEntry(id: string): Record<string, unknown> {
  const entry = entries[id] as Record<string, unknown> | undefined
  if (!entry) throw new Error(`dist/vendor/oclif.cjs has no entry ${id}; add it to OCLIF_ENTRIES in scripts/build.mjs`)
  return entry
}

import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import type {VendorExports} from './loader.js'

type Loader = {loadVendor(name: string): VendorExports}

let loader: Loader | undefined

/**
 * A vendored dependency of the build (dist/vendor/<name>.cjs), run from V8's code cache by
 * dist/vendor/loader.cjs (./loader.ts). The loader is the one bin/run.js required, so every
 * caller in the process gets the same instance. Only in a build: from source there is no
 * dist/vendor, and callers import the package itself.
 */
export function loadVendor<T = VendorExports>(name: string): T {
  loader ??= findLoader()
  // What the bundle exports is what its entry module exports; the caller names that module's type.
  return loader.loadVendor(name) as T
}

/** dist/vendor/loader.cjs, from wherever the build put the chunk holding this code. */
function findLoader(): Loader {
  const here = path.dirname(fileURLToPath(import.meta.url))
  for (let dir = here; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'vendor', 'loader.cjs')
    if (existsSync(file)) return createRequire(import.meta.url)(file) as Loader
    if (path.dirname(dir) === dir) throw new Error(`idp is not built: no vendor/loader.cjs above ${here}. Run \`npm run build\`.`)
  }
}

import {readdir, readFile, rm} from 'node:fs/promises'
import {createRequire} from 'node:module'
import Module from 'node:module'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

import {cacheDir, writePrivateFile} from '../cli/paths.js'

/** Set by the build (scripts/build.mjs); undefined when running from source. */
declare const __IDP_BUILD_ID__: string | undefined

type ClientNode = typeof import('./client-node.js')

/**
 * @kubernetes/client-node, loaded with V8's code cache. It is the largest thing idp runs (1.8 MB
 * bundled, ~70 ms to compile on every cluster command, issue 6), and Node 20 caches no compiled
 * code for modules. The build bundles it as a script (dist/vendor/client-node.cjs); the first run
 * keeps V8's compiled code under the cache directory, keyed by the build, and later runs start
 * from it. V8 checks the data against the source and flags and rejects what does not match; then
 * the script compiles as usual and the cache is written again.
 */
export async function loadClientNode(): Promise<ClientNode> {
  // From source (tsx, tests of src/) there is no bundle: import the package. The build drops
  // this branch, so the bundle holds client-node only once, in the vendor script.
  if (typeof __IDP_BUILD_ID__ === 'undefined') return import('./client-node.js')
  const file = fileURLToPath(new URL('../../vendor/client-node.cjs', import.meta.url))
  const cacheFile = path.join(cacheDir(), 'code', `client-node-${__IDP_BUILD_ID__}.bin`)
  const [source, cachedData] = await Promise.all([readFile(file, 'utf8'), readFile(cacheFile).catch(() => undefined)])
  const script = new vm.Script(Module.wrap(source), {filename: file, ...(cachedData ? {cachedData} : {})})
  const module = {exports: {} as ClientNode}
  ;(script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, path.dirname(file))
  // After running, so the functions compiled while loading are in the data too.
  if (!cachedData || script.cachedDataRejected) await keepCode(cacheFile, script.createCachedData())
  return module.exports
}

/** Best effort: without it the next run compiles again. Data of other builds is removed. */
async function keepCode(cacheFile: string, data: Buffer): Promise<void> {
  try {
    await writePrivateFile(cacheFile, data)
    const dir = path.dirname(cacheFile)
    for (const name of await readdir(dir)) {
      if (name.startsWith('client-node-') && name.endsWith('.bin') && path.join(dir, name) !== cacheFile) await rm(path.join(dir, name), {force: true})
    }
  } catch {}
}

import {readdir, readFile, rm} from 'node:fs/promises'
import {createRequire} from 'node:module'
import Module from 'node:module'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

import {BUILD_ID} from '../cli/build.js'
import {cacheDir, writePrivateFile} from '../cli/paths.js'

type ClientNode = typeof import('./client-node.js')

/**
 * @kubernetes/client-node, loaded with V8's code cache. It is the largest thing idp runs (1.8 MB
 * bundled, ~70 ms to compile on every cluster command, issue 6), and Node 20 caches no compiled
 * code for modules. The build bundles it as a script (dist/vendor/client-node.cjs); the first run
 * keeps V8's compiled code under the cache directory, keyed by the build, and later runs start
 * from it. V8 checks the data against the source and flags and rejects what does not match; then
 * the script compiles as usual and the cache is written again.
 */
export function loadClientNode(): Promise<ClientNode> {
  // Once per process: every kubeconfig's clients come from the same module. A failed load is
  // tried again by the next caller.
  loading ??= load().catch((error: unknown) => {
    loading = undefined
    throw error
  })
  return loading
}

let loading: Promise<ClientNode> | undefined

async function load(): Promise<ClientNode> {
  // From source (tsx, tests of src/) there is no bundle: import the package. The specifier is a
  // variable so the build does not bundle client-node a second time, as an ES module chunk.
  const fromSource = './client-node.js'
  if (BUILD_ID === undefined) return import(fromSource) as Promise<ClientNode>
  const file = fileURLToPath(new URL('../../vendor/client-node.cjs', import.meta.url))
  const cacheFile = path.join(cacheDir(), 'code', `client-node-${BUILD_ID}.bin`)
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

/**
 * Large dependencies run from V8's code cache (issue 6: start-up time).
 *
 * Node 20 keeps no compiled code between runs for modules (`module.enableCompileCache` is Node
 * 22.1+), so every start compiles everything it runs again. For scripts, V8 can keep it: the build
 * bundles the largest dependencies as CommonJS scripts under dist/vendor (oclif, which every
 * command runs; execa, which every command that starts a tool runs; @kubernetes/client-node,
 * which cluster commands run), and this loader compiles them with the code V8 kept from an earlier
 * run, under the cache directory and keyed by the build and the V8 variant (Node version and flags):
 * `~/.cache/idp/code/<name>-<build>-<variant>.bin`.
 * V8 checks the data against the source and its flags and rejects what does not match: then the
 * script compiles as usual and the data is written again when the command's work is done, so it
 * holds every function that run compiled. Data of other builds is removed then.
 *
 * The build turns this file into dist/vendor/loader.cjs: bin/run.js requires it before anything
 * else, and idp's ES modules reach the same instance through ./index.ts.
 */
import {readFileSync} from 'node:fs'
import {readdir, rm} from 'node:fs/promises'
import {createRequire} from 'node:module'
import path from 'node:path'
import vm from 'node:vm'

import {BUILD_ID} from '../cli/build.js'
import {cachePath, digest, keep, readKeptSync} from '../cli/cache.js'

/** What a vendored script exports. */
export type VendorExports = Record<string, unknown>

const loaded = new Map<string, VendorExports>()
/** Scripts whose code is to be kept when the command's work is done. */
const toKeep: Array<{name: string; script: vm.Script; file: string}> = []

/**
 * `import()` for code inside a vendored script: a script compiled by `vm` has no module loader of
 * its own, so the build rewrites the dynamic imports it needs (oclif's, of idp's commands) to call
 * this, which runs in a real CommonJS module.
 */
const importModule = (specifier: string): Promise<unknown> => import(specifier)

/** The exports of dist/vendor/<name>.cjs, run once per process. */
export function loadVendor(name: string): VendorExports {
  let exports = loaded.get(name)
  if (!exports) {
    exports = run(name)
    loaded.set(name, exports)
  }
  return exports
}

function run(name: string): VendorExports {
  const file = path.join(__dirname, `${name}.cjs`)
  const source = readFileSync(file, 'utf8')
  // The build is in the name, not hashed into it, so data of other builds can be found and removed.
  const cacheFile = BUILD_ID === undefined ? undefined : cachePath('code', `${name}-${BUILD_ID}-${v8Variant()}.bin`)
  const cachedData = cacheFile ? readKeptSync(cacheFile) : undefined
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __idpImport) {${source}\n})`, {
    filename: file,
    ...(cachedData ? {cachedData} : {}),
  })
  const module = {exports: {} as VendorExports}
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file), importModule)
  if (cacheFile && (!cachedData || script.cachedDataRejected)) keepAtExit({name, script, file: cacheFile})
  return module.exports
}

/**
 * V8 rejects data made by another Node or under other V8 flags (--max-old-space-size, --inspect,
 * ...): data is kept per variant, so runs that alternate do not rewrite it every time.
 */
function v8Variant(): string {
  return digest(process.version, process.arch, ...process.execArgv, process.env.NODE_OPTIONS ?? '').slice(0, 8)
}

function keepAtExit(entry: {name: string; script: vm.Script; file: string}): void {
  if (toKeep.length === 0) process.once('beforeExit', () => void keepCode())
  toKeep.push(entry)
}

/**
 * Once the command's work is done (Node's beforeExit: the event loop is empty, so the data holds
 * every function the run compiled, and the write may be asynchronous). Kept as every cache entry
 * is (src/lib/cli/cache.ts: whole, 0600, a failure only costs the next run a compile); data of
 * other builds is removed, as nothing would ever read it. A run that oclif ends with process.exit
 * (an error, Ctrl-C) keeps nothing; the next run that succeeds writes it.
 */
async function keepCode(): Promise<void> {
  for (const {name, script, file} of toKeep.splice(0)) {
    try {
      if (!(await keep(file, script.createCachedData()))) continue
      const build = path.basename(file).split('-').slice(0, -1).join('-')
      const dir = path.dirname(file)
      for (const other of await readdir(dir)) {
        if (other.startsWith(`${name}-`) && other.endsWith('.bin') && !other.startsWith(`${build}-`)) await rm(path.join(dir, other), {force: true})
      }
    } catch {}
  }
}

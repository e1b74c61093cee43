import {BUILD_ID} from '../cli/build.js'

type ClientNode = typeof import('./client-node.js')

/**
 * @kubernetes/client-node. It is the largest thing idp runs (1.8 MB bundled, ~70 ms to compile on
 * every cluster command, issue 6), so the build bundles it as a script (dist/vendor/client-node.cjs)
 * that runs from V8's code cache (src/lib/vendor/loader.ts).
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
  const {loadVendor} = await import('../vendor/index.js')
  return loadVendor<ClientNode>('client-node')
}

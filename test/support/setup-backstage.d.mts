/** The install directory of this Node's ABI: .tools/backstage/node-<ABI>/ (package.json, lock, backend.mjs, node_modules). */
export const installDir: string
/** npm ci there unless the stamp matches test/backstage's package.json and lock. */
export function setupBackstage(options?: {quiet?: boolean}): {installed: boolean; ms: number}
/** Backstage's scaffolder for the parity test: .tools/backstage-scaffolder/ (node_modules, and `node`: the Node that runs it). */
export const scaffolderDir: string
/** npm ci of test/backstage-scaffolder and an isolated-vm build, with a Node 18-22 (this one or IDP_BACKSTAGE_NODE), unless current. */
export function setupScaffolder(options?: {quiet?: boolean}): {installed: boolean; ms: number; node: string}

/** The install directory of this Node's ABI: .tools/backstage/node-<ABI>/ (package.json, lock, backend.mjs, node_modules). */
export const installDir: string
/** npm ci there unless the stamp matches test/backstage's package.json and lock. */
export function setupBackstage(options?: {quiet?: boolean}): {installed: boolean; ms: number}

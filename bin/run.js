#!/usr/bin/env node
// Fast path: `idp --version` answers before oclif loads (issue 6).
const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const {readFileSync} = await import('node:fs')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`idp/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else {
  // Node 22.1+ keeps compiled code of every module between runs (Node 20 has no such cache; there
  // idp caches only the Kubernetes client's code, src/lib/kube/client-node-loader.ts).
  const {default: module} = await import('node:module')
  module.enableCompileCache?.()
  // oclif as bundled by the build (one chunk shared with the commands), not from node_modules.
  const {default: oclif} = await import('../dist/oclif.js')
  await oclif.execute({dir: import.meta.url})
}

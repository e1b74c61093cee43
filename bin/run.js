#!/usr/bin/env node
// Fast path: `idp --version` answers before oclif loads (issue 6).
const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const {readFileSync} = await import('node:fs')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`idp/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else {
  // oclif as bundled by the build (one chunk shared with the commands), not from node_modules.
  const {default: oclif} = await import('../dist/oclif.js')
  await oclif.execute({dir: import.meta.url})
}

#!/usr/bin/env node
// CommonJS (bin/package.json): a script starts without Node's ES module loader, which is most of
// what `idp --version` would otherwise cost (issue 6). The rest of idp is ES modules.
'use strict'
const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  // Fast path: answered before oclif loads.
  const pkg = JSON.parse(require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'package.json'), 'utf8'))
  process.stdout.write(`idp/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else {
  // Node 22.1+ keeps compiled code of every module between runs (Node 20 has no such cache; there
  // idp caches the code of its vendored scripts, oclif and the Kubernetes client: src/lib/vendor/loader.ts).
  require('node:module').enableCompileCache?.()
  // oclif as the build vendored it (dist/vendor/oclif.cjs, run from V8's code cache by the loader,
  // src/lib/vendor/loader.ts), the same instance idp's commands import, not from node_modules.
  // The package root, not this directory: bin/package.json only marks these files as CommonJS.
  Promise.resolve()
    .then(() => require('../dist/vendor/loader.cjs').loadVendor('oclif')['@oclif/core/execute'].execute({dir: require('node:path').join(__dirname, '..', 'package.json')}))
    .catch((error) => {
      process.exitCode = 1
      console.error(error)
    })
}

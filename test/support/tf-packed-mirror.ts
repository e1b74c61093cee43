// A packed Terraform provider mirror (provider zips, as the registry serves them) made from the
// machine's unpacked one (.tools/terraformrc's filesystem_mirror, /opt/tf-plugins here). From an
// unpacked mirror terraform links each working directory to the mirror itself, so a test of how
// many copies of a provider the working directories hold needs what users have: a package that
// `terraform init` unpacks (the registry, a network or packed mirror). Built once into .tools
// (store-only zip, a few seconds for hashicorp/aws's ~700 MB) and reused while the source is the same.
import {createReadStream, createWriteStream} from 'node:fs'
import fs from 'node:fs'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import {crc32} from 'node:zlib'

import {terraformConfigFile, toolsDir} from './tool-env.js'

export interface PackedProvider {
  /** The packed mirror's root (holds registry.terraform.io/...). */
  mirror: string
  source: string
  version: string
  platform: string
  /** Bytes of the unpacked provider (what each unpacked copy costs). */
  unpackedBytes: number
}

/** The unpacked mirror .tools/terraformrc points terraform at. */
export function unpackedMirror(): string {
  const text = fs.readFileSync(terraformConfigFile, 'utf8')
  const found = /filesystem_mirror\s*\{\s*path\s*=\s*"([^"]+)"/u.exec(text)?.[1]
  if (!found) throw new Error(`${terraformConfigFile} names no filesystem_mirror: run node test/support/setup-tools.mjs on a machine with the provider mirror`)
  return found
}

async function crcOf(file: string): Promise<number> {
  let crc = 0
  for await (const chunk of createReadStream(file, {highWaterMark: 1 << 20})) crc = crc32(chunk as Buffer, crc)
  return crc
}

/** A zip of `files` (stored, not compressed; unix modes kept) at `target`. */
async function storeZip(target: string, files: Array<{name: string; file: string}>): Promise<void> {
  const out = createWriteStream(target)
  const write = (data: Buffer) => new Promise<void>((resolve, reject) => out.write(data, (error) => (error ? reject(error) : resolve())))
  const central: Buffer[] = []
  let offset = 0
  for (const {name, file} of files) {
    const info = fs.statSync(file)
    if (info.size >= 0xffffffff) throw new Error(`${file} needs zip64`)
    const crc = await crcOf(file)
    const nameBytes = Buffer.from(name)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(0, 6)
    local.writeUInt16LE(0, 8) // stored
    local.writeUInt16LE(0, 10)
    local.writeUInt16LE(0x21, 12) // 1980-01-01
    local.writeUInt32LE(crc >>> 0, 14)
    local.writeUInt32LE(info.size, 18)
    local.writeUInt32LE(info.size, 22)
    local.writeUInt16LE(nameBytes.length, 26)
    local.writeUInt16LE(0, 28)
    await write(Buffer.concat([local, nameBytes]))
    await pipeline(createReadStream(file, {highWaterMark: 1 << 20}), out, {end: false})
    const entry = Buffer.alloc(46)
    entry.writeUInt32LE(0x02014b50, 0)
    entry.writeUInt16LE((3 << 8) | 20, 4) // made by unix: external attributes carry the mode
    entry.writeUInt16LE(20, 6)
    entry.writeUInt16LE(0, 8)
    entry.writeUInt16LE(0, 10)
    entry.writeUInt16LE(0, 12)
    entry.writeUInt16LE(0x21, 14)
    entry.writeUInt32LE(crc >>> 0, 16)
    entry.writeUInt32LE(info.size, 20)
    entry.writeUInt32LE(info.size, 24)
    entry.writeUInt16LE(nameBytes.length, 28)
    entry.writeUInt32LE(((info.mode & 0o177777) << 16) >>> 0, 38)
    entry.writeUInt32LE(offset, 42)
    central.push(entry, nameBytes)
    offset += 30 + nameBytes.length + info.size
  }
  const directory = Buffer.concat(central)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(files.length, 8)
  end.writeUInt16LE(files.length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  await write(Buffer.concat([directory, end]))
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())))
}

/** hashicorp/aws of the machine's mirror, packed: built on first use, then reused. */
export async function packedAwsMirror(): Promise<PackedProvider> {
  const source = path.join(unpackedMirror(), 'registry.terraform.io', 'hashicorp', 'aws')
  const version = fs.readdirSync(source).sort().at(-1)!
  const platform = fs.readdirSync(path.join(source, version)).find((p) => p === 'linux_amd64') ?? fs.readdirSync(path.join(source, version))[0]!
  const dir = path.join(source, version, platform)
  const files = fs.readdirSync(dir).sort().map((name) => ({name, file: path.join(dir, name)}))
  const unpackedBytes = files.reduce((sum, f) => sum + fs.statSync(f.file).size, 0)
  const mirror = path.join(toolsDir, 'tf-mirror-packed')
  const zip = path.join(mirror, 'registry.terraform.io', 'hashicorp', 'aws', `terraform-provider-aws_${version}_${platform}.zip`)
  const stamp = `${zip}.source`
  const identity = JSON.stringify(files.map((f) => [f.name, fs.statSync(f.file).size, fs.statSync(f.file).mtimeMs]))
  if (!(fs.existsSync(zip) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === identity)) {
    fs.mkdirSync(path.dirname(zip), {recursive: true})
    const temporary = `${zip}.${process.pid}.tmp`
    await storeZip(temporary, files)
    fs.renameSync(temporary, zip)
    fs.writeFileSync(stamp, identity)
  }
  return {mirror, source: 'registry.terraform.io/hashicorp/aws', version, platform, unpackedBytes}
}

/** A Terraform CLI configuration that installs hashicorp/* from `mirror` only, with `extra` lines (plugin_cache_dir) before. */
export function mirrorConfig(file: string, mirror: string, extra: string[] = []): string {
  fs.writeFileSync(
    file,
    [
      ...extra,
      'provider_installation {',
      '  filesystem_mirror {',
      `    path    = ${JSON.stringify(mirror)}`,
      '    include = ["registry.terraform.io/hashicorp/*"]',
      '  }',
      '  direct {',
      '    exclude = ["registry.terraform.io/hashicorp/*"]',
      '  }',
      '}',
      '',
    ].join('\n'),
  )
  return file
}

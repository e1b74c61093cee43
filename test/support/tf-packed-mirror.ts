// A packed Terraform provider mirror (provider zips, as the registry serves them) made from the
// machine's unpacked one (.tools/terraformrc's filesystem_mirror, /opt/tf-plugins here). From an
// unpacked mirror terraform links each working directory to the mirror itself, so a test of how
// many copies of a provider the working directories hold needs what users have: a package that
// `terraform init` unpacks (the registry, a network or packed mirror). Built once into .tools
// (deflated like the registry's zips: ~180 MB and ~20 s for hashicorp/aws's ~700 MB) and reused
// while the source is the same.
import {createReadStream} from 'node:fs'
import fs from 'node:fs'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import {crc32, createDeflateRaw} from 'node:zlib'

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

/**
 * A zip of `files` at `target`, deflated (level 1) as the registry's provider packages are, unix
 * modes kept. Each entry's header is written first and its sizes and CRC filled in after the data.
 */
async function deflatedZip(target: string, files: Array<{name: string; file: string}>): Promise<void> {
  const out = await fs.promises.open(target, 'w')
  const central: Buffer[] = []
  let offset = 0
  const put = async (data: Buffer, at = offset) => {
    await out.write(data, 0, data.length, at)
    if (at === offset) offset += data.length
  }
  try {
    for (const {name, file} of files) {
      const info = fs.statSync(file)
      const nameBytes = Buffer.from(name)
      const headerAt = offset
      const local = Buffer.alloc(30)
      local.writeUInt32LE(0x04034b50, 0)
      local.writeUInt16LE(20, 4)
      local.writeUInt16LE(8, 8) // deflate
      local.writeUInt16LE(0x21, 12) // 1980-01-01
      local.writeUInt16LE(nameBytes.length, 26)
      await put(Buffer.concat([local, nameBytes]))
      let crc = 0
      let compressed = 0
      const deflate = createDeflateRaw({level: 1})
      const reading = pipeline(
        createReadStream(file, {highWaterMark: 1 << 20}),
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            crc = crc32(chunk, crc)
            yield chunk
          }
        },
        deflate,
      )
      for await (const chunk of deflate as AsyncIterable<Buffer>) {
        compressed += chunk.length
        await put(chunk)
      }
      await reading
      if (compressed >= 0xffffffff || info.size >= 0xffffffff) throw new Error(`${file} needs zip64`)
      const sizes = Buffer.alloc(12)
      sizes.writeUInt32LE(crc >>> 0, 0)
      sizes.writeUInt32LE(compressed, 4)
      sizes.writeUInt32LE(info.size, 8)
      await put(sizes, headerAt + 14)
      const entry = Buffer.alloc(46)
      entry.writeUInt32LE(0x02014b50, 0)
      entry.writeUInt16LE((3 << 8) | 20, 4) // made by unix: external attributes carry the mode
      entry.writeUInt16LE(20, 6)
      entry.writeUInt16LE(8, 10)
      entry.writeUInt16LE(0x21, 14)
      sizes.copy(entry, 16)
      entry.writeUInt16LE(nameBytes.length, 28)
      entry.writeUInt32LE(((info.mode & 0o177777) << 16) >>> 0, 38)
      entry.writeUInt32LE(headerAt, 42)
      central.push(entry, nameBytes)
    }
    const directory = Buffer.concat(central)
    const end = Buffer.alloc(22)
    end.writeUInt32LE(0x06054b50, 0)
    end.writeUInt16LE(files.length, 8)
    end.writeUInt16LE(files.length, 10)
    end.writeUInt32LE(directory.length, 12)
    end.writeUInt32LE(offset, 16)
    await put(Buffer.concat([directory, end]))
  } finally {
    await out.close()
  }
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
  // The stamp names the packing too: a zip of another layout is made again.
  const identity = JSON.stringify(['deflate-1', ...files.map((f) => [f.name, fs.statSync(f.file).size, fs.statSync(f.file).mtimeMs])])
  if (!(fs.existsSync(zip) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === identity)) {
    fs.mkdirSync(path.dirname(zip), {recursive: true})
    const temporary = `${zip}.${process.pid}.tmp`
    await deflatedZip(temporary, files)
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

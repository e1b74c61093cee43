import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {createRequire} from 'node:module'
import {describe, expect, it} from 'vitest'

import {repoRoot, runCli, runProcess} from '../support/cli.js'

/**
 * scripts/build.mjs patches start-up costs inside oclif and its helpers (issue 6). These tests
 * hold the assumptions those patches rest on, on the built CLI.
 */
const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
/** idp's ES module chunks. */
const chunks = () => {
  const dir = path.join(repoRoot, 'dist', 'lib', 'chunks')
  return readdirSync(dir).map((name) => readFileSync(path.join(dir, name), 'utf8'))
}
const vendored = (name: string) => readFileSync(path.join(repoRoot, 'dist', 'vendor', `${name}.cjs`), 'utf8')
/** Everything the build bundled: the chunks and the vendored scripts. */
const bundle = () => [...chunks(), vendored('oclif'), vendored('execa'), vendored('client-node')]

describe('build patches of oclif', () => {
  it('sorts commands by code unit, which is the locale order for the ids idp has', () => {
    const ids = Object.keys(manifest.commands)
    expect(ids.length).toBeGreaterThan(10)
    // A new command id outside this alphabet could sort differently: then drop or widen the patch.
    for (const id of ids) expect(id).toMatch(/^[a-z0-9:-]+$/u)
    const byLocale = [...ids].sort((a, b) => a.localeCompare(b))
    const byCodeUnit = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    expect(byCodeUnit).toEqual(byLocale)
    expect(bundle().some((code) => code.includes('.id.localeCompare('))).toBe(false)
  })

  it('still prints oclif debug output when DEBUG is set, and nothing without it', async () => {
    const withDebug = await runCli(['templates', 'list', '--json'], {env: {DEBUG: 'oclif:main'}})
    expect(withDebug.code).toBe(0)
    expect(withDebug.stderr).toMatch(/oclif:main process\.argv/u)
    const without = await runCli(['templates', 'list', '--json'], {env: {DEBUG: ''}})
    expect(without.code).toBe(0)
    expect(without.stderr).not.toMatch(/oclif:main/u)
  })

  it('help text without an ejs tag is what ejs would make of it, and printable ASCII is as wide as it is long', () => {
    // Every text oclif's help renders: command descriptions, summaries, examples, flag and arg descriptions.
    const texts: string[] = []
    const collect = (value: unknown): void => {
      if (typeof value === 'string') texts.push(value)
      else if (Array.isArray(value)) for (const v of value) collect(v)
      else if (value && typeof value === 'object') for (const [key, v] of Object.entries(value)) if (['description', 'summary', 'examples', 'flags', 'args', 'command'].includes(key) || typeof v === 'object') collect(v)
    }
    collect(manifest.commands)
    expect(texts.length).toBeGreaterThan(100)
    const require = createRequire(import.meta.url)
    const ejs = require('ejs') as {render: (t: string, data: object) => string}
    const plain = texts.filter((t) => !t.includes('<%'))
    expect(plain.length).toBeGreaterThan(50)
    for (const text of plain) expect(ejs.render(text, {config: {bin: 'idp'}})).toBe(text)

    // The top-level string-width (4.x, unpatched in node_modules) against the patch's answer.
    const stringWidth = require('string-width') as (s: string) => number
    const ascii = [...texts.flatMap((t) => t.split('\n')), ...Array.from({length: 95}, (_, i) => String.fromCodePoint(0x20 + i)), '#', '*', '0', '#*0123456789', '']
      .filter((line) => /^[\x20-\x7E]*$/u.test(line))
    expect(ascii.length).toBeGreaterThan(200)
    for (const line of ascii) expect(stringWidth(line), JSON.stringify(line)).toBe(line.length)
    // Both patches are in the bundle.
    expect(vendored('oclif')).toContain('includes("<%")')
    expect(vendored('oclif')).toContain('/^[\\x20-\\x7E]*$/.test(')
  })

  it('bundles only the Kubernetes API groups idp uses (src/lib/kube/client-node.ts), once, in the code-cached vendor script', () => {
    const vendor = vendored('client-node')
    expect(vendor).toContain('CoordinationV1Api')
    for (const unused of ['BatchV1Api', 'StorageV1Api', 'CertificatesV1Api', 'AutoscalingV2Api']) {
      expect([vendor, ...chunks()].filter((c) => c.includes(`"${unused}"`)).length, unused).toBe(0)
    }
    // The ES module chunks hold none of it: a second copy would be compiled without the cache.
    expect(chunks().filter((c) => c.includes('"CoordinationV1Api"'))).toEqual([])
  })

  it('bundles oclif once, in the code-cached vendor script that bin/run.js and every command share', () => {
    const oclif = vendored('oclif')
    // Class names oclif defines (esbuild keeps names): its module loader's error and its help.
    for (const name of ['"ModuleLoadError"', '"CommandHelp"']) {
      expect(oclif, name).toContain(name)
      expect(chunks().filter((c) => c.includes(name)).length, name).toBe(0)
    }
    // Inside the vm script there is no module loader: every import() goes through the loader's
    // (oclif's three that load commands and hooks, and two idp never reaches).
    expect(oclif.match(/__idpImport\(/gu)).toHaveLength(5)
    expect(oclif).not.toMatch(/(?<![\w$."'`])import\(/u)
  })

  it('bundles execa once, in its code-cached vendor script, loaded by the first process start', () => {
    expect(vendored('execa')).toContain('Command failed with exit code')
    expect(chunks().filter((c) => c.includes('Command failed with exit code'))).toEqual([])
  })

  it('keeps only the Kubernetes client modules idp uses, and still builds a SOCKS agent for a socks:// proxy-url', async () => {
    const vendor = vendored('client-node')
    // Exec, attach, cp, port-forward, watch and their libraries (ws, tar-stream) are not in the bundle.
    for (const unused of ['"WebSocketHandler"', '"WebSocket"', '"PerMessageDeflate"', '"PaxHeader"', '"Watch"']) expect(vendor, unused).not.toContain(unused)
    // The SOCKS agent loads when a cluster needs it: the request reaches the proxy (nothing listens there).
    const cache = mkdtempSync(path.join(os.tmpdir(), 'idp-socks-'))
    try {
      const script = `
        const {loadVendor} = require(${JSON.stringify(path.join(repoRoot, 'dist', 'vendor', 'loader.cjs'))})
        const k8s = loadVendor('client-node')
        const kc = new k8s.KubeConfig()
        kc.loadFromOptions({
          clusters: [{name: 'c', server: 'https://203.0.113.1:6443', proxyUrl: 'socks5://127.0.0.1:1', skipTLSVerify: true}],
          users: [{name: 'u', token: 't'}],
          contexts: [{name: 'x', cluster: 'c', user: 'u'}],
          currentContext: 'x',
        })
        kc.makeApiClient(k8s.CoreV1Api).listNamespace().then(
          () => console.log('answered'),
          (error) => console.log(String(error.code ?? error.cause?.code ?? error.message)),
        )`
      const run = await runProcess(process.execPath, ['-e', script], {env: {XDG_CACHE_HOME: cache}})
      expect(run.stderr).toBe('')
      expect(run.stdout).toMatch(/ECONNREFUSED/u)
    } finally {
      rmSync(cache, {recursive: true, force: true})
    }
  })
})

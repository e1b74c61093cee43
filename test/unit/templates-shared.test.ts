// The files every bundled template shares have one source, templates/_shared/skeleton; the copies
// in each template's skeleton (Backstage cannot reach outside a template's directory) are written
// by scripts/templates.mjs and must stay in step with it.
import {chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {OWNED_DIRS, SHARED_DIR, SYNC_COMMAND, TEMPLATES_DIR, checkTemplates, idpPackage, sharedFiles, syncTemplates, templateNames} from '../../scripts/templates.mjs'
import {PACKAGE_NAME} from '../../src/lib/cli/paths.js'
import {listTemplates, resolveTemplate} from '../../src/lib/create/sources.js'

describe('templates/_shared', () => {
  it('is the source of the chart, the Terraform module, .idp.yml and the preview workflow', () => {
    const files = sharedFiles()
    expect(files).toEqual(expect.arrayContaining(['.idp.yml', '.github/workflows/preview.yml', 'chart/Chart.yaml', 'chart/templates/deployment.yaml', 'infra/main.tf', 'infra/tests/main.tftest.hcl']))
    for (const owned of OWNED_DIRS) expect(files.some((f) => f.startsWith(`${owned}/`)), owned).toBe(true)
    expect(templateNames()).toEqual(['go-service', 'python-service', 'typescript-service'])
  })

  it(`has a copy in every template, byte for byte (else: ${SYNC_COMMAND})`, () => {
    expect(checkTemplates()).toEqual([])
  })

  it('is never listed or resolved as a template', async () => {
    expect(existsSync(path.join(TEMPLATES_DIR, SHARED_DIR, 'template.yaml'))).toBe(false)
    const bundled = await listTemplates([], {includeBundled: true})
    expect(bundled.map((t) => t.name)).toEqual(templateNames())
    await expect(resolveTemplate(SHARED_DIR)).rejects.toThrow(/Unknown template "_shared"/u)
  })
})

describe('scripts/templates.mjs on a copy of templates/', () => {
  let dir = ''
  afterEach(() => {
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('names each drifted copy and the command, and sync puts them back without touching per-template files', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'idp-templates-shared-'))
    const templates = path.join(dir, 'templates')
    cpSync(TEMPLATES_DIR, templates, {recursive: true})
    // From a state in step, so that drift in the repository fails only the test above.
    syncTemplates(templates)
    const skeleton = (name: string, rel: string) => path.join(templates, name, 'skeleton', rel)
    const ci = readFileSync(skeleton('go-service', '.github/workflows/ci.yml'))

    writeFileSync(skeleton('go-service', 'chart/values.yaml'), 'replicaCount: 9\n')
    rmSync(skeleton('python-service', '.github/workflows/preview.yml'))
    chmodSync(skeleton('typescript-service', 'infra/main.tf'), 0o755)
    writeFileSync(skeleton('typescript-service', 'infra/tests/extra.tftest.hcl'), 'run "x" {}\n')

    const problems = checkTemplates(templates)
    expect(problems).toEqual([
      `templates/go-service/skeleton/chart/values.yaml differs from its source templates/_shared/skeleton/chart/values.yaml: make the change in the source, then run ${SYNC_COMMAND}`,
      `templates/python-service/skeleton/.github/workflows/preview.yml is missing (its source is templates/_shared/skeleton/.github/workflows/preview.yml): run ${SYNC_COMMAND}`,
      `templates/typescript-service/skeleton/infra/main.tf differs in its executable bit from its source templates/_shared/skeleton/infra/main.tf: make the change in the source, then run ${SYNC_COMMAND}`,
      `templates/typescript-service/skeleton/infra/tests/extra.tftest.hcl is not in templates/_shared/skeleton: run ${SYNC_COMMAND} to delete it`,
    ])

    expect(syncTemplates(templates)).toHaveLength(4)
    expect(checkTemplates(templates)).toEqual([])
    expect(syncTemplates(templates)).toEqual([])
    expect(existsSync(skeleton('typescript-service', 'infra/tests/extra.tftest.hcl'))).toBe(false)
    expect(readFileSync(skeleton('go-service', '.github/workflows/ci.yml'))).toEqual(ci)
  })

  it('keeps the idp release every template pins (idpPackage) equal to package.json, and sync writes it', () => {
    const pkg = JSON.parse(readFileSync(path.join(TEMPLATES_DIR, '..', 'package.json'), 'utf8')) as {name: string; version: string}
    expect(pkg.name).toBe(PACKAGE_NAME)
    expect(idpPackage()).toBe(`${pkg.name}@${pkg.version}`)
    dir = mkdtempSync(path.join(os.tmpdir(), 'idp-templates-version-'))
    const templates = path.join(dir, 'templates')
    cpSync(TEMPLATES_DIR, templates, {recursive: true})
    syncTemplates(templates)
    expect(checkTemplates(templates)).toEqual([])

    // The next release: every template is out of step until sync (npm version runs it).
    expect(checkTemplates(templates, 'idp-cli@0.2.0')).toEqual(
      templateNames().map((name) => `templates/${name}/template.yaml pins ${idpPackage()} (the idpPackage default), but this idp is idp-cli@0.2.0: run ${SYNC_COMMAND}`),
    )
    expect(syncTemplates(templates, 'idp-cli@0.2.0')).toHaveLength(3)
    expect(checkTemplates(templates, 'idp-cli@0.2.0')).toEqual([])
    const goTemplate = readFileSync(path.join(templates, 'go-service', 'template.yaml'), 'utf8')
    expect(goTemplate).toContain('          default: idp-cli@0.2.0\n')
    // Only that default moved: the other parameters' defaults are untouched.
    expect(goTemplate.replace('idp-cli@0.2.0', idpPackage())).toBe(readFileSync(path.join(TEMPLATES_DIR, 'go-service', 'template.yaml'), 'utf8'))

    // A template without the parameter is named: its workflow could not pin idp.
    writeFileSync(path.join(templates, 'go-service', 'template.yaml'), goTemplate.replace(/\n {8}idpPackage:\n/u, '\n        otherPackage:\n'))
    expect(checkTemplates(templates, 'idp-cli@0.2.0')).toEqual([
      'templates/go-service/template.yaml has no idpPackage parameter with a default: its preview workflow could not pin the idp release (idp-cli@0.2.0)',
    ])
  })
})

// idp create follows @backstage/plugin-scaffolder-backend 3.0.1 where idp used to have ideas of
// its own: the removed copyWithoutRender option, step inputs that do not render, `if:` truthiness
// and `each:` loops. One fixture template per behaviour (test/fixtures/backstage-semantics/).
import {mkdir, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'

import {ConfigError} from '../../src/lib/cli/errors.js'
import {createHandlers} from '../../src/lib/create/handlers.js'
import {type PrepareInput, prepareCreate} from '../../src/lib/create/prepare.js'
import {resolveTemplate} from '../../src/lib/create/sources.js'
import {isTruthy} from '../../src/lib/create/steps.js'
import {rejection} from '../support/rejection.js'

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/backstage-semantics')
const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
})
const tmp = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'idp-bs-'))
  dirs.push(d)
  return d
}

const publishOff = {requested: false, apiUrl: 'https://api.github.com', serverUrl: 'https://github.com'}

/** Prepare and render a template (no git): the files written, relative and sorted, and the warnings. */
async function render(templateDir: string, extra: Partial<PrepareInput> = {}) {
  const warnings: string[] = []
  const template = await resolveTemplate(templateDir)
  const base = await tmp()
  const prepared = await prepareCreate({template, name: 'svc', baseDir: base, git: {}, publish: publishOff, warn: (m) => warnings.push(m), ...extra})
  const {handlers, state} = createHandlers({runner: undefined as never, rendered: prepared.rendered})
  await handlers['create.render']!(prepared.plan.steps[0]!.action as never, {} as never)
  const read = (rel: string) => readFile(path.join(prepared.directory, rel), 'utf8')
  return {prepared, warnings, files: state.files ?? [], read, dir: prepared.directory}
}

/** A template directory written on the fly, for the one-off cases. */
async function templateWith(steps: string, files: Record<string, string> = {'skeleton/a.txt': '${{ values.x }}'}): Promise<string> {
  const dir = await tmp()
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), {recursive: true})
    await writeFile(path.join(dir, rel), text)
  }
  await writeFile(path.join(dir, 'template.yaml'), `apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: t}\nspec:\n  parameters:\n    - properties:\n        name: {type: string, default: t}\n  steps:\n${steps}`)
  return dir
}

describe('copyWithoutRender: removed in scaffolder-backend 2.0, ignored by current Backstage, so by idp (with a warning)', () => {
  it('renders the files it lists, as Backstage 3.x does, and says so', async () => {
    const {files, read, warnings} = await render(path.join(FIXTURES, 'copy-without-render'))
    expect(files).toEqual(['.github/workflows/ci.yml', 'README.md'])
    // Backstage 3.0.1 renders this file: ${{ github.sha }} is an undefined variable, so empty.
    expect(await read('.github/workflows/ci.yml')).toBe('name: svc\nref: ""\n')
    expect(warnings).toEqual([expect.stringMatching(/^copy-without-render\/template\.yaml|template\.yaml spec\.steps\[0\] \(fetch\): input\.copyWithoutRender is ignored, as current Backstage ignores it \(removed in @backstage\/plugin-scaffolder-backend 2\.0\.0, Backstage 1\.40\).*Rename it to copyWithoutTemplating/u)])
  })

  it('copyWithoutTemplating, the current option, copies contents as they are', async () => {
    const dir = await templateWith('    - {id: f, action: fetch:template, input: {url: ./skeleton, copyWithoutTemplating: [".github/**"], values: {x: "${{ parameters.name }}"}}}\n', {
      'skeleton/.github/workflows/ci.yml': 'ref: ${{ github.sha }} ${{ values.x }}\n',
      'skeleton/a.txt': '${{ values.x }}',
    })
    const {read, warnings} = await render(dir)
    expect(await read('.github/workflows/ci.yml')).toBe('ref: ${{ github.sha }} ${{ values.x }}\n')
    expect(await read('a.txt')).toBe('svc')
    expect(warnings).toEqual([])
  })

  it('templateFileExtension with copyWithoutTemplating is refused before anything is written, as Backstage refuses it', async () => {
    const dir = await templateWith('    - {id: f, action: fetch:template, input: {url: ./skeleton, templateFileExtension: true, copyWithoutTemplating: [a.txt]}}\n')
    const base = await tmp()
    const error = await rejection(prepareCreate({template: await resolveTemplate(dir), name: 'svc', baseDir: base, git: {}, publish: publishOff}))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toBe('template.yaml spec.steps[0] (f): input.templateFileExtension cannot be combined with copyWithoutTemplating or cookiecutterCompat.')
    expect(await readdir(base)).toEqual([])
  })
})

describe('a step input that does not render is kept as written (NunjucksWorkflowRunner.render)', () => {
  it('the Roadie `| now` pattern and an unknown filter: the raw ${{ … }} text reaches the file, with a warning each', async () => {
    const {read, warnings, prepared} = await render(path.join(FIXTURES, 'raw-inputs'))
    expect(await read('values.txt')).toBe("name=svc\nstamp=${{ '' | now }}\nbranch=add-codeowners-${{ '' | now }}\nshout=${{ parameters.name | nosuchfilter }}\n")
    expect(warnings).toEqual([
      `template.yaml spec.steps[0] (fetch): "\${{ '' | now }}" does not render (filter not found: now); it is used as written, as Backstage does.`,
      `template.yaml spec.steps[0] (fetch): "add-codeowners-\${{ '' | now }}" does not render (filter not found: now); it is used as written, as Backstage does.`,
      `template.yaml spec.steps[0] (fetch): "\${{ parameters.name | nosuchfilter }}" does not render (filter not found: nosuchfilter); it is used as written, as Backstage does.`,
      `template.yaml spec.steps[1] (createPullRequest): "add-codeowners-\${{ '' | now }}" does not render (filter not found: now); it is used as written, as Backstage does.`,
      'Step "createPullRequest" (publish:github:pull-request) skipped: publish:github:pull-request needs a Backstage server; idp does not run it locally.',
    ])
    expect(prepared.skipped).toEqual([{id: 'createPullRequest', action: 'publish:github:pull-request', reason: expect.stringContaining('Backstage server')}])
  })

  it('a sandbox escape in a step input is still refused, never passed on as text', async () => {
    for (const payload of ['${{ "".constructor.constructor("return process")() }}', '${{ process.env }}', 'x-${{ parameters.__proto__ }}']) {
      const dir = await templateWith(`    - {id: f, action: fetch:template, input: {url: ./skeleton, values: {x: '${payload}'}}}\n`)
      const base = await tmp()
      const error = await rejection(prepareCreate({template: await resolveTemplate(dir), name: 'svc', baseDir: base, git: {}, publish: publishOff}))
      expect(error).toBeInstanceOf(ConfigError)
      expect(error.message).toMatch(/^template\.yaml spec\.steps\[0\] \(f\): TemplateSecurityError: Access to "[^"]+" is not allowed in templates\.$/u)
      expect(await readdir(base)).toEqual([])
    }
  })

  it('an error in a skeleton file still stops the render (Backstage fails the fetch:template action too)', async () => {
    const dir = await templateWith('    - {id: f, action: fetch:template, input: {url: ./skeleton, values: {x: "${{ parameters.name }}"}}}\n', {'skeleton/a.txt': "${{ values.x | now }}"})
    const error = await rejection(prepareCreate({template: await resolveTemplate(dir), name: 'svc', baseDir: await tmp(), git: {}, publish: publishOff}))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toBe('Template step "f" (fetch:template): cannot render a.txt: filter not found: now')
  })

  it('the message names the location once', async () => {
    const dir = await templateWith("    - {id: f, action: fetch:template, input: {url: ./skeleton, values: {x: '${{ range.constructor }}'}}}\n")
    const error = await rejection(prepareCreate({template: await resolveTemplate(dir), name: 'svc', baseDir: await tmp(), git: {}, publish: publishOff}))
    expect(error.message).toBe('template.yaml spec.steps[0] (f): TemplateSecurityError: Access to "constructor" is not allowed in templates.')
  })
})

describe('if: as Backstage evaluates it', () => {
  it('isTruthy: a list by its length, anything else by JavaScript truthiness', () => {
    expect([[], [0], 'false', '', 0, 1, {}, null, undefined, false, true].map((v) => isTruthy(v))).toEqual([false, true, true, false, false, true, true, false, false, false, true])
  })

  it('the string "false" runs the step; an empty list, false, ${{ false }}, "" and 0 skip it', async () => {
    const {files, prepared, warnings} = await render(path.join(FIXTURES, 'if-truthiness'))
    expect(files).toEqual(['full-list.txt', 'quoted-false.txt', 'string-false.txt'])
    expect(prepared.skipped.map((s) => s.id)).toEqual(['empty-list', 'bool-false', 'expr-false', 'empty-string', 'zero'])
    expect(warnings).toEqual([])
  })
})

describe('each: loops, as Backstage runs them', () => {
  it('runs the action once per list item or object entry, with each.key and each.value; the next step finds the loop\'s folders', async () => {
    const {files, read, prepared, warnings} = await render(path.join(FIXTURES, 'each-loop'))
    expect(warnings).toEqual([])
    expect(prepared.skipped).toEqual([])
    expect(files).toEqual(['labels/team/label.txt', 'services/api/api.yaml', 'services/worker/worker.yaml', 'summary/label.txt'])
    expect(await read('services/api/api.yaml')).toBe('name: api\nport: 8080\nindex: "0"\n')
    expect(await read('services/worker/worker.yaml')).toBe('name: worker\nport: 9090\nindex: "1"\n')
    expect(await read('labels/team/label.txt')).toBe('team=platform\n')
    // A looped fetch:template has no outputs: steps.services.output is {} (Backstage collects each output name into a list).
    expect(await read('summary/label.txt')).toBe('loop-output={}\n')
    expect(prepared.files).toEqual(files)
  })

  it('each: that renders to nothing is refused, as Backstage refuses it (InputError)', async () => {
    const dir = await templateWith("    - {id: f, each: '${{ parameters.missing }}', action: fetch:template, input: {url: ./skeleton}}\n")
    const error = await rejection(prepareCreate({template: await resolveTemplate(dir), name: 'svc', baseDir: await tmp(), git: {}, publish: publishOff}))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toBe('template.yaml spec.steps[0] (f): each: "${{ parameters.missing }}" cannot be resolved to a value.')
  })

  it('an empty list runs the step zero times; the project directory still exists for git', async () => {
    const dir = await templateWith("    - {id: f, each: '${{ [] }}', action: fetch:template, input: {url: ./skeleton}}\n")
    const {files, dir: out} = await render(dir)
    expect(files).toEqual([])
    expect(await readdir(out)).toEqual([])
  })

  it('a looped action idp does not run is skipped once, with a warning', async () => {
    const dir = await templateWith("    - {id: f, action: fetch:template, input: {url: ./skeleton}}\n    - {id: pub, each: '${{ [1, 2] }}', action: publish:github, input: {repoUrl: 'github.com?owner=o&repo=r${{ each.value }}'}}\n")
    const {prepared, warnings} = await render(dir)
    expect(prepared.skipped).toEqual([{id: 'pub', action: 'publish:github', reason: 'idp runs publish:github once per template, not in an `each:` loop'}])
    expect(warnings).toEqual(['Step "pub" (publish:github) skipped: idp runs publish:github once per template, not in an `each:` loop.'])
  })
})

describe('binary or text, as Backstage decides (isbinaryfile)', () => {
  it('Latin-1 text is rendered (read as UTF-8), noise is copied byte for byte, UTF-8 text is rendered', async () => {
    const {read, files, dir} = await render(path.join(FIXTURES, 'binary-detection'))
    expect(files).toEqual(['latin1.txt', 'noise.bin', 'utf8.txt'])
    expect(await read('latin1.txt')).toBe('caf\uFFFD svc\n')
    expect(await read('utf8.txt')).toBe('naïve — svc\n')
    expect((await readFile(path.join(dir, 'noise.bin'))).equals(await readFile(path.join(FIXTURES, 'binary-detection/skeleton/noise.bin')))).toBe(true)
  })
})

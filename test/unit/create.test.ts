import {mkdir, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'

import {ConfigError, PrerequisiteError, UsageError} from '../../src/lib/cli/errors.js'
import {createHandlers, renderAll} from '../../src/lib/create/handlers.js'
import {assertComplete, coerceValue, parameterPages, parseSetFlags, resolveValues} from '../../src/lib/create/parameters.js'
import {type PrepareInput, prepareCreate} from '../../src/lib/create/prepare.js'
import {listTemplates, resolveTemplate} from '../../src/lib/create/sources.js'
import {parseTemplateText} from '../../src/lib/create/template-schema.js'
import type {FetchSpec, FileStep} from '../../src/lib/create/skeleton.js'

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/templates/backstage-style')
const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
})
const tmp = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'idp-create-'))
  dirs.push(d)
  return d
}

const publishOff = {requested: false, apiUrl: 'https://api.github.com', serverUrl: 'https://github.com'}

async function prepareFixture(baseDir: string, extra: Partial<PrepareInput> = {}) {
  const template = await resolveTemplate(FIXTURE)
  return prepareCreate({
    template,
    name: 'my-svc',
    baseDir,
    set: ['owner=group:default/team-a', 'repoUrl=github.com?owner=acme&repo=my-svc', 'description=Shop "API"', 'port=9000', 'tags=a,b'],
    git: {},
    publish: publishOff,
    config: {backstage: {baseUrl: 'https://backstage.example.com/'}},
    ...extra,
  })
}

describe('parameters', () => {
  const doc = parseTemplateText(`apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: t}
spec:
  parameters:
    - title: One
      required: [name, owner]
      properties:
        name: {type: string, pattern: '^[a-z]+$'}
        owner: {type: string, title: Owner, description: Owning team}
        replicas: {type: integer, default: 2, minimum: 1}
    - title: Two
      properties:
        public: {type: boolean, default: false}
        tier: {type: string, enum: [a, b], default: a}
        tags: {type: array, items: {type: string}}
        extra: {type: object}
  steps: []
`)
  const pages = parameterPages(doc)

  it('parses --set with the schema types', () => {
    expect(parseSetFlags(['a=1', 'b=x=y'])).toEqual({a: '1', b: 'x=y'})
    expect(() => parseSetFlags(['novalue'])).toThrow(UsageError)
    const {values} = resolveValues({pages, setValues: {replicas: '3', public: 'yes', tags: 'x, y', extra: '{k: v}', owner: 'team-a'}, name: 'shop'})
    expect(values).toEqual({name: 'shop', owner: 'team-a', replicas: 3, public: true, tier: 'a', tags: ['x', 'y'], extra: {k: 'v'}})
    expect(() => coerceValue('replicas', 'many', pages[0]?.parameters[2]?.schema, '--set')).toThrow(/must be an integer/u)
  })

  it('--values file < --set, NAME is the default for name, defaults apply', () => {
    const {values, given} = resolveValues({pages, fileValues: {owner: 'file-team', tier: 'b', replicas: 5}, setValues: {owner: 'set-team'}, name: 'shop'})
    expect(values).toMatchObject({name: 'shop', owner: 'set-team', tier: 'b', replicas: 5, public: false})
    expect([...given].sort()).toEqual(['name', 'owner', 'replicas', 'tier'])
  })

  it('a missing required parameter is a UsageError naming it', () => {
    const {values} = resolveValues({pages, name: 'shop'})
    const error = (() => {
      try {
        assertComplete(pages, values)
      } catch (e) {
        return e as UsageError
      }
    })()
    expect(error).toBeInstanceOf(UsageError)
    expect(error?.message).toContain('"owner"')
    expect(error?.hint).toContain('--set owner=VALUE')
  })

  it('rejects pattern, enum and minimum mismatches', () => {
    expect(() => resolveValues({pages, setValues: {name: 'Bad_Name'}})).toThrow(/must match the pattern/u)
    expect(() => resolveValues({pages, setValues: {tier: 'z'}})).toThrow(/must be one of "a", "b"/u)
    expect(() => resolveValues({pages, setValues: {replicas: '0'}})).toThrow(/at least 1/u)
  })

  it('checks a repository location as it is given (not at the end), in words', () => {
    const withRepo = parameterPages(
      parseTemplateText(`apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: t}
spec:
  parameters:
    - properties:
        component_id: {type: string, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'}
        repoUrl: {type: string, ui:field: RepoUrlPicker, ui:options: {allowedHosts: [github.com]}}
  steps: []
`),
    )
    const problem = (repoUrl: string) => {
      try {
        resolveValues({pages: withRepo, setValues: {repoUrl}})
        return undefined
      } catch (error) {
        return (error as Error).message
      }
    }
    expect(problem('github.com/acme/shop')).toMatch(/must be HOST\?owner=OWNER&repo=REPO, e\.g\. github\.com\?owner=ORG&repo=NAME/u)
    expect(problem('gitlab.com?owner=acme&repo=shop')).toMatch(/must be on github\.com \(got gitlab\.com\)/u)
    expect(problem('github.com?repo=shop')).toMatch(/names no owner/u)
    expect(problem('github.com?owner=acme')).toMatch(/names no repository/u)
    expect(problem('github.com?owner=acme&repo=sh op')).toMatch(/characters GitHub does not allow/u)
    // GitHub refuses these: an account name that starts or ends with a dash, a repository named . or ..
    expect(problem('github.com?owner=-acme&repo=shop')).toMatch(/owner "-acme" that GitHub does not allow: an account name cannot start or end with "-"/u)
    expect(problem('github.com?owner=acme-&repo=shop')).toMatch(/cannot start or end with "-"/u)
    expect(problem('github.com?owner=acme&repo=..')).toMatch(/names a repository GitHub does not allow \("\.\.": it must not be "\." or "\.\." or end in "\.git"\)/u)
    expect(problem('github.com?owner=acme&repo=shop.git')).toMatch(/names a repository GitHub does not allow/u)
    expect(problem('github.com?owner=acme_corp&repo=shop.api')).toBeUndefined()
    expect(problem('github.com?owner=acme&repo=shop')).toBeUndefined()
    // A pattern is explained in words, never as a regular expression.
    expect(problem('github.com?owner=acme&repo=shop') ?? '').not.toContain('^')
    expect(() => resolveValues({pages: withRepo, setValues: {component_id: 'Bad_Name'}})).toThrow(/must be lowercase letters, digits and dashes/u)
  })
})

describe('template.yaml validation', () => {
  it('reports file:line for schema problems', () => {
    const text = 'apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: t}\nspec:\n  steps:\n    - id: a\n      input: {}\n'
    const error = (() => {
      try {
        parseTemplateText(text, 'bad/template.yaml')
      } catch (e) {
        return e as ConfigError
      }
    })()
    expect(error).toBeInstanceOf(ConfigError)
    expect(error?.message).toMatch(/^bad\/template\.yaml:6:\d+: spec\.steps\.0\.action/u)
  })

  it('rejects a wrong apiVersion and broken YAML', () => {
    expect(() => parseTemplateText('apiVersion: backstage.io/v1beta2\nkind: Template\nmetadata: {name: t}\nspec: {steps: []}\n')).toThrow(/template\.yaml:1:\d+: apiVersion/u)
    expect(() => parseTemplateText('a: [\n')).toThrow(/invalid YAML/u)
  })
})

describe('template sources', () => {
  it('lists the fixture directory and resolves names, paths and template.yaml files', async () => {
    const list = await listTemplates([path.dirname(FIXTURE)], {includeBundled: false})
    expect(list).toEqual([{name: 'backstage-style', title: 'Backstage-style Node.js service', description: expect.any(String), source: 'dir', path: FIXTURE}])
    expect((await resolveTemplate('backstage-style', {extraDirs: [path.dirname(FIXTURE)]})).source).toBe('dir')
    expect((await resolveTemplate(path.join(FIXTURE, 'template.yaml'))).dir).toBe(FIXTURE)
    await expect(resolveTemplate('no-such-template', {extraDirs: [path.dirname(FIXTURE)]})).rejects.toThrow(/Unknown template "no-such-template"/u)
  })
})

describe('the Backstage-style fixture renders as Backstage would', () => {
  it('renders every file as expected', async () => {
    const base = await tmp()
    const prepared = await prepareFixture(base)
    expect(prepared.directory).toBe(path.join(base, 'my-svc'))
    expect(prepared.branch).toBe('trunk')
    expect(prepared.skipped).toEqual([{id: 'log', action: 'debug:log', reason: expect.stringContaining('Backstage server')}])
    expect(prepared.catalogRegisterUrl).toBe(`https://backstage.example.com/catalog-import?targetUrl=${encodeURIComponent('https://github.com/acme/my-svc/blob/trunk/catalog-info.yaml')}`)
    expect(prepared.values).toMatchObject({component_id: 'my-svc', port: 9000, tags: ['a', 'b'], includeDocs: true, tier: 'silver'})

    const {handlers} = createHandlers({runner: undefined as never})
    const render = prepared.plan.steps.find((s) => s.id === 'render')!
    await handlers['create.render']!(render.action as never, {} as never)
    const dir = prepared.directory
    const read = (p: string) => readFile(path.join(dir, p), 'utf8')
    expect(await read('catalog-info.yaml')).toBe(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: "my-svc"
  description: "Shop \\"API\\""
  annotations:
    github.com/project-slug: acme/my-svc
    backstage.io/techdocs-ref: dir:.
  tags: ["a","b"]
spec:
  type: service
  lifecycle: experimental
  owner: "group:default/team-a"
`)
    expect(await read('README.md')).toBe(`# my-svc

Shop "API"
Repository: acme/my-svc on github.com
Owner group: team-a (kind group)
Tier: SILVER; port 9001; tags [a][b]
Literal GitHub expression kept: {{ github.sha }}

`)
    expect(await read('.github/workflows/ci.yaml')).toContain('echo "${{ github.sha }} ${{ values.name }}"')
    expect(await read('my-svc/index.js')).toBe("export const name = 'my-svc'\nexport const port = 9000\n")
    expect(await read('docs/index.md')).toBe('# Docs for my-svc\n')
    expect(await read('plain/NOTICE.txt')).toBe('Not rendered: ${{ values.name }}\n')
    const logo = await readFile(path.join(dir, 'assets/logo.png'))
    expect(Buffer.compare(logo, await readFile(path.join(FIXTURE, 'skeleton/assets/logo.png')))).toBe(0)
  })

  it('drops the docs file when includeDocs is false and has no description block without one', async () => {
    const base = await tmp()
    const prepared = await prepareFixture(base, {set: ['owner=team-a', 'repoUrl=github.com?owner=acme&repo=my-svc', 'includeDocs=false']})
    expect(prepared.files).not.toContain('docs/index.md')
    await renderAll((prepared.plan.steps[0]!.action as unknown as {params: {files: never}}).params.files, prepared.directory, [])
    expect(await read(prepared.directory, 'catalog-info.yaml')).not.toContain('description')
    expect(await read(prepared.directory, 'README.md')).toContain('No description.')
  })

  it('the render step writes what prepareCreate rendered for the plan\'s own steps, without rendering again', async () => {
    const base = await tmp()
    const prepared = await prepareFixture(base, {set: ['owner=team-a', 'repoUrl=github.com?owner=acme&repo=my-svc']})
    const files = (prepared.plan.steps[0]!.action as {params?: {files?: FileStep[]}}).params!.files!
    const fetches = files.filter((f): f is FetchSpec => f.kind === 'fetch')
    expect(fetches.length).toBeGreaterThan(0)
    expect(fetches.every((f) => prepared.rendered.has(f))).toBe(true)
    // What was rendered is what is written: a marked copy shows the step used it.
    const marked = new Map([...prepared.rendered].map(([step, result]) => [step, {...result, ops: result.ops.map((op) => (op.kind === 'write' && op.to === 'README.md' ? {...op, content: 'from prepare\n'} : op))}]))
    await renderAll(files, prepared.directory, [], {rendered: marked})
    expect(await read(prepared.directory, 'README.md')).toBe('from prepare\n')
  })
})

async function read(dir: string, file: string) {
  return readFile(path.join(dir, file), 'utf8')
}

describe('safety before any write', () => {
  it('a non-DNS name, a missing required value, a non-empty target fail with nothing written', async () => {
    const base = await tmp()
    await expect(prepareFixture(base, {name: 'My_Svc'})).rejects.toThrow(UsageError)
    await expect(prepareFixture(base, {set: ['repoUrl=github.com?owner=a&repo=b']})).rejects.toThrow(/"owner"/u)
    await mkdir(path.join(base, 'my-svc'))
    await writeFile(path.join(base, 'my-svc', 'keep.txt'), 'mine')
    const error = await prepareFixture(base).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).message).toMatch(/not empty/u)
    expect((error as UsageError).hint).toMatch(/--force/u)
    expect(await readdir(path.join(base, 'my-svc'))).toEqual(['keep.txt'])
    expect((await prepareFixture(base, {force: true})).directory).toBe(path.join(base, 'my-svc'))
  })

  it('--publish without a token is a PrerequisiteError before anything is written', async () => {
    const base = await tmp()
    await expect(prepareFixture(base, {publish: {...publishOff, requested: true}})).rejects.toThrow(PrerequisiteError)
    expect(await readdir(base)).toEqual([])
  })

  it('catalog:register: the plan registers only with --publish, a Backstage URL and a token; else it says why', async () => {
    const base = await tmp()
    const backstage = {baseUrl: 'https://backstage.example.com', hasToken: true}
    const published = {requested: true, token: 'ghp_x', apiUrl: 'https://api.github.com', serverUrl: 'https://github.com'}
    const registering = await prepareFixture(base, {publish: published, backstage})
    expect(registering.catalogRegistration).toEqual({register: true, baseUrl: 'https://backstage.example.com'})
    expect(registering.plan.steps.map((s) => s.id).slice(-2)).toEqual(['catalog', 'catalog-register'])
    expect(JSON.stringify(registering.plan)).not.toContain('ghp_x')
    const local = await prepareFixture(base, {backstage})
    expect(local.catalogRegistration).toEqual({register: false, reason: 'the repository was not published (--publish), so Backstage has nowhere to read catalog-info.yaml from'})
    expect(local.plan.steps.map((s) => s.id)).not.toContain('catalog-register')
    expect((await prepareFixture(base, {publish: published, backstage: {hasToken: true}})).catalogRegistration).toMatchObject({register: false, reason: expect.stringMatching(/^no Backstage URL/u)})
    expect((await prepareFixture(base, {publish: published, backstage: {...backstage, hasToken: false}})).catalogRegistration).toMatchObject({register: false, reason: expect.stringMatching(/^BACKSTAGE_TOKEN is not set/u)})
    expect(await readdir(base)).toEqual([])
  })

  it('a template error in a skeleton file fails in prepare, before anything is written', async () => {
    const base = await tmp()
    const tpl = await tmp()
    await mkdir(path.join(tpl, 'skeleton'))
    await writeFile(path.join(tpl, 'template.yaml'), 'apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: broken}\nspec:\n  steps:\n    - {id: f, action: fetch:template, input: {url: ./skeleton}}\n')
    await writeFile(path.join(tpl, 'skeleton', 'a.txt'), 'fine')
    await writeFile(path.join(tpl, 'skeleton', 'b.txt'), '${{ values.x | nope }}')
    const template = await resolveTemplate(tpl)
    await expect(prepareCreate({template, name: 'svc', baseDir: base, git: {}, publish: publishOff})).rejects.toThrow(ConfigError)
    expect(await readdir(base)).toEqual([])
  })

  it('a failure after files were written removes what this run created', async () => {
    const base = await tmp()
    const prepared = await prepareFixture(base)
    const {handlers} = createHandlers({
      runner: undefined as never,
      afterFetch: async (spec) => {
        if (spec.id === 'fetch-plain') throw new Error('injected failure after writing')
      },
    })
    const render = prepared.plan.steps[0]!
    await expect(handlers['create.render']!(render.action as never, {} as never)).rejects.toThrow(/injected/u)
    expect(await readdir(base)).toEqual([])
  })

  it('with --force into an existing directory, undo removes only what the run created', async () => {
    const base = await tmp()
    await mkdir(path.join(base, 'my-svc'))
    await writeFile(path.join(base, 'my-svc', 'keep.txt'), 'mine')
    const prepared = await prepareFixture(base, {force: true})
    const {handlers} = createHandlers({runner: undefined as never})
    await handlers['create.render']!(prepared.plan.steps[0]!.action as never, {} as never)
    expect((await readdir(prepared.directory)).length).toBeGreaterThan(1)
    await handlers['create.undoRender']!(prepared.plan.steps[0]!.undo![0] as never, {} as never)
    expect(await readdir(prepared.directory)).toEqual(['keep.txt'])
  })
})

describe('plan', () => {
  it('is git init, add, commit (no hooks; the identity in -c and in the environment), and catalog check', async () => {
    const prepared = await prepareFixture(await tmp(), {git: {authorName: 'Jane', authorEmail: 'jane@example.com'}})
    expect(prepared.plan.steps.map((s) => s.id)).toEqual(['render', 'git-init', 'git-add', 'git-commit', 'catalog'])
    const commit = prepared.plan.steps.find((s) => s.id === 'git-commit')!.action
    expect(commit).toMatchObject({kind: 'tool', tool: 'git', cwd: prepared.directory})
    expect((commit as {argv: string[]}).argv).toEqual(['-c', 'core.hooksPath=/dev/null', '-c', 'user.name=Jane', '-c', 'user.email=jane@example.com', 'commit', '--quiet', '--no-verify', '--message', 'Initial commit from idp template backstage-style'])
    expect((commit as {env: Record<string, string>}).env).toEqual({GIT_AUTHOR_NAME: 'Jane', GIT_AUTHOR_EMAIL: 'jane@example.com', GIT_COMMITTER_NAME: 'Jane', GIT_COMMITTER_EMAIL: 'jane@example.com'})
    expect(prepared.plan.steps.find((s) => s.id === 'git-init')!.action).toMatchObject({argv: ['-c', 'core.hooksPath=/dev/null', 'init', '--initial-branch', 'trunk']})
    expect(JSON.parse(JSON.stringify(prepared.plan))).toEqual(prepared.plan)
  })

  it('falls back to git config, then idp <idp@localhost>', async () => {
    const fromConfig = await prepareFixture(await tmp(), {git: {configName: 'Cfg', configEmail: 'cfg@x'}})
    expect((fromConfig.plan.steps[3]!.action as {argv: string[]}).argv.slice(2, 6)).toEqual(['-c', 'user.name=Cfg', '-c', 'user.email=cfg@x'])
    const none = await prepareFixture(await tmp())
    expect((none.plan.steps[3]!.action as {argv: string[]}).argv.slice(2, 6)).toEqual(['-c', 'user.name=idp', '-c', 'user.email=idp@localhost'])
  })

  it('with a token and --publish adds the GitHub repo (undo deletes it) and the push', async () => {
    const prepared = await prepareFixture(await tmp(), {publish: {...publishOff, requested: true, token: 'ghp_example'}})
    const repo = prepared.plan.steps.find((s) => s.id === 'github-repo')!
    expect(repo.action).toMatchObject({kind: 'api', op: 'github.createRepo', params: {owner: 'acme', name: 'my-svc', visibility: 'internal', description: 'This is my-svc'}})
    expect(repo.undo).toEqual([expect.objectContaining({op: 'github.deleteRepo', params: {owner: 'acme', name: 'my-svc', host: 'github.com'}})])
    expect(prepared.plan.steps.map((s) => s.id)).toContain('git-push')
    expect(JSON.stringify(prepared.plan)).not.toContain('ghp_example')
  })
})

describe('fs:delete and fs:rename run in the new directory', () => {
  it('deletes and renames inside the target only, honouring if:', async () => {
    const tpl = await tmp()
    await mkdir(path.join(tpl, 'skeleton', 'infra'), {recursive: true})
    await writeFile(path.join(tpl, 'skeleton', 'infra', 'main.tf'), '# ${{ values.name }}')
    await writeFile(path.join(tpl, 'skeleton', 'app.txt'), 'app')
    await writeFile(path.join(tpl, 'template.yaml'), `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: fs-ops}
spec:
  parameters:
    properties:
      infra: {type: boolean, default: false}
  steps:
    - {id: fetch, action: fetch:template, input: {url: ./skeleton, values: {name: x}}}
    - {id: drop, if: '\${{ not parameters.infra }}', action: fs:delete, input: {files: [infra]}}
    - {id: mv, action: fs:rename, input: {files: [{from: app.txt, to: src/app.txt}]}}
`)
    const template = await resolveTemplate(tpl)
    const base = await tmp()
    const prepared = await prepareCreate({template, name: 'svc', baseDir: base, git: {}, publish: publishOff})
    expect(prepared.files).toEqual(['src/app.txt'])
    const {handlers, state} = createHandlers({runner: undefined as never})
    await handlers['create.render']!(prepared.plan.steps[0]!.action as never, {} as never)
    expect(state.files).toEqual(['src/app.txt'])
    expect((await readdir(prepared.directory)).sort()).toEqual(['src'])

    const kept = await prepareCreate({template, name: 'svc2', baseDir: base, set: ['infra=true'], git: {}, publish: publishOff})
    expect(kept.files).toEqual(['infra/main.tf', 'src/app.txt'])
    expect(kept.skipped).toEqual([{id: 'drop', action: 'fs:delete', reason: 'its `if:` condition is false'}])
  })

  it('refuses fs:delete paths outside the target', async () => {
    const tpl = await tmp()
    await mkdir(path.join(tpl, 'skeleton'))
    await writeFile(path.join(tpl, 'skeleton', 'a.txt'), 'a')
    await writeFile(path.join(tpl, 'template.yaml'), 'apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: t}\nspec:\n  steps:\n    - {id: f, action: fetch:template, input: {url: ./skeleton}}\n    - {id: d, action: fs:delete, input: {files: [../../etc]}}\n')
    const base = await tmp()
    await expect(prepareCreate({template: await resolveTemplate(tpl), name: 'svc', baseDir: base, git: {}, publish: publishOff})).rejects.toThrow(/contains "\.\."/u)
    expect(await readdir(base)).toEqual([])
  })
})

describe('secret parameters', () => {
  it('a password parameter used in a step input never appears in the plan, its JSON or the result values', async () => {
    const {clearSecretsForTests} = await import('../../src/lib/cli/redact.js')
    const {formatPlan, planForJson} = await import('../../src/lib/plan/format.js')
    const CANARY = 'canary-Zq7vW3pX9'
    const dir = await tmp()
    const templateDir = path.join(dir, 'tpl')
    await mkdir(path.join(templateDir, 'skeleton'), {recursive: true})
    await writeFile(path.join(templateDir, 'skeleton', 'config.txt'), 'db=${{ values.dbPass }}\n')
    await writeFile(
      path.join(templateDir, 'template.yaml'),
      `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: secret-tpl}
spec:
  parameters:
    - required: [name, dbPass]
      properties:
        name: {type: string}
        dbPass: {type: string, ui:widget: password, minLength: 12}
  steps:
    - id: fetch
      action: fetch:template
      input: {url: ./skeleton, values: {dbPass: '\${{ parameters.dbPass }}'}}
`,
    )
    try {
      const prepared = await prepareCreate({template: await resolveTemplate(templateDir), name: 'svc', baseDir: dir, set: [`dbPass=${CANARY}`], git: {}, publish: publishOff})
      expect(JSON.stringify(planForJson(prepared.plan))).not.toContain(CANARY)
      expect(formatPlan(prepared.plan)).not.toContain(CANARY)
      expect(JSON.stringify(prepared.values)).not.toContain(CANARY)
      // The plan still carries the value for the render step itself.
      expect(JSON.stringify(prepared.plan)).toContain(CANARY)
      // A secret that fails its check is not quoted back (JSON escaping would slip past the redactor).
      const bad = await prepareCreate({template: await resolveTemplate(templateDir), name: 'svc', baseDir: dir, set: ['dbPass=a"b-c4n4ry'], git: {}, publish: publishOff}).catch((e: unknown) => e)
      expect(bad).toBeInstanceOf(UsageError)
      expect(`${(bad as UsageError).message}${(bad as UsageError).hint}`).not.toContain('c4n4ry')
    } finally {
      clearSecretsForTests()
    }
  })
})

describe('user keys never reach Object.prototype', () => {
  it('a --values file or --set with __proto__ is refused, and cannot satisfy a required parameter', () => {
    const pages = parameterPages(parseTemplateText(`apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: t}
spec:
  parameters: [{required: [owner], properties: {owner: {type: string}}}]
  steps: []
`))
    const fileValues = JSON.parse('{"__proto__": {"owner": "team-evil"}}') as Record<string, unknown>
    expect(() => resolveValues({pages, fileValues, valuesFile: 'answers.json'})).toThrow(/--values answers.json: "__proto__" cannot be a parameter name/u)
    expect(() => resolveValues({pages, setValues: {constructor: 'x'}})).toThrow(UsageError)
    expect(({} as Record<string, unknown>).owner).toBeUndefined()
  })
})

describe('inputs are bounded', () => {
  it('--values /dev/zero, a directory or a file over 1 MiB is refused at once, not read', async () => {
    const {readValuesFile} = await import('../../src/lib/create/parameters.js')
    await expect(readValuesFile('/dev/zero')).rejects.toThrow(/not a regular file/u)
    const dir = await tmp()
    await expect(readValuesFile(dir)).rejects.toThrow(UsageError)
    const big = path.join(dir, 'big.yaml')
    await writeFile(big, `a: ${'x'.repeat(1024 * 1024)}\n`)
    await expect(readValuesFile(big)).rejects.toThrow(/at most 1048576 bytes/u)
    await writeFile(path.join(dir, 'template.yaml'), `# ${'x'.repeat(1024 * 1024)}\n`)
    await expect(resolveTemplate(dir)).rejects.toThrow(ConfigError)
  })
})


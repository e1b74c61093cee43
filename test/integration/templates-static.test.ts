// The bundled golden-path templates, checked the way a platform team and a new service's CI
// would: template.yaml as a Backstage entity, rendered by the built `idp create`, then the real
// tools on the result (helm lint/template, terraform validate/test against the machine's
// provider mirror with a mocked AWS provider, the service's own tests).
import {
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  componentEntityV1alpha1Validator,
  type Entity,
} from '@backstage/catalog-model'
import {execFile} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import picomatch from 'picomatch'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse, parseAllDocuments} from 'yaml'

import {checkConfigText} from '../../src/lib/config/validate.js'
import {helmBinary, repoRoot, terraformConfigFile, toolEnv} from '../support/tool-env.js'
import {actionlint} from '../support/workflow-lint.js'

const exec = promisify(execFile)
const templatesDir = path.join(repoRoot, 'templates')
const cli = path.join(repoRoot, 'bin', 'run.js')
const NAME = 'demo-svc'
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {name: string; version: string}

const entityPolicy = EntityPolicies.allOf([
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
  new SchemaValidEntityPolicy(),
])

interface TemplateDoc {
  apiVersion: string
  kind: string
  metadata: {name: string; title?: string; description?: string; tags?: string[]}
  spec: {
    owner: string
    type: string
    parameters: Array<{title: string; required?: string[]; properties: Record<string, {type: string; default?: unknown; pattern?: string; 'ui:field'?: string}>}>
    steps: Array<{id: string; action: string; if?: string; input: Record<string, unknown>}>
    output?: {links?: unknown[]}
  }
}

function readTemplate(name: string): TemplateDoc {
  return parse(fs.readFileSync(path.join(templatesDir, name, 'template.yaml'), 'utf8')) as TemplateDoc
}

function walk(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap((e) => {
    const full = path.join(dir, e.name)
    if (e.isDirectory()) return e.name === '.git' ? [] : walk(full, base)
    return [path.relative(base, full).split(path.sep).join('/')]
  })
}

/** Files whose contents fetch:template copies as they are (copyWithoutTemplating, the option Backstage 1.40+ reads). */
function copyWithoutTemplating(doc: TemplateDoc): picomatch.Matcher {
  const fetch = doc.spec.steps.find((s) => s.action === 'fetch:template')
  return picomatch((fetch?.input.copyWithoutTemplating as string[] | undefined) ?? [], {dot: true})
}

async function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = toolEnv()): Promise<{stdout: string; stderr: string}> {
  try {
    return await exec(file, args, {cwd, env, maxBuffer: 32 * 1024 * 1024, timeout: 120_000})
  } catch (error) {
    const e = error as {stdout?: string; stderr?: string; message: string}
    throw new Error(`${path.basename(file)} ${args.join(' ')} failed in ${cwd}:\n${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`)
  }
}

async function idp(args: string[], cwd: string): Promise<{status: number; result: Record<string, unknown>; warnings?: string[]}> {
  const {stdout} = await run(process.execPath, [cli, ...args, '--json'], cwd, toolEnv({env: {CI: 'true', GITHUB_TOKEN: undefined, GH_TOKEN: undefined}}))
  return JSON.parse(stdout) as {status: number; result: Record<string, unknown>; warnings?: string[]}
}

type Manifest = {kind: string; metadata: {name: string}; spec?: Record<string, unknown>}

function manifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null)
}

function container(docs: Manifest[]): {env: Array<{name: string; value: string}>; livenessProbe: {httpGet: {path: string}}; readinessProbe: {httpGet: {path: string}}; ports: Array<{containerPort: number}>; envFrom?: Array<{secretRef?: {name: string}}>} {
  const deployment = docs.find((d) => d.kind === 'Deployment') as unknown as {spec: {template: {spec: {containers: unknown[]}}}}
  return deployment.spec.template.spec.containers[0] as ReturnType<typeof container>
}

const serviceTests: Record<string, ((dir: string) => Promise<string>) | undefined> = {
  // The repo's own typescript and @types/node stand in for `npm install`: no network needed.
  async 'typescript-service'(dir) {
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
    await run(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], dir)
    const tests = fs.readdirSync(path.join(dir, 'dist')).filter((f) => f.endsWith('.test.js')).map((f) => path.join('dist', f))
    expect(tests.length).toBeGreaterThan(0)
    const {stdout} = await run(process.execPath, ['--test', ...tests], dir)
    return stdout
  },
  async 'python-service'(dir) {
    const {stdout, stderr} = await run('python3', ['-m', 'unittest', '-v'], dir, toolEnv({env: {PYTHONDONTWRITEBYTECODE: '1'}}))
    return stdout + stderr
  },
  // No Go toolchain on these machines: the generated repo's CI runs `go vet` and `go test`.
  'go-service': undefined,
}

const bundled = ['typescript-service', 'go-service', 'python-service']

describe('bundled templates', () => {
  it('ships the three golden paths', () => {
    const dirs = fs.readdirSync(templatesDir).filter((d) => fs.existsSync(path.join(templatesDir, d, 'template.yaml')))
    expect(dirs.sort()).toEqual([...bundled].sort())
  })
})

// Rendered once, in parallel, by the built CLI: template name → generated service directory.
const generated: Record<string, string> = {}
let work = ''

beforeAll(async () => {
  expect(fs.existsSync(path.join(repoRoot, 'dist/commands/create.js')), 'dist/ is missing: run `npm run build` before the tests').toBe(true)
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-templates-'))
  await Promise.all(
    bundled.map(async (templateName) => {
      const dir = path.join(work, templateName)
      fs.mkdirSync(dir)
      const envelope = await idp(['create', NAME, '--template', templateName, '--no-input', '--dir', dir, '--set', `repoUrl=github.com?owner=acme&repo=${NAME}`], dir)
      expect(envelope.status).toBe(0)
      // Nothing in a bundled template is an option current Backstage ignores.
      expect(envelope.warnings ?? []).not.toContainEqual(expect.stringMatching(/copyWithoutRender|does not render/u))
      generated[templateName] = path.join(dir, NAME)
    }),
  )
})

afterAll(() => {
  if (work) fs.rmSync(work, {recursive: true, force: true})
})

describe.each(bundled)('template %s', (templateName) => {
  const doc = readTemplate(templateName)
  const skeleton = path.join(templatesDir, templateName, 'skeleton')
  let out = ''

  beforeAll(() => {
    out = generated[templateName] ?? ''
    expect(out).not.toBe('')
  })

  it('is a Backstage scaffolder.backstage.io/v1beta3 Template the catalog accepts', async () => {
    expect(doc.apiVersion).toBe('scaffolder.backstage.io/v1beta3')
    expect(doc.kind).toBe('Template')
    await expect(entityPolicy.enforce(doc as unknown as Entity)).resolves.toBeDefined()
    expect(doc.metadata.name).toBe(templateName)
    expect(doc.spec.type).toBe('service')
    expect(doc.spec.steps.map((s) => s.action)).toEqual(['fetch:template', 'fs:delete', 'publish:github', 'catalog:register'])
    const register = doc.spec.steps.find((s) => s.action === 'catalog:register')
    expect(register?.input).toMatchObject({catalogInfoPath: '/catalog-info.yaml', repoContentsUrl: "${{ steps['publish'].output.repoContentsUrl }}"})
  })

  it('asks only for NAME and the repository when run without input: every other required parameter has a default', () => {
    const props = Object.assign({}, ...doc.spec.parameters.map((p) => p.properties)) as TemplateDoc['spec']['parameters'][number]['properties']
    expect(props.name?.pattern).toBe('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
    const required = doc.spec.parameters.flatMap((p) => p.required ?? [])
    // repoUrl has no default: a placeholder owner would land in the image, Argo CD and the catalog.
    expect(required.filter((key) => props[key]?.default === undefined)).toEqual(['name', 'repoUrl'])
    expect(props.repoUrl?.['ui:field']).toBe('RepoUrlPicker')
  })

  it('protects files with copyWithoutTemplating, never copyWithoutRender (removed in scaffolder-backend 2.0: current Backstage would render them)', () => {
    const fetch = doc.spec.steps.find((s) => s.action === 'fetch:template')
    expect(fetch?.input).not.toHaveProperty('copyWithoutRender')
    // preview.yml is rendered (the idp package it installs is a value), its own expressions kept in {% raw %}.
    expect(fetch?.input.copyWithoutTemplating).toEqual(['.github/workflows/ci.yml', 'chart/templates/**'])
  })

  it('keeps GitHub Actions and Helm expressions away from the renderer, and values out of copied files', () => {
    const noRender = copyWithoutTemplating(doc)
    const problems: string[] = []
    for (const rel of walk(skeleton)) {
      const text = fs.readFileSync(path.join(skeleton, rel), 'utf8')
      if (noRender(rel)) {
        if (text.includes('${{ values.')) problems.push(`${rel}: copied without rendering but uses \${{ values.* }}`)
        // Outside {% raw %} ... {% endraw %} (the preview workflow keeps its expressions in them).
      } else if (/\$\{\{\s*(github|secrets|env|vars|steps|matrix|inputs)\b|\{\{\s*\.(Values|Release|Chart)\b/u.test(text.replace(/\{% raw %\}[\s\S]*?\{% endraw %\}/gu, ''))) {
        problems.push(`${rel}: rendered by nunjucks but contains a GitHub Actions or Helm expression outside {% raw %}`)
      }
    }
    expect(problems).toEqual([])
  })

  it('renders every file with the values filled in', () => {
    const noRender = copyWithoutTemplating(doc)
    const files = walk(out)
    expect(files.sort()).toEqual(walk(skeleton).sort())
    // A rendered workflow keeps its own ${{ github.* }} expressions (from {% raw %}), never a template's.
    const leftover = (rel: string, text: string) => (rel.startsWith('.github/workflows/') ? /\$\{\{\s*(values|parameters)\b|\{%|\{#/u : /\$\{\{|\{%|\{#/u).test(text)
    const leftovers = files.filter((rel) => !noRender(rel) && leftover(rel, fs.readFileSync(path.join(out, rel), 'utf8')))
    expect(leftovers).toEqual([])
    // The protected files arrive byte for byte: preview.yml keeps every ${{ github.* }}.
    const changed = files.filter((rel) => noRender(rel) && !fs.readFileSync(path.join(out, rel)).equals(fs.readFileSync(path.join(skeleton, rel))))
    expect(changed).toEqual([])
    expect(fs.readFileSync(path.join(out, '.github/workflows/preview.yml'), 'utf8')).toMatch(/\$\{\{ github\./u)
    expect(parse(fs.readFileSync(path.join(out, 'chart/Chart.yaml'), 'utf8'))).toMatchObject({apiVersion: 'v2', name: NAME})
  })

  it('is a git repository with exactly one commit and a clean working tree', async () => {
    const env = toolEnv({env: {HOME: work, GIT_CONFIG_NOSYSTEM: '1'}})
    expect((await run('git', ['rev-list', '--count', 'HEAD'], out, env)).stdout.trim()).toBe('1')
    expect((await run('git', ['status', '--porcelain'], out, env)).stdout).toBe('')
    const tracked = (await run('git', ['ls-files'], out, env)).stdout.trim().split('\n')
    expect(tracked).toEqual(expect.arrayContaining(['catalog-info.yaml', '.idp.yml', 'chart/Chart.yaml', 'Dockerfile']))
  })

  it('has a catalog-info.yaml that is a valid Backstage Component', async () => {
    const entity = parse(fs.readFileSync(path.join(out, 'catalog-info.yaml'), 'utf8')) as Entity
    const enforced = await entityPolicy.enforce(entity)
    expect(enforced).toBeDefined()
    expect(await componentEntityV1alpha1Validator.check(entity)).toBe(true)
    expect(entity).toMatchObject({
      kind: 'Component',
      metadata: {name: NAME, annotations: {'github.com/project-slug': `acme/${NAME}`}},
      spec: {type: 'service', lifecycle: 'experimental', owner: 'team-platform'},
    })
  })

  it('ships access roles and a policy, so `idp access grant --role viewer` works as the quickstart says', () => {
    const config = parse(fs.readFileSync(path.join(out, '.idp.yml'), 'utf8')) as {access?: {roles?: Record<string, unknown>; policy?: {maxTtl?: string; forbid?: Record<string, string[]>}}}
    expect(Object.keys(config.access?.roles ?? {})).toEqual(['viewer', 'developer', 'debugger'])
    expect(config.access?.policy).toMatchObject({maxTtl: '8h', forbid: {production: ['developer', 'debugger']}})
  })

  it('names the repository it was given everywhere, never a placeholder owner', () => {
    const files = (fs.readdirSync(out, {recursive: true, encoding: 'utf8'}) as string[]).filter((f) => !f.split(path.sep).includes('.git') && fs.statSync(path.join(out, f)).isFile())
    expect(files.length).toBeGreaterThan(10)
    expect(files.filter((f) => /my-org/iu.test(fs.readFileSync(path.join(out, f), 'utf8')))).toEqual([])
    expect(fs.readFileSync(path.join(out, '.idp.yml'), 'utf8')).toContain(`repository: ghcr.io/acme/${NAME}`)
  })

  it('has an .idp.yml that the config schema accepts, wired to the chart and infra', () => {
    expect(checkConfigText(fs.readFileSync(path.join(out, '.idp.yml'), 'utf8'), '.idp.yml').problems).toEqual([])
    const config = parse(fs.readFileSync(path.join(out, '.idp.yml'), 'utf8')) as {environments: Record<string, {helm?: {chart: string; values: string[]}; terraform?: {dir: string}}>}
    for (const [env, file] of Object.entries({'pr-*': 'preview', staging: 'staging', production: 'production'})) {
      expect(config.environments[env]?.helm).toEqual({chart: './chart', values: [`chart/values-${file}.yaml`]})
      expect(config.environments[env]?.terraform?.dir).toBe('./infra')
      expect(fs.existsSync(path.join(out, `chart/values-${file}.yaml`))).toBe(true)
    }
    expect(walk(path.join(out, 'infra'))).toEqual(expect.arrayContaining(['main.tf', 'outputs.tf', 'variables.tf', 'versions.tf', 'tests/main.tftest.hcl']))
  })

  it('has a chart that passes helm lint and renders for preview, staging and production', async () => {
    const helm = helmBinary(4)
    await run(helm, ['lint', '--strict', 'chart'], out)
    const rendered: Record<string, Manifest[]> = {}
    for (const env of ['preview', 'staging', 'production']) {
      await run(helm, ['lint', '--strict', 'chart', '-f', `chart/values-${env}.yaml`], out)
      const {stdout} = await run(helm, ['template', NAME, 'chart', '-f', `chart/values-${env}.yaml`, '--set', 'image.tag=abc123'], out)
      rendered[env] = manifests(stdout)
    }
    for (const docs of Object.values(rendered)) {
      const c = container(docs)
      expect(c.livenessProbe.httpGet.path).toBe('/healthz')
      expect(c.readinessProbe.httpGet.path).toBe('/readyz')
      expect(c.ports[0]?.containerPort).toBe(8080)
    }
    expect(container(rendered.staging ?? []).env).toContainEqual({name: 'BUCKET_NAME', value: `${NAME}-staging`})
    expect(container(rendered.production ?? []).env).toContainEqual({name: 'BUCKET_NAME', value: `${NAME}-production`})
    expect(container(rendered.preview ?? []).env.map((e) => e.name)).not.toContain('BUCKET_NAME')
    expect(rendered.preview?.map((d) => d.kind).sort()).toEqual(['Deployment', 'Service', 'ServiceAccount'])
    expect(rendered.production?.map((d) => d.kind).sort()).toEqual(['Deployment', 'Ingress', 'PodDisruptionBudget', 'Service', 'ServiceAccount'])
    // No Secret names, no envFrom: the pod reads nothing it was not given.
    expect(container(rendered.preview ?? []).envFrom).toBeUndefined()
  })

  it('reads the Secrets idp env up writes from Vault: the names it passes as `secrets` become envFrom', async () => {
    // Exactly the values idp env up passes helm for two secret mappings (plan-up.ts).
    const {stdout} = await run(helmBinary(4), ['template', NAME, 'chart', '-f', 'chart/values-preview.yaml', '--set-string', 'secrets[0]=shop-db', '--set-string', 'secrets[1]=shop-api'], out)
    expect(container(manifests(stdout)).envFrom).toEqual([{secretRef: {name: 'shop-db'}}, {secretRef: {name: 'shop-api'}}])
    await run(helmBinary(4), ['lint', '--strict', 'chart', '--set-string', 'secrets[0]=shop-db'], out)
  })

  it('has CI and a preview environment per pull request', () => {
    const ci = parse(fs.readFileSync(path.join(out, '.github/workflows/ci.yml'), 'utf8')) as {jobs: Record<string, unknown>}
    expect(Object.keys(ci.jobs)).toEqual(['test', 'image', 'chart', 'infra'])
    const preview = parse(fs.readFileSync(path.join(out, '.github/workflows/preview.yml'), 'utf8')) as {
      on: {pull_request: {types: string[]}}
      jobs: Record<string, {if: string; steps: Array<{run?: string}>}>
    }
    expect(preview.on.pull_request.types).toEqual(expect.arrayContaining(['opened', 'synchronize', 'reopened', 'closed']))
    const runs = (job: string) => preview.jobs[job]?.steps.map((s) => s.run ?? '').join('\n') ?? ''
    expect(preview.jobs.up?.if).toBe("github.event.action != 'closed'")
    expect(runs('up')).toContain('idp env up --pr "$PR_NUMBER" --sha "$GIT_SHA"')
    expect(preview.jobs.down?.if).toBe("github.event.action == 'closed'")
    expect(runs('down')).toContain('idp env down --pr "$PR_NUMBER"')
  })

  it('has workflows that actionlint passes, every action pinned to the commit of a release, and installs exactly this idp', async () => {
    const dir = path.join(out, '.github/workflows')
    const files = fs.readdirSync(dir).sort()
    expect(files).toEqual(['ci.yml', 'preview.yml'])
    for (const file of files) {
      const text = fs.readFileSync(path.join(dir, file), 'utf8')
      expect(await actionlint(text, `.github/workflows/${file}`)).toEqual([])
      const uses = [...text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gmu)]
      expect(uses.length, file).toBeGreaterThan(0)
      for (const [line, ref, comment] of uses) {
        // A commit of a release, and the release it is, for the reader and for Dependabot.
        expect(ref, line).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/u)
        expect(comment, line).toMatch(/^ # v\d+\.\d+\.\d+$/u)
      }
      expect(text).not.toMatch(/@(main|master|latest)\b/u)
    }
    const preview = parse(fs.readFileSync(path.join(dir, 'preview.yml'), 'utf8')) as {env: Record<string, string>; jobs: Record<string, {steps: Array<{name?: string; run?: string}>}>}
    expect(preview.env.IDP_PACKAGE).toBe(`${pkg.name}@${pkg.version}`)
    for (const job of ['up', 'down']) {
      expect(preview.jobs[job]?.steps.find((s) => s.name === 'Install idp')?.run).toBe('npm install --global --no-audit --no-fund --ignore-scripts "$IDP_PACKAGE"')
    }
  })

  it('lints for real: actionlint reports a broken expression in the rendered preview workflow', async () => {
    const text = fs.readFileSync(path.join(out, '.github/workflows/preview.yml'), 'utf8')
    const broken = text.replace('${{ secrets.GITHUB_TOKEN }}', '${{ secret.GITHUB_TOKEN }}')
    expect(broken).not.toBe(text)
    expect((await actionlint(broken, 'preview.yml')).join('\n')).toMatch(/undefined variable "secret"/u)
  })

  const serviceTest = serviceTests[templateName]
  if (serviceTest) {
    it("passes the service's own tests", async () => {
      const output = await serviceTest(out)
      // node:test prints TAP ("# pass 5") on Node 20 and its spec summary ("ℹ pass 5") on Node 22+.
      expect(output).toMatch(/(?:#|ℹ) pass [1-9]|Ran [1-9]\d* tests?[\s\S]*\nOK/u)
      expect(output).not.toMatch(/(?:#|ℹ) fail [1-9]|FAILED/u)
    })
  }
})

// The module has one source, templates/_shared (test/unit/templates-shared.test.ts keeps every
// template's copy in step), and every template gives it the same values, so terraform (the slow
// part) runs once.
describe('infra/ Terraform module', () => {
  it('has a Terraform module that validates and passes its own terraform test offline', async () => {
    const config = fs.readFileSync(terraformConfigFile, 'utf8')
    expect(config, `${terraformConfigFile} names no provider mirror: hashicorp/aws cannot be installed offline`).toContain('filesystem_mirror')
    const infra = path.join(generated['typescript-service'] ?? '', 'infra')
    await run('terraform', ['init', '-backend=false', '-input=false', '-no-color'], infra)
    const validate = await run('terraform', ['validate', '-no-color'], infra)
    expect(validate.stdout).toContain('The configuration is valid')
    const test = await run('terraform', ['test', '-no-color'], infra)
    expect(test.stdout).toMatch(/Success! 4 passed, 0 failed\./u)
  })

})

describe('typescript-service without cloud resources', () => {
  it('drops infra/ and the terraform wiring, and the chart exports no bucket; an owner in capitals gives a lowercase image name', async () => {
    const dir = path.join(work, 'no-infra')
    fs.mkdirSync(dir)
    const envelope = await idp(['create', NAME, '--template', 'typescript-service', '--no-input', '--dir', dir, '--set', 'enableInfra=false', '--set', 'repoUrl=github.com?owner=Acme&repo=Shop-API'], dir)
    expect(envelope.status).toBe(0)
    const out = path.join(dir, NAME)
    expect(fs.existsSync(path.join(out, 'infra'))).toBe(false)
    const config = parse(fs.readFileSync(path.join(out, '.idp.yml'), 'utf8')) as {repo: {owner: string}; image: {repository: string}; environments: Record<string, {terraform?: unknown}>}
    expect(Object.values(config.environments).map((e) => e.terraform)).toEqual([undefined, undefined, undefined])
    expect(config.repo.owner).toBe('Acme')
    // As the preview workflow pushes it (ghcr.io/${GITHUB_REPOSITORY,,}): image names are lowercase.
    expect(config.image.repository).toBe('ghcr.io/acme/shop-api')
    expect(checkConfigText(fs.readFileSync(path.join(out, '.idp.yml'), 'utf8'), '.idp.yml').problems).toEqual([])
    const catalog = parse(fs.readFileSync(path.join(out, 'catalog-info.yaml'), 'utf8')) as Entity
    expect(catalog.metadata.annotations?.['github.com/project-slug']).toBe('Acme/Shop-API')
    const {stdout} = await run(helmBinary(4), ['template', NAME, 'chart', '-f', 'chart/values-staging.yaml'], out)
    expect(container(manifests(stdout)).env.map((e) => e.name)).not.toContain('BUCKET_NAME')
    expect((container(manifests(stdout)) as unknown as {image: string}).image).toMatch(/^ghcr\.io\/acme\/shop-api:/u)
  })
})

describe('the idpPackage parameter', () => {
  it("a platform team's mirror: the workflow installs exactly the package and version given", async () => {
    const dir = path.join(work, 'mirror')
    fs.mkdirSync(dir)
    const envelope = await idp(['create', NAME, '--template', 'go-service', '--no-input', '--dir', dir, '--set', 'repoUrl=github.com?owner=acme&repo=shop', '--set', 'idpPackage=@acme/idp-cli@0.3.1-rc.1'], dir)
    expect(envelope.status).toBe(0)
    const text = fs.readFileSync(path.join(dir, NAME, '.github/workflows/preview.yml'), 'utf8')
    expect((parse(text) as {env: Record<string, string>}).env.IDP_PACKAGE).toBe('@acme/idp-cli@0.3.1-rc.1')
    expect(await actionlint(text, 'preview.yml')).toEqual([])
  })

  it('anything but NAME@EXACT-VERSION is a usage error before anything is written (no range, no tag, nothing for a shell)', async () => {
    for (const value of ['idp-cli@^0.1.0', 'idp-cli@latest', 'idp-cli', 'idp-cli@0.1.0; curl x | sh', 'idp-cli@0.1.0\n  evil: 1']) {
      const dir = fs.mkdtempSync(path.join(work, 'bad-idp-package-'))
      const {stdout} = await exec(process.execPath, [cli, 'create', NAME, '--template', 'go-service', '--no-input', '--dir', dir, '--set', 'repoUrl=github.com?owner=acme&repo=shop', '--set', `idpPackage=${value}`, '--json'], {cwd: dir, env: toolEnv({env: {CI: 'true'}})}).catch((error: {stdout: string}) => ({stdout: error.stdout}))
      const envelope = JSON.parse(stdout) as {status: number; error: {message: string}}
      expect(envelope.status, value).toBe(2)
      expect(envelope.error.message).toContain('"idpPackage"')
      expect(fs.readdirSync(dir)).toEqual([])
    }
  })
})

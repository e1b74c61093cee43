import {parseEntityRef as backstageParseEntityRef} from '@backstage/catalog-model'
import {chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {ConfigError, UsageError} from '../../src/lib/cli/errors.js'
import {parseEntityRef, parseRepoUrl, pick, projectSlug} from '../../src/lib/create/filters.js'
import {createRenderer, isSingleExpression} from '../../src/lib/create/render.js'
import {type FetchSpec, isBinary, planSkeleton, safeRelativePath, writeSkeleton} from '../../src/lib/create/skeleton.js'

const r = createRenderer()
const ctx = {values: {name: 'shop', repoUrl: 'github.com?owner=acme&repo=shop', obj: {a: 1, b: [1, 2]}, flag: true, n: 3}}

describe('renderer: Backstage delimiters and nunjucks', () => {
  it('renders ${{ }} and leaves {{ }} (GitHub Actions syntax) alone', () => {
    expect(r.renderString('${{ values.name }} {{ github.sha }}', ctx)).toBe('shop {{ github.sha }}')
  })

  it('supports {% %} blocks with whitespace control and comments', () => {
    expect(r.renderString('a\n{%- if values.flag %}\nyes\n{%- endif %}\nb{# gone #}', ctx)).toBe('a\nyes\nb')
    expect(r.renderString('{% for x in values.obj.b %}[${{ x }}]{% endfor %}', ctx)).toBe('[1][2]')
    expect(r.renderString('{% if values.missing %}x{% else %}y{% endif %}', ctx)).toBe('y')
  })

  it('honours trimBlocks/lstripBlocks when the step asks for them', () => {
    const trimmed = createRenderer({trimBlocks: true, lstripBlocks: true})
    expect(trimmed.renderString('a\n  {% if values.flag %}\nyes\n  {% endif %}\nb', ctx)).toBe('a\nyes\nb')
  })

  it('renders objects like JavaScript String() and dump as JSON', () => {
    expect(r.renderString('${{ values.obj }}|${{ values.obj.b }}|${{ values.obj | dump }}', ctx)).toBe('[object Object]|1,2|{"a":1,"b":[1,2]}')
  })

  it('keeps native types for a lone ${{ }} step input, as Backstage does', () => {
    expect(r.renderValue({o: '${{ values.obj }}', n: '${{ values.n }}', b: '${{ values.flag }}', s: 'n=${{ values.n }}', u: '${{ values.nope }}', lit: 5}, ctx)).toEqual({
      o: {a: 1, b: [1, 2]},
      n: 3,
      b: true,
      s: 'n=3',
      lit: 5,
    })
    expect(isSingleExpression('${{ a }}')).toBe(true)
    expect(isSingleExpression('x ${{ a }}')).toBe(false)
    expect(isSingleExpression('${{ a }}${{ b }}')).toBe(false)
  })

  it('has cookiecutter compatibility ({{ cookiecutter.x }} and jsonify)', () => {
    const cc = createRenderer({cookiecutterCompat: true})
    expect(cc.renderString('{{ cookiecutter.name }} {{ cookiecutter.tags | jsonify }}', {cookiecutter: {name: 'x', tags: ['a']}})).toBe('x ["a"]')
  })

  it('allows harmless string methods used by public templates', () => {
    expect(r.renderString("${{ ('group:default/team-a'.split('/') | last) }} ${{ values.name.toUpperCase() }} ${{ values.name.replace('sh', 'SH') }}", ctx)).toBe('team-a SHOP SHop')
  })
})

describe('filters match Backstage', () => {
  it('parseRepoUrl and projectSlug', () => {
    expect(parseRepoUrl('github.com?owner=acme&repo=shop')).toEqual({host: 'github.com', owner: 'acme', repo: 'shop'})
    expect(parseRepoUrl('gitlab.example.com?owner=g%2Fsub&repo=r')).toEqual({host: 'gitlab.example.com', owner: 'g/sub', repo: 'r'})
    expect(parseRepoUrl('dev.azure.com?organization=o&project=p&repo=r')).toEqual({host: 'dev.azure.com', organization: 'o', project: 'p', repo: 'r'})
    expect(parseRepoUrl('bitbucket.org?workspace=w&project=p&repo=r')).toMatchObject({workspace: 'w', project: 'p', repo: 'r'})
    expect(() => parseRepoUrl('github.com?repo=shop')).toThrow(/missing owner/u)
    expect(() => parseRepoUrl('github.com?owner=a')).toThrow(/missing repo/u)
    expect(projectSlug('github.com?owner=acme&repo=shop')).toBe('acme/shop')
    expect(r.renderString('${{ values.repoUrl | parseRepoUrl | pick("owner") }}/${{ (values.repoUrl | parseRepoUrl).repo }}', ctx)).toBe('acme/shop')
  })

  it('parseEntityRef gives what @backstage/catalog-model gives', () => {
    const cases: Array<[string, {defaultKind?: string; defaultNamespace?: string} | undefined]> = [
      ['group:default/team-a', undefined],
      ['team-a', {defaultKind: 'group'}],
      ['user:jane', undefined],
      ['team-a', {defaultKind: 'group', defaultNamespace: 'other'}],
      ['component:ns/name', {defaultKind: 'x'}],
    ]
    for (const [ref, context] of cases) expect(parseEntityRef(ref, context)).toEqual(backstageParseEntityRef(ref, context))
    expect(() => parseEntityRef('team-a')).toThrow(/missing or empty kind/u)
    expect(() => backstageParseEntityRef('team-a')).toThrow(/missing or empty kind/u)
  })

  it('pick reads own (dotted) keys only', () => {
    expect(pick({a: {b: 2}}, 'a.b')).toBe(2)
    expect(pick({a: 1}, 'constructor')).toBeUndefined()
  })
})

describe('skeleton rendering', () => {
  const dirs: string[] = []
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
  })
  const tmp = async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'idp-render-'))
    dirs.push(d)
    return d
  }
  const spec = (source: string, extra: Partial<FetchSpec> = {}): FetchSpec => ({kind: 'fetch', id: 'fetch', action: 'fetch:template', source, root: path.dirname(source), targetPath: './', plain: false, values: {name: 'shop', sub: 'lib', empty: ''}, ...extra})

  it('renders file and directory names, skips entries whose name renders empty', async () => {
    const src = await tmp()
    await mkdir(path.join(src, '${{ values.sub }}'), {recursive: true})
    await writeFile(path.join(src, '${{ values.sub }}', '${{ values.name }}.txt'), 'hi ${{ values.name }}')
    await writeFile(path.join(src, '${{ values.empty }}'), 'skipped')
    await writeFile(path.join(src, '{% if values.empty %}opt.txt{% endif %}'), 'skipped')
    const result = await planSkeleton(spec(src), await tmp())
    expect(result.files).toEqual(['lib/shop.txt'])
    expect(result.ops).toContainEqual(expect.objectContaining({kind: 'write', to: 'lib/shop.txt', content: 'hi shop'}))
  })

  it('rejects rendered paths with .. or an absolute path, and .git', () => {
    expect(() => safeRelativePath('../evil', 'x')).toThrow(UsageError)
    expect(() => safeRelativePath('a/../../evil', 'x')).toThrow(/\.\./u)
    expect(() => safeRelativePath('/etc/passwd', 'x')).toThrow(/absolute/u)
    expect(() => safeRelativePath('.git/hooks/post-commit', 'x')).toThrow(/\.git/u)
    expect(safeRelativePath('./a/./b', 'x')).toBe('a/b')
  })

  it('refuses a value that makes a file name escape the target', async () => {
    const src = await tmp()
    await writeFile(path.join(src, '${{ values.name }}.txt'), 'x')
    await expect(planSkeleton(spec(src, {values: {name: '../../outside'}}), await tmp())).rejects.toThrow(/contains "\.\."/u)
    await expect(planSkeleton(spec(src, {values: {name: '/tmp/abs'}}), await tmp())).rejects.toThrow(/absolute/u)
  })

  it('copies binary files byte for byte and keeps file modes', async () => {
    const src = await tmp()
    const bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0xff, 0xfe]), Buffer.from('${{ values.name }}'), Buffer.from(Array.from({length: 256}, (_, i) => i))])
    await writeFile(path.join(src, 'logo.png'), bytes)
    await writeFile(path.join(src, 'run.sh'), '#!/bin/sh\necho ${{ values.name }}\n')
    await chmod(path.join(src, 'run.sh'), 0o755)
    const out = await tmp()
    const result = await planSkeleton(spec(src), out)
    await writeSkeleton(result.ops, out)
    expect(Buffer.compare(await readFile(path.join(out, 'logo.png')), bytes)).toBe(0)
    expect(await readFile(path.join(out, 'run.sh'), 'utf8')).toBe('#!/bin/sh\necho shop\n')
    expect((await stat(path.join(out, 'run.sh'))).mode & 0o777).toBe(0o755)
    expect(isBinary(Buffer.from('plain text é'))).toBe(false)
  })

  it('binary or text as Backstage decides (isbinaryfile): Latin-1 text is rendered as UTF-8, mostly-non-text bytes are copied', async () => {
    const src = await tmp()
    await writeFile(path.join(src, 'latin1.txt'), Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' ${{ values.name }}\n')]))
    const noise = Buffer.from(Array.from({length: 64}, (_, i) => (i % 2 === 0 ? 0x80 + i : 0x41)))
    await writeFile(path.join(src, 'noise.bin'), noise)
    const result = await planSkeleton(spec(src), await tmp())
    // Backstage reads it with readFile('utf-8'): the byte 0xE9 becomes U+FFFD, then it renders.
    expect(result.ops).toContainEqual(expect.objectContaining({kind: 'write', to: 'latin1.txt', content: 'caf\uFFFD shop\n'}))
    expect(result.ops).toContainEqual(expect.objectContaining({kind: 'copy', to: 'noise.bin'}))
    expect(isBinary(Buffer.from('%PDF-1.7 ${{ values.name }}'))).toBe(true)
  })

  it('copyWithoutTemplating globs (picomatch, dot files) copy contents as they are and still render paths, as Backstage 2.0+', async () => {
    const src = await tmp()
    await mkdir(path.join(src, '.github', 'workflows'), {recursive: true})
    await writeFile(path.join(src, '.github', 'workflows', 'ci.yaml'), 'run: ${{ github.sha }}')
    await writeFile(path.join(src, 'keep-${{ values.name }}.txt'), '${{ values.name }}')
    await writeFile(path.join(src, 'render.txt'), '${{ values.name }}')
    const t = await planSkeleton(spec(src, {copyWithoutTemplating: ['keep-*', '.github/**']}), await tmp())
    expect(t.files.sort()).toEqual(['.github/workflows/ci.yaml', 'keep-shop.txt', 'render.txt'])
    expect(t.ops).toContainEqual(expect.objectContaining({kind: 'copy', to: 'keep-shop.txt'}))
    expect(t.ops).toContainEqual(expect.objectContaining({kind: 'copy', to: '.github/workflows/ci.yaml'}))
    expect(t.ops).toContainEqual(expect.objectContaining({kind: 'write', to: 'render.txt', content: 'shop'}))
  })

  it('templateFileExtension renders only .njk files and strips the extension', async () => {
    const src = await tmp()
    await writeFile(path.join(src, 'a.txt.njk'), '${{ values.name }}')
    await writeFile(path.join(src, 'b.txt'), '${{ values.name }}')
    const result = await planSkeleton(spec(src, {templateFileExtension: true}), await tmp())
    expect(result.ops).toContainEqual(expect.objectContaining({kind: 'write', to: 'a.txt', content: 'shop'}))
    expect(result.ops).toContainEqual(expect.objectContaining({kind: 'copy', to: 'b.txt'}))
  })

  it('a template error is a ConfigError naming the file', async () => {
    const src = await tmp()
    await writeFile(path.join(src, 'bad.txt'), '${{ values.name | noSuchFilter }}')
    const error = await planSkeleton(spec(src), await tmp()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toMatch(/bad\.txt/u)
  })

  it('refuses a symlink that points outside the target, and never writes through one', async () => {
    const src = await tmp()
    await symlink('/etc', path.join(src, 'link'))
    await expect(planSkeleton(spec(src), await tmp())).rejects.toThrow(/points outside/u)
    const out = await tmp()
    const elsewhere = await tmp()
    await symlink(elsewhere, path.join(out, 'sub'))
    await expect(writeSkeleton([{kind: 'write', to: 'sub/x.txt', content: 'x', mode: 0o644}], out)).rejects.toThrow(/outside the target/u)
  })
})

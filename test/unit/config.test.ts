import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {ConfigError, UsageError} from '../../src/lib/cli/errors.js'
import {durationProblem, formatDuration, parseDuration, parseTimeout} from '../../src/lib/config/duration.js'
import {CONFIG_SCHEMA_ID, configJsonSchema} from '../../src/lib/config/json-schema.js'
import {closest, editDistance} from '../../src/lib/config/suggest.js'
import {expandTemplate, templateProblems} from '../../src/lib/config/template.js'
import {checkConfigText, formatProblem, parseConfigText} from '../../src/lib/config/validate.js'

const root = path.resolve(import.meta.dirname, '../..')
const fixture = (name: string) => path.join(root, 'test/fixtures/config', name, '.idp.yml')
const example = readFileSync(path.join(root, '.idp.yml.example'), 'utf8')

const minimal = (extra = '') => `version: 1\nservice: {name: shop, owner: team-a}\nclusters:\n  dev: {context: kind-dev}\n${extra}`

describe('.idp.yml validation', () => {
  it('accepts the documented example and applies defaults', () => {
    const config = parseConfigText(example, '.idp.yml.example')
    expect(config.service.name).toBe('shop')
    expect(Object.keys(config.environments)).toEqual(['pr-*', 'staging', 'production'])
    expect(config.environments.staging?.namespace).toBe('{{service}}-{{env}}')
    expect(config.environments.staging?.protected).toBe(false)
    expect(config.deploy.strategy).toBe('argocd')
    expect(config.access?.policy.forbid.production).toEqual(['admin', 'debugger'])
  })

  it('applies defaults to a minimal file', () => {
    const config = parseConfigText(minimal('environments:\n  staging: {cluster: dev}\n'))
    expect(config.environments.staging).toEqual({cluster: 'dev', driver: 'namespace', namespace: '{{service}}-{{env}}', protected: false})
    expect(config.deploy).toEqual({strategy: 'helm'})
    expect(config.service.lifecycle).toBe('experimental')
  })

  it('reports every problem of a broken file at once, each with line and column', () => {
    const {config, problems} = checkConfigText(readFileSync(fixture('broken'), 'utf8'), 'broken/.idp.yml')
    expect(config).toBeUndefined()
    const at = problems.map((p) => `${p.line}:${p.column} ${p.path}`)
    expect(at).toEqual([
      '2:1 service.owner',
      '4:3 service.ownr',
      '9:14 environments.pr-*.cluster',
      '10:13 environments.pr-*.driver',
      '11:10 environments.pr-*.ttl',
      '12:16 environments.pr-*.namespace',
      '14:13 deploy.strategy',
    ])
    expect(problems.every((p) => p.file === 'broken/.idp.yml')).toBe(true)
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p]))
    expect(byPath['service.owner']).toMatchObject({message: 'required key is missing', expected: 'text', found: 'nothing'})
    expect(byPath['environments.pr-*.driver']).toMatchObject({expected: 'one of "vcluster", "namespace"', found: '"vclustre"', suggestion: '"vcluster"'})
    expect(byPath['environments.pr-*.ttl']).toMatchObject({message: 'not a duration', found: '"3 days"'})
    expect(byPath['environments.pr-*.namespace']).toMatchObject({message: 'unknown placeholder {{evn}}', suggestion: '{{env}}'})
    expect(byPath['deploy.strategy']?.message).toBe('strategy argocd needs deploy.argocd')
  })

  it('suggests the closest allowed key for a misspelt key, at the key itself', () => {
    const {problems} = checkConfigText(readFileSync(fixture('broken'), 'utf8'))
    const misspelt = problems.find((p) => p.path === 'service.ownr')
    expect(misspelt).toMatchObject({line: 4, column: 3, message: 'unknown key "ownr"', suggestion: 'owner'})
    expect(misspelt?.expected).toContain('owner')
    expect(formatProblem(misspelt!)).toBe('.idp.yml:4:3  service.ownr: unknown key "ownr" (expected one of name, owner, description, system, lifecycle, type) — did you mean owner?')

    const nested = checkConfigText(minimal('environments:\n  staging:\n    cluster: dev\n    helm: {chart: ./chart, valeus: [a.yaml]}\n')).problems
    expect(nested).toEqual([expect.objectContaining({path: 'environments.staging.helm.valeus', line: 8, column: 28, suggestion: 'values'})])
  })

  it('throws one ConfigError (exit 3) listing every problem as FILE:LINE:COL', () => {
    let error: unknown
    try {
      parseConfigText(readFileSync(fixture('broken'), 'utf8'), 'broken/.idp.yml')
    } catch (thrown) {
      error = thrown
    }
    expect(error).toBeInstanceOf(ConfigError)
    const configError = error as ConfigError
    expect(configError.exitCode).toBe(3)
    expect(configError.problems).toHaveLength(7)
    expect(configError.details?.problems).toBe(configError.problems)
    expect(configError.message.split('\n')[0]).toBe('broken/.idp.yml is not valid (7 problems):')
    expect(configError.message).toContain('broken/.idp.yml:9:14  environments.pr-*.cluster: unknown cluster "dve" (expected one of dev, found "dve") — did you mean dev?')
    expect(configError.hint).toContain('idp config example')
  })

  it('reports YAML syntax errors with line and column', () => {
    const {problems} = checkConfigText(readFileSync(fixture('syntax'), 'utf8'), 'syntax/.idp.yml')
    expect(problems).toEqual([expect.objectContaining({file: 'syntax/.idp.yml', line: 5, column: 3, message: expect.stringMatching(/^YAML syntax error: Map keys must be unique/u)})])
    const tab = checkConfigText('version: 1\n\tservice: x\n').problems
    expect(tab).toEqual([expect.objectContaining({line: 2, column: 1, message: expect.stringContaining('Tabs')})])
  })

  it('reports an empty file or a non-mapping as missing keys or a wrong type', () => {
    expect(checkConfigText('').problems.map((p) => p.path)).toEqual(['version', 'service'])
    expect(checkConfigText('- a\n').problems).toEqual([expect.objectContaining({line: 1, column: 1, message: 'wrong type', expected: 'a mapping', found: 'a list of 1'})])
    expect(checkConfigText('version: 2\nservice: {name: shop, owner: a}\n').problems).toEqual([expect.objectContaining({path: 'version', line: 1, column: 10, message: 'unsupported schema version', expected: '1', found: '2'})])
  })

  it('checks that environments refer to defined clusters, with a suggestion', () => {
    const {problems} = checkConfigText(minimal('environments:\n  staging:\n    cluster: prod\n  qa:\n    cluster: dve\n'))
    expect(problems).toEqual([
      expect.objectContaining({path: 'environments.staging.cluster', line: 7, column: 14, message: 'unknown cluster "prod"', expected: 'one of dev', suggestion: undefined}),
      expect.objectContaining({path: 'environments.qa.cluster', line: 9, column: 14, suggestion: 'dev'}),
    ])
    const none = checkConfigText('version: 1\nservice: {name: shop, owner: a}\nenvironments:\n  staging: {cluster: dev}\n').problems
    expect(none[0]?.message).toBe('unknown cluster "dev": no clusters are defined')
  })

  it('checks environment names, patterns and other cross-key rules', () => {
    const {problems} = checkConfigText(
      minimal(`environments:
  Staging: {cluster: dev}
  "pr-?": {cluster: dev}
  "*": {cluster: dev, vcluster: {chartVersion: "0.30.0"}}
deploy:
  argocd: {repoURL: https://github.com/acme/shop, path: chart}
access:
  roles: {viewer: view, both: {clusterRole: edit, rules: [{resources: [pods], verbs: [get]}]}}
  policy: {requireReason: [viewr], forbid: {prod: [viewer]}}
`),
    )
    const messages = Object.fromEntries(problems.map((p) => [p.path, p.message]))
    expect(messages).toEqual({
      'environments.Staging': 'environment "Staging": it contains upper-case letters',
      'environments.pr-?': 'environment "pr-?": only * is a wildcard (no ?, [] or {})',
      'environments.*.vcluster': 'vcluster settings have no effect without driver: vcluster',
      'deploy.argocd': 'argocd settings have no effect with strategy helm',
      'access.roles.both': 'a role has either clusterRole or rules, not both',
      'access.policy.requireReason[0]': 'unknown role "viewr"',
    })
    // forbid.prod is accepted: the "*" pattern matches it.
    expect(problems.find((p) => p.path === 'access.policy.requireReason[0]')?.suggestion).toBe('viewer')
    const forbid = checkConfigText(minimal('environments:\n  staging: {cluster: dev}\naccess:\n  roles: {admin: admin}\n  policy: {forbid: {stagin: [admin]}}\n')).problems
    expect(forbid).toEqual([expect.objectContaining({path: 'access.policy.forbid.stagin', message: 'unknown environment "stagin"', suggestion: 'staging', line: 9, column: 21})])
  })

  it('says which types a value may have when it fits none', () => {
    const {problems} = checkConfigText(minimal('environments:\n  x:\n    cluster: dev\n    helm: {chart: c, set: {image.tag: [1]}}\naccess:\n  roles: {a: 1}\n'))
    expect(problems).toEqual([
      expect.objectContaining({path: 'environments.x.helm.set["image.tag"]', line: 8, column: 39, message: 'wrong type', expected: 'text, a number or true or false', found: 'a list of 1'}),
      expect.objectContaining({path: 'access.roles.a', line: 10, column: 14, expected: 'text or a mapping', found: '1'}),
    ])
  })

  it('rejects service names that are not DNS-1123 labels', () => {
    const {problems} = checkConfigText('version: 1\nservice: {name: Shop_API, owner: a}\n')
    expect(problems).toEqual([expect.objectContaining({path: 'service.name', line: 2, column: 17, message: expect.stringContaining('not a DNS-1123 label'), found: '"Shop_API"'})])
  })

  it('refuses a helm chart that helm would read as an option (a positional of helm upgrade --install)', () => {
    const {problems} = checkConfigText(minimal('environments:\n  x:\n    cluster: dev\n    helm: {chart: "--post-renderer=/tmp/evil"}\n'))
    expect(problems).toEqual([expect.objectContaining({path: 'environments.x.helm.chart', line: 8, message: expect.stringContaining('which helm would read as an option')})])
    expect(checkConfigText(minimal('environments:\n  x:\n    cluster: dev\n    helm: {chart: ./-chart}\n')).problems).toEqual([])
  })

  it('never accepts a token-like key under github', () => {
    const {problems} = checkConfigText(minimal('github: {apiUrl: https://ghe.example.com/api/v3, token: abc}\n'))
    expect(problems).toEqual([expect.objectContaining({path: 'github.token', message: 'unknown key "token"'})])
  })
})

describe('durations', () => {
  it('parses units and combinations into milliseconds', () => {
    expect(parseDuration('30m')).toBe(30 * 60_000)
    expect(parseDuration('72h')).toBe(72 * 3_600_000)
    expect(parseDuration('7d')).toBe(7 * 86_400_000)
    expect(parseDuration('1h30m')).toBe(90 * 60_000)
    expect(parseDuration('2w')).toBe(14 * 86_400_000)
    expect(formatDuration(parseDuration('1d2h'))).toBe('1d2h')
  })

  it('rejects anything else with a usage error', () => {
    for (const bad of ['', '72', 'h', '3 days', '1.5h', '-1h', '10y']) expect(durationProblem(bad)).toBe('not a duration')
    expect(durationProblem('0h')).toBe('must be longer than zero')
    expect(() => parseDuration('3 days')).toThrow(UsageError)
    expect(() => parseDuration('3 days')).toThrow(/Invalid duration "3 days": not a duration/u)
  })

  it('bounds every duration: a year at most, a week for a timeout (past 24.8 days a Node timer fires at once)', () => {
    expect(parseDuration('52w1d')).toBe(365 * 86_400_000)
    expect(durationProblem('999999999w')).toBe('must be at most 52w1d')
    expect(durationProblem('9'.repeat(400) + 'w')).toBe('must be at most 52w1d')
    expect(() => parseDuration('366d')).toThrow(UsageError)
    expect(parseTimeout('7d')).toBe(7 * 86_400_000)
    expect(() => parseTimeout('25d')).toThrow(/Invalid duration "25d": must be at most 1w/u)
    // The same bound in .idp.yml: a config error with the key, not a crash later.
    const {problems} = checkConfigText(minimal('environments:\n  "pr-*": {cluster: dev, ttl: 999999999w}\n'))
    expect(problems).toEqual([expect.objectContaining({path: 'environments.pr-*.ttl', message: expect.stringContaining('at most 52w1d')})])
  })
})

describe('templates', () => {
  it('accepts the five placeholders and rejects others and broken braces', () => {
    expect(templateProblems('{{service}}-{{env}}-{{pr}}-{{sha}}-{{branch}}')).toEqual([])
    expect(templateProblems('{{ env }}')).toEqual([])
    expect(templateProblems('{{namespace}}-{{x}}')).toEqual(['unknown placeholder {{namespace}}', 'unknown placeholder {{x}}'])
    expect(templateProblems('shop-{{env}')).toEqual(['unbalanced "{{" or "}}"'])
  })

  it('expands values and refuses a placeholder without a value', () => {
    expect(expandTemplate('{{service}}-{{ env }}', {service: 'shop', env: 'pr-1'})).toBe('shop-pr-1')
    expect(expandTemplate('pr {{pr}}', {pr: 42})).toBe('pr 42')
    expect(() => expandTemplate('{{sha}}', {env: 'x'}, 'image.tag')).toThrow(UsageError)
    expect(() => expandTemplate('{{sha}}', {env: 'x'}, 'image.tag')).toThrow('image.tag: "{{sha}}" uses {{sha}}, which has no value here.')
  })
})

describe('did you mean', () => {
  it('counts a swap as one edit and ignores case', () => {
    expect(editDistance('vclustre', 'vcluster')).toBe(1)
    expect(closest('defaultbranch', ['defaultBranch', 'owner'])).toBe('defaultBranch')
    expect(closest('zzz', ['name', 'owner'])).toBeUndefined()
  })
})

describe('JSON Schema', () => {
  const schema = configJsonSchema()

  it('is draft 2020-12 with an $id, a title and descriptions', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(schema.$id).toBe(CONFIG_SCHEMA_ID)
    expect(schema.title).toBe('idp configuration (.idp.yml)')
    expect(schema.additionalProperties).toBe(false)
    expect(JSON.stringify(schema)).toContain('"pattern":"^([0-9]+[smhdw])+$"')
  })

  it('validates the example and rejects a misspelt key (checked with ajv)', async () => {
    // ajv is already in the tree (via @backstage/catalog-model); not a dependency of idp itself.
    const require = createRequire(import.meta.url)
    const {default: Ajv2020} = (await import(require.resolve('ajv/dist/2020.js'))) as {default: new (options: object) => {compile: (schema: object) => ((data: unknown) => boolean) & {errors?: unknown[]}}}
    const ajv = new Ajv2020({strict: true, allErrors: true, validateFormats: false})
    const validate = ajv.compile(schema)
    const {parseDocument} = await import('yaml')
    const data = parseDocument(example).toJS()
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({...data, service: {...data.service, nmae: 'x'}})).toBe(false)
    expect(validate({...data, environments: {Bad_Name: {cluster: 'dev'}}})).toBe(false)
  })
})

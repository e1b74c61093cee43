// `idp create --publish` and `idp catalog` against a REAL Backstage catalog backend
// (@backstage/backend-defaults + @backstage/plugin-catalog-backend from the npm registry, started
// by test/support/backstage.ts in its own Node process) whose GitHub integration reads the pushed
// catalog-info.yaml from the GitHub stand-in. The CLI runs as a user runs it (bin/run.js).
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type BackstageBackend, startBackstage} from '../support/backstage.js'
import {type CliRun, parseJson, runCli, runProcess} from '../support/cli.js'
import {filesUnder} from '../support/files.js'
import {type GitHubStandIn, startGitHubStandIn} from '../support/github-stand-in/index.js'

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/templates/backstage-style')
const TOKEN = 'ghp_BackstageE2eToken0123456789abcdefgh'
const READER = 'ghp_BackstageReaderToken0123456789abcdef'

let gh: GitHubStandIn
let backstage: BackstageBackend
let scratch: string
const outputs: string[] = []

beforeAll(async () => {
  gh = await startGitHubStandIn({tokens: {[TOKEN]: 'alice', [READER]: 'backstage-bot'}, orgs: [{login: 'acme', members: {alice: 'admin', 'backstage-bot': 'member'}}]})
  backstage = await startBackstage({github: {serverUrl: gh.serverUrl, apiUrl: gh.apiUrl, token: READER}})
  console.log(`Backstage catalog backend ready in ${backstage.startMs} ms`)
  scratch = await mkdtemp(path.join(os.tmpdir(), 'idp-backstage-e2e-'))
}, 240_000)

afterAll(async () => {
  await backstage?.stop()
  await gh?.stop()
  if (scratch) await rm(scratch, {recursive: true, force: true})
})

async function idp(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): Promise<CliRun> {
  const home = path.join(scratch, 'home')
  const run = await runCli(args, {
    cwd,
    env: {HOME: home, XDG_STATE_HOME: path.join(scratch, 'state'), GIT_CONFIG_NOSYSTEM: '1', GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.apiUrl, GITHUB_SERVER_URL: gh.serverUrl, BACKSTAGE_TOKEN: backstage.token, ...env},
  })
  outputs.push(run.stdout, run.stderr)
  return run
}

async function catalogEntity(name: string): Promise<{status: number; body: unknown}> {
  const response = await fetch(`${backstage.baseUrl}/api/catalog/entities/by-name/component/default/${name}`, {headers: {authorization: `Bearer ${backstage.token}`}})
  return {status: response.status, body: await response.json().catch(() => undefined)}
}

/** The catalog processes a new location in the background (a second or two). */
async function waitForEntity(name: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const {status, body} = await catalogEntity(name)
    if (status === 200) return body as Record<string, any>
    if (Date.now() > deadline) throw new Error(`component:default/${name} never appeared in the catalog (last status ${status})\n${backstage.logs().slice(-3000)}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}


const createArgs = (name: string, base: string, ...more: string[]) => ['create', name, '--template', FIXTURE, '--set', 'owner=team-a', '--set', `repoUrl=github.com?owner=acme&repo=${name}`, '--dir', base, '--no-input', '--publish', ...more]

describe('idp create --publish registers in a real Backstage catalog', () => {
  it('leaves the component in the catalog, and `idp catalog list --owner team-a --json` shows it', async () => {
    const base = await mkdtemp(path.join(scratch, 'base-'))
    const run = await idp([...createArgs('reg-svc', base), '--backstage-url', backstage.baseUrl, '--json'])
    expect(run.stderr).not.toMatch(/Error/u)
    expect(run.code).toBe(0)
    const result = (parseJson(run.stdout) as {result: Record<string, any>}).result
    const target = `${gh.serverUrl}/acme/reg-svc/blob/trunk/catalog-info.yaml`
    expect(result.catalog).toEqual({registered: true, backstage: backstage.baseUrl, target, entities: ['component:default/reg-svc'], alreadyRegistered: false})

    const entity = await waitForEntity('reg-svc')
    expect(entity.spec).toMatchObject({owner: 'team-a', type: 'service', lifecycle: 'experimental'})
    // The catalog records the location in GitHub's tree form (its GitHub integration does so for
    // every github URL; Backstage's demo entities show .../tree/master/...).
    const managedBy = `url:${gh.serverUrl}/acme/reg-svc/tree/trunk/catalog-info.yaml`
    expect(entity.metadata.annotations).toMatchObject({'backstage.io/managed-by-location': managedBy, 'github.com/project-slug': 'acme/reg-svc'})
    // The catalog read the file through the stand-in's contents API, with its integration token.
    expect(gh.state.requests.some((r) => r.path.startsWith('/api/v3/repos/acme/reg-svc/contents/catalog-info.yaml?ref=trunk') && r.login === 'backstage-bot')).toBe(true)

    const list = await idp(['catalog', 'list', '--owner', 'team-a', '--json', '--backstage-url', backstage.baseUrl])
    expect(list.code).toBe(0)
    const listed = (parseJson(list.stdout) as {result: {entities: Array<Record<string, unknown>>; filter: unknown}}).result
    expect(listed.filter).toEqual({kind: 'component', owner: 'team-a'})
    expect(listed.entities).toContainEqual({ref: 'component:default/reg-svc', kind: 'Component', namespace: 'default', name: 'reg-svc', type: 'service', lifecycle: 'experimental', owner: 'team-a'})
    const other = await idp(['catalog', 'list', '--owner', 'team-b', '--json', '--backstage-url', backstage.baseUrl])
    expect((parseJson(other.stdout) as {result: {entities: unknown[]}}).result.entities).toEqual([])
    const human = await idp(['catalog', 'list', '--owner', 'team-a', '--lifecycle', 'experimental', '--backstage-url', backstage.baseUrl])
    expect(human.stdout).toMatch(/^NAME\s+KIND\s+TYPE\s+LIFECYCLE\s+OWNER\s+SYSTEM\nreg-svc\s+Component\s+service\s+experimental\s+team-a\n$/u)

    // show, run in the component's repository with an .idp.yml naming it: the environments too.
    await writeFile(path.join(base, 'reg-svc', '.idp.yml'), ['version: 1', 'service: {name: reg-svc, owner: team-a}', 'clusters: {dev: {context: kind-dev}}', 'environments:', '  pr-*: {cluster: dev, ttl: 72h}', '  staging: {cluster: dev, protected: true}', `backstage: {baseUrl: '${backstage.baseUrl}'}`, ''].join('\n'))
    const show = await idp(['catalog', 'show', 'reg-svc', '--json'], {}, path.join(base, 'reg-svc'))
    expect(show.code).toBe(0)
    const shown = (parseJson(show.stdout) as {result: Record<string, any>}).result
    expect(shown.entity).toMatchObject({ref: 'component:default/reg-svc', owner: 'team-a', repository: `${gh.serverUrl}/acme/reg-svc`, location: managedBy})
    expect(shown.environments.map((e: {name: string}) => e.name)).toEqual(['pr-*', 'staging'])
    const showHuman = await idp(['catalog', 'show', 'reg-svc'], {}, path.join(base, 'reg-svc'))
    expect(showHuman.stdout).toContain(`  Repository: ${gh.serverUrl}/acme/reg-svc`)
    expect(showHuman.stdout).toMatch(/Environments \(\.idp\.yml\):\n {4}pr-\*: cluster dev, namespace, namespace .+, ttl 72h\n {4}staging: cluster dev, namespace, namespace .+, protected\n/u)

    // Registering the same location again is success: the catalog's 409 means already registered.
    const {CatalogClient} = await import('../../src/lib/catalog/client.js')
    expect(await new CatalogClient({baseUrl: backstage.baseUrl, token: backstage.token}).register(target)).toEqual({target, entities: ['component:default/reg-svc'], alreadyRegistered: true})

    // validate, offline and through the catalog's validate-entity.
    const again = await idp(['catalog', 'validate', path.join(base, 'reg-svc', 'catalog-info.yaml'), '--backstage-url', backstage.baseUrl, '--json'])
    expect(again.code, again.stdout + again.stderr).toBe(0)
    expect((parseJson(again.stdout) as {result: Record<string, unknown>}).result).toMatchObject({backstage: backstage.baseUrl, entities: [{ref: 'component:default/reg-svc', valid: true}]})

    // The token reached no output and no file (the new repository, its .git, idp's state).
    for (const text of outputs) expect(text).not.toContain(backstage.token)
    for (const file of [...filesUnder(base), ...filesUnder(path.join(scratch, 'state')), ...filesUnder(path.join(scratch, 'home'))]) {
      expect((await readFile(file)).includes(backstage.token), file).toBe(false)
    }
  })
})

describe('when the catalog refuses, or cannot be asked', () => {
  it('a refused registration is exit 6 with the catalog\'s own error, and undoes the run: the GitHub repository and the directory are removed', async () => {
    const base = await mkdtemp(path.join(scratch, 'base-'))
    const canary = 'bs-canary-0f1e2d3c4b5a69788796a5b4c3d2e1f0'
    const run = await idp([...createArgs('reg-refused', base), '--backstage-url', backstage.baseUrl, '--json'], {BACKSTAGE_TOKEN: canary})
    expect(run.code).toBe(6)
    const error = (parseJson(run.stdout) as {error: {code: string; message: string; hint: string; details: Record<string, any>}}).error
    expect(error.code).toBe('REMOTE')
    // Backstage's own error body: {error: {name: 'AuthenticationError', message: ...}} for a token it does not know.
    expect(error.message).toMatch(/^The Backstage catalog refused to register http:\/\/127\.0\.0\.1:\d+\/acme\/reg-refused\/blob\/trunk\/catalog-info\.yaml \(dry run\) \(401\): AuthenticationError: /u)
    expect(error.details).toMatchObject({status: 401, catalogError: {name: 'AuthenticationError'}, step: 'catalog-register'})
    expect(error.hint).toContain('BACKSTAGE_TOKEN')
    expect(error.hint).toContain('Undid')
    expect(gh.state.repos.has('acme/reg-refused')).toBe(false)
    expect(await readdir(base)).toEqual([])
    expect((await catalogEntity('reg-refused')).status).toBe(404)
    expect(run.stdout + run.stderr).not.toContain(canary)
  })

  it('with --keep-on-failure the repository stays and the clean-up names it', async () => {
    const base = await mkdtemp(path.join(scratch, 'base-'))
    const run = await idp([...createArgs('reg-kept', base), '--backstage-url', backstage.baseUrl, '--keep-on-failure', '--json'], {BACKSTAGE_TOKEN: 'bs-wrong-token-for-the-kept-run'})
    expect(run.code).toBe(6)
    const error = (parseJson(run.stdout) as {error: {details: {cleanup: string[]}}}).error
    expect(gh.state.repos.has('acme/reg-kept')).toBe(true)
    expect(error.details.cleanup).toEqual([`GH_HOST=${new URL(gh.serverUrl).host} gh repo delete acme/reg-kept --yes`, `rm -rf ${path.join(base, 'reg-kept')}`])
  })

  it('without BACKSTAGE_TOKEN: created and pushed, not registered, and it says why (and prints the register URL)', async () => {
    const base = await mkdtemp(path.join(scratch, 'base-'))
    const run = await idp([...createArgs('reg-no-token', base), '--backstage-url', backstage.baseUrl], {BACKSTAGE_TOKEN: undefined})
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('  Not registered in the Backstage catalog: BACKSTAGE_TOKEN is not set (a static external-access token of the Backstage backend).\n')
    expect(run.stdout).toContain(`  Register in Backstage: ${backstage.baseUrl}/catalog-import?targetUrl=${encodeURIComponent('https://github.com/acme/reg-no-token/blob/trunk/catalog-info.yaml')}\n`)
    expect(gh.state.repos.has('acme/reg-no-token')).toBe(true)
    expect((await catalogEntity('reg-no-token')).status).toBe(404)
    const json = await idp([...createArgs('reg-no-url', base)], {BACKSTAGE_TOKEN: undefined})
    expect(json.stdout).toContain('  Not registered in the Backstage catalog: no Backstage URL (--backstage-url, backstage.baseUrl in .idp.yml or BACKSTAGE_URL).\n')
  })

  it('a BACKSTAGE_URL the shell holds that is not a URL stops only --publish (exit 4, nothing made); without it, a warning', async () => {
    const base = await mkdtemp(path.join(scratch, 'base-'))
    const bad = {BACKSTAGE_URL: 'backstage.example.com'}
    const published = await idp([...createArgs('bad-url-pub', base), '--json'], bad)
    expect(published.code).toBe(4)
    expect((parseJson(published.stdout) as {error: {message: string}}).error.message).toBe('BACKSTAGE_URL "backstage.example.com" is not an http(s) URL.')
    expect(await readdir(base)).toEqual([])
    expect(gh.state.repos.has('acme/bad-url-pub')).toBe(false)
    const local = await idp(['create', 'bad-url-local', '--template', 'typescript-service', '--dir', base, '--no-input', '--set', 'repoUrl=github.com?owner=acme&repo=bad-url-local', '--json'], bad)
    expect(local.code).toBe(0)
    const envelope = parseJson(local.stdout) as {warnings: string[]}
    expect(envelope.warnings).toContain('BACKSTAGE_URL "backstage.example.com" is not an http(s) URL. Ignored: without --publish nothing is registered (no catalog-import link is printed).')
    expect(await readdir(base)).toEqual(['bad-url-local'])
    // The flag is never ignored: a bad --backstage-url is a usage error even without --publish.
    const flag = await idp(['create', 'bad-url-flag', '--template', 'typescript-service', '--dir', base, '--no-input', '--backstage-url', 'backstage.example.com'])
    expect(flag.code).toBe(2)
  })

  it('--dry-run shows the registration step, without the token, and changes nothing', async () => {
    const base = await mkdtemp(path.join(scratch, 'base-'))
    const run = await idp([...createArgs('reg-dry', base), '--backstage-url', backstage.baseUrl, '--dry-run'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/\n8\. Register catalog-info\.yaml of acme\/reg-dry in the Backstage catalog at http:\/\/127\.0\.0\.1:\d+ {2}\[backstage API\] {2}\(after 6, 7\)\n/u)
    expect(run.stdout).toContain(`POST ${backstage.baseUrl}/api/catalog/locations?dryRun=true, then POST ${backstage.baseUrl}/api/catalog/locations {type: url, target: <blob URL of catalog-info.yaml on trunk in acme/reg-dry>} (token from BACKSTAGE_TOKEN; already registered is fine)`)
    expect(run.stdout).toContain(`undo: backstage.unregister: remove the location this run registered from the catalog at ${backstage.baseUrl}\n`)
    const json = await idp([...createArgs('reg-dry', base), '--backstage-url', backstage.baseUrl, '--dry-run', '--json'])
    const result = (parseJson(json.stdout) as {result: {plan: {steps: Array<{id: string; action: Record<string, unknown>}>}; catalog: unknown}}).result
    expect(result.plan.steps.at(-1)).toMatchObject({id: 'catalog-register', action: {kind: 'api', target: 'backstage', op: 'backstage.register', params: {baseUrl: backstage.baseUrl, catalogInfoPath: '/catalog-info.yaml', branch: 'trunk'}}})
    expect(result.catalog).toEqual({registered: false, backstage: backstage.baseUrl})
    expect(gh.state.repos.has('acme/reg-dry')).toBe(false)
    expect(run.stdout + run.stderr + json.stdout + json.stderr).not.toContain(backstage.token)
  })

  it('catalog list/show/validate: a wrong token is exit 6 with the catalog\'s error; no URL is exit 4; a bad URL exit 2; an unknown entity exit 4', async () => {
    const wrong = await idp(['catalog', 'list', '--backstage-url', backstage.baseUrl], {BACKSTAGE_TOKEN: 'bs-not-a-token-the-catalog-knows'})
    expect(wrong.code).toBe(6)
    expect(wrong.stderr).toContain('The Backstage catalog refused to list entities (401): AuthenticationError:')
    expect(wrong.stderr).not.toContain('bs-not-a-token-the-catalog-knows')
    const none = await idp(['catalog', 'list'], {}, scratch)
    expect(none.code).toBe(4)
    expect(none.stderr).toContain('No Backstage URL: pass --backstage-url, set backstage.baseUrl in .idp.yml, or export BACKSTAGE_URL.')
    // The flag wins over BACKSTAGE_URL (which points nowhere here).
    const env = await idp(['catalog', 'list', '--json', '--backstage-url', backstage.baseUrl], {BACKSTAGE_URL: 'http://127.0.0.1:9'}, scratch)
    expect(env.code).toBe(0)
    const bad = await idp(['catalog', 'show', 'x', '--backstage-url', 'ftp://nope'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--backstage-url "ftp://nope" is not an http(s) URL.')
    const missing = await idp(['catalog', 'show', 'no-such-service', '--backstage-url', backstage.baseUrl])
    expect(missing.code).toBe(4)
    expect(missing.stderr).toContain(`The Backstage catalog at ${backstage.baseUrl} has no component:default/no-such-service.`)
    const injected = await idp(['catalog', 'list', '--owner', 'team-a,kind=user', '--backstage-url', backstage.baseUrl])
    expect(injected.code).toBe(2)
  })

  it('catalog validate: offline problems are exit 3 with their lines; the catalog\'s validate-entity is asked when a URL is known', async () => {
    const dir = await mkdtemp(path.join(scratch, 'validate-'))
    const good = ['apiVersion: backstage.io/v1alpha1', 'kind: Component', 'metadata:', '  name: shop', 'spec:', '  type: service', '  lifecycle: production', '  owner: team-a', '']
    const bad = ['---', 'apiVersion: backstage.io/v1alpha1', 'kind: Component', 'metadata:', '  name: Not A Name', 'spec:', '  type: service', '  owner: team-a', '']
    await writeFile(path.join(dir, 'catalog-info.yaml'), good.join('\n'))
    await writeFile(path.join(dir, 'two.yaml'), [...good, ...bad].join('\n'))
    const ok = await idp(['catalog', 'validate', '--dir', dir, '--offline'], {BACKSTAGE_URL: 'http://127.0.0.1:9'}, dir)
    expect(ok.code).toBe(0)
    expect(ok.stdout).toBe("✓ catalog-info.yaml is valid (Backstage's validators (offline)):\n  component:default/shop (line 1)\n")
    const invalid = await idp(['catalog', 'validate', 'two.yaml', '--dir', dir, '--json'])
    expect(invalid.code).toBe(3)
    const problems = (parseJson(invalid.stdout) as {error: {details: {problems: Array<{line: number; path: string; message: string}>}}}).error.details.problems
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatchObject({line: 10, path: 'component:default/Not A Name'})
    expect(problems[0]?.message).toMatch(/^"metadata\.name" is not valid; expected .* but found "Not A Name"\./u)
    // Through the real catalog too: BACKSTAGE_URL is used when there is no flag and no .idp.yml.
    const remote = await idp(['catalog', 'validate', '--dir', dir, '--json'], {BACKSTAGE_URL: backstage.baseUrl})
    expect(remote.code).toBe(0)
    expect((parseJson(remote.stdout) as {result: {backstage: string}}).result.backstage).toBe(backstage.baseUrl)
    const refused = await idp(['catalog', 'validate', '--dir', dir], {BACKSTAGE_URL: backstage.baseUrl, BACKSTAGE_TOKEN: 'bs-wrong-token-for-validate'})
    expect(refused.code).toBe(6)
    expect(refused.stderr).toContain('The Backstage catalog refused to validate an entity (401): AuthenticationError:')
  })

  it('catalog validate: what only the catalog refuses (a dependsOn without a kind) is exit 3 with the catalog\'s own error', async () => {
    const dir = await mkdtemp(path.join(scratch, 'validate-refs-'))
    const component = ['apiVersion: backstage.io/v1alpha1', 'kind: Component', 'metadata:', '  name: payments', 'spec:', '  type: service', '  lifecycle: production', '  owner: team-a', '  dependsOn:', '    - payments-db', '']
    await writeFile(path.join(dir, 'catalog-info.yaml'), component.join('\n'))
    // Backstage's validators accept it (dependsOn is a list of strings)...
    const offline = await idp(['catalog', 'validate', '--dir', dir, '--offline', '--json'], {BACKSTAGE_URL: backstage.baseUrl})
    expect(offline.code).toBe(0)
    expect((parseJson(offline.stdout) as {result: {entities: unknown[]}}).result.entities).toEqual([{ref: 'component:default/payments', line: 1, valid: true}])
    // ...the catalog, which turns dependsOn into relations, cannot: `payments-db` names no kind.
    const remote = await idp(['catalog', 'validate', '--dir', dir, '--json'], {BACKSTAGE_URL: backstage.baseUrl})
    expect(remote.code).toBe(3)
    const problems = (parseJson(remote.stdout) as {error: {details: {problems: Array<{line: number; path: string; message: string}>}}}).error.details.problems
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatchObject({line: 1, path: 'component:default/payments'})
    expect(problems[0]?.message.startsWith(`${backstage.baseUrl} (validate-entity): `)).toBe(true)
    expect(problems[0]?.message).toContain('BuiltinKindsEntityProcessor threw an error while postprocessing; caused by Error: Entity reference "payments-db" had missing or empty kind')
    const human = await idp(['catalog', 'validate', '--dir', dir], {BACKSTAGE_URL: backstage.baseUrl})
    expect(human.code).toBe(3)
    expect(human.stderr).toContain(`line 1: component:default/payments: ${backstage.baseUrl} (validate-entity): `)
  })

})

describe('the undo of a registration (Ctrl-C while it runs: the interrupted step is undone first)', () => {
  it('removes the location this run registered, never one the catalog had before, and prints a curl with $BACKSTAGE_TOKEN when kept', async () => {
    const {createHandlers} = await import('../../src/lib/create/handlers.js')
    const {createGitHubPublisher} = await import('../../src/lib/create/publisher.js')
    const {CatalogClient} = await import('../../src/lib/catalog/client.js')
    const {createToolRunner} = await import('../../src/lib/tools/runner.js')
    const {describeAction} = await import('../../src/lib/plan/format.js')
    // A repository with a pushed catalog-info.yaml that is not in the catalog yet.
    const base = await mkdtemp(path.join(scratch, 'base-'))
    expect((await idp([...createArgs('reg-undo', base)], {BACKSTAGE_TOKEN: undefined})).code).toBe(0)
    const catalog = new CatalogClient({baseUrl: backstage.baseUrl, token: backstage.token})
    const publisher = await createGitHubPublisher({token: TOKEN, apiUrl: gh.apiUrl, serverUrl: gh.serverUrl})
    const repository = {owner: 'acme', name: 'reg-undo', htmlUrl: `${gh.serverUrl}/acme/reg-undo`, cloneUrl: `${gh.serverUrl}/acme/reg-undo.git`, ownerType: 'Organization'}
    const ctx = {signal: new AbortController().signal, results: new Map<string, unknown>()} as Parameters<ReturnType<typeof createHandlers>['handlers']['create.render']>[1]
    const register = {kind: 'api' as const, target: 'backstage' as const, op: 'backstage.register' as const, summary: 'register', params: {baseUrl: backstage.baseUrl, catalogInfoPath: '/catalog-info.yaml', branch: 'trunk'}}
    const unregister = {kind: 'api' as const, target: 'backstage' as const, op: 'backstage.unregister' as const, summary: `remove the location this run registered from the catalog at ${backstage.baseUrl}`, params: {baseUrl: backstage.baseUrl}}
    const target = `${gh.serverUrl}/acme/reg-undo/blob/trunk/catalog-info.yaml`

    const mine = createHandlers({runner: createToolRunner({env: {}}), publisher, catalog, state: {created: [], repository}})
    const registered = await mine.handlers['backstage.register']!(register, ctx)
    expect(registered).toMatchObject({target, alreadyRegistered: false, entities: ['component:default/reg-undo']})
    const id = await catalog.locationId(target)
    expect(id).toBe(registered.locationId)
    expect(describeAction(unregister, mine.describe)).toBe(`curl -fsS -X DELETE --oauth2-bearer "$BACKSTAGE_TOKEN" ${backstage.baseUrl}/api/catalog/locations/${id}`)

    // Another run registering the same file finds it there: its undo leaves it alone.
    const theirs = createHandlers({runner: createToolRunner({env: {}}), publisher, catalog, state: {created: [], repository}})
    expect(await theirs.handlers['backstage.register']!(register, ctx)).toMatchObject({alreadyRegistered: true})
    expect(await theirs.handlers['backstage.unregister']!(unregister, ctx)).toEqual({removed: false})
    expect(await catalog.locationId(target)).toBe(id)

    expect(await mine.handlers['backstage.unregister']!(unregister, ctx)).toEqual({removed: true})
    expect(await catalog.locationId(target)).toBeUndefined()
    // Nothing registered, nothing to undo.
    const never = createHandlers({runner: createToolRunner({env: {}}), publisher, catalog, state: {created: [], repository}})
    expect(await never.handlers['backstage.unregister']!(unregister, ctx)).toEqual({removed: false})

    // The clean-up line printed when the registration is kept runs as printed: sh, the token from the environment.
    const kept = createHandlers({runner: createToolRunner({env: {}}), publisher, catalog, state: {created: [], repository}})
    await kept.handlers['backstage.register']!(register, ctx)
    const keptId = await catalog.locationId(target)
    expect(keptId).toBeDefined()
    const line = describeAction(unregister, kept.describe)
    expect(line).toContain(`/api/catalog/locations/${keptId}`)
    const curl = await runProcess('sh', ['-c', line], {env: {BACKSTAGE_TOKEN: backstage.token}})
    expect(curl.stderr).toBe('')
    expect(curl.code).toBe(0)
    expect(await catalog.locationId(target)).toBeUndefined()
  })
})

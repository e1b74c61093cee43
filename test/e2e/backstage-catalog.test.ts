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
import {type CliRun, parseJson, runCli} from '../support/cli.js'
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

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, {withFileTypes: true, recursive: true}).catch(() => [])) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name))
  }
  return out
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
    for (const file of [...(await filesUnder(base)), ...(await filesUnder(path.join(scratch, 'state'))), ...(await filesUnder(path.join(scratch, 'home')))]) {
      expect((await readFile(file)).includes(backstage.token), file).toBe(false)
    }
  })
})

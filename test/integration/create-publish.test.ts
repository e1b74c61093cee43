import {execFileSync} from 'node:child_process'
import {mkdtemp, readdir, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ToolError, UsageError} from '../../src/lib/cli/errors.js'
import {createHandlers, type Publisher} from '../../src/lib/create/handlers.js'
import {prepareCreate} from '../../src/lib/create/prepare.js'
import {createGitHubPublisher} from '../../src/lib/create/publisher.js'
import {resolveTemplate} from '../../src/lib/create/sources.js'
import {applyPlan} from '../../src/lib/plan/apply.js'
import {createToolRunner} from '../../src/lib/tools/runner.js'
import {type GitHubStandIn, startGitHubStandIn} from '../support/github-stand-in/index.js'

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/templates/backstage-style')
const TOKEN = 'ghp_CreatePublishToken0123456789abcdefgh'

let gh: GitHubStandIn
let scratch: string

beforeAll(async () => {
  gh = await startGitHubStandIn({tokens: {[TOKEN]: 'alice'}, orgs: [{login: 'acme', members: {alice: 'admin'}}]})
  scratch = await mkdtemp(path.join(os.tmpdir(), 'idp-create-publish-'))
})

afterAll(async () => {
  await gh?.stop()
  await rm(scratch, {recursive: true, force: true})
})

async function run(name: string, wrap: (p: Publisher) => Publisher = (p) => p) {
  const home = await mkdtemp(path.join(scratch, 'home-'))
  const env = {HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: path.join(home, '.gitconfig')}
  const runner = createToolRunner({env})
  const base = await mkdtemp(path.join(scratch, 'base-'))
  const prepared = await prepareCreate({
    template: await resolveTemplate(FIXTURE),
    name,
    baseDir: base,
    set: ['owner=team-a', `repoUrl=github.com?owner=acme&repo=${name}`],
    git: {},
    publish: {requested: true, token: TOKEN, apiUrl: gh.apiUrl, serverUrl: gh.serverUrl},
    config: {backstage: {baseUrl: 'https://backstage.example.com'}},
  })
  const publisher = wrap(await createGitHubPublisher({token: TOKEN, apiUrl: gh.apiUrl, serverUrl: gh.serverUrl}))
  const {handlers, state} = createHandlers({runner, publisher})
  return {prepared, base, env, state, apply: () => applyPlan(prepared.plan, {runner, handlers, renderer: 'silent'})}
}

describe('idp create --publish against the GitHub stand-in', () => {
  it('an owner or repository name that is not GitHub\'s (it goes into API paths: "..", "a/b") is a usage error before anything is written', async () => {
    const base = await mkdtemp(path.join(scratch, 'bad-'))
    const template = await resolveTemplate(FIXTURE)
    const attempt = (set: string[], owner?: string) =>
      prepareCreate({
        template,
        name: 'pub-bad',
        baseDir: base,
        set: ['owner=team-a', ...set],
        git: {},
        publish: {requested: true, token: TOKEN, apiUrl: gh.apiUrl, serverUrl: gh.serverUrl, ...(owner ? {owner} : {})},
      }).then(() => undefined, (e: unknown) => e)
    const tries = [
      await attempt(['repoUrl=github.com?owner=..&repo=pub-bad']),
      await attempt(['repoUrl=github.com?owner=acme&repo=..']),
      await attempt(['repoUrl=github.com?owner=acme&repo=pub-bad'], 'acme/../orgs'),
    ]
    for (const error of tries) expect(error).toBeInstanceOf(UsageError)
    expect((tries[0] as UsageError).message).toBe('".." (the template\'s repoUrl) is not a GitHub user or organization name: use letters, digits, "-" (and "_" for managed users), starting and ending with a letter or digit.')
    // A repoUrl parameter is checked as it is given (--set), before prepare's own check of the publish step.
    expect((tries[1] as UsageError).message).toMatch(/^--set: parameter "repoUrl" names a repository GitHub does not allow \("\.\.": /u)
    expect((tries[2] as UsageError).message).toMatch(/^"acme\/\.\.\/orgs" \(--owner\)/u)
    expect(await readdir(base)).toEqual([])
    expect(gh.state.repos.has('acme/pub-bad')).toBe(false)
  })

  it('creates the org repository with visibility and description, and pushes the one commit', async () => {
    const {prepared, env, state, apply} = await run('pub-ok')
    expect(prepared.catalogRegisterUrl).toContain(encodeURIComponent('https://github.com/acme/pub-ok/blob/trunk/catalog-info.yaml'))
    await apply()
    const repo = gh.state.repos.get('acme/pub-ok')
    expect(repo).toMatchObject({visibility: 'internal', description: 'This is pub-ok'})
    expect(repo?.owner.type).toBe('Organization')
    expect(state.repository).toMatchObject({owner: 'acme', ownerType: 'Organization'})
    const local = execFileSync('git', ['rev-parse', 'HEAD'], {cwd: prepared.directory, env: {...process.env, ...env}, encoding: 'utf8'}).trim()
    const remote = execFileSync('git', ['--git-dir', repo!.gitDir, 'rev-parse', 'refs/heads/trunk'], {env: {...process.env, ...env}, encoding: 'utf8'}).trim()
    expect(remote).toBe(local)
    // The token is in neither the remote URL nor .git/config.
    const remoteUrl = execFileSync('git', ['remote', 'get-url', 'origin'], {cwd: prepared.directory, env: {...process.env, ...env}, encoding: 'utf8'})
    expect(remoteUrl).not.toContain(TOKEN)
  })

  it('a failed push deletes the repository this run created and removes the directory', async () => {
    const {prepared, base, apply} = await run('pub-fail', (p) => ({...p, pushEnv: () => ({...p.pushEnv(), GIT_CONFIG_VALUE_0: 'Authorization: Basic YmFkOmJhZA=='})}))
    await expect(apply()).rejects.toBeInstanceOf(ToolError)
    expect(gh.state.repos.has('acme/pub-fail')).toBe(false)
    expect(await readdir(base)).toEqual([])
    expect(prepared.plan.steps.map((s) => s.id)).toEqual(['render', 'git-init', 'git-add', 'git-commit', 'github-repo', 'git-push', 'catalog'])
  })
})

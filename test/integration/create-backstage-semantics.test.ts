// The built CLI on the Backstage-semantics fixtures: what a user sees under --json (warnings in
// the envelope) and a loop template end to end with the real git (one commit, clean tree).
import {execFileSync} from 'node:child_process'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'

import {parseJson, runCli} from '../support/cli.js'

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/backstage-semantics')
const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
})
const tmp = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'idp-bs-cli-'))
  dirs.push(d)
  return d
}

interface Envelope {
  status: number
  result?: {files: string[]; skipped: Array<{id: string}>; commit?: string}
  warnings?: string[]
  error?: {message: string; hint?: string}
}

/** `idp create svc --template FIXTURE --json` on a machine with no git identity. */
async function create(fixture: string): Promise<{envelope: Envelope; dir: string; env: Record<string, string>}> {
  const base = await tmp()
  const home = await tmp()
  const env = {HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: path.join(home, '.gitconfig'), GITHUB_TOKEN: '', GH_TOKEN: ''}
  const run = await runCli(['create', 'svc', '--template', path.join(FIXTURES, fixture), '--no-input', '--dir', base, '--json'], {env, cwd: base})
  const envelope = parseJson(run.stdout) as Envelope | undefined
  if (!envelope) throw new Error(`no JSON on stdout (exit ${run.code}): ${run.stderr}`)
  return {envelope, dir: path.join(base, 'svc'), env}
}

describe('idp create --json on templates written for other Backstage versions', () => {
  it('copyWithoutRender: exit 0, the workflow rendered as Backstage 3.x renders it, the warning in the envelope', async () => {
    const {envelope, dir} = await create('copy-without-render')
    expect(envelope.status).toBe(0)
    expect(envelope.warnings).toEqual([expect.stringContaining('input.copyWithoutRender is ignored, as current Backstage ignores it')])
    expect(await readFile(path.join(dir, '.github/workflows/ci.yml'), 'utf8')).toBe('name: svc\nref: ""\n')
  })

  it('inputs that do not render (Roadie `| now`): exit 0, raw text kept, one warning per input', async () => {
    const {envelope, dir} = await create('raw-inputs')
    expect(envelope.status).toBe(0)
    expect(envelope.warnings?.filter((w) => w.includes('does not render'))).toHaveLength(4)
    expect(await readFile(path.join(dir, 'values.txt'), 'utf8')).toContain("branch=add-codeowners-${{ '' | now }}\n")
    expect(envelope.result?.skipped.map((s) => s.id)).toEqual(['createPullRequest'])
  })

  it('each: loops end to end: the loop\'s folders, renamed files, one commit, clean tree', async () => {
    const {envelope, dir, env} = await create('each-loop')
    expect(envelope.status).toBe(0)
    expect(envelope.warnings ?? []).toEqual([])
    expect(envelope.result?.files).toEqual(['labels/team/label.txt', 'services/api/api.yaml', 'services/worker/worker.yaml', 'summary/label.txt'])
    const git = (...args: string[]) => execFileSync('git', args, {cwd: dir, env: {...process.env, ...env}, encoding: 'utf8'}).trim()
    expect(git('ls-files').split('\n')).toEqual(['labels/team/label.txt', 'services/api/api.yaml', 'services/worker/worker.yaml', 'summary/label.txt'])
    expect(git('status', '--porcelain')).toBe('')
  })
})

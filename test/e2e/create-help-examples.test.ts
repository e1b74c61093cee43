import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {repoRoot, runJs} from '../support/cli.js'

/**
 * `idp create --help` examples as a new user copies them: each that uses a bundled template runs
 * as printed (plus --dry-run and --no-input; the one for answering prompts aside, so nothing is written and nothing is asked) in an
 * empty directory, through a shell, and passes the checks `create` makes before anything else.
 */
const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {examples?: Array<string | {command: string; description: string}>}>}
const examples = (manifest.commands.create!.examples ?? [])
  // The one that says it answers prompts is for a terminal: it is not meant to run without one.
  .filter((e) => typeof e !== 'string' && !e.description.includes('answering prompts'))
  .map((e) => (typeof e === 'string' ? e : e.command).replaceAll('<%= config.bin %>', 'idp').replaceAll('<%= command.id %>', 'create'))
  .filter((command) => /--template (typescript|go|python)-service\b/u.test(command) && !command.includes('--values'))

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-create-examples-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))

describe('idp create --help: the examples run as printed', () => {
  it('there are examples with bundled templates to check', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3)
  })

  it.each(examples)('%s', (command) => {
    // `idp` is the built CLI; BACKSTAGE_TOKEN=... stays as printed (a shell assignment).
    const script = `idp() { "${process.execPath}" "${runJs}" "$@"; }\n${command} --dry-run --no-input`
    const run = spawnSync('sh', ['-c', script], {cwd: work, encoding: 'utf8', timeout: 60_000, env: {PATH: process.env.PATH, HOME: work, NO_COLOR: '1', GITHUB_TOKEN: 'ghp_example_token_for_dry_run'}})
    expect(run.stderr).not.toContain('Error:')
    expect(run.status).toBe(0)
    expect(run.stdout).toContain('Dry run: nothing was changed.')
  })
})

// Parity with Backstage's own scaffolder, in the suite: scripts/parity/backstage-parity.mjs renders
// the bundled templates (also with enableInfra=false), the backstage-style fixture and the
// fixtures of test/fixtures/backstage-semantics/ with the built idp and with the real
// @backstage/plugin-scaffolder-backend 3.0.1 (its NunjucksWorkflowRunner, fetch:*/fs:* actions and
// SecureTemplater in isolated-vm), and compares the trees path by path and byte for byte.
// Backstage is installed by test/support/setup-backstage.mjs (.tools/backstage-scaffolder/) and
// runs on the Node recorded there (isolated-vm 5 builds for Node 18-22); idp runs on this one.
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {repoRoot, runProcess} from '../support/cli.js'
import {scaffolderDir, setupScaffolder} from '../support/setup-backstage.mjs'

describe('rendering parity with @backstage/plugin-scaffolder-backend', () => {
  it('the bundled templates and the fixture corpus render byte for byte as Backstage 3.0.1 renders them', async () => {
    const {node} = setupScaffolder({quiet: true})
    const run = await runProcess(process.execPath, [path.join(repoRoot, 'scripts', 'parity', 'backstage-parity.mjs')], {
      env: {BACKSTAGE_MODULES: path.join(scaffolderDir, 'node_modules'), BACKSTAGE_NODE: node},
    })
    const lines = run.stdout.trim().split('\n')
    const cases = lines.filter((line) => /^[✓✗] /u.test(line))
    // Five renders of the bundled templates, the backstage-style fixture, five semantics fixtures.
    expect(cases, run.stdout + run.stderr).toHaveLength(11)
    for (const line of cases) expect(line, run.stdout).toMatch(/^✓ .+: [1-9]\d* files identical; idp warnings: \d+$/u)
    expect(cases.some((line) => line.startsWith('✓ templates/typescript-service: '))).toBe(true)
    expect(cases.some((line) => line.startsWith('✓ test/fixtures/backstage-semantics/each-loop: '))).toBe(true)
    expect(lines.at(-1)).toBe('11 of 11 templates render identically under idp and @backstage/plugin-scaffolder-backend 3.0.1')
    expect(run.code).toBe(0)
  }, 600_000)
})

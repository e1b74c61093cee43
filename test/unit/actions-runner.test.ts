// The workflow runner (test/support/actions-runner/runner.ts) on small workflows: GitHub's shell,
// file commands and env precedence between steps, if: after a failure, and a run that fails, never
// skips, on what the runner does not implement.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {parseFileCommand, runWorkflow, triggers, type WorkflowRunOptions} from '../support/actions-runner/runner.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-runner-'))
afterAll(() => fs.rmSync(root, {recursive: true, force: true}))
let runId = 0

const options = (workflow: string, extra: Partial<WorkflowRunOptions> = {}): WorkflowRunOptions => ({
  workflow,
  workflowPath: '.github/workflows/t.yml',
  eventName: 'pull_request',
  event: {action: 'opened', number: 3, pull_request: {number: 3, head: {ref: 'feature', sha: 'abc'}, base: {ref: 'main', sha: 'def'}}},
  sha: 'f'.repeat(40),
  ref: 'refs/pull/3/merge',
  repository: 'acme/shop',
  actor: 'dev',
  serverUrl: 'http://127.0.0.1:1',
  apiUrl: 'http://127.0.0.1:1/api/v3',
  secrets: {GITHUB_TOKEN: 'ghs_x'},
  vars: {},
  actions: {},
  machineEnv: {PATH: process.env.PATH ?? ''},
  root,
  runId: ++runId,
  ...extra,
})

const job = (steps: string, extra = '') => `on: pull_request\nenv:\n  LEVEL: workflow\n  W: w\njobs:\n  j:\n    runs-on: ubuntu-latest\n${extra}    steps:\n${steps}`

describe('a job as GitHub runs it', () => {
  it("passes outputs, env and PATH between steps through GitHub's file commands; env: step > GITHUB_ENV > job > workflow", async () => {
    const result = await runWorkflow(options(job(
      [
        '      - id: one',
        '        run: |',
        '          echo "greeting=hello" >> "$GITHUB_OUTPUT"',
        '          { echo "multi<<EOF"; echo "a"; echo "b"; echo "EOF"; } >> "$GITHUB_OUTPUT"',
        '          echo "LEVEL=exported" >> "$GITHUB_ENV"',
        '          mkdir -p "$RUNNER_TEMP/bin" && printf "#!/bin/sh\\necho tool ran\\n" > "$RUNNER_TEMP/bin/mytool" && chmod +x "$RUNNER_TEMP/bin/mytool"',
        '          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"',
        '          echo "### hi" >> "$GITHUB_STEP_SUMMARY"',
        '      - env:',
        '          FROM_STEP: ${{ steps.one.outputs.greeting }}',
        '        run: |',
        '          echo "$FROM_STEP $LEVEL $W $J ${{ env.LEVEL }} ${{ steps.one.outputs.multi }}" | tr "\\n" " "',
        '          mytool',
        '          echo "$CI $GITHUB_ACTIONS $GITHUB_EVENT_NAME $GITHUB_REF $GITHUB_HEAD_REF $GITHUB_BASE_REF $GITHUB_REPOSITORY $PWD"',
        '      - env: {LEVEL: step}',
        '        run: echo "$LEVEL"',
      ].join('\n') + '\n',
      '    env:\n      LEVEL: job\n      J: j\n',
    )))
    expect(result.conclusion).toBe('success')
    const [one, two, three] = result.jobs[0]!.steps
    expect(one?.outputs).toEqual({greeting: 'hello', multi: 'a\nb'})
    expect(two?.stdout.split('\n')).toEqual([
      'hello exported w j exported a b tool ran',
      `true true pull_request refs/pull/3/merge feature main acme/shop ${result.jobs[0]!.dirs.workspace}`,
      '',
    ])
    expect(three?.stdout).toBe('step\n')
    expect(result.jobs[0]!.summary).toBe('### hi\n')
    expect(JSON.parse(fs.readFileSync(path.join(result.jobs[0]!.dirs.runnerTemp, '..', 'workflow', 'event.json'), 'utf8'))).toMatchObject({action: 'opened', number: 3})
  })

  it('runs bash -eo pipefail: a failing command mid-script or mid-pipeline fails the step; later steps skip unless always()/failure()', async () => {
    const result = await runWorkflow(options(job([
      '      - run: |',
      '          false | cat',
      '          echo not reached',
      '      - run: echo skipped',
      "      - if: failure()",
      '        run: echo on failure',
      '      - if: always()',
      '        run: echo always',
    ].join('\n') + '\n')))
    const steps = result.jobs[0]!.steps
    expect(result.conclusion).toBe('failure')
    expect(steps.map((s) => s.outcome)).toEqual(['failure', 'skipped', 'success', 'success'])
    expect(steps[0]).toMatchObject({exitCode: 1, stdout: '', error: 'Process completed with exit code 1.'})
  })

  it('a job whose if: is false does not run; an event type outside on.types triggers nothing', async () => {
    const skipped = await runWorkflow(options(job('      - run: echo x\n', "    if: github.event.action == 'closed'\n")))
    expect(skipped.jobs[0]).toMatchObject({ran: false, conclusion: 'skipped'})
    expect(triggers({pull_request: {types: ['closed']}}, 'pull_request', 'opened')).toBe(false)
    expect(triggers({pull_request: null}, 'pull_request', 'edited')).toBe(false)
    expect(triggers({pull_request: null}, 'pull_request', 'synchronize')).toBe(true)
    expect((await runWorkflow(options('on:\n  pull_request:\n    types: [closed]\njobs: {}\n'))).triggered).toBe(false)
  })
})

describe('what the runner does not implement fails the run', () => {
  it('an action without a mapping, and an input its mapping does not declare', async () => {
    await expect(runWorkflow(options(job('      - uses: actions/cache@v4\n')))).rejects.toThrow(/no local mapping for actions\/cache/u)
    const actions = {'actions/checkout': {inputs: ['ref'], describe: 'x', run: async () => {}}}
    await expect(runWorkflow(options(job('      - uses: actions/checkout@v4\n        with: {fetch-depth: 0}\n'), {actions}))).rejects.toThrow(/input fetch-depth not implemented/u)
    await expect(runWorkflow(options(job('      - uses: ./local-action\n'), {actions}))).rejects.toThrow(/not owner\/repo@ref/u)
  })

  it('workflow, job and step keys it does not implement, another shell, another runner', async () => {
    await expect(runWorkflow(options(`${job('      - run: echo\n')}defaults: {run: {shell: sh}}\n`))).rejects.toThrow(/"defaults" not implemented/u)
    await expect(runWorkflow(options(job('      - run: echo\n', '    strategy: {matrix: {a: [1]}}\n')))).rejects.toThrow(/"strategy" not implemented/u)
    await expect(runWorkflow(options(job('      - run: echo\n        shell: pwsh\n')))).rejects.toThrow(/"pwsh" not implemented/u)
    await expect(runWorkflow(options(job('      - run: echo\n').replace('ubuntu-latest', 'windows-latest')))).rejects.toThrow(/not a GitHub-hosted Linux runner/u)
  })

  it('an expression it does not understand fails the run instead of reading as empty', async () => {
    await expect(runWorkflow(options(job('      - run: echo "${{ matrix.os }}"\n')))).rejects.toThrow(/matrix/u)
    await expect(runWorkflow(options(job('      - run: echo "${{ github.event.pull_request.merged }}"\n')))).rejects.toThrow(/no property "merged"/u)
  })

  it("malformed file commands are errors, as the runner's", () => {
    expect(parseFileCommand('a=1\nb<<X\nline\nX\n', 'GITHUB_OUTPUT')).toEqual([['a', '1'], ['b', 'line']])
    expect(() => parseFileCommand('b<<X\nline\n', 'GITHUB_OUTPUT')).toThrow(/matching delimiter not found/u)
    expect(() => parseFileCommand('novalue\n', 'GITHUB_ENV')).toThrow(/invalid format/u)
  })
})

// `env.terraformApply`: the helm values come from the outputs message of `terraform apply -json`;
// `terraform output -json` runs after it only for what that message could not give (a sensitive
// value, a masked one, no message).
import {mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {ToolError} from '../../src/lib/cli/errors.js'
import {clearSecretsForTests, redact, registerSecret} from '../../src/lib/cli/redact.js'
import {createEnvHandlers} from '../../src/lib/env/handlers.js'
import type {OpAction, PlanStep, ToolAction} from '../../src/lib/plan/types.js'
import {parseTerraformUiLine, terraformUiOutputs, terraformUiText} from '../../src/lib/tools/terraform.js'
import {RecordingRunner} from '../support/recording-runner.js'

const ui = (message: Record<string, unknown>) => JSON.stringify({'@level': 'info', '@module': 'terraform.ui', '@timestamp': '2030-01-01T00:00:00Z', ...message})
const VERSION = ui({'@message': 'Terraform 1.11.4', type: 'version', terraform: '1.11.4', ui: '1.2'})
const CREATING = ui({'@message': 'terraform_data.bucket: Creating...', type: 'apply_start', hook: {action: 'create'}})
const outputsLine = (outputs: Record<string, unknown>) => ui({'@message': `Outputs: ${Object.keys(outputs).length}`, type: 'outputs', outputs})
const STALE = JSON.stringify({
  '@level': 'error',
  '@message': 'Error: Saved plan is stale',
  '@module': 'terraform.ui',
  diagnostic: {severity: 'error', summary: 'Saved plan is stale', detail: 'The given plan file can no longer be applied because the state was changed\nby another operation after the plan was created.'},
  type: 'diagnostic',
})

describe('terraform machine-readable UI', () => {
  it('reads the outputs message; a sensitive output has no value', () => {
    const line = outputsLine({bucket: {sensitive: false, type: 'string', value: 'b-1'}, password: {sensitive: true, type: 'string'}})
    expect(parseTerraformUiLine(line)).toEqual({
      type: 'outputs',
      level: 'info',
      text: 'Outputs: 2',
      outputs: {bucket: {sensitive: false, type: 'string', value: 'b-1'}, password: {sensitive: true, type: 'string'}},
    })
    expect(terraformUiOutputs([VERSION, CREATING, line].join('\n'))).toEqual(parseTerraformUiLine(line)!.outputs)
    expect(terraformUiOutputs([VERSION, CREATING].join('\n'))).toBeUndefined()
  })

  it('words a diagnostic as terraform would, with its detail and place', () => {
    const withRange = JSON.stringify({...JSON.parse(STALE), diagnostic: {...JSON.parse(STALE).diagnostic, range: {filename: 'main.tf', start: {line: 12}}}})
    expect(parseTerraformUiLine(withRange)!.text).toBe(
      'Error: Saved plan is stale\n  on main.tf line 12\n  The given plan file can no longer be applied because the state was changed\n  by another operation after the plan was created.',
    )
  })

  it('leaves lines that are not UI messages alone: plain text, malformed or truncated JSON, other JSON', () => {
    for (const line of ['panic: runtime error', '{"@level":"info","@message":"trunc', '{not json}', '{"level":"info","msg":"other tool"}', '[1,2]', '']) {
      expect(parseTerraformUiLine(line)).toBeUndefined()
    }
    expect(terraformUiText([VERSION, '{"@message":', 'plain line', STALE].join('\n'))).toBe(
      ['Terraform 1.11.4', '{"@message":', 'plain line', 'Error: Saved plan is stale', '  The given plan file can no longer be applied because the state was changed', '  by another operation after the plan was created.'].join('\n'),
    )
  })
})

describe('env.terraformApply', () => {
  let dir: string
  let file: string
  const tf = (argv: string[]): ToolAction => ({kind: 'tool', tool: 'terraform', argv, cwd: '/repo/infra', env: {TF_DATA_DIR: '/state/tf', TF_WORKSPACE: 'shop-pr-1'}, timeoutMs: 60_000})
  const APPLY = ['apply', '-lock-timeout=5m', '-input=false', '-no-color', '-auto-approve', '-json', '-var', 'env=pr-1']
  const action = (): OpAction<'env.terraformApply'> => ({
    kind: 'local',
    op: 'env.terraformApply',
    summary: 'apply',
    params: {apply: tf(APPLY), outputs: tf(['output', '-json', '-no-color']), file},
  })
  const step: PlanStep = {id: 'terraform-apply', title: 'apply', action: action()}

  async function apply(runner: RecordingRunner, onLine?: (line: string) => void) {
    const handler = createEnvHandlers({runner})['env.terraformApply']
    return handler(action(), {signal: new AbortController().signal, results: new Map(), step, ...(onLine ? {onLine} : {})})
  }
  const values = () => parse(readFileSync(file, 'utf8')) as {infra: Record<string, unknown>}

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'idp-tf-apply-'))
    file = path.join(dir, 'env', 'tf-values.yaml')
    clearSecretsForTests()
  })
  afterEach(() => {
    rmSync(dir, {recursive: true, force: true})
    clearSecretsForTests()
  })

  it('writes the values from apply alone when no output is sensitive: one terraform call, readable progress', async () => {
    const runner = new RecordingRunner().when('terraform', ['apply'], {
      stdout: [VERSION, CREATING, outputsLine({bucket: {sensitive: false, type: 'string', value: 'b-1'}, ports: {sensitive: false, type: ['list', 'number'], value: [80, 443]}})].join('\n'),
    })
    const lines: string[] = []
    const result = await apply(runner, (line) => lines.push(line))
    expect(runner.calls.map((c) => c.argv)).toEqual([APPLY])
    expect(runner.calls[0]!.options).toMatchObject({cwd: '/repo/infra', env: {TF_DATA_DIR: '/state/tf', TF_WORKSPACE: 'shop-pr-1'}, timeoutMs: 60_000})
    expect(result).toMatchObject({outputs: ['bucket', 'ports'], sensitive: [], outputCommand: false})
    expect(values()).toEqual({infra: {bucket: 'b-1', ports: [80, 443]}})
    expect(statSync(file).mode & 0o777).toBe(0o600)
    // The recording runner does not stream; the command line is what the step shows first.
    expect(lines).toEqual([`$ cd /repo/infra && TF_DATA_DIR=/state/tf TF_WORKSPACE=shop-pr-1 terraform ${APPLY.join(' ')}`])
  })

  it('turns streamed JSON lines into terraform words, and shows other lines as they are', async () => {
    const runner = new RecordingRunner().when('terraform', ['apply'], (call) => {
      for (const line of [VERSION, CREATING, 'not json at all', '{"@message": broken']) call.options.onLine?.(line, 'stdout')
      return {stdout: outputsLine({})}
    })
    const lines: string[] = []
    await apply(runner, (line) => lines.push(line))
    expect(lines.slice(1)).toEqual(['Terraform 1.11.4', 'terraform_data.bucket: Creating...', 'not json at all', '{"@message": broken'])
    expect(values()).toEqual({infra: {}})
  })

  it('asks `terraform output -json` after apply when an output is sensitive, and registers the values as secrets', async () => {
    const runner = new RecordingRunner()
      .when('terraform', ['apply'], {
        stdout: [VERSION, outputsLine({bucket: {sensitive: false, type: 'string', value: 'b-1'}, db_password: {sensitive: true, type: 'string'}, token: {sensitive: true, type: 'string'}})].join('\n'),
      })
      .when('terraform', ['output'], {
        stdout: JSON.stringify({
          bucket: {sensitive: false, type: 'string', value: 'b-1'},
          db_password: {sensitive: true, type: 'string', value: 'hunter2-pw'},
          token: {sensitive: true, type: 'string', value: 'tok-0f1e2d'},
        }),
      })
    const lines: string[] = []
    const result = await apply(runner, (line) => lines.push(line))
    expect(runner.calls.map((c) => c.argv[0])).toEqual(['apply', 'output'])
    // The sensitive values must reach us verbatim: the runner's redaction may not touch that stdout; it runs like the apply (cwd, workspace).
    expect(runner.calls[1]!.options).toMatchObject({rawStdout: true, cwd: '/repo/infra', env: {TF_DATA_DIR: '/state/tf', TF_WORKSPACE: 'shop-pr-1'}})
    expect(result).toMatchObject({outputs: ['bucket', 'db_password', 'token'], sensitive: ['db_password', 'token'], outputCommand: true})
    expect(values()).toEqual({infra: {bucket: 'b-1', db_password: 'hunter2-pw', token: 'tok-0f1e2d'}})
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(redact('hunter2-pw tok-0f1e2d')).toBe('*** ***')
    expect(lines).toContain('$ cd /repo/infra && TF_DATA_DIR=/state/tf TF_WORKSPACE=shop-pr-1 terraform output -json -no-color')
    expect(JSON.stringify([lines, result])).not.toContain('hunter2')
  })

  it('falls back to `terraform output -json` when apply printed no outputs message or a value came out masked', async () => {
    const answers = {stdout: JSON.stringify({token_ref: {sensitive: false, type: 'string', value: 'tok-12345'}})}
    const silent = new RecordingRunner().when('terraform', ['apply'], {stdout: [VERSION, '{"@message": trunc'].join('\n')}).when('terraform', ['output'], answers)
    expect(await apply(silent)).toMatchObject({outputCommand: true})
    expect(values()).toEqual({infra: {token_ref: 'tok-12345'}})

    // A non-sensitive value that holds a known secret is masked in the (redacted) apply stdout.
    registerSecret('tok-12345')
    const masked = new RecordingRunner()
      .when('terraform', ['apply'], {stdout: outputsLine({token_ref: {sensitive: false, type: 'string', value: '***'}})})
      .when('terraform', ['output'], answers)
    expect(await apply(masked)).toMatchObject({outputCommand: true})
    expect(values()).toEqual({infra: {token_ref: 'tok-12345'}})
  })

  it('a failed apply is a ToolError in terraform words (diagnostic and detail, not JSON), and writes no values', async () => {
    const runner = new RecordingRunner().when('terraform', ['apply'], {
      exitCode: 1,
      stdout: [VERSION, STALE].join('\n'),
      stderr: 'There are some problems with the CLI configuration:\nWarning: Unable to open CLI configuration file',
    })
    const error = (await apply(runner).catch((e: unknown) => e)) as ToolError
    expect(error).toBeInstanceOf(ToolError)
    expect(error.exitCode).toBe(5)
    expect(error.message).toBe('terraform exited with code 1: Error: Saved plan is stale')
    const tail = String(error.details?.stderrTail)
    expect(tail).toContain('Warning: Unable to open CLI configuration file')
    expect(tail).toContain('  The given plan file can no longer be applied because the state was changed')
    expect(tail).not.toContain('"@level"')
    expect(runner.calls.map((c) => c.argv[0])).toEqual(['apply'])
    expect(() => statSync(file)).toThrow()
  })

  it('a `terraform output` that does not print JSON is a ToolError naming the command', async () => {
    const runner = new RecordingRunner()
      .when('terraform', ['apply'], {stdout: outputsLine({p: {sensitive: true, type: 'string'}})})
      .when('terraform', ['output'], {stdout: 'The state file either has no outputs defined'})
    const error = (await apply(runner).catch((e: unknown) => e)) as ToolError
    expect(error).toBeInstanceOf(ToolError)
    expect(error.message).toContain('`terraform output -json` did not print JSON')
    expect(error.hint).toMatch(/TF_WORKSPACE/u)
  })
})

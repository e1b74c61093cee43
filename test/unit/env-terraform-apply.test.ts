// `env.terraformApply`: the helm values come from the outputs message of `terraform apply -json`,
// sensitive ones from `terraform show -json PLANFILE` run beside it when the plan knows them;
// `terraform output -json` runs only for what neither could give.
import {mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {CancelledError, ToolError} from '../../src/lib/cli/errors.js'
import {clearSecretsForTests, redact, registerSecret} from '../../src/lib/cli/redact.js'
import {createEnvHandlers} from '../../src/lib/env/handlers.js'
import type {LocalAction, PlanStep, ToolAction} from '../../src/lib/plan/types.js'
import {parseTerraformUiLine, terraformPlannedOutputs, terraformUiOutputs, terraformUiText} from '../../src/lib/tools/terraform.js'
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

/** `terraform show -json PLANFILE` as terraform 1.11 prints it (trimmed): `value` only when known at plan time. */
const showJson = (outputs: Record<string, {sensitive: boolean; value?: unknown; unknown?: unknown}>) =>
  JSON.stringify({
    format_version: '1.2',
    terraform_version: '1.11.4',
    planned_values: {
      outputs: Object.fromEntries(
        Object.entries(outputs).map(([name, o]) => [name, {sensitive: o.sensitive, ...('value' in o ? {type: 'string', value: o.value} : {})}]),
      ),
      root_module: {},
    },
    output_changes: Object.fromEntries(
      Object.entries(outputs).map(([name, o]) => [name, {actions: ['create'], before: null, ...('value' in o ? {after: o.value} : {}), after_unknown: o.unknown ?? !('value' in o), after_sensitive: o.sensitive}]),
    ),
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

  it('reads the outputs a saved plan will produce: values known at plan time, sensitive ones in plain text', () => {
    expect(terraformPlannedOutputs(showJson({bucket: {sensitive: false}, db_password: {sensitive: true, value: 's3cr3t-pw'}, token: {sensitive: true}}))).toEqual({
      bucket: {sensitive: false},
      db_password: {sensitive: true, type: 'string', value: 's3cr3t-pw'},
      token: {sensitive: true},
    })
    // A partly known value: planned_values has no value then, and after_unknown marks the unknown
    // parts; a value next to any after_unknown mark is not trusted either.
    expect(terraformPlannedOutputs(showJson({conn: {sensitive: true, value: {host: 'h'}, unknown: {port: true}}}))).toEqual({conn: {sensitive: true, type: 'string'}})
    // No outputs at all, or an older plan without output_changes.
    expect(terraformPlannedOutputs('{"planned_values":{"root_module":{}}}')).toEqual({})
    expect(terraformPlannedOutputs('{"planned_values":{"outputs":{"p":{"sensitive":true,"value":"pw-1"}}}}')).toEqual({p: {sensitive: true, value: 'pw-1'}})
    for (const stdout of ['', 'not json', '[]', 'null', '{"format_version":"1.0"}', '{"planned_values":null}']) expect(terraformPlannedOutputs(stdout)).toBeUndefined()
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
  const SHOW = ['show', '-json', '-no-color', '/state/tfplan']
  /** `legacy`: a plan written before the step ran `terraform show` (a journal being resumed). */
  const action = (legacy = false): LocalAction => ({
    kind: 'local',
    op: 'env.terraformApply',
    summary: 'apply',
    params: {apply: tf(['apply', '-auto-approve', '-json', '/state/tfplan']), ...(legacy ? {} : {show: tf(SHOW)}), outputs: tf(['output', '-json', '-no-color']), file},
  })
  const step = {id: 'terraform-apply', title: 'apply', action: {kind: 'local', op: 'env.terraformApply', summary: ''}} as PlanStep

  async function apply(runner: RecordingRunner, onLine?: (line: string) => void, legacy = false) {
    const handler = createEnvHandlers({runner})['env.terraformApply']!
    return handler(action(legacy), {signal: new AbortController().signal, results: new Map(), step, ...(onLine ? {onLine} : {})}) as Promise<{
      outputs: string[]
      sensitive: string[]
      sensitiveFromPlan: string[]
      outputCommand: boolean
    }>
  }
  /** A show that runs until its signal stops it, as a real one still reading a big plan would. */
  const showUntilStopped = (stopped: {signal?: AbortSignal}) => (call: {options: {signal?: AbortSignal}}) =>
    new Promise<Error>((resolve) => {
      stopped.signal = call.options.signal
      call.options.signal!.addEventListener('abort', () => resolve(new CancelledError('Cancelled: stopped terraform show.')), {once: true})
    })
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
    // show starts beside the apply; with no sensitive output it is not needed and is stopped.
    const stopped: {signal?: AbortSignal} = {}
    runner.when('terraform', ['show'], showUntilStopped(stopped))
    const lines: string[] = []
    const result = await apply(runner, (line) => lines.push(line))
    expect(runner.calls.map((c) => c.argv)).toEqual([['apply', '-auto-approve', '-json', '/state/tfplan'], SHOW])
    expect(stopped.signal?.aborted).toBe(true)
    expect(runner.calls[0]!.options).toMatchObject({cwd: '/repo/infra', env: {TF_DATA_DIR: '/state/tf', TF_WORKSPACE: 'shop-pr-1'}, timeoutMs: 60_000})
    expect(result).toMatchObject({outputs: ['bucket', 'ports'], sensitive: [], sensitiveFromPlan: [], outputCommand: false})
    expect(values()).toEqual({infra: {bucket: 'b-1', ports: [80, 443]}})
    expect(statSync(file).mode & 0o777).toBe(0o600)
    // The recording runner does not stream; the command line is what the step shows first.
    expect(lines[0]).toBe('$ cd /repo/infra && TF_DATA_DIR=/state/tf TF_WORKSPACE=shop-pr-1 terraform apply -auto-approve -json /state/tfplan')
  })

  it('turns streamed JSON lines into terraform words, and shows other lines as they are', async () => {
    const runner = new RecordingRunner().when('terraform', ['apply'], (call) => {
      for (const line of [VERSION, CREATING, 'not json at all', '{"@message": broken']) call.options.onLine?.(line, 'stdout')
      return {stdout: outputsLine({})}
    })
    const lines: string[] = []
    await apply(runner, (line) => lines.push(line))
    // The commands first (apply, then show beside it), then apply's lines in terraform words.
    expect(lines.slice(0, 2).map((line) => line.split(' terraform ')[1]?.split(' ')[0])).toEqual(['apply', 'show'])
    expect(lines.slice(2)).toEqual(['Terraform 1.11.4', 'terraform_data.bucket: Creating...', 'not json at all', '{"@message": broken'])
    expect(values()).toEqual({infra: {}})
  })

  it('takes a sensitive value known at plan time from `terraform show` of the plan, beside the apply: no call after it', async () => {
    let applyDone = false
    let showStartedBeforeApplyEnded = false
    const runner = new RecordingRunner()
      .when('terraform', ['apply'], async () => {
        // The apply is still running when show starts: they overlap.
        await new Promise((resolve) => setTimeout(resolve, 20))
        applyDone = true
        return {stdout: [VERSION, outputsLine({bucket: {sensitive: false, type: 'string', value: 'b-1'}, db_password: {sensitive: true, type: 'string'}})].join('\n')}
      })
      .when('terraform', ['show'], () => {
        showStartedBeforeApplyEnded = !applyDone
        return {stdout: showJson({bucket: {sensitive: false}, db_password: {sensitive: true, value: 'hunter2-pw'}})}
      })
    const lines: string[] = []
    const result = await apply(runner, (line) => lines.push(line))
    expect(showStartedBeforeApplyEnded).toBe(true)
    expect(runner.calls.map((c) => c.argv)).toEqual([['apply', '-auto-approve', '-json', '/state/tfplan'], SHOW])
    // The plan holds the value in plain text: show's stdout must come back unredacted, and it runs like the apply (cwd, workspace).
    expect(runner.calls[1]!.options).toMatchObject({rawStdout: true, cwd: '/repo/infra', env: {TF_DATA_DIR: '/state/tf', TF_WORKSPACE: 'shop-pr-1'}})
    expect(runner.calls[1]!.options.onLine).toBeUndefined()
    expect(result).toMatchObject({outputs: ['bucket', 'db_password'], sensitive: ['db_password'], sensitiveFromPlan: ['db_password'], outputCommand: false})
    expect(values()).toEqual({infra: {bucket: 'b-1', db_password: 'hunter2-pw'}})
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(redact('password is hunter2-pw')).toBe('password is ***')
    expect(lines).toContain('$ cd /repo/infra && TF_DATA_DIR=/state/tf TF_WORKSPACE=shop-pr-1 terraform show -json -no-color /state/tfplan')
    expect(JSON.stringify([lines, result])).not.toContain('hunter2')
  })

  it('asks `terraform output -json` after apply only for a sensitive output computed during apply, and registers the values as secrets', async () => {
    const runner = new RecordingRunner()
      .when('terraform', ['apply'], {
        stdout: [VERSION, outputsLine({bucket: {sensitive: false, type: 'string', value: 'b-1'}, db_password: {sensitive: true, type: 'string'}, token: {sensitive: true, type: 'string'}})].join('\n'),
      })
      .when('terraform', ['show'], {stdout: showJson({bucket: {sensitive: false}, db_password: {sensitive: true, value: 'hunter2-pw'}, token: {sensitive: true}})})
      .when('terraform', ['output'], {
        stdout: JSON.stringify({
          bucket: {sensitive: false, type: 'string', value: 'b-1'},
          db_password: {sensitive: true, type: 'string', value: 'hunter2-pw'},
          token: {sensitive: true, type: 'string', value: 'tok-0f1e2d'},
        }),
      })
    const result = await apply(runner)
    expect(runner.calls.map((c) => c.argv[0])).toEqual(['apply', 'show', 'output'])
    expect(runner.calls[2]!.options).toMatchObject({rawStdout: true, env: {TF_WORKSPACE: 'shop-pr-1'}})
    // terraform output, which holds every value after apply, is then the one source.
    expect(result).toMatchObject({outputs: ['bucket', 'db_password', 'token'], sensitive: ['db_password', 'token'], sensitiveFromPlan: [], outputCommand: true})
    expect(values()).toEqual({infra: {bucket: 'b-1', db_password: 'hunter2-pw', token: 'tok-0f1e2d'}})
    expect(redact('hunter2-pw tok-0f1e2d')).toBe('*** ***')
  })

  it('a failing `terraform show` does not fail the step: the apply is done, `terraform output` gives the values, and the progress says why', async () => {
    const runner = new RecordingRunner()
      .when('terraform', ['apply'], {stdout: outputsLine({db_password: {sensitive: true, type: 'string'}})})
      .when('terraform', ['show'], {exitCode: 1, stderr: '\nError: Failed to read the given file as a state or plan file\n\nPlan read error: zip: not a valid zip file'})
      .when('terraform', ['output'], {stdout: JSON.stringify({db_password: {sensitive: true, type: 'string', value: 'hunter2-pw'}})})
    const lines: string[] = []
    const result = await apply(runner, (line) => lines.push(line))
    expect(runner.calls.map((c) => c.argv[0])).toEqual(['apply', 'show', 'output'])
    expect(result).toMatchObject({sensitive: ['db_password'], sensitiveFromPlan: [], outputCommand: true})
    expect(values()).toEqual({infra: {db_password: 'hunter2-pw'}})
    expect(lines).toContain('terraform show could not read the plan (terraform exited with code 1: Error: Failed to read the given file as a state or plan file); asking terraform output instead')

    // The same when show prints something that is not a plan as JSON.
    const garbled = new RecordingRunner()
      .when('terraform', ['apply'], {stdout: outputsLine({db_password: {sensitive: true, type: 'string'}})})
      .when('terraform', ['show'], {stdout: '{"format_version":"1.2"'})
      .when('terraform', ['output'], {stdout: JSON.stringify({db_password: {sensitive: true, type: 'string', value: 'hunter2-pw'}})})
    lines.length = 0
    expect(await apply(garbled, (line) => lines.push(line))).toMatchObject({outputCommand: true})
    expect(lines).toContain('terraform show could not read the plan (it did not print a plan as JSON); asking terraform output instead')
  })

  it('a failed apply stops the show beside it and fails with the apply\'s error', async () => {
    const stopped: {signal?: AbortSignal} = {}
    const runner = new RecordingRunner()
      .when('terraform', ['apply'], async () => {
        await new Promise((resolve) => setTimeout(resolve, 10))
        return {exitCode: 1, stdout: [VERSION, STALE].join('\n')}
      })
      .when('terraform', ['show'], showUntilStopped(stopped))
    const error = (await apply(runner).catch((e: unknown) => e)) as ToolError
    expect(error).toBeInstanceOf(ToolError)
    expect(error.message).toBe('terraform exited with code 1: Error: Saved plan is stale')
    expect(stopped.signal?.aborted).toBe(true)
    expect(runner.calls.map((c) => c.argv[0])).toEqual(['apply', 'show'])
    expect(() => statSync(file)).toThrow()
  })

  it('a plan written before show was added (a resumed journal) asks `terraform output -json` for sensitive values, and registers them as secrets', async () => {
    const runner = new RecordingRunner()
      .when('terraform', ['apply'], {stdout: [VERSION, outputsLine({bucket: {sensitive: false, type: 'string', value: 'b-1'}, db_password: {sensitive: true, type: 'string'}})].join('\n')})
      .when('terraform', ['output'], {stdout: JSON.stringify({bucket: {sensitive: false, type: 'string', value: 'b-1'}, db_password: {sensitive: true, type: 'string', value: 'hunter2-pw'}})})
    const result = await apply(runner, undefined, true)
    expect(runner.calls.map((c) => c.argv[0])).toEqual(['apply', 'output'])
    // The sensitive value must reach us verbatim: the runner's redaction may not touch that stdout.
    expect(runner.calls[1]!.options).toMatchObject({rawStdout: true, env: {TF_WORKSPACE: 'shop-pr-1'}})
    expect(result).toMatchObject({outputs: ['bucket', 'db_password'], sensitive: ['db_password'], outputCommand: true})
    expect(values()).toEqual({infra: {bucket: 'b-1', db_password: 'hunter2-pw'}})
    expect(redact('password is hunter2-pw')).toBe('password is ***')
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
    expect(runner.calls.map((c) => c.argv[0])).toEqual(['apply', 'show'])
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

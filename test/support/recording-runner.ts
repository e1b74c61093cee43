import {redactArgv} from '../../src/lib/cli/redact.js'
import {toolError} from '../../src/lib/tools/tool-error.js'
import {removedToolEnv} from '../../src/lib/tools/git.js'
import type {RunOptions, RunResult, ToolInfo, ToolName, ToolRunner} from '../../src/lib/tools/types.js'
import {assertUsable, toolInfo} from '../../src/lib/tools/versions.js'

/**
 * A ToolRunner for unit tests of planners and appliers: records every call and answers from a
 * script. Failures use the real ToolError/PrerequisiteError construction, so tests see the
 * same messages, hints and exit codes as with real tools.
 */
export interface RecordedCall {
  tool: ToolName
  argv: string[]
  options: RunOptions
}

export interface ScriptedResult {
  stdout?: string
  stderr?: string
  exitCode?: number
}

type Answer = ScriptedResult | Error | ((call: RecordedCall) => ScriptedResult | Error | Promise<ScriptedResult | Error>)

const DEFAULT_VERSIONS: Record<ToolName, string> = {
  git: '2.39.5',
  helm: '3.18.0',
  kubectl: '1.32.4',
  terraform: '1.11.4',
  vcluster: '0.37.0',
  argocd: '3.5.1',
}

export class RecordingRunner implements ToolRunner {
  readonly calls: RecordedCall[] = []
  private readonly script: Array<{tool: ToolName; prefix: string[]; answer: Answer; times?: number}> = []
  private readonly versions: Partial<Record<ToolName, string | null>>

  /** `versions[tool] = null` makes a tool missing; a version string overrides the default. */
  constructor(options: {versions?: Partial<Record<ToolName, string | null>>} = {}) {
    this.versions = {...DEFAULT_VERSIONS, ...options.versions}
  }

  /** Answer calls of `tool` whose argv starts with `argvPrefix`; later rules win over earlier ones. */
  when(tool: ToolName, argvPrefix: readonly string[], answer: Answer, options: {times?: number} = {}): this {
    this.script.unshift({tool, prefix: [...argvPrefix], answer, times: options.times})
    return this
  }

  /** Argv of the calls of one tool, for compact assertions. */
  argvOf(tool: ToolName): string[][] {
    return this.calls.filter((call) => call.tool === tool).map((call) => call.argv)
  }

  async resolve(tool: ToolName): Promise<ToolInfo> {
    const version = this.versions[tool]
    return version === null || version === undefined ? toolInfo(tool) : toolInfo(tool, {path: `/usr/local/bin/${tool}`, version})
  }

  async require(tool: ToolName): Promise<ToolInfo> {
    return assertUsable(await this.resolve(tool))
  }

  removedEnv(env?: Record<string, string | undefined>): string[] {
    return removedToolEnv(process.env, env)
  }

  async run(tool: ToolName, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    options.signal?.throwIfAborted()
    await this.require(tool)
    const call: RecordedCall = {tool, argv: [...args], options}
    this.calls.push(call)
    const rule = this.script.find((r) => r.tool === tool && r.prefix.every((part, i) => args[i] === part) && (r.times === undefined || r.times > 0))
    if (rule?.times !== undefined) rule.times--
    const answer = typeof rule?.answer === 'function' ? await rule.answer(call) : rule?.answer
    if (answer instanceof Error) throw answer
    const result = {stdout: '', stderr: '', exitCode: 0, ...answer}
    const argv = redactArgv(args)
    if (result.exitCode !== 0 && !(options.allowedExitCodes ?? []).includes(result.exitCode)) throw toolError(tool, argv, result, {cwd: options.cwd, kubeconfig: options.kubeconfig, env: options.env, unset: this.removedEnv(options.env)})
    return {tool, argv, exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, durationMs: 0}
  }
}

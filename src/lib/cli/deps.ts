/**
 * What every golden path's service is given instead of reaching for globals: the shape of
 * `service(request, deps) → result` (docs/architecture.md). The base command builds one Deps per
 * run with createDeps; tests build theirs the same way with what they control (a recording runner,
 * a scripted prompter, a fixed clock, the stand-ins' environment), and one service may hand its
 * Deps to another (an overview calls the list services in-process).
 */
import path from 'node:path'

import {shellQuote} from '../plan/format.js'
import {chooseRenderer, createPlanRunner, type PlanRunner} from '../plan/run.js'
import {createToolRunner} from '../tools/runner.js'
import type {ToolRunner} from '../tools/types.js'
import type {Output} from './output.js'
import {stateDir} from './paths.js'
import {createPrompter, type Prompter} from './prompter.js'
import {registerSecretsFromEnv} from './redact.js'

export interface Deps {
  /** Logs, progress lines and warnings (stderr); never the result. */
  out: Output
  /** The one way to start external tools. */
  runner: ToolRunner
  /** Present only when asking is allowed (a terminal, no --no-input, no --json, not CI). */
  prompter?: Prompter
  /** Aborted on Ctrl-C or SIGTERM; long work passes it on. */
  signal: AbortSignal
  now: () => Date
  /** The environment idp reads its settings from (GITHUB_TOKEN, KUBECONFIG, CI, ...). */
  env: NodeJS.ProcessEnv
  /** The CLI's name, for the commands idp prints (`idp env down pr-1`). */
  bin: string
  /** idp's private state directory (kubeconfigs, journals). */
  stateDir: string
  /** Applies plans with the command's renderer, signal and verbosity. */
  plans: PlanRunner
}

/** CI is set to something other than empty, 0 or false (GitHub Actions, GitLab, ... set CI=true). */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false'
}

export interface DepsOptions {
  /** Everything idp reads its settings from; the tools it starts get it too. */
  env: NodeJS.ProcessEnv
  out: Output
  signal: AbortSignal
  bin: string
  /** Asking is allowed: a terminal, no --no-input, no --json; never in CI, whatever is said here. */
  interactive: boolean
  /** Where plan progress is drawn: stderr (the default) and whether it is a terminal, and its width. */
  progress?: {stream?: NodeJS.WritableStream; isTTY: boolean; columns?: number}
  verbose?: boolean
  /** Instead of the ToolRunner on `env` (tests: a RecordingRunner). */
  runner?: ToolRunner
  /** Instead of @inquirer/prompts on stdin/stderr (tests: scripted answers); only used when interactive. */
  prompter?: Prompter
  now?: () => Date
}

/** One way to build Deps, for the CLI and for every in-process caller. */
export function createDeps(options: DepsOptions): Deps {
  const {env, out, signal} = options
  // Tokens idp may meet in output or argv are masked before anything runs.
  registerSecretsFromEnv(env)
  const runner = options.runner ?? createToolRunner({env, ...(env.PATH === undefined ? {} : {pathEnv: env.PATH}), logger: (line) => out.debug(line)})
  const interactive = options.interactive && !isCi(env)
  const progress = options.progress ?? {isTTY: false}
  const renderer = chooseRenderer({json: out.json, isTTY: progress.isTTY, ci: isCi(env), ...(progress.columns === undefined ? {} : {columns: progress.columns})})
  return {
    out,
    runner,
    ...(interactive ? {prompter: options.prompter ?? createPrompter({signal})} : {}),
    signal,
    now: options.now ?? (() => new Date()),
    env,
    bin: options.bin,
    stateDir: stateDir(env),
    plans: createPlanRunner({out, runner, signal, renderer, verbose: options.verbose ?? false, ...(progress.stream ? {stderr: progress.stream} : {})}),
  }
}

/** A golden path: a typed request (what the user asked, parsed) in, the typed result `--json` prints out. */
export type Service<Request, Result> = (request: Request, deps: Deps) => Promise<Result>

/** What a human rendering may depend on besides the result. */
export interface View {
  bin: string
  /** The working directory, for relative paths. */
  cwd: string
  /** When the result is shown, for relative times ("expires in 2h"). */
  now: Date
  /** The repository the command acted on (--dir), for the idp commands a rendering prints. */
  dir: string
  /** IDP_CONFIG, when it named the config. */
  configFile?: string
}

/**
 * An idp command to print (a teardown, a next step), reaching what this run reached: the same
 * repository (`--dir` when it is not the working directory) and the same config (IDP_CONFIG).
 * From a monorepo's root, `idp env down pr-1` alone would read another `.idp.yml`.
 */
export function idpCommand(where: {bin: string; cwd: string; dir: string; configFile?: string}, args: string[]): string {
  const dirArgs = path.resolve(where.dir) === path.resolve(where.cwd) ? [] : ['--dir', where.dir]
  return `${where.configFile ? `IDP_CONFIG=${shellQuote([where.configFile])} ` : ''}${shellQuote([where.bin, ...args, ...dirArgs])}`
}

/** idpCommand for a service: its Deps and the request's --dir. */
export function idpCommandOf(deps: Pick<Deps, 'bin' | 'env'>, dir: string, args: string[]): string {
  return idpCommand({bin: deps.bin, cwd: process.cwd(), dir, ...(deps.env.IDP_CONFIG ? {configFile: deps.env.IDP_CONFIG} : {})}, args)
}

/** The result for people (stdout): a pure function, no writes. */
export type Human<Result> = (result: Result, view: View) => string | undefined

/** What a command's execute() hands back: the result, and how to show it to people. */
export interface Served<Result> {
  result: Result
  human: Human<Result>
}

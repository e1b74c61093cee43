/**
 * What every golden path's service is given instead of reaching for globals: the shape of
 * `service(request, deps) → result` (docs/architecture.md). The base command builds one Deps per
 * run; tests build their own (a recording runner, a fixed clock, the stand-ins' environment), and
 * one service may hand its Deps to another (an overview calls the list services in-process).
 */
import type {PlanRunner} from '../plan/run.js'
import type {ToolRunner} from '../tools/types.js'
import type {Output} from './output.js'
import type {Prompter} from './prompter.js'

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

/** A golden path: a typed request (what the user asked, parsed) in, the typed result `--json` prints out. */
export type Service<Request, Result> = (request: Request, deps: Deps) => Promise<Result>

/** What a human rendering may depend on besides the result. */
export interface View {
  bin: string
  /** The working directory, for relative paths. */
  cwd: string
  /** When the result is shown, for relative times ("expires in 2h"). */
  now: Date
}

/** The result for people (stdout): a pure function, no writes. */
export type Human<Result> = (result: Result, view: View) => string | undefined

/** The external tools idp drives. Only `runner.ts` turns these into processes (through execa). */
export type ToolName = 'git' | 'helm' | 'kubectl' | 'terraform' | 'vcluster' | 'argocd'

export const TOOL_NAMES: readonly ToolName[] = ['git', 'helm', 'kubectl', 'terraform', 'vcluster', 'argocd']

export interface RunOptions {
  cwd?: string
  /** Extra environment for the child (merged over process.env). Values are redacted in logs. */
  env?: Record<string, string | undefined>
  /** Text on the child's stdin. */
  input?: string
  timeoutMs?: number
  /** A private kubeconfig path, passed as KUBECONFIG. */
  kubeconfig?: string
  /** Aborting kills the child's whole process tree. */
  signal?: AbortSignal
  /** Exit codes that are not failures (default: only 0). */
  allowedExitCodes?: number[]
  /** Called for each output line (already redacted), e.g. for progress. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void
  /**
   * stdout carries credentials the caller needs verbatim (e.g. `vcluster connect --print`
   * writes a kubeconfig): return it unredacted. It is still never logged nor passed to onLine.
   */
  rawStdout?: boolean
}

export interface RunResult {
  tool: ToolName
  /** The arguments after the binary, redacted. */
  argv: string[]
  exitCode: number
  stdout: string
  stderr: string
  durationMs: number
}

export type ToolStatus = 'ok' | 'too-old' | 'missing' | 'unknown-version'

export interface ToolInfo {
  tool: ToolName
  status: ToolStatus
  path?: string
  version?: string
  /** Human description of the minimum, e.g. ">= 3.14 or 4.x". */
  minimum: string
  installHint: string
}

export interface ToolRunner {
  /** Run `tool args...`; a non-zero exit (not in allowedExitCodes) rejects with a ToolError. */
  run(tool: ToolName, args: readonly string[], options?: RunOptions): Promise<RunResult>
  /** Find the binary on PATH (never the current directory) and read its version. Cached. */
  resolve(tool: ToolName): Promise<ToolInfo>
  /** Like resolve, but a PrerequisiteError (exit 4) when missing or too old. */
  require(tool: ToolName): Promise<ToolInfo>
  /** The variables run() removes from a tool's environment given the action's own (git's repository variables the environment holds). */
  removedEnv(env?: Record<string, string | undefined>): string[]
}

/**
 * terraform argv builders (pure). Always non-interactive (`-input=false`) and colourless, as
 * TF_IN_AUTOMATION (set by the runner) expects. `chdir` makes a step copy-pastable.
 */
interface Common {
  chdir?: string
}

function chdirArgs(o: Common): string[] {
  return o.chdir ? [`-chdir=${o.chdir}`] : []
}

function varArgs(vars: Record<string, string> | undefined, varFiles: string[] | undefined): string[] {
  const keys = Object.keys(vars ?? {}).sort()
  return [...(varFiles ?? []).map((file) => `-var-file=${file}`), ...keys.flatMap((key) => ['-var', `${key}=${vars![key]}`])]
}

/**
 * `reconfigure`: take the backend configuration given here, ignoring the one saved in the data
 * dir. `migrateState`: copy existing state (the local backend's workspaces) into the configured
 * backend without asking (`-migrate-state -force-copy`); the two exclude each other.
 */
export function terraformInitArgs(o: Common & {backendConfig?: Record<string, string>; upgrade?: boolean; reconfigure?: boolean; migrateState?: boolean} = {}): string[] {
  const backend = Object.keys(o.backendConfig ?? {})
    .sort()
    .map((key) => `-backend-config=${key}=${o.backendConfig![key]}`)
  const mode = o.migrateState ? ['-migrate-state', '-force-copy'] : o.reconfigure ? ['-reconfigure'] : []
  return [...chdirArgs(o), 'init', '-input=false', '-no-color', ...(o.upgrade ? ['-upgrade'] : []), ...mode, ...backend]
}

export function terraformWorkspaceDeleteArgs(o: Common & {workspace: string}): string[] {
  return [...chdirArgs(o), 'workspace', 'delete', '-no-color', o.workspace]
}

/**
 * Apply the configuration with these vars, approved (nothing in between to review it). `json`:
 * terraform's machine-readable UI (one JSON message a line, see parseTerraformUiLine), whose
 * outputs message saves a `terraform output` run.
 */
export function terraformApplyArgs(o: Common & {vars?: Record<string, string>; varFiles?: string[]; json?: boolean}): string[] {
  return [...chdirArgs(o), 'apply', '-input=false', '-no-color', '-auto-approve', ...(o.json ? ['-json'] : []), ...varArgs(o.vars, o.varFiles)]
}

export function terraformDestroyArgs(o: Common & {vars?: Record<string, string>; varFiles?: string[]}): string[] {
  return [...chdirArgs(o), 'destroy', '-input=false', '-no-color', '-auto-approve', ...varArgs(o.vars, o.varFiles)]
}

export function terraformOutputArgs(o: Common = {}): string[] {
  return [...chdirArgs(o), 'output', '-json', '-no-color']
}

/** An output as terraform reports it; a sensitive one in apply's outputs message has no `value`. */
export interface TerraformOutput {
  sensitive: boolean
  type?: unknown
  value?: unknown
}

/** One message of terraform's machine-readable UI (`-json`): its text for people, and what idp reads from it. */
export interface TerraformUiMessage {
  type: string
  level: string
  text: string
  /** The `outputs` message (after apply): every root output. */
  outputs?: Record<string, TerraformOutput>
}

/**
 * One stdout line of `terraform <command> -json`, or undefined when the line is not such a
 * message (plain text, a crash trace, a truncated line): callers show those lines as they are.
 * A diagnostic's text carries its detail and place, as terraform's human UI would show them.
 */
export function parseTerraformUiLine(line: string): TerraformUiMessage | undefined {
  if (!line.startsWith('{')) return undefined
  let message: Record<string, unknown>
  try {
    message = JSON.parse(line) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (!message || typeof message !== 'object' || typeof message.type !== 'string' || typeof message['@message'] !== 'string') return undefined
  const level = typeof message['@level'] === 'string' ? message['@level'] : 'info'
  let text = message['@message']
  const diagnostic = message.diagnostic as {detail?: string; range?: {filename?: string; start?: {line?: number}}} | undefined
  if (message.type === 'diagnostic' && diagnostic) {
    const where = diagnostic.range?.filename ? `  on ${diagnostic.range.filename}${diagnostic.range.start?.line ? ` line ${diagnostic.range.start.line}` : ''}` : ''
    text = [text, where, ...(diagnostic.detail ? diagnostic.detail.split('\n').map((l) => `  ${l}`) : [])].filter(Boolean).join('\n')
  }
  const outputs = message.type === 'outputs' && message.outputs && typeof message.outputs === 'object' ? readOutputs(message.outputs as Record<string, unknown>) : undefined
  return {type: message.type, level, text, ...(outputs ? {outputs} : {})}
}

function readOutputs(raw: Record<string, unknown>): Record<string, TerraformOutput> {
  const outputs: Record<string, TerraformOutput> = {}
  for (const [name, entry] of Object.entries(raw)) {
    const o = (entry ?? {}) as {sensitive?: unknown; type?: unknown; value?: unknown}
    outputs[name] = {sensitive: o.sensitive === true, ...(o.type === undefined ? {} : {type: o.type}), ...('value' in o ? {value: o.value} : {})}
  }
  return outputs
}

/** The output of `terraform ... -json` as the text a person reads: each message's text, other lines as they are. */
export function terraformUiText(stdout: string): string {
  return stdout
    .split(/\r?\n/u)
    .map((line) => parseTerraformUiLine(line)?.text ?? line)
    .join('\n')
}

/** The last outputs message in a `terraform apply -json` stdout; undefined when there is none. */
export function terraformUiOutputs(stdout: string): Record<string, TerraformOutput> | undefined {
  let found: Record<string, TerraformOutput> | undefined
  for (const line of stdout.split(/\r?\n/u)) {
    const message = parseTerraformUiLine(line)
    if (message?.outputs) found = message.outputs
  }
  return found
}


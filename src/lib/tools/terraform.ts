import type {RunOptions, ToolRunner} from './types.js'

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

export function terraformInitArgs(o: Common & {backendConfig?: Record<string, string>; upgrade?: boolean; reconfigure?: boolean} = {}): string[] {
  const backend = Object.keys(o.backendConfig ?? {})
    .sort()
    .map((key) => `-backend-config=${key}=${o.backendConfig![key]}`)
  return [...chdirArgs(o), 'init', '-input=false', '-no-color', ...(o.upgrade ? ['-upgrade'] : []), ...(o.reconfigure ? ['-reconfigure'] : []), ...backend]
}

export function terraformWorkspaceSelectArgs(o: Common & {workspace: string}): string[] {
  return [...chdirArgs(o), 'workspace', 'select', '-or-create=true', o.workspace]
}

export function terraformPlanArgs(o: Common & {vars?: Record<string, string>; varFiles?: string[]; out?: string; destroy?: boolean}): string[] {
  return [...chdirArgs(o), 'plan', '-input=false', '-no-color', ...(o.destroy ? ['-destroy'] : []), ...(o.out ? [`-out=${o.out}`] : []), ...varArgs(o.vars, o.varFiles)]
}

/** Apply a saved plan file, or (without one) the configuration with these vars. */
export function terraformApplyArgs(o: Common & {planFile?: string; vars?: Record<string, string>; varFiles?: string[]}): string[] {
  const base = [...chdirArgs(o), 'apply', '-input=false', '-no-color', '-auto-approve']
  return o.planFile ? [...base, o.planFile] : [...base, ...varArgs(o.vars, o.varFiles)]
}

export function terraformDestroyArgs(o: Common & {vars?: Record<string, string>; varFiles?: string[]}): string[] {
  return [...chdirArgs(o), 'destroy', '-input=false', '-no-color', '-auto-approve', ...varArgs(o.vars, o.varFiles)]
}

export function terraformOutputArgs(o: Common = {}): string[] {
  return [...chdirArgs(o), 'output', '-json', '-no-color']
}

export function terraformValidateArgs(o: Common = {}): string[] {
  return [...chdirArgs(o), 'validate', '-no-color']
}

/** `terraform output -json` as plain name → value. */
export async function terraformOutputs(runner: ToolRunner, o: Common = {}, options: RunOptions = {}): Promise<Record<string, unknown>> {
  const {stdout} = await runner.run('terraform', terraformOutputArgs(o), options)
  const parsed = JSON.parse(stdout || '{}') as Record<string, {value: unknown}>
  return Object.fromEntries(Object.entries(parsed).map(([name, output]) => [name, output.value]))
}

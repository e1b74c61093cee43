// A GitHub Actions runner for tests: runs a workflow file for one event the way a GitHub-hosted
// runner does, on this machine, so the workflows `idp create` generates are proven by running
// them, not only by linting them (test/support/workflow-lint.ts).
//
// - Each job gets a fresh directory: HOME, RUNNER_TEMP, RUNNER_TOOL_CACHE and GITHUB_WORKSPACE
//   (empty until a checkout), its own GITHUB_EVENT_PATH with the event payload.
// - `run:` steps run in order, each as a script file under RUNNER_TEMP with GitHub's default shell
//   on Linux, `bash --noprofile --norc -eo pipefail {0}`, in GITHUB_WORKSPACE (or the step's
//   working-directory), with the runner's default environment (CI, GITHUB_ACTIONS, GITHUB_*, RUNNER_*).
// - Per step, fresh GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY files, read after
//   the step in GitHub's formats (NAME=value and NAME<<DELIMITER heredocs): outputs become
//   steps.<id>.outputs, env and path reach the later steps of the job, summaries are collected.
// - env: workflow < job < GITHUB_ENV < step; `if:` of jobs and steps (success() && ... unless a
//   status function is used), `${{ }}` everywhere through the strict evaluator (expressions.ts).
// - `uses:` steps run an explicit local mapping (ActionMapping) per action; an action without one,
//   a `with:` input the mapping does not declare, or any workflow, job or step key this runner
//   does not implement fails the run: nothing is silently skipped.
import {spawn} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'

import {condition, type Contexts, ExpressionFailure, interpolate, type Place} from './expressions.js'

export class WorkflowError extends Error {
  override name = 'WorkflowError'
}

/** What a `uses:` mapping gets: its inputs, the step's environment, and the runner's file commands. */
export interface ActionContext {
  uses: string
  /** The `with:` values, expressions evaluated. */
  inputs: Record<string, string>
  /** The environment the step would run in (PATH with GITHUB_PATH additions). */
  env: Record<string, string>
  workspace: string
  runnerTemp: string
  home: string
  /** The run's GITHUB_TOKEN (what `github.token` is: actions/checkout's default token input). */
  token: string
  github: {serverUrl: string; repository: string; sha: string; ref: string}
  exportVariable(name: string, value: string): void
  addPath(dir: string): void
  setOutput(name: string, value: string): void
  log(text: string): void
}

export interface ActionMapping {
  /** The `with:` inputs this mapping implements; any other input fails the step. */
  inputs: readonly string[]
  /** What the action does here, in words (in the job's log). */
  describe: string
  run(context: ActionContext): Promise<void>
}

export type ActionMappings = Record<string, ActionMapping>

export interface WorkflowRunOptions {
  /** The workflow file's text and its path in the repository (.github/workflows/preview.yml). */
  workflow: string
  workflowPath: string
  eventName: string
  /** The webhook payload, written to GITHUB_EVENT_PATH and read as github.event. */
  event: Record<string, unknown>
  /** GITHUB_SHA and GITHUB_REF of the run (for pull_request: the merge commit and refs/pull/N/merge). */
  sha: string
  ref: string
  /** owner/name */
  repository: string
  actor: string
  serverUrl: string
  apiUrl: string
  secrets: Record<string, string>
  vars: Record<string, string>
  actions: ActionMappings
  /** The runner machine's own environment (PATH with its tools, ...), under the variables GitHub sets. */
  machineEnv: Record<string, string>
  /** A directory for this run's jobs. */
  root: string
  runId: number
  runNumber?: number
  /** Run only these jobs (the others are reported as not run): for a workflow with a job this machine cannot run. */
  only?: string[]
}

export interface StepResult {
  id?: string
  name: string
  /** Not run because its if: was false (or an earlier step failed). */
  skipped: boolean
  outcome: 'success' | 'failure' | 'skipped'
  conclusion: 'success' | 'failure' | 'skipped'
  outputs: Record<string, string>
  exitCode?: number
  stdout: string
  stderr: string
  error?: string
}

export interface JobResult {
  id: string
  ran: boolean
  conclusion: 'success' | 'failure' | 'skipped'
  steps: StepResult[]
  /** Everything the steps wrote to GITHUB_STEP_SUMMARY. */
  summary: string
  /** The job's directories (kept until the run's root is removed). */
  dirs: {home: string; runnerTemp: string; workspace: string}
  /** What the concurrency group evaluated to, when the workflow has one. */
  concurrencyGroup?: string
}

export interface WorkflowResult {
  /** false when the event (or its activity type) does not trigger this workflow. */
  triggered: boolean
  jobs: JobResult[]
  conclusion: 'success' | 'failure' | 'skipped'
}

type Yaml = Record<string, unknown>

const WORKFLOW_KEYS = new Set(['name', 'on', 'concurrency', 'permissions', 'env', 'jobs'])
const JOB_KEYS = new Set(['name', 'runs-on', 'if', 'env', 'steps', 'timeout-minutes', 'permissions'])
const STEP_KEYS = new Set(['id', 'name', 'uses', 'with', 'run', 'env', 'if', 'working-directory', 'shell', 'timeout-minutes', 'continue-on-error'])
/** The labels of GitHub-hosted Linux runners this runner stands in for. */
const RUNS_ON = new Set(['ubuntu-latest', 'ubuntu-24.04', 'ubuntu-22.04'])

function refuse(where: string, keys: Iterable<string>, known: Set<string>): void {
  const unknown = [...keys].filter((k) => !known.has(k))
  if (unknown.length > 0) throw new WorkflowError(`${where}: ${unknown.map((k) => JSON.stringify(k)).join(', ')} not implemented by this runner (it implements ${[...known].join(', ')})`)
}

function stringMap(value: unknown, where: string): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw new WorkflowError(`${where} must be a mapping`)
  return Object.fromEntries(Object.entries(value as Yaml).map(([k, v]) => {
    if (v !== null && typeof v === 'object') throw new WorkflowError(`${where}.${k} must be a scalar`)
    return [k, v === null ? '' : String(v)]
  }))
}

/** Does this event (and its activity type) trigger the workflow's `on:`? */
export function triggers(on: unknown, eventName: string, action: string | undefined): boolean {
  let filter: Yaml | null = null
  if (typeof on === 'string' || Array.isArray(on)) {
    if (!(typeof on === 'string' ? [on] : on).includes(eventName)) return false
  } else if (on && typeof on === 'object') {
    if (!(eventName in (on as Yaml))) return false
    filter = (on as Yaml)[eventName] as Yaml | null
    if (filter) refuse(`on.${eventName}`, Object.keys(filter), new Set(['types']))
  } else {
    throw new WorkflowError('on: must be a string, a list or a mapping')
  }
  // Without types, pull_request runs for opened, synchronize and reopened only.
  const types = (filter?.types as string[] | undefined) ?? (eventName === 'pull_request' ? ['opened', 'synchronize', 'reopened'] : undefined)
  return !types || (action !== undefined && types.includes(action))
}

/** Parse a GITHUB_OUTPUT / GITHUB_ENV file: NAME=value lines and NAME<<DELIMITER heredocs. */
export function parseFileCommand(text: string, file: string): Array<[string, string]> {
  const out: Array<[string, string]> = []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/u, '')
    if (line === '') continue
    const heredoc = /^([^=<]+)<<(.+)$/u.exec(line)
    const eq = line.indexOf('=')
    if (heredoc && (eq < 0 || line.indexOf('<<') < eq)) {
      const [, name, delimiter] = heredoc
      const value: string[] = []
      let closed = false
      for (i++; i < lines.length; i++) {
        const l = lines[i]!.replace(/\r$/u, '')
        if (l === delimiter) {
          closed = true
          break
        }
        value.push(l)
      }
      if (!closed) throw new WorkflowError(`${file}: matching delimiter not found '${delimiter}'`)
      out.push([name!, value.join('\n')])
    } else if (eq > 0) {
      out.push([line.slice(0, eq), line.slice(eq + 1)])
    } else {
      throw new WorkflowError(`${file}: invalid format '${line}'`)
    }
  }
  return out
}

interface Proc {
  code: number | null
  stdout: string
  stderr: string
  timedOut: boolean
}

function runScript(file: string, options: {cwd: string; env: Record<string, string>; timeoutMs: number}): Promise<Proc> {
  return new Promise((resolve, reject) => {
    // GitHub's `bash` shell on Linux: bash --noprofile --norc -eo pipefail {0}
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], {cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true})
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const timer = setTimeout(() => {
      timedOut = true
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {}
    }, options.timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr, timedOut})
    })
  })
}

function githubContext(options: WorkflowRunOptions, job: string, dirs: {workspace: string; eventPath: string}, workflowName: string): Record<string, unknown> {
  const [owner] = options.repository.split('/')
  const pr = options.event.pull_request as {head?: {ref?: string}; base?: {ref?: string}} | undefined
  return {
    action: '',
    action_path: '',
    actor: options.actor,
    api_url: options.apiUrl,
    base_ref: pr?.base?.ref ?? '',
    event: options.event,
    event_name: options.eventName,
    event_path: dirs.eventPath,
    graphql_url: `${options.apiUrl.replace(/\/v3$/u, '')}/graphql`,
    head_ref: pr?.head?.ref ?? '',
    job,
    ref: options.ref,
    ref_name: options.ref.replace(/^refs\/(heads|tags|pull)\//u, ''),
    ref_type: options.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    repository: options.repository,
    repository_owner: owner!,
    run_attempt: '1',
    run_id: String(options.runId),
    run_number: String(options.runNumber ?? options.runId),
    server_url: options.serverUrl,
    sha: options.sha,
    token: options.secrets.GITHUB_TOKEN ?? '',
    triggering_actor: options.actor,
    workflow: workflowName,
    workflow_ref: `${options.repository}/${options.workflowPath}@${options.ref}`,
    workspace: dirs.workspace,
  }
}

/** Run every job of the workflow that the event triggers, one after the other (the workflows run here have no `needs`). */
export async function runWorkflow(options: WorkflowRunOptions, log: (line: string) => void = () => {}): Promise<WorkflowResult> {
  const workflow = parseYaml(options.workflow) as Yaml
  refuse(options.workflowPath, Object.keys(workflow), WORKFLOW_KEYS)
  const workflowName = String(workflow.name ?? options.workflowPath)
  const action = typeof options.event.action === 'string' ? options.event.action : undefined
  if (!triggers(workflow.on, options.eventName, action)) return {triggered: false, jobs: [], conclusion: 'skipped'}
  const jobs = workflow.jobs as Record<string, Yaml>
  if (!jobs || typeof jobs !== 'object') throw new WorkflowError(`${options.workflowPath}: no jobs`)
  const results: JobResult[] = []
  for (const only of options.only ?? []) if (!(only in jobs)) throw new WorkflowError(`${options.workflowPath}: no job ${only}`)
  for (const [id, job] of Object.entries(jobs)) {
    if (options.only && !options.only.includes(id)) {
      log(`job ${id}: not selected`)
      results.push({id, ran: false, conclusion: 'skipped', steps: [], summary: '', dirs: {home: '', runnerTemp: '', workspace: ''}})
      continue
    }
    results.push(await runJob(options, workflow, workflowName, id, job, log))
  }
  const conclusion = results.some((j) => j.conclusion === 'failure') ? 'failure' : results.every((j) => j.conclusion === 'skipped') ? 'skipped' : 'success'
  return {triggered: true, jobs: results, conclusion}
}

async function runJob(options: WorkflowRunOptions, workflow: Yaml, workflowName: string, id: string, job: Yaml, log: (line: string) => void): Promise<JobResult> {
  refuse(`jobs.${id}`, Object.keys(job), JOB_KEYS)
  if (!RUNS_ON.has(String(job['runs-on']))) throw new WorkflowError(`jobs.${id}.runs-on: ${JSON.stringify(job['runs-on'])} is not a GitHub-hosted Linux runner this runner stands in for`)
  const base = path.join(options.root, `${options.runId}-${id}`)
  const dirs = {
    home: path.join(base, 'home'),
    runnerTemp: path.join(base, 'temp'),
    toolCache: path.join(base, 'tool-cache'),
    workspace: path.join(base, 'work', options.repository.split('/')[1]!, options.repository.split('/')[1]!),
    eventPath: path.join(base, 'workflow', 'event.json'),
    fileCommands: path.join(base, 'temp', '_runner_file_commands'),
  }
  for (const dir of [dirs.home, dirs.runnerTemp, dirs.toolCache, dirs.workspace, path.dirname(dirs.eventPath), dirs.fileCommands]) fs.mkdirSync(dir, {recursive: true})
  fs.writeFileSync(dirs.eventPath, JSON.stringify(options.event, null, 2))

  const github = githubContext(options, id, dirs, workflowName) as Contexts['github']
  const contexts = (env: Record<string, string>, steps: Contexts['steps']): Contexts => ({github, env, vars: options.vars, secrets: options.secrets, steps})
  const result: JobResult = {id, ran: false, conclusion: 'skipped', steps: [], summary: '', dirs: {home: dirs.home, runnerTemp: dirs.runnerTemp, workspace: dirs.workspace}}
  const at = (place: Place, extra: {jobStatus?: 'success' | 'failure'} = {}) => ({place, workspace: dirs.workspace, ...extra})

  const concurrency = workflow.concurrency as Yaml | string | undefined
  if (concurrency !== undefined) {
    const group = typeof concurrency === 'string' ? concurrency : String(concurrency.group)
    result.concurrencyGroup = interpolate(group, contexts({}, {}), at('concurrency'))
  }
  if (!condition(job.if as string | undefined, contexts({}, {}), at('job.if', {jobStatus: 'success'}))) {
    log(`job ${id}: skipped (if: ${String(job.if)})`)
    return result
  }
  result.ran = true
  log(`job ${id}: started in ${base}`)

  const workflowEnv = Object.fromEntries(Object.entries(stringMap(workflow.env, 'env')).map(([k, v]) => [k, interpolate(v, contexts({}, {}), at('workflow.env'))]))
  const jobEnv = Object.fromEntries(Object.entries(stringMap(job.env, `jobs.${id}.env`)).map(([k, v]) => [k, interpolate(v, contexts(workflowEnv, {}), at('job.env'))]))
  const exported: Record<string, string> = {}
  const paths: string[] = []
  const steps: Contexts['steps'] = {}
  let status: 'success' | 'failure' = 'success'
  const jobDeadline = Date.now() + Number(job['timeout-minutes'] ?? 360) * 60_000

  const runnerEnv = (): Record<string, string> => ({
    ...options.machineEnv,
    HOME: dirs.home,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_ACTOR: options.actor,
    GITHUB_API_URL: options.apiUrl,
    GITHUB_BASE_REF: String(github.base_ref),
    GITHUB_EVENT_NAME: options.eventName,
    GITHUB_EVENT_PATH: dirs.eventPath,
    GITHUB_GRAPHQL_URL: String(github.graphql_url),
    GITHUB_HEAD_REF: String(github.head_ref),
    GITHUB_JOB: id,
    GITHUB_REF: options.ref,
    GITHUB_REF_NAME: String(github.ref_name),
    GITHUB_REF_TYPE: String(github.ref_type),
    GITHUB_REPOSITORY: options.repository,
    GITHUB_REPOSITORY_OWNER: String(github.repository_owner),
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_RUN_ID: String(options.runId),
    GITHUB_RUN_NUMBER: String(github.run_number),
    GITHUB_SERVER_URL: options.serverUrl,
    GITHUB_SHA: options.sha,
    GITHUB_TRIGGERING_ACTOR: options.actor,
    GITHUB_WORKFLOW: workflowName,
    GITHUB_WORKFLOW_REF: String(github.workflow_ref),
    GITHUB_WORKSPACE: dirs.workspace,
    RUNNER_ARCH: 'X64',
    RUNNER_ENVIRONMENT: 'github-hosted',
    RUNNER_NAME: 'GitHub Actions 1',
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: dirs.runnerTemp,
    RUNNER_TOOL_CACHE: dirs.toolCache,
  })

  const stepList = job.steps as Yaml[]
  if (!Array.isArray(stepList) || stepList.length === 0) throw new WorkflowError(`jobs.${id}.steps: none`)
  for (const [index, step] of stepList.entries()) {
    refuse(`jobs.${id}.steps[${index}]`, Object.keys(step), STEP_KEYS)
    const stepId = step.id === undefined ? undefined : String(step.id)
    const name = String(step.name ?? (step.run ? `Run ${String(step.run).split('\n')[0]}` : `Run ${String(step.uses)}`))
    const record: StepResult = {...(stepId ? {id: stepId} : {}), name, skipped: true, outcome: 'skipped', conclusion: 'skipped', outputs: {}, stdout: '', stderr: ''}
    result.steps.push(record)
    const envBefore = {...workflowEnv, ...jobEnv, ...exported}
    const run = condition(step.if as string | boolean | undefined, contexts(envBefore, steps), at('step.if', {jobStatus: status}))
    if (!run) {
      log(`  step ${name}: skipped`)
      if (stepId) steps[stepId] = {outputs: {}, outcome: 'skipped', conclusion: 'skipped'}
      continue
    }
    record.skipped = false
    const stepEnv = Object.fromEntries(Object.entries(stringMap(step.env, `steps[${index}].env`)).map(([k, v]) => [k, interpolate(v, contexts(envBefore, steps), at('step'))]))
    const envContext = {...envBefore, ...stepEnv}
    const ctx = contexts(envContext, steps)
    const files = Object.fromEntries(['GITHUB_OUTPUT', 'GITHUB_ENV', 'GITHUB_PATH', 'GITHUB_STEP_SUMMARY'].map((k) => {
      const file = path.join(dirs.fileCommands, `${k.toLowerCase()}_${randomUUID()}`)
      fs.writeFileSync(file, '')
      return [k, file]
    })) as Record<'GITHUB_OUTPUT' | 'GITHUB_ENV' | 'GITHUB_PATH' | 'GITHUB_STEP_SUMMARY', string>
    const machinePath = options.machineEnv.PATH ?? ''
    const processEnv = {...runnerEnv(), ...envContext, ...files, GITHUB_ACTION: stepId ?? `__run_${index}`, PATH: [...paths, machinePath].filter(Boolean).join(path.delimiter)}
    const stepTimeout = Math.min(jobDeadline - Date.now(), Number(step['timeout-minutes'] ?? 360) * 60_000)
    const continueOnError = step['continue-on-error'] === undefined ? false : step['continue-on-error'] === true || step['continue-on-error'] === 'true'
    let ok = false
    try {
      if (step.run !== undefined && step.uses !== undefined) throw new WorkflowError(`steps[${index}]: both run and uses`)
      if (step.run !== undefined) {
        if (step.with !== undefined) throw new WorkflowError(`steps[${index}]: with: on a run step`)
        if (step.shell !== undefined && step.shell !== 'bash') throw new WorkflowError(`steps[${index}].shell: ${JSON.stringify(step.shell)} not implemented by this runner (bash only)`)
        const script = interpolate(String(step.run), ctx, at('step'))
        const file = path.join(dirs.runnerTemp, `${randomUUID()}.sh`)
        fs.writeFileSync(file, script)
        const cwd = step['working-directory'] === undefined ? dirs.workspace : path.resolve(dirs.workspace, interpolate(String(step['working-directory']), ctx, at('step')))
        const proc = await runScript(file, {cwd, env: processEnv, timeoutMs: stepTimeout})
        record.stdout = proc.stdout
        record.stderr = proc.stderr
        record.exitCode = proc.code ?? -1
        if (proc.timedOut) record.error = `the step ran longer than its timeout (${Math.round(stepTimeout / 1000)}s) and was killed`
        else if (proc.code !== 0) record.error = `Process completed with exit code ${proc.code}.`
        ok = !proc.timedOut && proc.code === 0
      } else if (step.uses !== undefined) {
        if (step.shell !== undefined || step['working-directory'] !== undefined) throw new WorkflowError(`steps[${index}]: shell/working-directory on a uses step`)
        const uses = String(step.uses)
        const match = /^([\w.-]+\/[\w.-]+)(?:\/[\w./-]+)?@([\w.-]+)$/u.exec(uses)
        if (!match) throw new WorkflowError(`steps[${index}].uses: ${JSON.stringify(uses)} is not owner/repo@ref (local and docker:// actions are not implemented)`)
        const mapping = options.actions[match[1]!]
        if (!mapping) throw new WorkflowError(`steps[${index}].uses: no local mapping for ${match[1]} (this runner maps ${Object.keys(options.actions).join(', ')})`)
        const inputs = Object.fromEntries(Object.entries(stringMap(step.with, `steps[${index}].with`)).map(([k, v]) => [k, interpolate(v, ctx, at('step'))]))
        const unknown = Object.keys(inputs).filter((k) => !mapping.inputs.includes(k))
        if (unknown.length > 0) throw new WorkflowError(`steps[${index}] (${match[1]}): input ${unknown.join(', ')} not implemented by its mapping (it implements ${mapping.inputs.join(', ') || 'none'})`)
        const lines: string[] = [`[mapped: ${mapping.describe}]`]
        const stepOutputs: Record<string, string> = {}
        await mapping.run({
          uses,
          inputs,
          env: processEnv,
          workspace: dirs.workspace,
          runnerTemp: dirs.runnerTemp,
          home: dirs.home,
          token: options.secrets.GITHUB_TOKEN ?? '',
          github: {serverUrl: options.serverUrl, repository: options.repository, sha: options.sha, ref: options.ref},
          exportVariable: (k, v) => fs.appendFileSync(files.GITHUB_ENV, `${k}<<EOF_${index}\n${v}\nEOF_${index}\n`),
          addPath: (dir) => fs.appendFileSync(files.GITHUB_PATH, `${dir}\n`),
          setOutput: (k, v) => (stepOutputs[k] = v),
          log: (text) => lines.push(text),
        })
        record.stdout = lines.join('\n')
        Object.assign(record.outputs, stepOutputs)
        ok = true
      } else {
        throw new WorkflowError(`steps[${index}]: neither run nor uses`)
      }
    } catch (error) {
      // What the runner does not understand stops the run: it is never a step's ordinary failure.
      if (error instanceof WorkflowError || error instanceof ExpressionFailure) throw error
      record.error = (error as Error).message
      ok = false
    }
    // File commands are processed after the step, as the runner does (also after a failure).
    for (const [k, v] of parseFileCommand(fs.readFileSync(files.GITHUB_OUTPUT, 'utf8'), 'GITHUB_OUTPUT')) record.outputs[k] = v
    for (const [k, v] of parseFileCommand(fs.readFileSync(files.GITHUB_ENV, 'utf8'), 'GITHUB_ENV')) exported[k] = v
    for (const dir of fs.readFileSync(files.GITHUB_PATH, 'utf8').split('\n').filter(Boolean).reverse()) paths.unshift(dir)
    result.summary += fs.readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8')
    record.outcome = ok ? 'success' : 'failure'
    record.conclusion = ok || continueOnError ? 'success' : 'failure'
    if (stepId) steps[stepId] = {outputs: record.outputs, outcome: record.outcome, conclusion: record.conclusion}
    log(`  step ${name}: ${record.outcome}${record.error ? ` (${record.error})` : ''}`)
    if (record.conclusion === 'failure') status = 'failure'
  }
  result.conclusion = status
  log(`job ${id}: ${status}`)
  return result
}

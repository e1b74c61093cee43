/**
 * `npm run bench`: whole-process timings of idp against bare `node -e 0` in the same run
 * (paired, alternating, so the ratio holds on a noisy machine), plus peak RSS from
 * /usr/bin/time. Writes bench/results.json and prints Markdown tables for docs/performance.md.
 *
 * The env cases run against the Kubernetes stand-in started in this process (so children are
 * spawned asynchronously: a blocking spawn would starve the server), and the stand-in is always
 * stopped at the end. The last case is not a start-up time: a real `idp env up` whose tool calls
 * each take one extra second, to show that independent plan steps overlap (wall < sum of steps).
 * Like the other cases it is measured warm: one `env up` of another environment first.
 */
import {execFile, execFileSync, spawn} from 'node:child_process'
import {appendFileSync, chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {promisify} from 'node:util'

import {envMetadata} from '../src/lib/env/labels.js'
import {envKubeconfigPath} from '../src/lib/env/paths.js'
import {stateDir} from '../src/lib/cli/paths.js'
import {seedEnvironments} from '../test/support/env-seed.js'
import {type EnvWorld, startEnvWorld} from '../test/fixtures/env/world.js'
import {DEPLOY_PROJECT} from '../test/fixtures/deploy/world.js'
import {type KubeObject, startKubeStandIn} from '../test/support/kube-stand-in/index.js'
import {isolatedUser} from '../test/support/user-env.js'
import {mirrorConfig, packedAwsMirror, unpackedMirror} from '../test/support/tf-packed-mirror.js'

const root = path.resolve(import.meta.dirname, '..')
const runs = Number(process.env.BENCH_RUNS ?? 15)
/** Only the cases whose name contains this (e.g. BENCH_ONLY=concurrency); default: every case. */
const only = process.env.BENCH_ONLY ?? ''
const selected = (name: string) => name.includes(only)
const CONCURRENCY_CASE = 'concurrency'
const PROVIDERS_CASE = 'terraform providers'
const GC_CASE = 'env gc'
/** Expired environments the gc case removes, each run. */
const GC_ENVIRONMENTS = 12
const bin = path.join(root, 'bin/run.js')
/**
 * Another build's bin/run.js (e.g. a worktree of the previous commit, built): each start-up run of
 * this build is then paired with a run of that one too, and a second table compares the two
 * medians, measured in the same loop on the same machine.
 */
const compareBin = process.env.BENCH_COMPARE ? path.resolve(process.env.BENCH_COMPARE) : undefined
/** Extra time each wrapped tool call takes in the concurrency case. */
const TOOL_DELAY_S = 1
/** Measured runs of the concurrency case (each a fresh environment); the median run is reported. */
const concurrencyRuns = Math.max(1, Number(process.env.BENCH_CONCURRENCY_RUNS ?? 5))

interface Prepared {
  argv: string[]
  cleanup?: () => void
}

interface Case {
  name: string
  target: number
  rssTargetMb?: number
  env: NodeJS.ProcessEnv
  cwd: string
  /** Called before every run (fresh temp dirs etc.). */
  prepare: () => Prepared
}

interface Measurement {
  name: string
  medianMs: number
  minMs: number
  maxMs: number
  baselineMedianMs: number
  ratio: number
  target: number
  peakRssMb: number
  rssTargetMb?: number
  ok: boolean
  /** With BENCH_COMPARE: the other build's median, and this build's median over it. */
  compareMedianMs?: number
  compareRatio?: number
}

interface ConcurrencyMeasurement {
  name: string
  toolDelayS: number
  wallMs: number
  sumOfStepsMs: number
  /** First step start to last step end: the plan's own wall time, without start-up and probes. */
  applySpanMs: number
  ratio: number
  applyRatio: number
  target: number
  steps: Array<{id: string; durationMs: number}>
  /** Process spawned to the first step's start: node, module loads, config, probes, host checks. */
  startupMs: number
  /** Last step's end to the process exit: result printing, clean-up. */
  exitMs: number
  /** How the slow tools were made: compiled wrappers (version cache applies) or shell scripts (it never does). */
  wrappers: 'compiled' | 'shell'
  /** wall / sum of every measured run, in run order; the figures above are the median run's. */
  runRatios: number[]
  ok: boolean
}

interface RunOutcome {
  ms: number
  /** Wall-clock time of the spawn (Date.now()), to compare with times the child reports. */
  spawnedAt: number
  code: number | null
  stdout: string
  stderr: string
}

/** Spawn and wait; never blocks the event loop (the stand-in lives in this process). */
function run(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    const spawnedAt = Date.now()
    const start = process.hrtime.bigint()
    const child = spawn(argv[0]!, argv.slice(1), {env, cwd, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ms: Number(process.hrtime.bigint() - start) / 1e6, spawnedAt, code, stdout, stderr}))
  })
}

async function time(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const r = await run(argv, env, cwd)
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${(r.stdout + r.stderr).slice(-800)}`)
  return r.ms
}

async function peakRss(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  if (!existsSync('/usr/bin/time')) return Number.NaN
  const r = await run(['/usr/bin/time', '-f', '%M', ...argv], env, cwd)
  const last = r.stderr.trim().split('\n').pop() ?? ''
  return Number(last) / 1024
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function commandIds(): Set<string> {
  const manifest = JSON.parse(readFileSync(path.join(root, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
  return new Set(Object.keys(manifest.commands))
}

function round(x: number, digits = 0): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Runs the case `runs` times after one warm-up, each run paired with `node -e 0` (in alternating order). */
async function measure(c: Case): Promise<Measurement> {
  const baseline: number[] = []
  const sample: number[] = []
  const compared: number[] = []
  for (let i = -1; i < runs; i++) {
    // Rotate which of the group runs first, so none always gets the quieter moment.
    const group: Array<{run: () => Promise<number>; into: number[]}> = [
      {run: () => time([process.execPath, '-e', '0'], c.env, c.cwd), into: baseline},
      {run: () => withPrepared(c, (argv) => time([process.execPath, bin, ...argv], c.env, c.cwd)), into: sample},
      ...(compareBin ? [{run: () => withPrepared(c, (argv) => time([process.execPath, compareBin, ...argv], c.env, c.cwd)), into: compared}] : []),
    ]
    const shift = (i + 1) % group.length
    for (const member of [...group.slice(shift), ...group.slice(0, shift)]) {
      const ms = await member.run()
      if (i >= 0) member.into.push(ms)
    }
  }
  const prepared = c.prepare()
  let rss: number
  try {
    rss = await peakRss([process.execPath, bin, ...prepared.argv], c.env, c.cwd)
  } finally {
    prepared.cleanup?.()
  }
  const m = median(sample)
  const b = median(baseline)
  const ratio = m / b
  const other = compared.length > 0 ? median(compared) : undefined
  return {
    ...(other === undefined ? {} : {compareMedianMs: round(other), compareRatio: round(m / other, 2)}),
    name: c.name,
    medianMs: round(m),
    minMs: round(Math.min(...sample)),
    maxMs: round(Math.max(...sample)),
    baselineMedianMs: round(b),
    ratio: round(ratio, 2),
    target: c.target,
    peakRssMb: round(rss, 1),
    rssTargetMb: c.rssTargetMb,
    ok: ratio <= c.target && (c.rssTargetMb === undefined || rss <= c.rssTargetMb),
  }
}

/** Run with a freshly prepared case (temp dirs etc.), cleaned up after. */
async function withPrepared<T>(c: Case, body: (argv: string[]) => Promise<T>): Promise<T> {
  const prepared = c.prepare()
  try {
    return await body(prepared.argv)
  } finally {
    prepared.cleanup?.()
  }
}

/**
 * Wrappers, first on PATH, that make every call of `tools` (version probes included) take
 * TOOL_DELAY_S longer, then exec the real tool with the same argv. Compiled from a few lines of C
 * when `cc` is there: idp remembers the version of a binary named after its tool (keyed by the
 * file), as it would of real helm/terraform/vcluster, so the measured run (after the warm-up) does not probe; it never
 * remembers a script's (tfenv/asdf shims answer per directory), so shell wrappers cost a delayed
 * probe per tool on every run.
 */
function slowToolsDir(dir: string, tools: string[], pathValue: string): {dir: string; kind: 'compiled' | 'shell'} {
  mkdirSync(dir, {recursive: true})
  const compiler = ['cc', 'gcc', 'clang']
    .flatMap((name) => pathValue.split(path.delimiter).filter((d) => path.isAbsolute(d)).map((d) => path.join(d, name)))
    .find((file) => existsSync(file))
  const source = path.join(dir, 'slow-tool.c')
  writeFileSync(
    source,
    `#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct timespec delay = {DELAY_S, 0};
  (void)argc;
  while (nanosleep(&delay, &delay) == -1 && errno == EINTR) {}
  execv(REAL_TOOL, argv);
  fprintf(stderr, "slow wrapper: cannot run %s: %s\\n", REAL_TOOL, strerror(errno));
  return 127;
}
`,
  )
  const reals = tools.map((tool) => {
    const real = pathValue
      .split(path.delimiter)
      .filter((d) => path.isAbsolute(d))
      .map((d) => path.join(d, tool))
      .find((p) => existsSync(p))
    if (!real) throw new Error(`${tool} not found on PATH for the concurrency case`)
    return {file: path.join(dir, tool), real}
  })
  let kind: 'compiled' | 'shell' = 'shell'
  if (compiler) {
    try {
      for (const {file, real} of reals) {
        execFileSync(compiler, ['-O2', '-o', file, `-DDELAY_S=${TOOL_DELAY_S}`, `-DREAL_TOOL=${JSON.stringify(real)}`, source], {stdio: ['ignore', 'ignore', 'pipe']})
      }
      kind = 'compiled'
    } catch (error) {
      process.stderr.write(`note: ${compiler} could not build the slow-tool wrapper (${String((error as {stderr?: Buffer}).stderr ?? error).trim()})\n`)
    }
  }
  if (kind === 'shell') {
    process.stderr.write(
      'note: the slow tools are shell wrappers (no working C compiler: cc, gcc or clang); idp never remembers a script\'s version, so every run also waits for a delayed version probe per tool\n',
    )
    for (const {file, real} of reals) {
      rmSync(file, {force: true})
      writeFileSync(file, `#!/bin/sh\nsleep ${TOOL_DELAY_S}\nexec '${real}' "$@"\n`)
      chmodSync(file, 0o755)
    }
  }
  return {dir, kind}
}

/**
 * A real `idp env up` (vcluster driver + Terraform + Helm) against the stand-in, every terraform,
 * vcluster and helm call one second slower: the sum of the step durations against the wall time.
 * A warm-up `env up` of another environment first, as every case has, so the measured runs find
 * what a user's second run finds (versions remembered, files cached); then BENCH_CONCURRENCY_RUNS
 * (default 5) measured runs, each of a fresh environment, and the median run is reported. Every
 * environment is taken down after.
 */
async function measureConcurrency(world: EnvWorld): Promise<ConcurrencyMeasurement> {
  appendFileSync(
    path.join(world.project, '.idp.yml'),
    `  "wt-*":
    cluster: dev
    driver: vcluster
    vcluster: {chartVersion: 0.26.0, values: [vcluster.yaml]}
    terraform: {dir: ./infra, vars: {env: "{{env}}"}}
    helm: {chart: ./chart}
`,
  )
  const pathValue = world.env.PATH ?? ''
  const wrappers = slowToolsDir(path.join(world.root, 'slow-bin'), ['terraform', 'vcluster', 'helm'], pathValue)
  const env = {...world.env, PATH: [wrappers.dir, pathValue].join(path.delimiter)}
  /** BENCH_CPU_PROF=DIR: a CPU profile of the measured run (node --cpu-prof), to see where its start-up goes. */
  const profile = process.env.BENCH_CPU_PROF ? [`--cpu-prof`, `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : []
  const up = async (name: string, nodeFlags: string[] = []) => {
    const r = await run([process.execPath, ...nodeFlags, bin, 'env', 'up', name, '--sha', 'abc1234', '--json', '--dir', world.project], env, world.project)
    if (r.code !== 0) throw new Error(`env up ${name} (slow tools) exited ${r.code}: ${(r.stdout + r.stderr).slice(-1500)}`)
    return r
  }
  const created: string[] = []
  const measureOne = async (name: string, nodeFlags: string[]): Promise<ConcurrencyMeasurement> => {
    created.push(name)
    const r = await up(name, nodeFlags)
    const out = JSON.parse(r.stdout) as {result: {steps: Array<{id: string; status: string; startedAt?: string; durationMs?: number}>}}
    const timed = out.result.steps.filter((s) => s.durationMs !== undefined && s.startedAt !== undefined)
    const steps = timed.map((s) => ({id: s.id, durationMs: s.durationMs!}))
    const sum = steps.reduce((a, s) => a + s.durationMs, 0)
    const starts = timed.map((s) => Date.parse(s.startedAt!))
    const first = Math.min(...starts)
    const last = Math.max(...timed.map((s, i) => starts[i]! + s.durationMs!))
    const span = last - first
    const ratio = r.ms / sum
    return {
      name: `env up, vcluster + terraform + helm, ${TOOL_DELAY_S} s per tool call (stand-in)`,
      toolDelayS: TOOL_DELAY_S,
      wallMs: round(r.ms),
      sumOfStepsMs: round(sum),
      applySpanMs: round(span),
      ratio: round(ratio, 2),
      applyRatio: round(span / sum, 2),
      target: 0.7,
      steps,
      startupMs: first - r.spawnedAt,
      exitMs: round(r.spawnedAt + r.ms - last),
      wrappers: wrappers.kind,
      runRatios: [],
      ok: ratio <= 0.7,
    }
  }
  try {
    created.push('wt-0')
    await up('wt-0')
    const measured: ConcurrencyMeasurement[] = []
    // Each run a fresh environment; only the first is profiled (BENCH_CPU_PROF).
    for (let i = 1; i <= concurrencyRuns; i++) measured.push(await measureOne(`wt-${i}`, i === 1 ? profile : []))
    const exact = (m: ConcurrencyMeasurement) => m.wallMs / m.sumOfStepsMs
    const middle = [...measured].sort((a, b) => exact(a) - exact(b))[Math.floor((measured.length - 1) / 2)]!
    return {...middle, runRatios: measured.map((m) => m.ratio)}
  } finally {
    // Down without the delay: clean-up is not what is measured.
    for (const name of created.reverse()) {
      const down = await run([process.execPath, bin, 'env', 'down', name, '--json', '--dir', world.project], world.env, world.project)
      if (down.code !== 0) process.stderr.write(`warning: env down ${name} exited ${down.code}: ${(down.stdout + down.stderr).slice(-800)}\n`)
    }
  }
}

interface GcMeasurement {
  concurrency: number
  environments: number
  wallMs: number
}

/**
 * `idp env gc --yes` of GC_ENVIRONMENTS expired namespace previews (helm release each, so a
 * `helm uninstall` per environment), helm one second slower per call, as a nightly job meets
 * them: once one at a time (--concurrency 1), once with the default (4). What grows with the
 * number of environments is the teardown of each; the wall time shows whether they overlap.
 */
async function measureGc(world: EnvWorld): Promise<GcMeasurement[]> {
  const pathValue = world.env.PATH ?? ''
  const wrappers = slowToolsDir(path.join(world.root, 'slow-bin-gc'), ['helm'], pathValue)
  const env = {...world.env, PATH: [wrappers.dir, pathValue].join(path.delimiter)}
  const measured: GcMeasurement[] = []
  for (const concurrency of [1, 4]) {
    seedEnvironments(world.kube, {service: 'shop', count: GC_ENVIRONMENTS, prefix: `ns-gc${concurrency}-`, expiresInMs: -3_600_000})
    const r = await run([process.execPath, bin, 'env', 'gc', '--yes', '--json', '--concurrency', String(concurrency), '--dir', world.project], env, world.project)
    const removed = (JSON.parse(r.stdout || '{}') as {result?: {outcomes?: Array<{status: string}>}}).result?.outcomes?.filter((o) => o.status === 'removed').length
    if (r.code !== 0 || removed !== GC_ENVIRONMENTS) throw new Error(`env gc --concurrency ${concurrency}: exit ${r.code}, removed ${removed} (expected ${GC_ENVIRONMENTS}): ${(r.stdout + r.stderr).slice(-1200)}`)
    measured.push({concurrency, environments: GC_ENVIRONMENTS, wallMs: round(r.ms)})
  }
  return measured
}

/** The fixed latency every stand-in request gets in the status cases. */
const STATUS_LATENCY_MS = 50

const STATUS_CASES = {
  previews: `idp status --json (30 previews on 3 clusters, ${STATUS_LATENCY_MS} ms per request)`,
  team: `idp status --all-services --json (300 environments of 20 services on 3 clusters, ${STATUS_LATENCY_MS} ms per request)`,
  vclusterConnect: `idp status --json (30 vcluster previews on 3 clusters, a vcluster connect each, ${STATUS_LATENCY_MS} ms per request)`,
  vclusterKept: `idp status --json (30 vcluster previews on 3 clusters, kubeconfigs kept by env up, ${STATUS_LATENCY_MS} ms per request)`,
}

interface StatusMeasurement {
  name: string
  /** API requests one run makes (all clusters). */
  requests: number
  /** The slowest single request of a run, as the stand-in timed it (latency included). */
  slowestCallMs: number
  /** Requests that had to wait for another's answer, in a chain: 1 when every request went out at once. */
  rounds: number
  /** Median wall time with the latency, and the same command with none (start-up and the work itself). */
  medianMs: number
  zeroLatencyMs: number
  baselineMedianMs: number
  ratio: number
  /** What the latency cost: medianMs - zeroLatencyMs; the target is at most 2 x slowestCallMs. */
  latencyCostMs: number
  ok: boolean
}

/**
 * idp status against three stand-in clusters whose every request waits STATUS_LATENCY_MS: a
 * service with 30 previews (10 per cluster), and the team view of 300 environments of 20 services.
 * Each environment holds what a real \`helm install\` leaves (its release Secret and Deployment,
 * copied from one real install of the fixture chart). Reported: the ratio to \`node -e 0\`, the API
 * requests per run, and the latency's cost against the target (wall within start-up plus twice one
 * cluster's slowest list call, start-up being the same run without latency).
 */
interface ProvidersMeasurement {
  mode: string
  /** Per environment: bytes its Terraform data dir holds itself (links not followed), and its init's time. */
  envs: Array<{env: string; dataDirMb: number; initMs: number}>
  /** idp's plugin cache, when used. */
  cacheMb: number
  totalMb: number
}

/** Bytes of the regular files under `dir`, links not followed (what du counts). */
function ownBytes(dir: string): number {
  if (!existsSync(dir)) return 0
  let sum = 0
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) sum += ownBytes(full)
    else if (entry.isFile()) sum += statSync(full).size
  }
  return sum
}

/**
 * Disk and time of two `env up`s of a module that uses hashicorp/aws (as every bundled template's
 * infra does), installed from a packed mirror as from the registry: each data dir with its own
 * copy (the plugin cache off, TF_PLUGIN_CACHE_DIR empty: idp before it had one), and with idp's
 * shared plugin cache.
 */
async function measureProviders(world: EnvWorld): Promise<ProvidersMeasurement[]> {
  const aws = await packedAwsMirror()
  const rc = mirrorConfig(path.join(world.root, 'bench-providers.tfrc'), aws.mirror)
  const out: ProvidersMeasurement[] = []
  for (const [index, mode] of ['own copy per environment (cache off)', 'shared plugin cache (default)'].entries()) {
    const project = path.join(world.root, `providers-${index}`)
    cpSync(world.project, project, {recursive: true})
    writeFileSync(path.join(project, 'infra', 'versions.tf'), 'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "~> 5.0"\n    }\n  }\n}\n')
    const cacheHome = path.join(world.root, `providers-cache-${index}`)
    const env = {...world.env, TF_CLI_CONFIG_FILE: rc, XDG_CACHE_HOME: cacheHome, ...(index === 0 ? {TF_PLUGIN_CACHE_DIR: ''} : {})}
    const envs: ProvidersMeasurement['envs'] = []
    for (const name of [`pr-${index}1`, `pr-${index}2`]) {
      const up = await run([process.execPath, bin, 'env', 'up', name, '--sha', 'abc1234', '--json', '--dir', project], env, project)
      if (up.code !== 0) throw new Error(`env up ${name} exited ${up.code}: ${up.stderr.slice(-800)}`)
      const steps = (JSON.parse(up.stdout) as {result: {steps: Array<{id: string; durationMs?: number}>}}).result.steps
      const dataDir = path.join(stateDir(env), 'envs', 'shop', name, 'terraform')
      envs.push({env: name, dataDirMb: round(ownBytes(dataDir) / 1e6, 3), initMs: steps.find((step) => step.id === 'terraform-init')?.durationMs ?? -1})
    }
    const cacheMb = round(ownBytes(path.join(cacheHome, 'idp', 'terraform-plugins')) / 1e6, 1)
    out.push({mode, envs, cacheMb, totalMb: round(cacheMb + envs.reduce((sum, e) => sum + e.dataDirMb, 0), 1)})
  }
  return out
}

/** The machine has the offline provider mirror the providers case packs (setup-tools found one). */
function hasProviderMirror(): boolean {
  try {
    return existsSync(path.join(unpackedMirror(), 'registry.terraform.io', 'hashicorp', 'aws'))
  } catch {
    return false
  }
}

/** MB, or kB under one MB. */
function size(mb: number): string {
  return mb >= 1 ? `${round(mb, 1)} MB` : `${round(mb * 1000, 1)} kB`
}

async function measureStatus(): Promise<StatusMeasurement[]> {
  if (!selected(STATUS_CASES.previews) && !selected(STATUS_CASES.team)) return []
  const kube = await startKubeStandIn({controllerDelayMs: 5})
  const root = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-status-'))
  try {
    const user = isolatedUser(root, kube)
    const env = {...user.env, NO_COLOR: '1'}
    const aliases = ['c1', 'c2', 'c3']
    const standIn = (alias: string) => (alias === 'c1' ? 'host' : alias)
    for (const alias of aliases.slice(1)) kube.clusters.create(alias)
    const kubeconfigs = aliases.map((alias) => kube.kubeconfig(standIn(alias), {context: `${alias}-ctx`, path: path.join(root, `${alias}.kubeconfig`)}))
    const repo = path.join(root, 'shop')
    mkdirSync(repo)
    writeFileSync(
      path.join(repo, '.idp.yml'),
      `version: 1\nservice: {name: shop, owner: team-a}\nclusters:\n${aliases.map((a, i) => `  ${a}: {context: ${a}-ctx, kubeconfig: ${kubeconfigs[i]}}`).join('\n')}\nenvironments:\n  "pr-*": {cluster: c1, driver: namespace}\n`,
    )
    // One real helm release; its Secret and Deployment are what every environment holds.
    await promisify(execFile)('helm', ['install', 'shop', path.join(DEPLOY_PROJECT, 'chart'), '--namespace', 'template', '--create-namespace', '--set', 'image.tag=v1'], {env: {...env, KUBECONFIG: kubeconfigs[0]}})
    await new Promise((r) => setTimeout(r, 200))
    const secret = kube.store().list('v1', 'Secret', 'template').find((x) => x.metadata?.labels?.owner === 'helm')!
    const deployment = kube.store().get('apps/v1', 'Deployment', 'shop', 'template')!
    const now = new Date()
    const seed = (service: string, envName: string, alias: string, team: string) => {
      const namespace = `${service}-${envName}`
      const {labels, annotations} = envMetadata({service, env: envName, owner: 'dev@example.com', team, driver: 'namespace', cluster: alias, expiresAt: new Date(now.getTime() + 72 * 3_600_000), sha: 'abc1234', status: 'ready'})
      const store = kube.store(standIn(alias))
      store.create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: namespace, labels, annotations}})
      const meta = (o: KubeObject) => ({name: o.metadata!.name!.replace(/shop/gu, service), namespace, labels: {...o.metadata?.labels, ...(o.metadata?.labels?.name ? {name: service} : {})}, annotations: {...o.metadata?.annotations, ...(o.metadata?.annotations?.['meta.helm.sh/release-name'] ? {'meta.helm.sh/release-name': service, 'meta.helm.sh/release-namespace': namespace} : {})}})
      store.put({...secret, metadata: meta(secret)})
      store.put({...deployment, metadata: meta(deployment)})
    }
    // shop: 30 previews; 19 other services: 270 more (15 or 14 each), 300 environments of 20 services in all.
    for (let i = 1; i <= 30; i++) seed('shop', `pr-${i}`, aliases[i % 3]!, 'team-a')
    for (let s = 1; s <= 19; s++) for (let i = 1; i <= (s <= 4 ? 15 : 14); i++) seed(`svc${s}`, `pr-${i}`, aliases[i % 3]!, s % 2 ? 'team-a' : 'team-b')
    const cases = [
      {name: STATUS_CASES.previews, argv: ['status', '--json', '--dir', repo], expect: 30},
      {name: STATUS_CASES.team, argv: ['status', '--all-services', '--json', '--dir', repo], expect: 300},
    ]
    const out: StatusMeasurement[] = []
    for (const c of cases) if (selected(c.name)) out.push(await measureStatusCase(kube, env, repo, c))
    return out
  } finally {
    kube.faults.delay(0)
    await kube.stop()
    rmSync(root, {recursive: true, force: true})
  }
}

/**
 * 30 vcluster previews over 3 clusters (10 each), each vcluster holding what a real `helm install`
 * leaves inside it. Each vcluster is as the vcluster double records one on the host (StatefulSet
 * app=vcluster, Secret vc-NAME with its kubeconfig) over a virtual cluster of the stand-in. Two
 * cases: from another machine (a `vcluster connect --print` per vcluster, the double being a Node
 * process), and where env up ran (the vcluster kubeconfigs it keeps in the state directory).
 */
async function measureVclusterStatus(): Promise<StatusMeasurement[]> {
  if (!selected(STATUS_CASES.vclusterConnect) && !selected(STATUS_CASES.vclusterKept)) return []
  const kube = await startKubeStandIn({controllerDelayMs: 5})
  const root = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-vcluster-status-'))
  try {
    const user = isolatedUser(root, kube)
    const aliases = ['c1', 'c2', 'c3']
    const standIn = (alias: string) => (alias === 'c1' ? 'host' : alias)
    for (const alias of aliases.slice(1)) kube.clusters.create(alias)
    const kubeconfigs = aliases.map((alias) => kube.kubeconfig(standIn(alias), {context: `${alias}-ctx`, path: path.join(root, `${alias}.kubeconfig`)}))
    const repo = path.join(root, 'lab')
    mkdirSync(repo)
    writeFileSync(
      path.join(repo, '.idp.yml'),
      `version: 1\nservice: {name: lab, owner: team-a}\nclusters:\n${aliases.map((a, i) => `  ${a}: {context: ${a}-ctx, kubeconfig: ${kubeconfigs[i]}}`).join('\n')}\nenvironments:\n  "pr-*": {cluster: c1, driver: vcluster}\n`,
    )
    // One real helm release inside one virtual cluster; its Secret and Deployment are what every vcluster holds.
    kube.clusters.create('template-vc')
    await promisify(execFile)('helm', ['install', 'lab', path.join(DEPLOY_PROJECT, 'chart'), '--namespace', 'default', '--set', 'image.tag=v1'], {env: {...user.env, KUBECONFIG: kube.kubeconfig('template-vc', {path: path.join(root, 'template.kubeconfig')})}})
    await new Promise((r) => setTimeout(r, 200))
    const secret = kube.store('template-vc').list('v1', 'Secret', 'default').find((x) => x.metadata?.labels?.owner === 'helm')!
    const deployment = kube.store('template-vc').get('apps/v1', 'Deployment', 'shop', 'default') ?? kube.store('template-vc').list('apps/v1', 'Deployment', 'default')[0]!
    const kept: string[] = []
    const now = new Date()
    for (let i = 1; i <= 30; i++) {
      const alias = aliases[i % 3]!
      const env = `pr-${i}`
      const namespace = `lab-${env}`
      const {labels, annotations} = envMetadata({service: 'lab', env, owner: 'dev@example.com', team: 'team-a', driver: 'vcluster', cluster: alias, expiresAt: new Date(now.getTime() + 72 * 3_600_000), sha: 'abc1234', status: 'ready'})
      const host = kube.store(standIn(alias))
      host.create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: namespace, labels, annotations}})
      const id = `vcluster-${namespace}-${env}`
      kube.clusters.create(id)
      const file = path.join(root, 'vc', `${id}.kubeconfig`)
      mkdirSync(path.dirname(file), {recursive: true})
      const text = readFileSync(kube.kubeconfig(id, {context: 'my-vcluster', path: file}), 'utf8')
      host.create({apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: {name: env, namespace, labels: {app: 'vcluster', release: env, chart: 'vcluster-0.26.0'}, annotations: {'idp.test/virtual-cluster': id}}, spec: {replicas: 1, serviceName: `${env}-headless`, selector: {matchLabels: {app: 'vcluster', release: env}}, template: {metadata: {labels: {app: 'vcluster', release: env}}, spec: {containers: [{name: 'syncer', image: 'ghcr.io/loft-sh/vcluster-pro:0.26.0'}]}}}})
      host.create({apiVersion: 'v1', kind: 'Secret', metadata: {name: `vc-${env}`, namespace, labels: {app: 'vcluster', release: env}}, type: 'Opaque', data: {config: Buffer.from(text).toString('base64')}})
      const inside = kube.store(id)
      const meta = (o: KubeObject) => ({name: o.metadata!.name!, namespace: 'default', labels: {...o.metadata?.labels}, annotations: {...o.metadata?.annotations}})
      inside.put({...secret, metadata: meta(secret)})
      inside.put({...deployment, metadata: meta(deployment)})
      kept.push(envKubeconfigPath(stateDir(user.env), 'lab', env))
      writeFileSync(`${file}.kept`, text)
    }
    await new Promise((r) => setTimeout(r, 300))
    const out: StatusMeasurement[] = []
    const elsewhere = {name: STATUS_CASES.vclusterConnect, argv: ['status', '--json', '--dir', repo], expect: 30}
    if (selected(elsewhere.name)) out.push(await measureStatusCase(kube, {...user.env, NO_COLOR: '1'}, repo, elsewhere))
    const here = {name: STATUS_CASES.vclusterKept, argv: ['status', '--json', '--dir', repo], expect: 30}
    if (selected(here.name)) {
      // What env up keeps for a vcluster environment: the vcluster's kubeconfig, 0600, in the state directory.
      for (let i = 1; i <= 30; i++) {
        const id = `vcluster-lab-pr-${i}-pr-${i}`
        mkdirSync(path.dirname(kept[i - 1]!), {recursive: true, mode: 0o700})
        writeFileSync(kept[i - 1]!, readFileSync(path.join(root, 'vc', `${id}.kubeconfig.kept`)), {mode: 0o600})
      }
      out.push(await measureStatusCase(kube, {...user.env, NO_COLOR: '1'}, repo, here))
    }
    return out
  } finally {
    kube.faults.delay(0)
    await kube.stop()
    rmSync(root, {recursive: true, force: true})
  }
}

/** One status case: a probe (every environment Healthy), then BENCH_RUNS runs with the latency and without, each beside a `node -e 0`. */
async function measureStatusCase(kube: Awaited<ReturnType<typeof startKubeStandIn>>, env: NodeJS.ProcessEnv, repo: string, c: {name: string; argv: string[]; expect: number}): Promise<StatusMeasurement> {
  const once = async (latency: number, nodeFlags: string[] = []) => {
    kube.faults.delay(latency)
    const before = kube.requests().length
    const r = await run([process.execPath, ...nodeFlags, bin, ...c.argv], env, repo)
    const sent = kube.requests().slice(before)
    if (r.code !== 0) throw new Error(`${c.argv.join(' ')} exited ${r.code}: ${(r.stdout + r.stderr).slice(-800)}`)
    return {ms: r.ms, sent, result: (JSON.parse(r.stdout) as {result: {environments: Array<{health: string}>}}).result}
  }
  // BENCH_CPU_PROF=DIR: a CPU profile of the probe run of each status case (node --cpu-prof).
  const probe = await once(STATUS_LATENCY_MS, process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [])
  if (probe.result.environments.length !== c.expect || probe.result.environments.some((e) => e.health !== 'Healthy')) {
    throw new Error(`${c.name}: ${probe.result.environments.length} environments (expected ${c.expect}, all Healthy): ${JSON.stringify(probe.result.environments.filter((e) => e.health !== 'Healthy').slice(0, 2))}`)
  }
  const baseline: number[] = []
  const slow: number[] = []
  const fast: number[] = []
  for (let i = -1; i < runs; i++) {
    const b = await time([process.execPath, '-e', '0'], env, repo)
    const w = (await once(STATUS_LATENCY_MS)).ms
    const z = (await once(0)).ms
    if (i >= 0) {
      baseline.push(b)
      slow.push(w)
      fast.push(z)
    }
  }
  kube.faults.delay(0)
  const slowest = Math.max(...probe.sent.map((q) => q.ms ?? 0))
  // Sequential rounds: a request sent after another's answer arrived is one round later than it.
  const depth = new Map<(typeof probe.sent)[number], number>()
  for (const q of [...probe.sent].sort((a, b) => (a.at ?? 0) - (b.at ?? 0))) {
    const before = probe.sent.filter((p) => p !== q && (p.at ?? 0) + (p.ms ?? 0) <= (q.at ?? 0))
    depth.set(q, 1 + Math.max(0, ...before.map((p) => depth.get(p) ?? 1)))
  }
  const rounds = Math.max(...depth.values())
  if (process.env.BENCH_VERBOSE) for (const q of probe.sent) process.stderr.write(`${q.method} ${q.path}${q.query} ${round(q.ms ?? 0)} ms\n`)
  const m = median(slow)
  const zero = median(fast)
  const b = median(baseline)
  return {name: c.name, requests: probe.sent.length, rounds, slowestCallMs: round(slowest), medianMs: round(m), zeroLatencyMs: round(zero), baselineMedianMs: round(b), ratio: round(m / b, 2), latencyCostMs: round(m - zero), ok: m - zero <= 2 * slowest}
}

async function main(): Promise<void> {
  if (!existsSync(path.join(root, 'dist')) || !existsSync(path.join(root, 'oclif.manifest.json'))) {
    execFileSync('npm', ['run', 'build'], {cwd: root, stdio: 'inherit'})
  }
  const ids = commandIds()
  const home = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-home-'))
  const env = {...process.env, HOME: home, CI: 'true', NO_COLOR: '1', XDG_STATE_HOME: path.join(home, 'state')}
  let world: EnvWorld | undefined
  const stop = async () => {
    const w = world
    world = undefined
    await w?.stop()
    rmSync(home, {recursive: true, force: true})
  }
  const onSignal = () => void stop().finally(() => process.exit(130))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  try {
    const cases: Case[] = [
      {name: 'idp --version', target: 1.2, env, cwd: root, prepare: () => ({argv: ['--version']})},
      {name: 'idp --help', target: 2, rssTargetMb: 60, env, cwd: root, prepare: () => ({argv: ['--help']})},
    ]
    const skipped: string[] = []
    const needsWorld = ids.has('env:up') || ids.has('env:list') || ids.has('env:gc')
    if (needsWorld) world = await startEnvWorld()

    if (world && ids.has('env:up') && selected('idp env up --dry-run')) {
      const w = world
      const argv = ['env', 'up', 'pr-1', '--dry-run', '--json', '--sha', 'abc1234', '--dir', w.project]
      // --dry-run must not touch a cluster: prove it once against the stand-in's request log.
      const before = w.kube.requests().length
      const probe = await run([process.execPath, bin, ...argv], w.env, w.project)
      if (probe.code !== 0) throw new Error(`env up --dry-run exited ${probe.code}: ${probe.stderr.slice(-800)}`)
      if (w.kube.requests().length !== before) throw new Error('env up --dry-run sent requests to the cluster')
      cases.push({name: 'idp env up --dry-run', target: 3, env: w.env, cwd: w.project, prepare: () => ({argv})})
    } else skipped.push('env up --dry-run')

    if (world && ids.has('env:list') && selected('idp env list --json')) {
      const w = world
      seedEnvironments(w.kube, {service: 'load', count: 50})
      const dir = path.join(w.root, 'load')
      mkdirSync(dir)
      const kubeconfig = w.kube.kubeconfig('host', {context: 'load-ctx'})
      writeFileSync(path.join(dir, '.idp.yml'), `version: 1\nservice: {name: load, owner: team-a}\nclusters:\n  dev: {context: load-ctx, kubeconfig: ${kubeconfig}}\nenvironments: {}\n`)
      const argv = ['env', 'list', '--json', '--dir', dir]
      const probe = await run([process.execPath, bin, ...argv], w.env, dir)
      const listed = (JSON.parse(probe.stdout) as {result?: {environments?: unknown[]}}).result?.environments?.length
      if (probe.code !== 0 || listed !== 50) throw new Error(`env list --json: exit ${probe.code}, ${listed} environments (expected 50): ${probe.stderr.slice(-800)}`)
      cases.push({name: 'idp env list --json (stand-in, 50 envs)', target: 6, env: w.env, cwd: dir, prepare: () => ({argv})})
    } else skipped.push('env list --json (stand-in, 50 envs)')

    if (ids.has('create')) {
      cases.push({
        name: 'idp create (typescript-service, offline)',
        target: 15,
        env,
        cwd: root,
        prepare() {
          const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-create-'))
          return {argv: ['create', 'svc', '--template', 'typescript-service', '--dir', dir, '--set', 'repoUrl=github.com?owner=acme&repo=svc', '--no-input'], cleanup: () => rmSync(dir, {recursive: true, force: true})}
        },
      })
    } else skipped.push('create')

    const results: Measurement[] = []
    for (const c of cases.filter((c) => selected(c.name))) results.push(await measure(c))
    const status = ids.has('status') ? [...(await measureStatus()), ...(await measureVclusterStatus())] : []
    if (status.length === 0) skipped.push('idp status with latency')
    const concurrency = world && ids.has('env:up') && process.env.BENCH_SKIP_CONCURRENCY !== '1' && selected(CONCURRENCY_CASE) ? await measureConcurrency(world) : undefined
    if (!concurrency) skipped.push('env up wall time with slow tools')
    const gc = world && ids.has('env:gc') && selected(GC_CASE) ? await measureGc(world) : undefined
    if (!gc) skipped.push(GC_CASE)
    const providers = world && ids.has('env:up') && selected(PROVIDERS_CASE) && hasProviderMirror() ? await measureProviders(world) : undefined
    if (!providers) skipped.push(PROVIDERS_CASE)

    const header = '| case | median | min | max | `node -e 0` | ratio | target | peak RSS | ok |\n|---|---|---|---|---|---|---|---|---|'
    const rows = results.map((r) => `| ${r.name} | ${r.medianMs} ms | ${r.minMs} | ${r.maxMs} | ${r.baselineMedianMs} ms | ${r.ratio}× | ≤ ${r.target}× | ${r.peakRssMb} MB${r.rssTargetMb ? ` (≤ ${r.rssTargetMb})` : ''} | ${r.ok ? 'yes' : 'NO'} |`)
    process.stdout.write(`${[header, ...rows].join('\n')}\n`)
    if (status.length > 0) {
      process.stdout.write(
        `\n| status case | API requests | sequential rounds | slowest request | median | same, no latency | latency cost | target (2 × slowest) | \`node -e 0\` | ratio | ok |\n|---|---|---|---|---|---|---|---|---|---|---|\n${status
          .map((r) => `| ${r.name} | ${r.requests} | ${r.rounds} | ${r.slowestCallMs} ms | ${r.medianMs} ms | ${r.zeroLatencyMs} ms | ${r.latencyCostMs} ms | ≤ ${round(2 * r.slowestCallMs)} ms | ${r.baselineMedianMs} ms | ${r.ratio}× | ${r.ok ? 'yes' : 'NO'} |`)
          .join('\n')}\n`,
      )
    }
    if (compareBin) {
      const compareRows = results.map((r) => `| ${r.name} | ${r.medianMs} ms | ${r.compareMedianMs} ms | ${r.compareRatio}× |`)
      process.stdout.write(`\nCompared with ${compareBin}, in the same loop:\n\n| case | this build | other build | this / other |\n|---|---|---|---|\n${compareRows.join('\n')}\n`)
    }
    if (concurrency) {
      process.stdout.write(
        `\n| concurrency case | wall | sum of steps | wall / sum | target | ok | plan span (first step to last) | span / sum |\n|---|---|---|---|---|---|---|---|\n| ${concurrency.name} | ${concurrency.wallMs} ms | ${concurrency.sumOfStepsMs} ms | ${concurrency.ratio} | ≤ ${concurrency.target} | ${concurrency.ok ? 'yes' : 'NO'} | ${concurrency.applySpanMs} ms | ${concurrency.applyRatio} |\n`,
      )
      process.stdout.write(`\nMedian of ${concurrency.runRatios.length} measured runs (wall / sum: ${concurrency.runRatios.join(', ')}). Its steps: ${concurrency.steps.map((s) => `${s.id} ${s.durationMs} ms`).join(', ')}\n`)
      process.stdout.write(
        `Spawn to first step: ${concurrency.startupMs} ms; last step to exit: ${concurrency.exitMs} ms. Measured after a warm-up \`env up\` of another environment. ` +
          (concurrency.wrappers === 'compiled'
            ? `The slow tools are compiled wrappers (cc) that delay every call, version probes included; idp remembers their versions as it would real binaries', so the measured run asks none.\n`
            : `The slow tools are shell wrappers (no C compiler): idp never remembers a script's version, so this run also waited for a delayed version probe per tool.\n`),
      )
    }
    if (gc) {
      const one = gc[0]!.wallMs
      process.stdout.write(
        `\n| ${GC_CASE}: ${GC_ENVIRONMENTS} expired previews, helm ${TOOL_DELAY_S} s slower per call | wall | per environment | vs one at a time |\n|---|---|---|---|\n${gc
          .map((g) => `| --concurrency ${g.concurrency} | ${g.wallMs} ms | ${round(g.wallMs / g.environments)} ms | ${round(g.wallMs / one, 2)}× |`)
          .join('\n')}\n`,
      )
    }
    if (providers) {
      process.stdout.write(
        `\n| ${PROVIDERS_CASE}: two env ups, hashicorp/aws | data dir, 1st env | data dir, 2nd env | plugin cache | disk in all | init, 1st env | init, 2nd env |\n|---|---|---|---|---|---|---|\n${providers
          .map((p) => `| ${p.mode} | ${size(p.envs[0]!.dataDirMb)} | ${size(p.envs[1]!.dataDirMb)} | ${p.cacheMb} MB | ${p.totalMb} MB | ${p.envs[0]!.initMs} ms | ${p.envs[1]!.initMs} ms |`)
          .join('\n')}\n`,
      )
    }
    if (skipped.length > 0) process.stdout.write(`\nNot measured: ${skipped.join('; ')}\n`)
    // A filtered run is a quick look, not a result to publish: results.json keeps the full run.
    if (!only) writeFileSync(
      path.join(root, 'bench/results.json'),
      `${JSON.stringify({date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: os.loadavg().map((l) => round(l, 2)), runs, results, status, concurrency, gc, providers, skipped}, null, 2)}\n`,
    )
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await stop()
  }
}

await main()

/**
 * `npm run bench`: whole-process timings of idp against bare `node -e 0` in the same run
 * (paired, alternating, so the ratio holds on a noisy machine), plus peak RSS from
 * /usr/bin/time. Writes bench/results.json and prints a Markdown table for the README.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const runs = Number(process.env.BENCH_RUNS ?? 10)
const bin = path.join(root, 'bin/run.js')

interface Case {
  name: string
  argv: string[]
  target: number
  rssTargetMb?: number
  setup?: () => {argv?: string[]; cleanup?: () => void; env?: Record<string, string>}
  cwd?: string
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
}

function time(argv: string[], env: NodeJS.ProcessEnv, cwd: string): number {
  const start = process.hrtime.bigint()
  const r = spawnSync(argv[0]!, argv.slice(1), {env, cwd, stdio: ['ignore', 'ignore', 'pipe']})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.toString().slice(-500)}`)
  return ms
}

function peakRss(argv: string[], env: NodeJS.ProcessEnv, cwd: string): number {
  if (!existsSync('/usr/bin/time')) return Number.NaN
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], {env, cwd, stdio: ['ignore', 'ignore', 'pipe']})
  const last = r.stderr.toString().trim().split('\n').pop() ?? ''
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

function main(): void {
  if (!existsSync(path.join(root, 'dist')) || !existsSync(path.join(root, 'oclif.manifest.json'))) {
    execFileSync('npm', ['run', 'build'], {cwd: root, stdio: 'inherit'})
  }
  const ids = commandIds()
  const home = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-home-'))
  const env = {...process.env, HOME: home, CI: 'true', NO_COLOR: '1', XDG_STATE_HOME: path.join(home, 'state')}
  const cases: Case[] = [
    {name: 'idp --version', argv: ['--version'], target: 1.2},
    {name: 'idp --help', argv: ['--help'], target: 2, rssTargetMb: 60},
  ]
  if (ids.has('env:up')) cases.push({name: 'idp env up --dry-run', argv: ['env', 'up', 'pr-1', '--dry-run', '--dir', path.join(root, 'bench/fixture')], target: 3})
  if (ids.has('create')) {
    cases.push({
      name: 'idp create (typescript-service, offline)',
      argv: [],
      target: 15,
      setup() {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-create-'))
        return {argv: ['create', 'svc', '--template', 'typescript-service', '--dir', dir, '--no-input'], cleanup: () => rmSync(dir, {recursive: true, force: true})}
      },
    })
  }
  const skipped = ['env up --dry-run', 'env list --json (stand-in, 50 envs)', 'stand-in env up wall time'].filter((n) => !cases.some((c) => c.name.includes(n.split(' (')[0]!)))

  const results: Measurement[] = []
  for (const c of cases) {
    const baseline: number[] = []
    const sample: number[] = []
    let rss = Number.NaN
    for (let i = -1; i < runs; i++) {
      const prepared = c.setup?.() ?? {}
      const argv = ['node', bin, ...(prepared.argv ?? c.argv)]
      try {
        const b = time(['node', '-e', '0'], env, root)
        const t = time(argv, env, root)
        if (i >= 0) {
          baseline.push(b)
          sample.push(t)
        }
      } finally {
        prepared.cleanup?.()
      }
    }
    const prepared = c.setup?.() ?? {}
    try {
      rss = peakRss(['node', bin, ...(prepared.argv ?? c.argv)], env, root)
    } finally {
      prepared.cleanup?.()
    }
    const m = median(sample)
    const b = median(baseline)
    const ratio = m / b
    results.push({
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
    })
  }
  rmSync(home, {recursive: true, force: true})

  const header = '| case | median | min | max | `node -e 0` | ratio | target | peak RSS | ok |\n|---|---|---|---|---|---|---|---|---|'
  const rows = results.map((r) => `| ${r.name} | ${r.medianMs} ms | ${r.minMs} | ${r.maxMs} | ${r.baselineMedianMs} ms | ${r.ratio}× | ≤ ${r.target}× | ${r.peakRssMb} MB${r.rssTargetMb ? ` (≤ ${r.rssTargetMb})` : ''} | ${r.ok ? 'yes' : 'NO'} |`)
  const table = [header, ...rows].join('\n')
  process.stdout.write(`${table}\n`)
  if (skipped.length > 0) process.stdout.write(`\nNot measured yet (command not built): ${skipped.join('; ')}\n`)
  writeFileSync(path.join(root, 'bench/results.json'), `${JSON.stringify({date: new Date().toISOString(), node: process.version, runs, results, skipped}, null, 2)}\n`)
}

function round(x: number, digits = 0): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

main()

import {readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

/**
 * Start-up discipline (issue 6): `idp --help` must not pay for heavy modules. A static check,
 * not a timing: follow every static (top-level, non type-only) import from each command file
 * through the project's own modules and fail when one reaches a heavy package.
 */
const HEAVY = ['@kubernetes/client-node', '@octokit/rest', '@inquirer/prompts', 'listr2', 'execa', 'nunjucks', 'zod', 'cosmiconfig', '@backstage/catalog-model']
const root = path.resolve(import.meta.dirname, '../..')

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : []
  })
}

/** Static imports of a module: `import x from 'y'` and `export ... from 'y'`, not `import type`, not `await import()`. */
export function staticImports(source: string): string[] {
  const out: string[] = []
  const pattern = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gmu
  for (const match of source.matchAll(pattern)) out.push(match[1]!)
  return out
}

function heavyReach(file: string, seen = new Set<string>(), trail: string[] = []): string[] {
  if (seen.has(file)) return []
  seen.add(file)
  const problems: string[] = []
  for (const spec of staticImports(readFileSync(file, 'utf8'))) {
    if (HEAVY.some((h) => spec === h || spec.startsWith(`${h}/`))) {
      problems.push([...trail, path.relative(root, file), spec].join(' -> '))
    } else if (spec.startsWith('.')) {
      // A package's own file reached by path (a bundled plugin command): not project code to follow.
      if (path.resolve(path.dirname(file), spec).includes(`${path.sep}node_modules${path.sep}`)) continue
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/u, '.ts'))
      problems.push(...heavyReach(target, seen, [...trail, path.relative(root, file)]))
    }
  }
  return problems
}

describe('start-up imports', () => {
  it('parses static imports and ignores type-only and dynamic ones', () => {
    expect(staticImports(`import {a} from 'execa'\nimport type {B} from 'listr2'\nconst c = await import('zod')\nexport {d} from './d.js'`)).toEqual(['execa', './d.js'])
  })

  const commandFiles = [...files(path.join(root, 'src/commands')), ...files(path.join(root, 'src/hooks'))]
  it('finds the command files', () => {
    expect(commandFiles.length).toBeGreaterThan(0)
  })

  it.each(commandFiles.map((f) => [path.relative(root, f), f]))('%s reaches no heavy module at top level', (_name, file) => {
    expect(heavyReach(file)).toEqual([])
  })

  it('uses zod as zod/mini only: classic zod costs ~25 ms more to load, and its `z` object keeps every locale in the bundle', () => {
    const classic = files(path.join(root, 'src')).filter((f) => staticImports(readFileSync(f, 'utf8')).includes('zod'))
    expect(classic.map((f) => path.relative(root, f))).toEqual([])
  })
})

/**
 * The lazy-loading rule (docs/architecture.md): a command file imports flags, the base command and
 * types statically, and loads its service with one `await import()`; it prompts, starts tools and
 * writes output only through the service's Deps. The heavy packages load in one module, through
 * named loaders.
 */
describe('the lazy-loading rule', () => {
  // The bundled plugin commands re-export @oclif/plugin-help and -autocomplete as they are.
  const plugin = (file: string) => /[/\\](help\.ts|autocomplete[/\\])/u.test(file)
  const commands = files(path.join(root, 'src/commands')).filter((f) => !plugin(f))
  const ALLOWED = ['@oclif/core/args', '@oclif/core/flags']

  it('finds the golden-path commands', () => {
    expect(commands.length).toBeGreaterThanOrEqual(16)
  })

  it.each(commands.map((f) => [path.relative(root, f), f]))('%s: flags and types statically, its service with one await import()', (_name, file) => {
    const source = readFileSync(file, 'utf8')
    const outside = staticImports(source).filter((spec) => !ALLOWED.includes(spec) && !/\/lib\/cli\/base-command\.js$/u.test(spec))
    expect(outside).toEqual([])
    const loads = [...source.matchAll(/await import\(\s*['"]([^'"]+)['"]\s*\)/gu)].map((m) => m[1])
    expect(loads).toHaveLength(1)
    expect(loads[0]).toMatch(/^(\.\.\/)+lib\//u)
    expect(source).not.toMatch(/process\.(stdout|stderr)|@inquirer\/|\bexeca\b/u)
  })

  it('heavy packages are imported (statically or not) only by src/lib/cli/lazy.ts, and the vendored client-node entry', () => {
    const HEAVY_RUNTIME = ['@kubernetes/client-node', '@octokit/rest', '@inquirer/prompts', 'listr2', 'execa', '@backstage/catalog-model']
    const offenders: string[] = []
    for (const file of files(path.join(root, 'src'))) {
      const rel = path.relative(root, file)
      if (rel === path.join('src', 'lib', 'cli', 'lazy.ts') || rel === path.join('src', 'lib', 'kube', 'client-node.ts')) continue
      const source = readFileSync(file, 'utf8')
      const dynamic = [...source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/gu)].map((m) => m[1]!)
      for (const spec of [...staticImports(source), ...dynamic]) if (HEAVY_RUNTIME.includes(spec)) offenders.push(`${rel} -> ${spec}`)
    }
    expect(offenders).toEqual([])
  })
})

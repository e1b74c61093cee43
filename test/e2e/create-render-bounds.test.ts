import {execFileSync} from 'node:child_process'
import {readFileSync, readlinkSync} from 'node:fs'
import {mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {parseJson, runCli} from '../support/cli.js'

/**
 * Issue 13 item 12: a template's loops and regular expressions run in a separate process with a
 * deadline and a heap limit, and Ctrl-C stops them. Before, a runaway template ignored SIGINT and
 * SIGTERM for minutes. These run the built CLI: the bounds are those of the real renderer process.
 */
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

const LOOP = '{% for i in range(0, 99999) %}{% for j in range(0, 99999) %}{% endfor %}{% endfor %}never'
const BACKTRACKING = '${{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!" | replace(r/(a+)+$/, "b") }}'
const MEMORY = '{% set a = ["xxxxxxxxxxxxxxxx"] %}{% for i in range(0, 40) %}{% set a = a.concat(a) %}{% endfor %}${{ a | length }}'

/** A template whose step input or skeleton file is `text`; returns the working directory. */
async function hostileTemplate(where: 'input' | 'file', text: string): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'idp-render-bounds-'))
  dirs.push(root)
  await mkdir(path.join(root, 'tpl', 'skeleton'), {recursive: true})
  const value = JSON.stringify(where === 'input' ? text : '${{ parameters.name }}')
  await writeFile(
    path.join(root, 'tpl', 'template.yaml'),
    `apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: hostile}
spec:
  type: service
  parameters: [{properties: {name: {type: string}}}]
  steps:
    - id: fetch
      action: fetch:template
      input: {url: ./skeleton, values: {x: ${value}}}
`,
  )
  await writeFile(path.join(root, 'tpl', 'skeleton', 'file.txt'), where === 'file' ? text : 'ok\n')
  await mkdir(path.join(root, 'out'))
  return root
}

/** Renderer processes started for a run in `root` (they run in idp's working directory). */
function rendererProcesses(root: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], {encoding: 'utf8'})
  return ps
    .split('\n')
    .filter((line) => line.includes('render-worker.js'))
    .map((line) => line.trim().split(/\s+/u)[0]!)
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`) === root
      } catch {
        return false
      }
    })
}

describe('rendering a template is bounded (idp create)', () => {
  it('a loop that never ends in a skeleton file stops at --render-timeout: exit 7, nothing written, no renderer left', async () => {
    const root = await hostileTemplate('file', LOOP)
    const started = Date.now()
    const run = await runCli(['create', 'svc', '--template', './tpl', '--dir', 'out', '--render-timeout', '2s', '--json'], {cwd: root})
    expect(run.code, run.stderr).toBe(7)
    expect(Date.now() - started).toBeLessThan(20_000)
    const json = parseJson(run.stdout) as {error: {code: string; message: string; hint: string}}
    expect(json.error.code).toBe('TIMEOUT')
    expect(json.error.message).toBe('Rendering template hostile did not finish within 2s; it was stopped and nothing was written.')
    expect(json.error.hint).toContain('--render-timeout')
    expect(await readdir(path.join(root, 'out'))).toEqual([])
    expect(rendererProcesses(root)).toEqual([])
  })

  it('a backtracking regular expression in a step input stops the same way', async () => {
    const root = await hostileTemplate('input', BACKTRACKING)
    const run = await runCli(['create', 'svc', '--template', './tpl', '--dir', 'out', '--render-timeout', '2s'], {cwd: root})
    expect(run.code, run.stderr).toBe(7)
    expect(run.stderr).toContain('Rendering template hostile did not finish within 2s')
    expect(await readdir(path.join(root, 'out'))).toEqual([])
  })

  it('Ctrl-C during a render exits 130 at once, nothing written, the renderer stopped', async () => {
    const root = await hostileTemplate('file', LOOP)
    let interruptedAt = 0
    const run = await runCli(['create', 'svc', '--template', './tpl', '--dir', 'out'], {
      cwd: root,
      onSpawn: (child) => {
        // Once the renderer runs (the default deadline is a minute away), interrupt like a terminal.
        const poll = setInterval(() => {
          if (rendererProcesses(root).length === 0) return
          clearInterval(poll)
          interruptedAt = Date.now()
          child.kill('SIGINT')
        }, 50)
        child.on('exit', () => clearInterval(poll))
      },
    })
    expect(interruptedAt).toBeGreaterThan(0)
    expect(run.code, run.stderr).toBe(130)
    expect(Date.now() - interruptedAt).toBeLessThan(5000)
    expect(run.stderr).toContain('Cancelled')
    expect(await readdir(path.join(root, 'out'))).toEqual([])
    expect(rendererProcesses(root)).toEqual([])
  })

  for (const signal of ['SIGKILL', 'SIGHUP'] as const) {
    it(`idp killed by ${signal} during a runaway render: the renderer is gone within a few seconds; it never saw idp's tokens`, async () => {
      const root = await hostileTemplate('file', LOOP)
      const canary = 'canary-render-env-9d41e7'
      let renderer: string | undefined
      let environ = ''
      let killedAt = 0
      const run = await runCli(['create', 'svc', '--template', './tpl', '--dir', 'out'], {
        cwd: root,
        env: {GITHUB_TOKEN: canary, VAULT_TOKEN: canary, BACKSTAGE_TOKEN: canary, IDP_TEST_CANARY: canary},
        onSpawn: (child) => {
          const poll = setInterval(() => {
            renderer = rendererProcesses(root)[0]
            if (!renderer) return
            clearInterval(poll)
            environ = readFileSync(`/proc/${renderer}/environ`, 'utf8')
            killedAt = Date.now()
            child.kill(signal)
          }, 50)
          child.on('exit', () => clearInterval(poll))
        },
      })
      expect(renderer, run.stderr).toBeDefined()
      expect(killedAt).toBeGreaterThan(0)
      // The renderer's whole environment: no token, no PATH, no HOME.
      const names = environ.split('\0').filter(Boolean).map((entry) => entry.split('=')[0])
      expect(environ).toContain('IDP_PARENT_PID=')
      expect(environ).not.toContain(canary)
      expect(names).not.toContain('PATH')
      expect(names).not.toContain('HOME')
      const deadline = Date.now() + 5000
      while (rendererProcesses(root).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
      expect(rendererProcesses(root)).toEqual([])
      expect(Date.now() - killedAt).toBeLessThan(5000)
    })
  }

  it('a template that fills memory stops at the heap limit: exit 3 naming the template, nothing written', async () => {
    const root = await hostileTemplate('file', MEMORY)
    const run = await runCli(['create', 'svc', '--template', './tpl', '--dir', 'out', '--json'], {cwd: root})
    expect(run.code, run.stderr).toBe(3)
    const json = parseJson(run.stdout) as {error: {code: string; message: string}}
    expect(json.error).toMatchObject({code: 'CONFIG', message: 'Rendering template hostile used more than 1024 MB of memory; it was stopped and nothing was written.'})
    expect(await readdir(path.join(root, 'out'))).toEqual([])
  }, 60_000)

  it('a template error inside the renderer keeps its class, message and exit code; a good template renders as before', async () => {
    const root = await hostileTemplate('file', '${{ values.x | nosuchfilter }}')
    const bad = await runCli(['create', 'svc', '--template', './tpl', '--dir', 'out', '--json'], {cwd: root})
    expect(bad.code, bad.stderr).toBe(3)
    expect((parseJson(bad.stdout) as {error: {code: string; message: string}}).error).toMatchObject({code: 'CONFIG', message: expect.stringContaining('file.txt') as unknown})
    await writeFile(path.join(root, 'tpl', 'skeleton', 'file.txt'), 'name=${{ values.x }}\n')
    const good = await runCli(['create', 'svc', '--template', './tpl', '--dir', 'out', '--set', 'name=svc', '--json'], {cwd: root, env: {GIT_AUTHOR_NAME: undefined, GIT_AUTHOR_EMAIL: undefined}})
    expect(good.code, good.stderr).toBe(0)
    expect(execFileSync('cat', [path.join(root, 'out', 'svc', 'file.txt')], {encoding: 'utf8'})).toBe('name=svc\n')
  })

  it('--render-timeout is checked before anything is read', async () => {
    const run = await runCli(['create', 'svc', '--template', './nowhere', '--render-timeout', 'soon'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('Invalid duration "soon"')
  })
})

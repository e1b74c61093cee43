import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {type IdpError} from '../../src/lib/cli/errors.js'
import {commandLine} from '../../src/lib/plan/format.js'
import {createToolRunner} from '../../src/lib/tools/runner.js'
import {toolError} from '../../src/lib/tools/tool-error.js'
import {runCli} from '../support/cli.js'
import {toolEnv} from '../support/tool-env.js'

/**
 * A shell that holds GIT_DIR / GIT_WORK_TREE (set by a git hook, a script, `git rebase -x`, a
 * dotfiles setup): idp names the repository by its directory, so they must not send idp's git
 * commands, and its commit, to another repository.
 */
const root = mkdtempSync(path.join(os.tmpdir(), 'idp-ambient-git-'))
afterAll(() => rmSync(root, {recursive: true, force: true}))

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, {cwd, encoding: 'utf8', env: {PATH: process.env.PATH, HOME: root, GIT_CONFIG_NOSYSTEM: '1'}}).trim()

describe('git variables in the shell', () => {
  it('create with GIT_DIR and GIT_WORK_TREE of another repository: the new service gets the commit, the other repository is untouched', async () => {
    const other = path.join(root, 'other')
    git(root, 'init', '-q', other)
    const out = path.join(root, 'out')
    const run = await runCli(['create', 'svc', '--template', 'typescript-service', '--dir', out, '--set', 'repoUrl=github.com?owner=acme&repo=svc', '--no-input', '--json'], {
      env: {HOME: root, GIT_DIR: path.join(other, '.git'), GIT_WORK_TREE: other, GIT_INDEX_FILE: path.join(other, '.git', 'index')},
    })
    expect(run.code, run.stderr).toBe(0)
    expect(git(path.join(out, 'svc'), 'log', '--oneline')).toMatch(/Create svc from the typescript-service template/u)
    expect(() => git(other, 'rev-parse', '--verify', '-q', 'HEAD')).toThrow()
    expect(git(other, 'status', '--porcelain')).toBe('')
  })

  it('a dry run prints each git command as idp would run it, `env -u` included, and --json names them (unset)', async () => {
    const other = path.join(root, 'other-dry')
    const shell = {HOME: root, GIT_DIR: path.join(other, '.git'), GIT_WORK_TREE: other}
    const argv = ['create', 'svc', '--template', 'typescript-service', '--dir', path.join(root, 'dry'), '--set', 'repoUrl=github.com?owner=acme&repo=svc', '--no-input', '--dry-run']
    const text = await runCli(argv, {env: shell})
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`$ cd ${path.join(root, 'dry', 'svc')} && env -u GIT_DIR -u GIT_WORK_TREE git -c core.hooksPath=/dev/null init --initial-branch main`)
    const json = await runCli([...argv, '--json'], {env: shell})
    const steps = (JSON.parse(json.stdout) as {result: {plan: {steps: {tool?: string; action: {unset?: string[]}}[]}}}).result.plan.steps
    expect(steps.filter((step) => step.tool === 'git').map((step) => step.action.unset)).toEqual([['GIT_DIR', 'GIT_WORK_TREE'], ['GIT_DIR', 'GIT_WORK_TREE'], ['GIT_DIR', 'GIT_WORK_TREE']])
    // Without them in the shell, nothing to unset.
    const plain = await runCli([...argv, '--json'], {env: {HOME: root}})
    expect(plain.stdout).not.toContain('"unset"')
  })

  it('a failed git command is printed with `env -u` for the variables idp removed, so it runs as idp ran it', () => {
    const error = toolError('git', ['-c', 'core.hooksPath=/dev/null', 'init'], {exitCode: 128, stdout: '', stderr: 'fatal: something odd'}, {cwd: '/work/svc', unset: ['GIT_DIR', 'GIT_WORK_TREE']})
    expect(error.hint).toBe('Run `cd /work/svc && env -u GIT_DIR -u GIT_WORK_TREE git -c core.hooksPath=/dev/null init` yourself to investigate (secrets shown as *** must be filled in), or re-run idp with --verbose.')
  })

  it('terraform (and every other tool) runs without them too: a git module source is cloned where terraform puts it, not into the shell\'s repository', async () => {
    const other = path.join(root, 'other-tf')
    git(root, 'init', '-q', other)
    const module = path.join(root, 'module-repo')
    git(root, 'init', '-q', module)
    writeFileSync(path.join(module, 'main.tf'), 'output "hello" {\n  value = "from git"\n}\n')
    git(module, 'add', 'main.tf')
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'module'], {cwd: module, env: {PATH: process.env.PATH, HOME: root, GIT_CONFIG_NOSYSTEM: '1'}})
    const work = path.join(root, 'tf')
    mkdirSync(work)
    writeFileSync(path.join(work, 'main.tf'), `module "m" {\n  source = "git::file://${module}"\n}\n`)
    const shell = {GIT_DIR: path.join(other, '.git'), GIT_WORK_TREE: other, GIT_INDEX_FILE: path.join(other, '.git', 'index')}
    const env = toolEnv({env: {HOME: root, GIT_CONFIG_NOSYSTEM: '1', ...shell}})
    const runner = createToolRunner({env, ...(env.PATH ? {pathEnv: env.PATH} : {}), versionCache: false})
    expect(runner.removedEnv()).toEqual(['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE'])
    // An action that sets one itself keeps it.
    expect(runner.removedEnv({GIT_DIR: '/x/.git'})).toEqual(['GIT_WORK_TREE', 'GIT_INDEX_FILE'])
    const init = await runner.run('terraform', ['init', '-input=false', '-no-color'], {cwd: work})
    expect(init.exitCode).toBe(0)
    expect(readdirSync(path.join(work, '.terraform', 'modules', 'm'))).toContain('main.tf')
    expect(() => git(other, 'rev-parse', '--verify', '-q', 'HEAD')).toThrow()
    expect(git(other, 'status', '--porcelain')).toBe('')

    // A failed terraform command is printed with env -u for them, as idp ran it.
    writeFileSync(path.join(work, 'broken.tf'), 'output "x" {\n')
    const error = await runner.run('terraform', ['validate', '-no-color'], {cwd: work}).then(() => undefined, (e: unknown) => e as IdpError)
    expect(error?.hint).toContain(`cd ${work} && env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE terraform validate -no-color`)
    // And so is a tool action a plan prints (clean-up commands, --verbose lines).
    expect(commandLine({kind: 'tool', tool: 'helm', argv: ['uninstall', 'shop'], kubeconfig: '/k'}, runner.removedEnv())).toBe('KUBECONFIG=/k env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE helm uninstall shop')
  })
})

import {execFileSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'

import {toolError} from '../../src/lib/tools/tool-error.js'

/**
 * A command idp prints in a hint runs as printed and reaches what idp reached: the directory, the
 * private kubeconfig and the environment (TF_DATA_DIR, TF_WORKSPACE) of the failed run, never the
 * shell's own current context or workspace.
 */
describe('hints carry where the tool ran', () => {
  it('terraform: the lock hint cds into the module with its TF_DATA_DIR and TF_WORKSPACE', () => {
    const error = toolError('terraform', ['apply', '-lock-timeout=5m'], {exitCode: 1, stdout: '', stderr: 'Error: Error acquiring the state lock\n\nLock Info:\n  ID:        1234-abcd\n'}, {
      cwd: '/repo/infra',
      env: {TF_DATA_DIR: '/state/envs/shop/pr-1/terraform', TF_WORKSPACE: 'shop-pr-1'},
    })
    expect(error.hint).toContain('`cd /repo/infra && TF_DATA_DIR=/state/envs/shop/pr-1/terraform TF_WORKSPACE=shop-pr-1 terraform force-unlock 1234-abcd`')
  })

  it('helm and kubectl: the commands use the private kubeconfig, as idp did', () => {
    const stuck = toolError('helm', ['upgrade', '--install', 'shop', './chart', '--namespace', 'shop-pr-1'], {exitCode: 1, stdout: '', stderr: 'Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress'}, {kubeconfig: '/state/envs/shop/pr-1/kubeconfig'})
    expect(stuck.hint).toContain('`KUBECONFIG=/state/envs/shop/pr-1/kubeconfig helm history shop -n shop-pr-1`')
    const slow = toolError('helm', ['upgrade', '--install', 'shop', './chart', '--namespace', 'shop-pr-1'], {exitCode: 1, stdout: '', stderr: 'Error: context deadline exceeded'}, {kubeconfig: '/state/kc'})
    expect(slow.hint).toContain('`KUBECONFIG=/state/kc kubectl get pods -n shop-pr-1`')
  })

  it('an unknown failure: "run it yourself" is the whole command, secrets as ***, and a shell parses it', () => {
    const error = toolError('helm', ['status', 'shop'], {exitCode: 1, stdout: '', stderr: 'Error: something new'}, {cwd: '/my repo', kubeconfig: '/state/kc', env: {GITHUB_TOKEN: 'ghp_notreal', MODE: 'a b'}})
    const command = /Run `([^`]+)` yourself/u.exec(error.hint ?? '')?.[1]
    expect(command).toBe("cd '/my repo' && KUBECONFIG=/state/kc GITHUB_TOKEN=*** MODE='a b' helm status shop")
    // bash -n: it is one valid shell command line as printed.
    expect(() => execFileSync('bash', ['-n', '-c', command!])).not.toThrow()
  })

  it('a permission failure names the namespace and the kubeconfig of the failed call', () => {
    const denied = toolError('helm', ['upgrade', '--install', 'shop', './chart', '--namespace', 'shop-pr-1'], {exitCode: 1, stdout: '', stderr: 'Error: secrets is forbidden: User "ci" cannot list resource "secrets"'}, {kubeconfig: '/state/kc'})
    expect(denied.hint).toContain('`KUBECONFIG=/state/kc kubectl auth can-i --list -n shop-pr-1`')
  })
})

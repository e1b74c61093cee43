import {execFileSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'

import {helmMajor, meetsMinimum, TOOL_SPECS, toolInfo} from '../../src/lib/tools/versions.js'
import {assertUsable} from '../../src/lib/tools/versions.js'
import {PrerequisiteError} from '../../src/lib/cli/errors.js'

const run = (file: string, args: string[]) => execFileSync(file, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})

describe('version parsing of each tool', () => {
  it('reads the real git and terraform on this machine', () => {
    const git = TOOL_SPECS.git.parseVersion(run('git', TOOL_SPECS.git.versionArgs), '')
    expect(git).toMatch(/^2\.\d+\.\d+$/u)
    const terraform = TOOL_SPECS.terraform.parseVersion(run('terraform', TOOL_SPECS.terraform.versionArgs), '')
    expect(terraform).toMatch(/^1\.\d+\.\d+$/u)
    expect(meetsMinimum(terraform!, TOOL_SPECS.terraform.minimum)).toBe(true)
  })

  it('reads the real kubectl client version JSON', () => {
    const version = TOOL_SPECS.kubectl.parseVersion(run('kubectl', TOOL_SPECS.kubectl.versionArgs), '')
    expect(version).toMatch(/^1\.\d+\.\d+$/u)
  })

  it('parses the formats the tools print', () => {
    expect(TOOL_SPECS.git.parseVersion('git version 2.39.3 (Apple Git-146)\n', '')).toBe('2.39.3')
    expect(TOOL_SPECS.git.parseVersion('git version 2.45.1.windows.1', '')).toBe('2.45.1')
    // helm version --short of the real v3.18.0 and v4.1.4 binaries
    expect(TOOL_SPECS.helm.parseVersion('v3.18.0+gcc58e3f\n', '')).toBe('3.18.0')
    expect(TOOL_SPECS.helm.parseVersion('v4.1.4+g05fa379', '')).toBe('4.1.4')
    expect(TOOL_SPECS.kubectl.parseVersion(JSON.stringify({clientVersion: {major: '1', minor: '32+', gitVersion: 'v1.32.4-dispatcher'}}), '')).toBe('1.32.4')
    expect(TOOL_SPECS.kubectl.parseVersion('not json', '')).toBeUndefined()
    expect(TOOL_SPECS.terraform.parseVersion('{"terraform_version":"1.11.4","platform":"linux_amd64"}', '')).toBe('1.11.4')
    expect(TOOL_SPECS.vcluster.parseVersion('vcluster version 0.37.0\n', '')).toBe('0.37.0')
    expect(TOOL_SPECS.vcluster.parseVersion('vcluster version 0.37.0-rc.1', '')).toBe('0.37.0')
    expect(TOOL_SPECS.argocd.parseVersion('argocd: v3.5.1+abc1234\n', '')).toBe('3.5.1')
    expect(TOOL_SPECS.argocd.parseVersion('argocd-server: v3.5.1', '')).toBeUndefined()
  })

  it('compares against the minimums, helm 4 included', () => {
    expect(meetsMinimum('3.14.0', TOOL_SPECS.helm.minimum)).toBe(true)
    expect(meetsMinimum('3.13.9', TOOL_SPECS.helm.minimum)).toBe(false)
    expect(meetsMinimum('4.0.0', TOOL_SPECS.helm.minimum)).toBe(true)
    expect(meetsMinimum('2.29.9', TOOL_SPECS.git.minimum)).toBe(false)
    expect(meetsMinimum('0.19.7', TOOL_SPECS.vcluster.minimum)).toBe(false)
    expect(meetsMinimum('0.20.0', TOOL_SPECS.vcluster.minimum)).toBe(true)
    expect(meetsMinimum('1.27.3', TOOL_SPECS.kubectl.minimum)).toBe(false)
    expect(meetsMinimum('2.10.0', TOOL_SPECS.argocd.minimum)).toBe(true)
    expect(helmMajor('3.18.0')).toBe(3)
    expect(helmMajor('4.1.4')).toBe(4)
  })

  it('turns missing and too-old into PrerequisiteErrors with the found version and an install hint', () => {
    expect(() => assertUsable(toolInfo('vcluster'))).toThrow(PrerequisiteError)
    try {
      assertUsable(toolInfo('helm', {path: '/opt/helm', version: '3.12.0'}))
      expect.unreachable()
    } catch (error) {
      const e = error as PrerequisiteError
      expect(e.exitCode).toBe(4)
      expect(e.message).toBe('helm 3.12.0 at /opt/helm is too old: idp needs helm >= 3.14 or 4.x.')
      expect(e.hint).toContain('helm.sh')
    }
    expect(assertUsable(toolInfo('git', {path: '/usr/bin/git', version: '2.39.5'})).status).toBe('ok')
  })
})

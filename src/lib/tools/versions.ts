import {PrerequisiteError} from '../cli/errors.js'
import type {ToolInfo, ToolName} from './types.js'

/**
 * What idp needs of each tool: how to ask its version, how to read the answer, the oldest
 * version that has the flags idp passes, and how to install it. Pure data and parsing, so
 * `idp doctor`, the runner and tests share one table.
 */
export interface ToolSpec {
  tool: ToolName
  versionArgs: string[]
  /** [major, minor] of the oldest supported version. */
  minimum: [number, number]
  /** For people, e.g. ">= 3.14 or 4.x". */
  minimumText: string
  installHint: string
  parseVersion(stdout: string, stderr: string): string | undefined
}

const SEMVER = /v?(\d+)\.(\d+)(?:\.(\d+))?/u

/** The first x.y[.z] in a text, without a leading "v". */
export function firstVersion(text: string): string | undefined {
  const match = SEMVER.exec(text)
  if (!match) return undefined
  return [match[1], match[2], match[3] ?? '0'].join('.')
}

function parseJsonField(stdout: string, pick: (value: any) => unknown): string | undefined {
  try {
    const picked = pick(JSON.parse(stdout))
    return typeof picked === 'string' ? firstVersion(picked) : undefined
  } catch {
    return undefined
  }
}

export const TOOL_SPECS: Record<ToolName, ToolSpec> = {
  git: {
    tool: 'git',
    versionArgs: ['--version'],
    minimum: [2, 30],
    minimumText: '>= 2.30',
    installHint: 'Install git 2.30 or newer: `sudo apt-get install git` (Debian/Ubuntu), `brew install git` (macOS), or see https://git-scm.com/downloads.',
    // "git version 2.39.5", "git version 2.39.3 (Apple Git-146)", "git version 2.45.1.windows.1"
    parseVersion: (stdout) => (/git version/u.test(stdout) ? firstVersion(stdout) : undefined),
  },
  helm: {
    tool: 'helm',
    versionArgs: ['version', '--short'],
    minimum: [3, 14],
    minimumText: '>= 3.14 or 4.x',
    installHint:
      'Install Helm 3.14+ or 4.x: `brew install helm` (macOS), the official script `curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 | bash`, or a release binary from https://helm.sh/docs/intro/install/.',
    // "v3.18.0+gcc58e3f", "v4.1.4+g05fa379"
    parseVersion: (stdout) => firstVersion(stdout.trim().split('\n')[0] ?? ''),
  },
  kubectl: {
    tool: 'kubectl',
    versionArgs: ['version', '--client', '-o', 'json'],
    minimum: [1, 28],
    minimumText: '>= 1.28',
    installHint: 'Install kubectl 1.28 or newer: `brew install kubectl` (macOS), `sudo snap install kubectl --classic`, or see https://kubernetes.io/docs/tasks/tools/.',
    // {"clientVersion": {"gitVersion": "v1.35.2", ...}}; distributions append suffixes ("v1.32.4-dispatcher").
    parseVersion: (stdout) => parseJsonField(stdout, (v) => v?.clientVersion?.gitVersion),
  },
  terraform: {
    tool: 'terraform',
    versionArgs: ['version', '-json'],
    minimum: [1, 5],
    minimumText: '>= 1.5',
    installHint: 'Install Terraform 1.5 or newer: `brew install hashicorp/tap/terraform` (macOS), the HashiCorp apt repository (Debian/Ubuntu), or see https://developer.hashicorp.com/terraform/install.',
    // {"terraform_version": "1.11.4", ...}
    parseVersion: (stdout) => parseJsonField(stdout, (v) => v?.terraform_version),
  },
  vcluster: {
    tool: 'vcluster',
    versionArgs: ['--version'],
    minimum: [0, 20],
    minimumText: '>= 0.20',
    installHint: 'Install the vcluster CLI 0.20 or newer: `brew install loft-sh/tap/vcluster` (macOS), or download it from https://www.vcluster.com/docs/get-started (GitHub releases of loft-sh/vcluster).',
    // "vcluster version 0.37.0"
    parseVersion: (stdout) => (/vcluster version/u.test(stdout) ? firstVersion(stdout) : undefined),
  },
  argocd: {
    tool: 'argocd',
    versionArgs: ['version', '--client', '--short'],
    minimum: [2, 10],
    minimumText: '>= 2.10',
    installHint: 'Install the Argo CD CLI 2.10 or newer: `brew install argocd` (macOS), or download it from https://argo-cd.readthedocs.io/en/stable/cli_installation/.',
    // "argocd: v3.5.1+abc1234"
    parseVersion: (stdout) => {
      const line = stdout.split('\n').find((l) => l.startsWith('argocd:'))
      return line ? firstVersion(line) : undefined
    },
  },
}

/** Whether `version` (x.y.z) is at least `minimum` ([major, minor]). */
export function meetsMinimum(version: string, minimum: readonly [number, number]): boolean {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10))
  return major > minimum[0] || (major === minimum[0] && minor >= minimum[1])
}

/** Major version of a Helm version string ("3.18.0" → 3); helm 4 renamed --atomic. */
export function helmMajor(version: string | undefined): 3 | 4 {
  const major = Number.parseInt(version ?? '', 10)
  return major >= 4 ? 4 : 3
}

/** The ToolInfo of a binary at `path` reporting `version` (undefined: unreadable). */
export function toolInfo(tool: ToolName, found?: {path: string; version?: string}): ToolInfo {
  const spec = TOOL_SPECS[tool]
  const base = {tool, minimum: spec.minimumText, installHint: spec.installHint}
  if (!found) return {...base, status: 'missing'}
  if (!found.version) return {...base, status: 'unknown-version', path: found.path}
  return {...base, status: meetsMinimum(found.version, spec.minimum) ? 'ok' : 'too-old', path: found.path, version: found.version}
}

/** A PrerequisiteError (exit 4) when the tool is missing or too old; the info otherwise. */
export function assertUsable(info: ToolInfo): ToolInfo {
  if (info.status === 'missing') {
    throw new PrerequisiteError(`${info.tool} is not installed: it was not found on PATH (idp never runs tools from the current directory).`, {
      hint: info.installHint,
      details: {tool: info.tool, minimum: info.minimum},
    })
  }
  if (info.status === 'too-old') {
    throw new PrerequisiteError(`${info.tool} ${info.version} at ${info.path} is too old: idp needs ${info.tool} ${info.minimum}.`, {
      hint: info.installHint,
      details: {tool: info.tool, version: info.version, path: info.path, minimum: info.minimum},
    })
  }
  return info
}

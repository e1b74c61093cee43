import {UsageError} from './errors.js'

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/u

/** Why a name is not a DNS-1123 label, or undefined when it is one. */
export function dnsLabelProblem(value: string): string | undefined {
  if (value.length === 0) return 'it is empty'
  if (value.length > 63) return `it is ${value.length} characters long (at most 63)`
  if (/[A-Z]/u.test(value)) return 'it contains upper-case letters'
  if (!DNS1123_LABEL.test(value)) return 'it must consist of lower-case letters, digits and "-", and start and end with a letter or digit'
  return undefined
}

export function isDnsLabel(value: string): boolean {
  return dnsLabelProblem(value) === undefined
}

/** A UsageError before any side effect when `value` is not a DNS-1123 label. */
export function assertDnsLabel(value: string, what: string): string {
  const problem = dnsLabelProblem(value)
  if (problem) {
    const suggestion = value.toLowerCase().replace(/[^a-z0-9-]+/gu, '-').replace(/^-+|-+$/gu, '').slice(0, 63).replace(/-+$/u, '')
    throw new UsageError(`Invalid ${what} "${value}": ${problem}.`, {
      hint: suggestion && suggestion !== value ? `Names are DNS-1123 labels (Kubernetes names). Try "${suggestion}".` : 'Names are DNS-1123 labels: lower-case letters, digits and "-", at most 63 characters.',
    })
  }
  return value
}

/** An OCI image tag (the distribution spec's grammar): what helm passes on as image.tag. */
const IMAGE_TAG = /^[\w][\w.-]{0,127}$/u

/** A UsageError before any side effect when `value` is not an image tag, saying where it came from. */
export function assertImageTag(value: string, from: string): string {
  if (!IMAGE_TAG.test(value)) {
    throw new UsageError(`Invalid image tag "${value}" (${from}).`, {hint: 'An image tag is letters, digits, "_", "." and "-", at most 128 characters, starting with a letter, digit or "_", e.g. --image-tag v1.4.2.'})
  }
  return value
}

/** A git commit as idp records and deploys it: 7 to 64 hexadecimal digits. */
export function assertSha(value: string, from: string): string {
  if (!/^[0-9a-f]{7,64}$/iu.test(value)) {
    throw new UsageError(`Invalid commit "${value}" (${from}).`, {hint: 'Pass the commit as hexadecimal digits, e.g. --sha "$GITHUB_SHA" or --sha "$(git rev-parse HEAD)".'})
  }
  return value
}

/**
 * GitHub user and organization names (`.idp.yml` repo.owner, a template's repoUrl owner, --owner):
 * letters, digits and "-", with "_" too for Enterprise Managed Users (`mona_octocorp`); never "."
 * or "/", since the name goes into API paths.
 */
export const GITHUB_OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,98}[A-Za-z0-9])?$/u

/** GitHub's rule for repository names. */
export const GITHUB_REPO_NAME = /^[A-Za-z0-9._-]{1,100}$/u

/** Why a name is not a GitHub user or organization name, or undefined. */
export function githubOwnerProblem(owner: string): string | undefined {
  return GITHUB_OWNER.test(owner) ? undefined : 'use letters, digits, "-" (and "_" for managed users), starting and ending with a letter or digit'
}

/** Why a name is not a GitHub repository name, or undefined; checked before any call so a bad name has no side effect. */
export function repositoryNameProblem(name: string): string | undefined {
  if (!GITHUB_REPO_NAME.test(name)) return 'use 1-100 letters, digits, ".", "-" or "_"'
  if (name === '.' || name === '..' || name.toLowerCase().endsWith('.git')) return 'it must not be "." or ".." or end in ".git"'
  return undefined
}

/**
 * One place that knows which strings are secret. Everything idp prints (human output, --json,
 * errors, tool argv and captured tool output) goes through `redact`.
 */
const secrets = new Set<string>()
const MASK = '***'

/** Values of these environment variables are secrets wherever they appear. */
export const SECRET_ENV_VARS = ['GITHUB_TOKEN', 'GH_TOKEN', 'ARGOCD_AUTH_TOKEN', 'IDP_GITHUB_TOKEN', 'VAULT_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'IDP_REGISTRY_PASSWORD', 'BACKSTAGE_TOKEN']

/** Flags whose value is a secret, in argv of any tool. */
const SECRET_FLAGS = /^--?(token|auth-token|password|client-secret|secret|bearer-token|kube-token|access-token|github-token)$/iu
const SECRET_FLAG_INLINE = /^(--?(?:token|auth-token|password|client-secret|secret|bearer-token|kube-token|access-token|github-token))=(.+)$/iu

/** Patterns that look like credentials in free text (kubeconfig fields, auth headers, tokens). */
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/((?:token|password|client-key-data|client-certificate-data|id-token|refresh-token|access-token|secret)\s*[:=]\s*)("?)[^\s",}]+\2/giu, `$1$2${MASK}$2`],
  [/(authorization:\s*(?:bearer|token|basic)\s+)\S+/giu, `$1${MASK}`],
  [/\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/gu, MASK],
  [/(https?:\/\/)[^/\s:@]+:[^/\s@]+@/giu, `$1${MASK}@`],
]

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value)
}

export function registerSecretsFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of SECRET_ENV_VARS) registerSecret(env[name])
}

export function redact(text: string): string {
  let out = redactKnown(text)
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement)
  return out
}

/**
 * Only the secrets idp knows by value (registered ones), not the free-text patterns: for text idp
 * composed itself from facts that hold no credential (a table of checks, a list to confirm), where
 * a pattern would mangle words such as "token: set" or "GITHUB_TOKEN=$(gh auth token)".
 */
export function redactKnown(text: string): string {
  let out = text
  for (const secret of secrets) out = out.split(secret).join(MASK)
  return out
}

export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = []
  let maskNext = false
  for (const arg of argv) {
    if (maskNext) {
      out.push(MASK)
      maskNext = false
      continue
    }
    const inline = SECRET_FLAG_INLINE.exec(arg)
    if (inline) {
      out.push(`${inline[1]}=${MASK}`)
      continue
    }
    if (SECRET_FLAGS.test(arg)) maskNext = true
    out.push(redact(arg))
  }
  return out
}

/** Deeply redact strings inside a JSON-able value (for --json output and plan objects). */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T
  if (Array.isArray(value)) return value.map((v) => redactValue(v)) as T
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = /^(token|password|secret|client-key-data|clientKeyData|bearerToken)$/iu.test(k) && typeof v === 'string' ? MASK : redactValue(v)
    }
    return out as T
  }
  return value
}

export function clearSecretsForTests(): void {
  secrets.clear()
}

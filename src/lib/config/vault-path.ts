/** Why a KV v2 path (inside the mount) is not one idp can read, or undefined. */
export function vaultPathProblem(value: string): string | undefined {
  if (value.startsWith('/') || value.endsWith('/')) return 'a Vault path has no leading or trailing "/"'
  const segments = value.split('/')
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) return 'a Vault path has no empty, "." or ".." segment'
  if (segments[0] === 'data' || segments[0] === 'metadata') return 'the path is inside the mount: idp adds data/ itself'
  if (/[?#%\\\s]/u.test(value.replaceAll(/\{\{[^{}]*\}\}/gu, ''))) return 'a Vault path has no "?", "#", "%", "\\" or spaces'
  return undefined
}

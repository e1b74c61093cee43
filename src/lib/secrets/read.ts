/**
 * Read an environment's secrets for a service: the Vault client behind one `await import()` (only
 * runs with secrets pay for it), a warning when a token idp obtained could not be revoked.
 */
import type {Deps} from '../cli/deps.js'
import type {ResolvedSecrets} from '../config/environments.js'
import type {SecretsRead} from '../vault/secrets.js'

export async function readSecretsOf(secrets: ResolvedSecrets, deps: Pick<Deps, 'env' | 'signal' | 'out'>): Promise<SecretsRead> {
  const {readEnvSecrets} = await import('../vault/secrets.js')
  const read = await readEnvSecrets(secrets, deps.env, deps.signal)
  if (read.revokeError) deps.out.warn(`The Vault token idp obtained could not be revoked (${read.revokeError}); it expires with its TTL.`)
  deps.out.debug(`Read ${read.facts.length} secret${read.facts.length === 1 ? '' : 's'} from Vault with ${read.tokenSource}${read.revoked ? '; the token idp obtained is revoked' : ''}.`)
  return read
}

/**
 * Read an environment's secrets from Vault, all before any change: every path, every key, in
 * memory only. The token idp obtained for it (JWT login) is revoked before this returns, whatever
 * happened, so no later failure can leave it alive.
 */
import {RemoteError} from '../cli/errors.js'
import type {ResolvedSecrets, SecretRef} from '../config/environments.js'
import {SECRET_KEY_PATTERN} from '../config/schema.js'
import {readKv, registerValue, revokeToken, type VaultTarget, vaultTarget, vaultToken} from './client.js'

/** One Kubernetes Secret's data as read from Vault: held in memory, never in a plan, a file or a result. */
export interface SecretValue {
  name: string
  /** `<mount>/<path>`, for annotations and messages. */
  source: string
  version: number
  data: Record<string, string>
}

/** What was read, by Secret name. A class so a stray JSON.stringify or log of it shows nothing. */
export class SecretValues {
  readonly #values = new Map<string, SecretValue>()
  set(value: SecretValue): void {
    this.#values.set(value.name, value)
  }
  get(name: string): SecretValue | undefined {
    return this.#values.get(name)
  }
  names(): string[] {
    return [...this.#values.keys()]
  }
  toJSON(): string {
    return '[secret values]'
  }
}

/** The facts about a read that a plan and a result may carry: names, paths, versions and key names. */
export interface SecretReadFact {
  name: string
  source: string
  version: number
  keys: string[]
}

export interface SecretsRead {
  values: SecretValues
  facts: SecretReadFact[]
  /** How the token was found (VAULT_TOKEN, ~/.vault-token, jwt login); never the token. */
  tokenSource: string
  /** idp obtained a token and revoked it. */
  revoked: boolean
  /** A revocation that failed, for a warning (the token then expires with its TTL). */
  revokeError?: string
}

const KEY = new RegExp(SECRET_KEY_PATTERN, 'u')

/** A KV value as a Secret's string: strings as they are, anything else as JSON (what `vault kv get -format=json` shows). */
function asSecretString(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** Pick the configured keys (all of them when none are listed); a missing or unusable key is a RemoteError naming keys only. */
export function selectKeys(ref: SecretRef, source: string, data: Record<string, unknown>): Record<string, string> {
  const present = Object.keys(data)
  if (ref.keys) {
    const missing = ref.keys.filter((key) => !Object.hasOwn(data, key))
    if (missing.length > 0) {
      throw new RemoteError(`Secret ${ref.name}: ${source} has no key${missing.length === 1 ? '' : 's'} ${missing.join(', ')} (it has ${present.length > 0 ? present.sort().join(', ') : 'no keys'}).`, {
        hint: `Add the key${missing.length === 1 ? '' : 's'} in Vault, or change secrets.env.*.${ref.name}.keys in .idp.yml.`,
        details: {secret: ref.name, source, missingKeys: missing},
      })
    }
  }
  const keys = ref.keys ?? present
  if (keys.length === 0) throw new RemoteError(`Secret ${ref.name}: ${source} holds no keys.`, {hint: 'Write the keys in Vault, or remove the mapping from .idp.yml.'})
  const bad = keys.filter((key) => !KEY.test(key))
  if (bad.length > 0) {
    throw new RemoteError(`Secret ${ref.name}: ${source} has key${bad.length === 1 ? '' : 's'} a Kubernetes Secret cannot hold: ${bad.map((key) => JSON.stringify(key)).join(', ')}.`, {
      hint: 'Secret keys are letters, digits, "-", "_" and "."; list the usable keys in .idp.yml (keys: [...]) or rename them in Vault.',
    })
  }
  const out: Record<string, string> = {}
  for (const key of keys.sort()) {
    const text = asSecretString(data[key])
    registerValue(text)
    out[key] = text
  }
  return out
}

/** Read every Secret of the environment; the first problem (address, token, path, key, permission) throws before any change. */
export async function readEnvSecrets(secrets: ResolvedSecrets, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<SecretsRead> {
  const target = await vaultTarget(secrets.vault, env)
  const token = await vaultToken(target, secrets.vault.auth, {env, ...(signal ? {signal} : {})})
  const values = new SecretValues()
  const facts: SecretReadFact[] = []
  let failure: unknown
  try {
    for (const ref of secrets.items) {
      const source = `${secrets.vault.mount}/${ref.path}`
      const kv = await readKv(target, token.token, secrets.vault.mount, ref.path, {...(ref.version === undefined ? {} : {version: ref.version}), ...(signal ? {signal} : {})})
      const data = selectKeys(ref, source, kv.data)
      values.set({name: ref.name, source, version: kv.version, data})
      facts.push({name: ref.name, source, version: kv.version, keys: Object.keys(data)})
    }
  } catch (error) {
    failure = error
  }
  const revocation = await revoke(target, token)
  if (failure) throw failure
  return {values, facts, tokenSource: token.source, revoked: token.obtained && !revocation, ...(revocation ? {revokeError: revocation} : {})}
}

/** Revoke an obtained token; the problem as text when it failed (the caller warns). */
async function revoke(target: VaultTarget, token: Awaited<ReturnType<typeof vaultToken>>): Promise<string | undefined> {
  try {
    await revokeToken(target, token)
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

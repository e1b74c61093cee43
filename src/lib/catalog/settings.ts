import {PrerequisiteError, UsageError} from '../cli/errors.js'
import {registerSecret} from '../cli/redact.js'
import {cleartextToAnotherMachine} from '../cli/http.js'

/**
 * Where idp reaches the Backstage catalog, and with what: the base URL from `--backstage-url`,
 * else `backstage.baseUrl` in .idp.yml, else BACKSTAGE_URL; the token from BACKSTAGE_TOKEN only
 * (a static external-access token, `backend.auth.externalAccess` type static), never a flag, so
 * it stays out of argv and shell history. The token joins the redactor's list at once.
 */
export interface BackstageSettings {
  baseUrl?: string
  /** Where the URL came from, for messages. */
  baseUrlFrom?: '--backstage-url' | 'backstage.baseUrl' | 'BACKSTAGE_URL'
  token?: string
}

export const BACKSTAGE_URL_SOURCES = '--backstage-url, backstage.baseUrl in .idp.yml or BACKSTAGE_URL'

function checkUrl(value: string, from: NonNullable<BackstageSettings['baseUrlFrom']>): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    url = new URL('invalid:')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    const message = `${from} "${value}" is not an http(s) URL.`
    const hint = 'Give the Backstage base URL, e.g. https://backstage.example.com (its backend serves /api/catalog).'
    throw from === '--backstage-url' ? new UsageError(message, {hint}) : new PrerequisiteError(message, {hint})
  }
  return url.href.replace(/\/+$/u, '')
}

export function backstageSettings(input: {flag?: string; config?: {baseUrl?: string}; env: NodeJS.ProcessEnv}): BackstageSettings {
  const token = input.env.BACKSTAGE_TOKEN?.trim() || undefined
  registerSecret(token)
  const pick: Array<[string | undefined, NonNullable<BackstageSettings['baseUrlFrom']>]> = [
    [input.flag, '--backstage-url'],
    [input.config?.baseUrl, 'backstage.baseUrl'],
    [input.env.BACKSTAGE_URL?.trim() || undefined, 'BACKSTAGE_URL'],
  ]
  const found = pick.find(([value]) => value !== undefined && value !== '')
  if (!found) return token ? {token} : {}
  return {baseUrl: checkUrl(found[0] as string, found[1]), baseUrlFrom: found[1], ...(token ? {token} : {})}
}

/** The settings a command that talks to the catalog cannot do without: a URL (a token is optional for catalogs that allow guests). */
export function requireBaseUrl(settings: BackstageSettings): {baseUrl: string; token?: string; baseUrlFrom: NonNullable<BackstageSettings['baseUrlFrom']>} {
  if (!settings.baseUrl || !settings.baseUrlFrom) {
    throw new PrerequisiteError('No Backstage URL: pass --backstage-url, set backstage.baseUrl in .idp.yml, or export BACKSTAGE_URL.', {
      hint: 'e.g. --backstage-url https://backstage.example.com, with a static external-access token in BACKSTAGE_TOKEN.',
    })
  }
  return {baseUrl: settings.baseUrl, baseUrlFrom: settings.baseUrlFrom, ...(settings.token ? {token: settings.token} : {})}
}

/**
 * The token goes over https, or plain http on this machine only (as Vault's and the registry's):
 * a plain http catalog on another host would get BACKSTAGE_TOKEN in clear. IDP_BACKSTAGE_ALLOW_HTTP=true
 * opts in for a private, trusted network. Checked before anything is changed.
 */
export function assertTokenTransport(settings: BackstageSettings, env: NodeJS.ProcessEnv): void {
  if (!settings.token || !settings.baseUrl) return
  const url = new URL(settings.baseUrl)
  if (!cleartextToAnotherMachine(url, env, 'IDP_BACKSTAGE_ALLOW_HTTP')) return
  throw new PrerequisiteError(`The Backstage URL ${url.origin} (${settings.baseUrlFrom ?? 'BACKSTAGE_URL'}) is plain http to another machine: BACKSTAGE_TOKEN would cross the network unencrypted. idp sent nothing.`, {
    hint: `Use https://. Plain http is used only on this machine (localhost, 127.0.0.1, [::1]); if the network to ${url.host} is private and trusted, opt in with IDP_BACKSTAGE_ALLOW_HTTP=true.`,
  })
}

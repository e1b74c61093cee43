import {describe, expect, it} from 'vitest'

import {fullRef} from '../../src/lib/catalog/client.js'
import {assertTokenTransport, backstageSettings, requireBaseUrl} from '../../src/lib/catalog/settings.js'
import {PrerequisiteError, UsageError} from '../../src/lib/cli/errors.js'
import {redact} from '../../src/lib/cli/redact.js'

describe('backstageSettings: where idp reaches the Backstage catalog', () => {
  const env = {BACKSTAGE_URL: 'https://env.example.com/', BACKSTAGE_TOKEN: 'bs-settings-canary-0123456789'}

  it('--backstage-url wins over backstage.baseUrl of .idp.yml, which wins over BACKSTAGE_URL', () => {
    expect(backstageSettings({flag: 'https://flag.example.com', config: {baseUrl: 'https://config.example.com'}, env})).toMatchObject({baseUrl: 'https://flag.example.com', baseUrlFrom: '--backstage-url'})
    expect(backstageSettings({config: {baseUrl: 'https://config.example.com/'}, env})).toMatchObject({baseUrl: 'https://config.example.com', baseUrlFrom: 'backstage.baseUrl'})
    expect(backstageSettings({env})).toMatchObject({baseUrl: 'https://env.example.com', baseUrlFrom: 'BACKSTAGE_URL'})
    expect(backstageSettings({env: {}})).toEqual({})
  })

  it('the token comes from BACKSTAGE_TOKEN only, and the redactor knows it at once', () => {
    const settings = backstageSettings({env})
    expect(settings.token).toBe(env.BACKSTAGE_TOKEN)
    expect(redact(`Authorization: Bearer ${env.BACKSTAGE_TOKEN}; token=${env.BACKSTAGE_TOKEN}`)).not.toContain(env.BACKSTAGE_TOKEN)
  })

  it('a bad URL is a usage error from the flag, a prerequisite error from .idp.yml or the environment', () => {
    expect(() => backstageSettings({flag: 'backstage.example.com', env: {}})).toThrow(UsageError)
    expect(() => backstageSettings({env: {BACKSTAGE_URL: 'ftp://x'}})).toThrow(PrerequisiteError)
    expect(() => requireBaseUrl({})).toThrow(/No Backstage URL: pass --backstage-url, set backstage.baseUrl in .idp.yml, or export BACKSTAGE_URL\./u)
  })

  it('the token goes over https or to this machine only: plain http to another host is refused before anything is sent, unless IDP_BACKSTAGE_ALLOW_HTTP=true', () => {
    const token = 'bs-transport-canary-0123456789'
    const remote = backstageSettings({flag: 'http://backstage.internal:7007', env: {BACKSTAGE_TOKEN: token}})
    expect(() => assertTokenTransport(remote, {})).toThrow(PrerequisiteError)
    expect(() => assertTokenTransport(remote, {})).toThrow(/plain http to another machine: BACKSTAGE_TOKEN would cross the network unencrypted\. idp sent nothing\./u)
    expect(() => assertTokenTransport(remote, {IDP_BACKSTAGE_ALLOW_HTTP: 'true'})).not.toThrow()
    for (const url of ['http://127.0.0.1:7007', 'http://localhost:7007', 'http://[::1]:7007', 'https://backstage.internal']) {
      expect(() => assertTokenTransport(backstageSettings({flag: url, env: {BACKSTAGE_TOKEN: token}}), {})).not.toThrow()
    }
    // Without a token there is nothing to protect: a guest catalog over http is the user's call.
    expect(() => assertTokenTransport(backstageSettings({flag: 'http://backstage.internal:7007', env: {}}), {})).not.toThrow()
  })

  it('owner references are completed as the catalog stores relations (kind group, namespace default, lower case)', () => {
    expect(fullRef('team-a', 'group')).toBe('group:default/team-a')
    expect(fullRef('user:Alice', 'group')).toBe('user:default/alice')
    expect(fullRef('group:ops/SRE', 'group')).toBe('group:ops/sre')
    expect(fullRef('payments/shop', 'component')).toBe('component:payments/shop')
  })
})

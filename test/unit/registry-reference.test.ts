import {describe, expect, it} from 'vitest'

import {ConfigError} from '../../src/lib/cli/errors.js'
import {redact} from '../../src/lib/cli/redact.js'
import {credentialHint, parseChallenge, registryCredentials} from '../../src/lib/registry/client.js'
import {formatReference, imageToRun, parseImageReference, registryBaseUrl} from '../../src/lib/registry/reference.js'

const DIGEST = `sha256:${'a'.repeat(64)}`

describe('image references (as docker and distribution/reference read them)', () => {
  it('Docker Hub: docker.io, library/ for official images, the API at registry-1.docker.io', () => {
    expect(parseImageReference('nginx')).toEqual({registry: 'docker.io', repository: 'library/nginx'})
    expect(parseImageReference('nginx:1.27')).toEqual({registry: 'docker.io', repository: 'library/nginx', tag: '1.27'})
    expect(parseImageReference('acme/shop:v1')).toEqual({registry: 'docker.io', repository: 'acme/shop', tag: 'v1'})
    expect(parseImageReference('docker.io/nginx')).toEqual({registry: 'docker.io', repository: 'library/nginx'})
    expect(parseImageReference('index.docker.io/acme/shop')).toEqual({registry: 'docker.io', repository: 'acme/shop'})
    expect(registryBaseUrl('docker.io')).toBe('https://registry-1.docker.io')
  })

  it('a first component with ".", ":" or localhost is the registry host; ports and nested paths', () => {
    expect(parseImageReference('ghcr.io/acme/shop')).toEqual({registry: 'ghcr.io', repository: 'acme/shop'})
    expect(parseImageReference('registry.example.com:5000/team/sub/shop:v1.2')).toEqual({registry: 'registry.example.com:5000', repository: 'team/sub/shop', tag: 'v1.2'})
    expect(parseImageReference('localhost/shop')).toEqual({registry: 'localhost', repository: 'shop'})
    expect(parseImageReference('localhost:5000/shop:dev')).toEqual({registry: 'localhost:5000', repository: 'shop', tag: 'dev'})
    expect(parseImageReference('[::1]:5000/shop')).toEqual({registry: '[::1]:5000', repository: 'shop'})
    // A first component without "." or ":" is a Docker Hub namespace, not a host.
    expect(parseImageReference('team/shop')).toEqual({registry: 'docker.io', repository: 'team/shop'})
  })

  it('digests, with or without a tag', () => {
    expect(parseImageReference(`ghcr.io/acme/shop@${DIGEST}`)).toEqual({registry: 'ghcr.io', repository: 'acme/shop', digest: DIGEST})
    expect(parseImageReference(`ghcr.io/acme/shop:v1@${DIGEST}`)).toEqual({registry: 'ghcr.io', repository: 'acme/shop', tag: 'v1', digest: DIGEST})
    expect(parseImageReference(`localhost:5000/shop@${DIGEST}`)).toEqual({registry: 'localhost:5000', repository: 'shop', digest: DIGEST})
    expect(formatReference(parseImageReference(`nginx:1@${DIGEST}`))).toBe(`docker.io/library/nginx:1@${DIGEST}`)
  })

  it('malformed references are a ConfigError (exit 3) with the reason', () => {
    for (const [text, reason] of [
      ['ghcr.io/Acme/shop', '"Acme" is not a path component'],
      ['ghcr.io/acme/shop:', '"" is not a tag'],
      ['ghcr.io/acme/shop:-x', '"-x" is not a tag'],
      ['ghcr.io/acme/shop@sha256:abc', 'is not a digest'],
      [`ghcr.io/acme/shop@sha256:${'A'.repeat(64)}`, '64 lower-case hex digits'],
      ['ghcr.io/', 'the repository path is empty'],
      ['ghcr..io/shop', 'is not a registry host'],
      [' ghcr.io/acme/shop', 'surrounding spaces'],
      ['ghcr.io/acme//shop', '"" is not a path component'],
    ] as const) {
      let error: unknown
      try {
        parseImageReference(text)
      } catch (caught) {
        error = caught
      }
      expect(error, text).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).message, text).toContain(reason)
      expect((error as ConfigError).exitCode).toBe(3)
    }
  })

  it('the image to run: image.repository of .idp.yml (a name) and the command\'s tag', () => {
    expect(imageToRun('ghcr.io/acme/shop', 'abc1234')).toEqual({registry: 'ghcr.io', repository: 'acme/shop', tag: 'abc1234'})
    expect(() => imageToRun('ghcr.io/acme/shop:v1', 'abc1234')).toThrow(/holds a tag; idp adds the tag itself/u)
    expect(() => imageToRun(`ghcr.io/acme/shop@${DIGEST}`, 'abc1234')).toThrow(/holds a digest/u)
  })

  it('https, except plain http on this machine (as Docker allows)', () => {
    expect(registryBaseUrl('ghcr.io')).toBe('https://ghcr.io')
    expect(registryBaseUrl('registry.example.com:5000')).toBe('https://registry.example.com:5000')
    expect(registryBaseUrl('127.0.0.1:5000')).toBe('http://127.0.0.1:5000')
    expect(registryBaseUrl('localhost:5000')).toBe('http://localhost:5000')
    expect(registryBaseUrl('[::1]:5000')).toBe('http://[::1]:5000')
  })
})

describe('registry challenges and credentials', () => {
  it('parses Bearer and Basic challenges (quoted values with commas, escapes)', () => {
    expect(parseChallenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/shop:pull"')).toEqual({
      scheme: 'bearer',
      params: {realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:acme/shop:pull'},
    })
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push",error="insufficient_scope"')?.params).toEqual({
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/nginx:pull,push',
      error: 'insufficient_scope',
    })
    expect(parseChallenge('Basic realm="a \\"quoted\\" realm"')).toEqual({scheme: 'basic', params: {realm: 'a "quoted" realm'}})
    expect(parseChallenge(null)).toBeUndefined()
  })

  it('IDP_REGISTRY_USERNAME/PASSWORD for the registry IDP_REGISTRY_HOST names only; GITHUB_TOKEN (then GH_TOKEN) for ghcr.io only', () => {
    expect(registryCredentials('registry.example.com', {GITHUB_TOKEN: 'ghp_x'})).toBeUndefined()
    expect(registryCredentials('ghcr.io', {GITHUB_TOKEN: 'tok-1', GITHUB_ACTOR: 'octo'})).toEqual({username: 'octo', password: 'tok-1', source: 'GITHUB_TOKEN'})
    expect(registryCredentials('ghcr.io', {GH_TOKEN: 'tok-2'})).toEqual({username: 'idp', password: 'tok-2', source: 'GH_TOKEN'})
    const idp = {IDP_REGISTRY_USERNAME: 'bot', IDP_REGISTRY_PASSWORD: 'pw-1'}
    const bot = {username: 'bot', password: 'pw-1', source: 'IDP_REGISTRY_USERNAME/IDP_REGISTRY_PASSWORD'}
    expect(registryCredentials('ghcr.io', {GITHUB_TOKEN: 'tok-1', ...idp, IDP_REGISTRY_HOST: 'ghcr.io'})).toEqual(bot)
    // Bound to their host: not sent anywhere without IDP_REGISTRY_HOST, nor to another registry.
    expect(registryCredentials('registry.example.com', idp)).toBeUndefined()
    expect(registryCredentials('evil.example.com', {...idp, IDP_REGISTRY_HOST: 'registry.example.com'})).toBeUndefined()
    expect(registryCredentials('registry.example.com:5000', {...idp, IDP_REGISTRY_HOST: 'registry.example.com'})).toBeUndefined()
    expect(registryCredentials('ghcr.io', {GITHUB_TOKEN: 'tok-1', ...idp, IDP_REGISTRY_HOST: 'registry.example.com'})).toMatchObject({source: 'GITHUB_TOKEN'})
    // Written as docker login takes it.
    for (const host of ['registry.example.com:5000', 'https://Registry.Example.com:5000/', 'registry.example.com:5000/v2/']) {
      expect(registryCredentials('registry.example.com:5000', {...idp, IDP_REGISTRY_HOST: host})).toEqual(bot)
    }
    for (const host of ['docker.io', 'index.docker.io', 'https://index.docker.io/v1/', 'registry-1.docker.io']) expect(registryCredentials('docker.io', {...idp, IDP_REGISTRY_HOST: host})).toEqual(bot)
    // A username without a password is no credential.
    expect(registryCredentials('registry.example.com', {IDP_REGISTRY_USERNAME: 'bot'})).toBeUndefined()
  })

  it('the hints saying which credential to set survive the redactor word for word', () => {
    for (const registry of ['ghcr.io', 'registry.example.com']) {
      for (const env of [{}, {IDP_REGISTRY_USERNAME: 'bot', IDP_REGISTRY_PASSWORD: 'pw-1'}, {IDP_REGISTRY_USERNAME: 'bot', IDP_REGISTRY_PASSWORD: 'pw-1', IDP_REGISTRY_HOST: 'other.example.com'}]) {
        expect(redact(credentialHint(registry, env))).toBe(credentialHint(registry, env))
        expect(credentialHint(registry, env)).not.toContain('pw-1')
      }
    }
    expect(credentialHint('ghcr.io')).toContain('GITHUB_TOKEN')
  })
})

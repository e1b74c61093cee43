// idp's Vault client against the Vault and GitHub OIDC stand-ins: settings precedence (.idp.yml over
// VAULT_ADDR / VAULT_NAMESPACE), the token sources, the JWT login with GitHub Actions' OIDC token and
// its revocation on every exit path, and the stand-in's own faithfulness to Vault's API shapes.
import fs from 'node:fs'
import http from 'node:http'
import type net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {EXIT, IdpError} from '../../src/lib/cli/errors.js'
import type {ResolvedSecrets, VaultSettings} from '../../src/lib/config/environments.js'
import {capabilitiesSelf, vaultTarget} from '../../src/lib/vault/client.js'
import {readEnvSecrets} from '../../src/lib/vault/secrets.js'
import {GITHUB_OIDC_ISSUER, type GitHubOidcStandIn, startGitHubOidcStandIn, startVaultStandIn, type VaultStandIn} from '../support/vault-stand-in/index.js'

let vault: VaultStandIn
let oidc: GitHubOidcStandIn
let home: string

const CANARY = 'canary-0b7c1f6e-vault-client'

beforeAll(async () => {
  oidc = await startGitHubOidcStandIn({claims: {repository: 'acme/shop'}})
  vault = await startVaultStandIn({
    mounts: ['kv'],
    policies: {preview: {'kv/data/shop/*': ['read']}},
    jwtRoles: {preview: {policies: ['preview'], boundAudiences: ['https://vault.example.com'], boundClaims: {repository: 'acme/shop'}, ttlSeconds: 600}},
    jwtTrust: {publicKeys: [oidc.publicKey], issuer: GITHUB_OIDC_ISSUER},
  })
  vault.kv.put('kv', 'shop/preview/db', {username: 'shop', password: CANARY})
  vault.kv.put('kv', 'shop/preview/db', {username: 'shop', password: CANARY}, 'team-a')
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-vault-home-'))
})

afterAll(async () => {
  await vault?.stop()
  await oidc?.stop()
  fs.rmSync(home, {recursive: true, force: true})
})

const jwtAuth: VaultSettings['auth'] = {method: 'jwt', path: 'jwt', role: 'preview', audience: 'https://vault.example.com'}
const settings = (over: Partial<VaultSettings> = {}): VaultSettings => ({address: vault.url, mount: 'kv', auth: {method: 'token', path: 'jwt'}, ...over})
const secrets = (over: Partial<VaultSettings> = {}, items: ResolvedSecrets['items'] = [{name: 'shop-db', path: 'shop/preview/db', keys: ['password']}]): ResolvedSecrets => ({key: 'pr-*', vault: settings(over), items})
const actions = () => ({ACTIONS_ID_TOKEN_REQUEST_URL: oidc.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken, HOME: home})

async function failure(promise: Promise<unknown>): Promise<IdpError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof IdpError) return error
    throw error
  }
  throw new Error('expected a failure')
}

describe('settings: .idp.yml wins over the vault CLI\'s variables', () => {
  it('address: secrets.vault.address over VAULT_ADDR; VAULT_ADDR when the config has none; neither is exit 4', async () => {
    expect((await vaultTarget(settings(), {VAULT_ADDR: 'https://elsewhere.example.com'})).address).toBe(vault.url)
    expect((await vaultTarget(settings({address: undefined}), {VAULT_ADDR: `${vault.url}/`})).address).toBe(vault.url)
    const error = await failure(vaultTarget(settings({address: undefined}), {}))
    expect(error.exitCode).toBe(4)
    expect(error.message).toContain('VAULT_ADDR')
  })

  it('namespace: VAULT_NAMESPACE reaches Vault as X-Vault-Namespace, and the config\'s wins over it', async () => {
    const token = vault.tokens.create({policies: ['preview'], namespace: 'team-a'})
    const read = await readEnvSecrets(secrets(), {VAULT_TOKEN: token, VAULT_NAMESPACE: 'team-a', HOME: home})
    expect(read.values.get('shop-db')?.data).toEqual({password: CANARY})
    expect(vault.requests().at(-1)).toMatchObject({path: '/v1/kv/data/shop/preview/db', namespace: 'team-a', status: 200})
    // The config names another namespace: the token of team-a is not valid there.
    const error = await failure(readEnvSecrets(secrets({namespace: 'team-b'}), {VAULT_TOKEN: token, VAULT_NAMESPACE: 'team-a', HOME: home}))
    expect(error.exitCode).toBe(6)
    expect(vault.requests().at(-1)).toMatchObject({namespace: 'team-b', status: 403})
  })

  it('VAULT_CACERT that cannot be read is a clear exit 4 before any request', async () => {
    const error = await failure(vaultTarget(settings(), {VAULT_CACERT: path.join(home, 'missing.pem')}))
    expect(error.exitCode).toBe(4)
    expect(error.message).toContain('VAULT_CACERT')
  })
})

describe('plain http only to this machine, unless IDP_VAULT_ALLOW_HTTP', () => {
  it('http to another host is exit 4 before any request: the token is not sent; IDP_VAULT_ALLOW_HTTP=true opts in; loopback and https need nothing', async () => {
    const address = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address
    if (!address) throw new Error('this test needs a non-loopback IPv4 address on this machine (none found by os.networkInterfaces())')
    const seen: Array<string | undefined> = []
    const remote = http.createServer((req, res) => {
      seen.push(req.headers['x-vault-token'] as string | undefined)
      res.writeHead(403, {'content-type': 'application/json'})
      res.end('{"errors":["permission denied"]}')
    })
    await new Promise<void>((resolve) => remote.listen(0, address, resolve))
    const url = `http://${address}:${(remote.address() as net.AddressInfo).port}`
    try {
      for (const from of [{over: {address: url}, env: {}}, {over: {address: undefined}, env: {VAULT_ADDR: url}}]) {
        const error = await failure(readEnvSecrets(secrets(from.over), {...from.env, VAULT_TOKEN: CANARY, HOME: home}))
        expect(error.exitCode).toBe(EXIT.prerequisite)
        expect(error.message).toBe(`The Vault address ${url} (${from.over.address ? 'secrets.vault.address' : 'VAULT_ADDR'}) is plain http to another machine: the Vault token and every secret read would cross the network unencrypted. idp sent nothing.`)
        expect(error.hint).toContain('IDP_VAULT_ALLOW_HTTP=true')
        expect(`${error.message} ${error.hint}`).not.toContain(CANARY)
      }
      expect(seen).toEqual([])
      // Opted in: the request goes (and this server refuses it).
      const opted = await failure(readEnvSecrets(secrets({address: url}), {VAULT_TOKEN: 'hvs.opted-in', IDP_VAULT_ALLOW_HTTP: 'true', HOME: home}))
      expect(opted.exitCode).toBe(EXIT.remote)
      expect(seen).toEqual(['hvs.opted-in'])
    } finally {
      remote.closeAllConnections()
      await new Promise((resolve) => remote.close(resolve))
    }
    expect(vault.url.startsWith('http://127.0.0.1:')).toBe(true)
    for (const local of ['http://localhost:8200', 'http://[::1]:8200', 'https://vault.example.com:8200']) expect((await vaultTarget(settings({address: local}), {})).address).toBe(local)
  })
})

describe('Ctrl-C during the JWT login', () => {
  it('the token Vault issued while idp waited is revoked before the command stops (exit 130)', async () => {
    const before = vault.tokens.issued().length
    const controller = new AbortController()
    vault.delayLogins(400)
    try {
      // Ctrl-C once Vault has issued the token, while its answer is on the way.
      const poll = setInterval(() => {
        if (vault.tokens.issued().length > before) {
          clearInterval(poll)
          controller.abort()
        }
      }, 5)
      const error = await failure(readEnvSecrets(secrets({auth: jwtAuth}), actions(), controller.signal))
      clearInterval(poll)
      expect(error.exitCode).toBe(EXIT.cancelled)
      expect(error.message).toBe('Cancelled while logging in to Vault; the token it issued was revoked.')
    } finally {
      vault.delayLogins(0)
    }
    const issued = vault.tokens.issued().slice(before)
    expect(issued).toEqual([{token: expect.any(String), role: 'preview', revoked: true}])
    expect(vault.tokens.live(issued[0]!.token)).toBe(false)
  })

  it('Ctrl-C before the login: no login, no token', async () => {
    const before = vault.tokens.issued().length
    const requests = vault.requests().length
    const controller = new AbortController()
    controller.abort()
    // Stopped at the first request (GitHub's OIDC token): an AbortError, which the command reports as Ctrl-C (exit 130).
    await expect(readEnvSecrets(secrets({auth: jwtAuth}), actions(), controller.signal)).rejects.toThrow(/aborted/u)
    expect(vault.tokens.issued().length).toBe(before)
    expect(vault.requests().slice(requests).filter((r) => r.path.includes('login'))).toEqual([])
  })
})

describe('tokens', () => {
  it('VAULT_TOKEN, else ~/.vault-token (the vault CLI\'s token helper file); a user\'s token is never revoked', async () => {
    const token = vault.tokens.create({policies: ['preview']})
    const viaEnv = await readEnvSecrets(secrets(), {VAULT_TOKEN: token, HOME: home})
    expect(viaEnv).toMatchObject({tokenSource: 'VAULT_TOKEN', revoked: false})
    fs.writeFileSync(path.join(home, '.vault-token'), `${token}\n`)
    try {
      const viaFile = await readEnvSecrets(secrets(), {HOME: home})
      expect(viaFile.tokenSource).toBe('~/.vault-token')
    } finally {
      fs.rmSync(path.join(home, '.vault-token'))
    }
    expect(vault.tokens.live(token)).toBe(true)
    const none = await failure(readEnvSecrets(secrets(), {HOME: home}))
    expect(none.exitCode).toBe(4)
    expect(none.hint).toContain('vault login')
  })

  it('jwt in GitHub Actions: the OIDC token for the configured audience is exchanged, and the Vault token is revoked when done', async () => {
    const before = vault.tokens.issued().length
    // VAULT_TOKEN in the environment does not beat the configured method.
    const read = await readEnvSecrets(secrets({auth: jwtAuth}), {...actions(), VAULT_TOKEN: 'hvs.not-used'})
    expect(read).toMatchObject({tokenSource: 'jwt login (role preview)', revoked: true})
    expect(read.values.get('shop-db')?.data).toEqual({password: CANARY})
    expect(oidc.audiences().at(-1)).toBe('https://vault.example.com')
    const issued = vault.tokens.issued().slice(before)
    expect(issued).toEqual([{token: expect.any(String), role: 'preview', revoked: true}])
    const paths = vault.requests().slice(-3).map((r) => `${r.method} ${r.path} ${r.status}`)
    expect(paths).toEqual(['POST /v1/auth/jwt/login 200', 'GET /v1/kv/data/shop/preview/db 200', 'POST /v1/auth/token/revoke-self 204'])
  })

  it('the obtained token is revoked when a read fails too (a missing path), and the failure is exit 6', async () => {
    const before = vault.tokens.issued().length
    const error = await failure(readEnvSecrets(secrets({auth: jwtAuth}, [{name: 'x', path: 'shop/missing'}]), actions()))
    expect(error.exitCode).toBe(6)
    expect(error.message).toBe('Vault refused to read kv/shop/missing: 404 no secret at this path of the KV v2 mount kv')
    expect(vault.tokens.issued().slice(before).map((t) => t.revoked)).toEqual([true])
  })

  it('a role Vault does not know, a wrong audience or another repository is a 400 from the login: exit 6, no token', async () => {
    const before = vault.tokens.issued().length
    const role = await failure(readEnvSecrets(secrets({auth: {...jwtAuth, role: 'nope'}}), actions()))
    expect(role.exitCode).toBe(6)
    expect(role.message).toBe('Vault refused to log in with the JWT auth method (auth/jwt, role nope): 400 role "nope" could not be found')
    const audience = await failure(readEnvSecrets(secrets({auth: {...jwtAuth, audience: 'sts.amazonaws.com'}}), actions()))
    expect(audience.message).toContain('400 error validating claims: invalid audience')
    const other = await startGitHubOidcStandIn({claims: {repository: 'mallory/fork'}})
    vault.trustJwtKey(other.publicKey)
    try {
      const claims = await failure(readEnvSecrets(secrets({auth: jwtAuth}), {ACTIONS_ID_TOKEN_REQUEST_URL: other.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: other.requestToken, HOME: home}))
      expect(claims.message).toContain('claim "repository" does not match')
      // The JWT itself never shows.
      for (const jwt of other.issued()) expect(`${claims.message} ${claims.hint}`).not.toContain(jwt)
    } finally {
      await other.stop()
    }
    expect(vault.tokens.issued().length).toBe(before)
  })

  it('a wrong request token is GitHub\'s 401, exit 6, and the request token never shows', async () => {
    const error = await failure(readEnvSecrets(secrets({auth: jwtAuth}), {...actions(), ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong-request-token-1234'}))
    expect(error.exitCode).toBe(6)
    expect(error.message).toContain('401')
    expect(error.message).not.toContain('wrong-request-token-1234')
  })

  it('jwt outside GitHub Actions falls back to VAULT_TOKEN (a developer\'s own token)', async () => {
    const token = vault.tokens.create({policies: ['preview']})
    const read = await readEnvSecrets(secrets({auth: jwtAuth}), {VAULT_TOKEN: token, HOME: home})
    expect(read).toMatchObject({tokenSource: 'VAULT_TOKEN', revoked: false})
    const none = await failure(readEnvSecrets(secrets({auth: jwtAuth}), {HOME: home}))
    expect(none.exitCode).toBe(4)
    expect(none.hint).toContain('id-token: write')
  })
})

describe('the stand-in follows Vault\'s API', () => {
  const call = async (method: string, apiPath: string, headers: Record<string, string> = {}, body?: unknown) => {
    const response = await fetch(`${vault.url}/v1/${apiPath}`, {method, headers: {...headers, ...(body ? {'content-type': 'application/json'} : {})}, ...(body ? {body: JSON.stringify(body)} : {})})
    const text = await response.text()
    return {status: response.status, body: text ? JSON.parse(text) : undefined}
  }

  it('KV v2 read: data and metadata, ?version=, a missing path 404 {"errors":[]}, a deleted version 404 with its metadata', async () => {
    const root = vault.tokens.create({policies: ['root']})
    vault.kv.put('kv', 'shop/versions', {a: '1'})
    vault.kv.put('kv', 'shop/versions', {a: '2'})
    const current = await call('GET', 'kv/data/shop/versions', {'X-Vault-Token': root})
    expect(current.status).toBe(200)
    expect(current.body.data).toMatchObject({data: {a: '2'}, metadata: {version: 2, deletion_time: '', destroyed: false, custom_metadata: null}})
    expect(current.body.data.metadata.created_time).toMatch(/^\d{4}-/u)
    expect((await call('GET', 'kv/data/shop/versions?version=1', {'X-Vault-Token': root})).body.data.data).toEqual({a: '1'})
    expect(await call('GET', 'kv/data/shop/nothing', {'X-Vault-Token': root})).toEqual({status: 404, body: {errors: []}})
    vault.kv.delete('kv', 'shop/versions')
    const deleted = await call('GET', 'kv/data/shop/versions', {'X-Vault-Token': root})
    expect(deleted.status).toBe(404)
    expect(deleted.body.data.data).toBeNull()
    expect(deleted.body.data.metadata.deletion_time).not.toBe('')
  })

  it('no, a bad or a revoked token: 403 permission denied; capabilities-self answers per path; revoke-self 204', async () => {
    expect(await call('GET', 'kv/data/shop/preview/db')).toEqual({status: 403, body: {errors: ['permission denied']}})
    const token = vault.tokens.create({policies: ['preview']})
    expect((await call('GET', 'kv/data/other/db', {'X-Vault-Token': token})).status).toBe(403)
    const caps = await call('POST', 'sys/capabilities-self', {'X-Vault-Token': token}, {paths: ['kv/data/shop/preview/db', 'kv/data/other/db']})
    expect(caps.status).toBe(200)
    expect(caps.body).toMatchObject({'kv/data/shop/preview/db': ['read'], 'kv/data/other/db': ['deny'], data: {'kv/data/shop/preview/db': ['read'], 'kv/data/other/db': ['deny']}})
    const single = await call('POST', 'sys/capabilities-self', {'X-Vault-Token': token}, {paths: ['kv/data/shop/preview/db']})
    expect(single.body.capabilities).toEqual(['read'])
    expect(await capabilitiesSelf(await vaultTarget(settings(), {}), token, ['kv/data/shop/x', 'kv/data/y'])).toEqual({'kv/data/shop/x': ['read'], 'kv/data/y': ['deny']})
    expect((await call('POST', 'auth/token/revoke-self', {'X-Vault-Token': token})).status).toBe(204)
    expect(await call('GET', 'kv/data/shop/preview/db', {'X-Vault-Token': token})).toEqual({status: 403, body: {errors: ['permission denied']}})
  })

  it('JWT login: the auth block of a token; missing role 400', async () => {
    const response = await fetch(`${oidc.requestUrl}&audience=https://vault.example.com`, {headers: {Authorization: `bearer ${oidc.requestToken}`}})
    const {value} = (await response.json()) as {value: string}
    const login = await call('POST', 'auth/jwt/login', {}, {role: 'preview', jwt: value})
    expect(login.status).toBe(200)
    expect(login.body.auth).toMatchObject({client_token: expect.stringMatching(/^hvs\./u), lease_duration: 600, renewable: true, policies: ['default', 'preview'], token_type: 'service'})
    expect(await call('POST', 'auth/jwt/login', {}, {jwt: value})).toEqual({status: 400, body: {errors: ['missing role']}})
  })
})

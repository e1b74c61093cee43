import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/lib/cli/errors.js'
import {resolveEnvironment} from '../../src/lib/config/environments.js'
import {checkConfigText, parseConfigText} from '../../src/lib/config/validate.js'

const base = `version: 1
service: {name: shop, owner: team-a}
clusters:
  dev: {context: kind-dev}
environments:
  "pr-*": {cluster: dev}
  staging: {cluster: dev}
`
const withSecrets = (secrets: string) => `${base}secrets:\n${secrets}`
const problems = (text: string) => checkConfigText(text).problems.map((p) => `${p.path}: ${p.message}${p.suggestion ? ` (${p.suggestion})` : ''}`)

describe('secrets in .idp.yml', () => {
  it('resolves per environment: an exact name beats a pattern, paths expanded, defaults applied', () => {
    const config = parseConfigText(
      withSecrets(`  vault: {address: https://vault.example.com, mount: /kv/}
  env:
    "pr-*":
      shop-db: {path: shop/preview/db, keys: [username, password]}
      shop-api: {path: "shop/{{env}}/api"}
    pr-1:
      shop-db: {path: shop/pr-1/db, version: 3}
`),
    )
    const pr7 = resolveEnvironment(config, 'pr-7', {root: '/repo'})
    expect(pr7.secrets).toEqual({
      key: 'pr-*',
      vault: {address: 'https://vault.example.com', mount: 'kv', auth: {method: 'token', path: 'jwt'}},
      items: [
        {name: 'shop-db', path: 'shop/preview/db', keys: ['username', 'password']},
        {name: 'shop-api', path: 'shop/pr-7/api'},
      ],
    })
    expect(resolveEnvironment(config, 'pr-1').secrets?.items).toEqual([{name: 'shop-db', path: 'shop/pr-1/db', version: 3}])
    expect(resolveEnvironment(config, 'staging').secrets).toBeUndefined()
  })

  it('defaults: mount secret, auth token; caCert relative to .idp.yml', () => {
    const config = parseConfigText(withSecrets(`  vault: {caCert: ./ca.pem}\n  env:\n    staging:\n      app: {path: app/staging}\n`))
    expect(resolveEnvironment(config, 'staging', {root: '/repo'}).secrets?.vault).toEqual({caCert: '/repo/ca.pem', mount: 'secret', auth: {method: 'token', path: 'jwt'}})
  })

  it('is validated like the rest of the file: unknown keys, placeholders, references, names, paths and auth', () => {
    expect(
      problems(
        withSecrets(`  vault:
    adress: https://vault.example.com
    auth: {method: jwt}
  env:
    "pr-*":
      Shop_DB: {path: "shop/{{evn}}/db"}
      shop-api: {path: /shop/api, key: [a]}
      shop-x: {path: data/shop/x, keys: [a, a, "b c"]}
    prod:
      app: {path: app/prod}
`),
      ),
    ).toEqual([
      'secrets.vault.adress: unknown key "adress" (address)',
      'secrets.vault.auth: method jwt needs the role to log in with',
      'secrets.env.pr-*.Shop_DB: "Shop_DB" is not a Kubernetes Secret name',
      'secrets.env.pr-*.Shop_DB.path: unknown placeholder {{evn}} ({{env}})',
      'secrets.env.pr-*.shop-api.path: a Vault path has no leading or trailing "/"',
      'secrets.env.pr-*.shop-api.key: unknown key "key" (keys)',
      'secrets.env.pr-*.shop-x.path: the path is inside the mount: idp adds data/ itself',
      'secrets.env.pr-*.shop-x.keys: a key is listed twice',
      'secrets.env.pr-*.shop-x.keys[2]: not a Kubernetes Secret key',
      'secrets.env.prod: unknown environment "prod"',
    ])
  })

  it('role and audience only with method jwt', () => {
    expect(problems(withSecrets(`  vault: {auth: {role: preview}}\n`))).toEqual(['secrets.vault.auth.role: role has no effect without method: jwt'])
    expect(problems(withSecrets(`  vault: {auth: {method: jwt, role: preview, audience: https://vault.example.com}}\n`))).toEqual([])
  })

  it('a path that expands to an unusable one is a usage error naming the key', () => {
    const config = parseConfigText(withSecrets(`  env:\n    "pr-*":\n      app: {path: "app/{{branch}}"}\n`))
    expect(() => resolveEnvironment(config, 'pr-2', {vars: {branch: 'feature//x'}})).toThrow(UsageError)
    expect(() => resolveEnvironment(config, 'pr-2', {vars: {branch: 'feature//x'}})).toThrow('secrets.env.pr-*.app.path "app/{{branch}}" expands to "app/feature//x": a Vault path has no empty, "." or ".." segment.')
  })
})

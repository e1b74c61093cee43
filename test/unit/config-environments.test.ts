import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/lib/cli/errors.js'
import {matchEnvironment, resolveEnvironment} from '../../src/lib/config/environments.js'
import {parseConfigText} from '../../src/lib/config/validate.js'

const config = parseConfigText(`version: 1
service: {name: shop, owner: team-a}
clusters:
  dev: {context: kind-dev}
  prod: {context: eks-prod, kubeconfig: ~/.kube/prod.yaml}
environments:
  "*": {cluster: dev}
  "pr-*":
    cluster: dev
    driver: vcluster
    ttl: 72h
    url: "https://{{env}}.shop.example.com/{{sha}}"
    helm:
      chart: ./chart
      values: [chart/values-preview.yaml]
      set: {image.tag: "{{sha}}", replicas: 1, debug: true}
    terraform: {dir: ./infra, vars: {pr: "{{pr}}", size: 2}}
    vcluster: {values: [vc.yaml], chartVersion: "0.30.0"}
  "pr-1*": {cluster: dev, namespace: "early-{{pr}}"}
  "*-*": {cluster: dev}
  pr-7: {cluster: prod, protected: true}
  staging: {cluster: dev, helm: {chart: oci://ghcr.io/acme/charts/shop}}
`)

describe('environment matching', () => {
  it('prefers an exact name over any pattern', () => {
    expect(matchEnvironment(config, 'pr-7')).toMatchObject({key: 'pr-7', pattern: false})
    expect(matchEnvironment(config, 'staging')).toMatchObject({key: 'staging', pattern: false})
  })

  it('prefers the most specific pattern, whatever the order in the file', () => {
    expect(matchEnvironment(config, 'pr-12')?.key).toBe('pr-1*')
    expect(matchEnvironment(config, 'pr-42')?.key).toBe('pr-*')
    expect(matchEnvironment(config, 'feature-x')?.key).toBe('*-*')
    expect(matchEnvironment(config, 'qa')?.key).toBe('*')
  })

  it('matches * against the whole name only', () => {
    const narrow = parseConfigText('version: 1\nservice: {name: shop, owner: a}\nclusters: {dev: {context: c}}\nenvironments: {"pr-*": {cluster: dev}}\n')
    expect(matchEnvironment(narrow, 'pr-1')?.key).toBe('pr-*')
    expect(matchEnvironment(narrow, 'xpr-1')).toBeUndefined()
    expect(matchEnvironment(narrow, 'pr')).toBeUndefined()
  })
})

describe('resolveEnvironment', () => {
  it('applies defaults, expands templates and resolves local paths against the config root', () => {
    const env = resolveEnvironment(config, 'pr-42', {root: '/repo', vars: {sha: 'abc123'}})
    expect(env).toEqual({
      name: 'pr-42',
      key: 'pr-*',
      pattern: true,
      service: 'shop',
      team: 'team-a',
      cluster: {alias: 'dev', context: 'kind-dev'},
      driver: 'vcluster',
      namespace: 'shop-pr-42',
      ttl: '72h',
      ttlMs: 72 * 3_600_000,
      protected: false,
      url: 'https://pr-42.shop.example.com/abc123',
      helm: {chart: '/repo/chart', values: ['/repo/chart/values-preview.yaml'], set: {'image.tag': 'abc123', replicas: 1, debug: true}},
      terraform: {dir: '/repo/infra', vars: {pr: '42', size: 2}, workspace: 'shop-pr-42'},
      vcluster: {values: ['/repo/vc.yaml'], chartVersion: '0.30.0'},
      vars: {sha: 'abc123', env: 'pr-42', service: 'shop', pr: '42'},
    })
  })

  it('keeps remote charts as they are and expands ~ in kubeconfig paths', () => {
    expect(resolveEnvironment(config, 'staging', {root: '/repo'}).helm?.chart).toBe('oci://ghcr.io/acme/charts/shop')
    expect(resolveEnvironment(config, 'pr-7', {root: '/repo'}).cluster).toEqual({alias: 'prod', context: 'eks-prod', kubeconfig: path.join(os.homedir(), '.kube/prod.yaml')})
    expect(resolveEnvironment(config, 'pr-7').protected).toBe(true)
  })

  it('takes the PR number from vars before the name', () => {
    expect(resolveEnvironment(config, 'pr-12').namespace).toBe('early-12')
    expect(resolveEnvironment(config, 'pr-12', {vars: {pr: 99}}).namespace).toBe('early-99')
  })

  it('refuses a template whose value is unknown, naming the key', () => {
    expect(() => resolveEnvironment(config, 'pr-42')).toThrow(UsageError)
    expect(() => resolveEnvironment(config, 'pr-42')).toThrow(/environments\.pr-\*\.url: .* uses \{\{sha\}\}, which has no value here/u)
  })

  it('refuses an expanded namespace that is not a DNS-1123 label', () => {
    const branchy = parseConfigText('version: 1\nservice: {name: shop, owner: a}\nclusters: {dev: {context: c}}\nenvironments: {staging: {cluster: dev, namespace: "shop-{{branch}}"}}\n')
    expect(() => resolveEnvironment(branchy, 'staging', {vars: {branch: 'feature/X'}})).toThrow(/Namespace "shop-feature\/X" .* is not a DNS-1123 label/u)
  })

  it('lists the configured environments when nothing matches, and rejects bad names first', () => {
    const fixed = parseConfigText('version: 1\nservice: {name: shop, owner: a}\nclusters: {dev: {context: c}}\nenvironments: {staging: {cluster: dev}, "pr-*": {cluster: dev}}\n')
    expect(() => resolveEnvironment(fixed, 'stagin')).toThrow('No environment "stagin" in .idp.yml. Configured: staging, pr-*. Did you mean staging?')
    expect(() => resolveEnvironment(fixed, 'Staging')).toThrow(/Invalid environment name "Staging"/u)
    const none = parseConfigText('version: 1\nservice: {name: shop, owner: a}\n')
    expect(() => resolveEnvironment(none, 'dev')).toThrow(/defines no environments/u)
  })

  it('uses the default namespace template and driver', () => {
    const env = resolveEnvironment(config, 'qa')
    expect(env).toMatchObject({namespace: 'shop-qa', driver: 'namespace', protected: false, key: '*'})
    expect(env.ttl).toBeUndefined()
    expect(env.ttlMs).toBeUndefined()
  })
})

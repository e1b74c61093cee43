import {describe, expect, it} from 'vitest'

import {accessBindingName, accessRoleName, accessSelector, grantObjects, parseGrant} from '../../src/lib/access/bindings.js'
import {evaluateGrants, parseResource, ruleAllows} from '../../src/lib/access/check.js'
import {planAccessGrant, planAccessRevoke} from '../../src/lib/access/plan.js'
import {accessConfig, assertSubject, checkGrantPolicy, resolveRole} from '../../src/lib/access/policy.js'
import {isDnsLabel} from '../../src/lib/cli/names.js'
import {UsageError} from '../../src/lib/cli/errors.js'
import type {AccessConfig} from '../../src/lib/config/schema.js'
import {formatPlan} from '../../src/lib/plan/format.js'
import {validatePlan} from '../../src/lib/plan/graph.js'

const access: AccessConfig = {
  roles: {
    viewer: 'view',
    developer: {clusterRole: 'edit'},
    admin: 'admin',
    debugger: {description: 'Pods and logs', rules: [{apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list']}]},
  },
  policy: {maxTtl: '8h', requireReason: ['admin'], forbid: {production: ['admin', 'debugger'], 'pr-*': ['developer']}},
}

function usage(fn: () => unknown): UsageError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return error as UsageError
  }
  throw new Error('expected a UsageError')
}

describe('access policy', () => {
  it('accepts a grant within the rules, defaulting the ttl to maxTtl', () => {
    const checked = checkGrantPolicy(access, {user: 'alice@example.com', kind: 'User', role: 'viewer', env: 'staging'})
    expect(checked).toEqual({role: {name: 'viewer', kind: 'ClusterRole', clusterRole: 'view'}, ttl: '8h', ttlMs: 8 * 3_600_000})
  })

  it('defaults the ttl to 8h without maxTtl, and then allows longer ones', () => {
    const open: AccessConfig = {...access, policy: {requireReason: [], forbid: {}}}
    expect(checkGrantPolicy(open, {user: 'a', kind: 'User', role: 'viewer', env: 'x'}).ttl).toBe('8h')
    expect(checkGrantPolicy(open, {user: 'a', kind: 'User', role: 'viewer', env: 'x', ttl: '3d'}).ttlMs).toBe(3 * 86_400_000)
  })

  it('rejects an unknown role, naming the configured ones and a near miss', () => {
    const error = usage(() => checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'veiwer', env: 'staging'}))
    expect(error.message).toContain('Unknown role "veiwer"')
    expect(error.message).toContain('Did you mean viewer?')
    expect(error.details?.rule).toBe('access.roles')
  })

  it('rejects a role forbidden in the environment, by name or by pattern', () => {
    const exact = usage(() => checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'admin', env: 'production', reason: 'x'}))
    expect(exact.message).toContain('policy.forbid.production')
    expect(exact.details?.rule).toBe('policy.forbid')
    const pattern = usage(() => checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'developer', env: 'pr-12'}))
    expect(pattern.message).toContain('policy.forbid.pr-*')
    expect(checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'developer', env: 'staging'}).role).toEqual({name: 'developer', kind: 'ClusterRole', clusterRole: 'edit'})
  })

  it('requires a reason for roles in requireReason (blank does not count)', () => {
    expect(usage(() => checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'admin', env: 'staging'})).details?.rule).toBe('policy.requireReason')
    expect(usage(() => checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'admin', env: 'staging', reason: '  '})).message).toContain('needs a reason')
    expect(checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'admin', env: 'staging', reason: 'INC-1'}).role.name).toBe('admin')
  })

  it('rejects a ttl above maxTtl and a malformed one', () => {
    const error = usage(() => checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'viewer', env: 'staging', ttl: '9h'}))
    expect(error.message).toBe('--ttl 9h is longer than policy.maxTtl 8h (8h).')
    expect(error.details?.rule).toBe('policy.maxTtl')
    expect(checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'viewer', env: 'staging', ttl: '7h59m'}).ttlMs).toBe(7 * 3_600_000 + 59 * 60_000)
    expect(usage(() => checkGrantPolicy(access, {user: 'a', kind: 'User', role: 'viewer', env: 'staging', ttl: 'soon'})).message).toContain('Invalid duration')
  })

  it('accepts RBAC subject names (emails, OIDC prefixes) and refuses others and system: names', () => {
    for (const name of ['alice', 'alice@example.com', 'oidc:alice@example.com', 'Alice.Smith', 'team_a']) expect(assertSubject(name)).toBe(name)
    for (const name of ['', ' alice', 'alice bob', 'a/b', '-alice', 'x'.repeat(254)]) expect(usage(() => assertSubject(name)).details?.rule).toBe('subject')
    expect(usage(() => assertSubject('system:masters', 'Group')).message).toContain('reserved group')
  })

  it('resolves each role shape and refuses a config without roles', () => {
    expect(resolveRole(access, 'debugger')).toEqual({name: 'debugger', kind: 'Role', description: 'Pods and logs', rules: [{apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list']}]})
    expect(usage(() => accessConfig({})).message).toContain('no access.roles')
  })

  it('a role name resolves only among the configured roles, never through Object.prototype', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(usage(() => resolveRole(access, name)).message).toContain(`Unknown role "${name}"`)
  })
})

describe('access bindings', () => {
  it('names bindings idp-<role>-<user>, hashing whatever is not a DNS label, always a DNS label', () => {
    expect(accessBindingName('viewer', 'alice')).toBe('idp-viewer-alice')
    const email = accessBindingName('viewer', 'alice@example.com')
    expect(email).toMatch(/^idp-viewer-alice-example-com-[0-9a-f]{8}$/u)
    // Different subjects that sanitise alike still get different names.
    expect(accessBindingName('viewer', 'Alice')).not.toBe(accessBindingName('viewer', 'alice'))
    expect(accessBindingName('viewer', 'alice', 'Group')).not.toBe(accessBindingName('viewer', 'alice'))
    expect(accessBindingName('viewer', 'alice', 'Group')).toMatch(/^idp-viewer-group-alice-/u)
    const long = accessBindingName('debugger', `${'very-long-name.'.repeat(10)}@example.com`)
    expect(long.length).toBeLessThanOrEqual(63)
    for (const name of [email, long, accessBindingName('viewer', 'oidc:x@y.z', 'Group')]) expect(isDnsLabel(name)).toBe(true)
    expect(accessRoleName('debugger')).toBe('idp-role-debugger')
  })

  it('writes labels, annotations, roleRef and subject; a rules role gets a Role the binding refers to', () => {
    const expiresAt = new Date('2026-01-01T08:00:00Z')
    const {role, binding} = grantObjects({
      service: 'shop', env: 'staging', namespace: 'shop-staging', role: resolveRole(access, 'debugger'), subject: 'alice@example.com', kind: 'User',
      expiresAt, grantedAt: new Date('2026-01-01T00:00:00Z'), grantedBy: 'bob', reason: 'INC-1',
    })
    const labels = {'app.kubernetes.io/managed-by': 'idp', 'idp.dev/service': 'shop', 'idp.dev/env': 'staging', 'idp.dev/access-role': 'debugger'}
    expect(role).toEqual({apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: {name: 'idp-role-debugger', namespace: 'shop-staging', labels, annotations: {'idp.dev/description': 'Pods and logs'}}, rules: [{apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list']}]})
    expect(binding.metadata.labels).toEqual(labels)
    expect(binding.metadata.annotations).toEqual({'idp.dev/expires-at': '2026-01-01T08:00:00.000Z', 'idp.dev/granted-by': 'bob', 'idp.dev/granted-at': '2026-01-01T00:00:00.000Z', 'idp.dev/reason': 'INC-1'})
    expect(binding.roleRef).toEqual({apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'idp-role-debugger'})
    expect(binding.subjects).toEqual([{apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice@example.com'}])

    const group = grantObjects({service: 'shop', env: 'staging', namespace: 'ns', role: resolveRole(access, 'viewer'), subject: 'team-a', kind: 'Group', expiresAt, grantedAt: expiresAt, grantedBy: 'ci'})
    expect(group.role).toBeUndefined()
    expect(group.binding.roleRef).toEqual({apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view'})
    expect(group.binding.subjects[0]!.kind).toBe('Group')
    expect(group.binding.metadata.annotations['idp.dev/reason']).toBeUndefined()
  })

  it('reads a grant back, marks it expired by the clock, and ignores bindings idp did not make', () => {
    const {binding} = grantObjects({service: 'shop', env: 'staging', namespace: 'shop-staging', role: resolveRole(access, 'viewer'), subject: 'alice', kind: 'User', expiresAt: new Date('2026-01-01T08:00:00Z'), grantedAt: new Date('2026-01-01T00:00:00Z'), grantedBy: 'bob'})
    const before = parseGrant(binding, 'dev', new Date('2026-01-01T07:59:59Z'))
    expect(before).toMatchObject({env: 'staging', namespace: 'shop-staging', cluster: 'dev', binding: 'idp-viewer-alice', subject: 'alice', kind: 'User', role: 'viewer', roleRef: {kind: 'ClusterRole', name: 'view'}, expiresAt: '2026-01-01T08:00:00.000Z', expired: false, grantedBy: 'bob'})
    expect(parseGrant(binding, 'dev', new Date('2026-01-01T08:00:00Z'))?.expired).toBe(true)
    expect(parseGrant({...binding, metadata: {...binding.metadata, labels: {'idp.dev/access-role': 'viewer'}}}, 'dev')).toBeUndefined()
    expect(parseGrant({...binding, metadata: {...binding.metadata, labels: {'app.kubernetes.io/managed-by': 'idp'}}}, 'dev')).toBeUndefined()
    expect(accessSelector({service: 'shop', env: 'staging'})).toBe('app.kubernetes.io/managed-by=idp,idp.dev/service=shop,idp.dev/env=staging,idp.dev/access-role')
  })
})

describe('access plans', () => {
  const target = {env: 'staging', namespace: 'shop-staging', cluster: 'dev', kubeconfig: '/state/clusters/dev/kubeconfig'}
  const base = {target, service: 'shop', subject: 'alice', kind: 'User' as const, ttl: '4h', expiresAt: new Date('2026-01-01T04:00:00Z'), grantedAt: new Date('2026-01-01T00:00:00Z'), grantedBy: 'bob'}

  it('grant: Role then binding for a rules role, only the binding for a ClusterRole; valid for the executor', () => {
    const rules = planAccessGrant({...base, role: resolveRole(access, 'debugger')})
    expect(rules.steps.map((s) => s.id)).toEqual(['role', 'binding'])
    expect(validatePlan(rules, ['access.apply']).get('binding')).toEqual(['role'])
    expect(formatPlan(rules)).toContain('server-side apply RoleBinding shop-staging/idp-debugger-alice (expires 2026-01-01T04:00:00.000Z)')
    const view = planAccessGrant({...base, role: resolveRole(access, 'viewer')})
    expect(view.steps.map((s) => s.id)).toEqual(['binding'])
    expect(view.metadata).toMatchObject({binding: 'idp-viewer-alice', roleRef: {kind: 'ClusterRole', name: 'view'}, expiresAt: '2026-01-01T04:00:00.000Z'})
  })

  it('revoke: one independent delete per binding, re-checking expiry for --expired', () => {
    const plan = planAccessRevoke({service: 'shop', onlyIfExpired: true, summary: 's', items: [{target, binding: 'a', subject: 'x', role: 'viewer'}, {target, binding: 'b', subject: 'y', role: 'admin'}]})
    expect(plan.steps.map((s) => s.dependsOn)).toEqual([[], []])
    expect(plan.steps[1]!.action).toMatchObject({op: 'access.delete', params: {name: 'b', namespace: 'shop-staging', service: 'shop', onlyIfExpired: true}})
  })
})

describe('access check', () => {
  it('parses kubectl resource names', () => {
    expect(parseResource('pods', 'get')).toEqual({verb: 'get', group: '', resource: 'pods'})
    expect(parseResource('deployments.apps/scale', 'update')).toEqual({verb: 'update', group: 'apps', resource: 'deployments', subresource: 'scale'})
    expect(usage(() => parseResource('Pods!', 'get')).message).toContain('Invalid resource')
  })

  it('matches rules as RBAC does', () => {
    const rule = {apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list']}
    expect(ruleAllows(rule, parseResource('pods', 'list'))).toBe(true)
    expect(ruleAllows(rule, parseResource('pods/log', 'get'))).toBe(true)
    expect(ruleAllows(rule, parseResource('pods/exec', 'create'))).toBe(false)
    expect(ruleAllows(rule, parseResource('pods', 'delete'))).toBe(false)
    expect(ruleAllows(rule, parseResource('deployments.apps', 'get'))).toBe(false)
    const named = {apiGroups: [''], resources: ['pods/exec'], verbs: ['create'], resourceNames: ['debug-shell']}
    expect(ruleAllows(named, parseResource('pods/exec', 'create', {name: 'debug-shell'}))).toBe(true)
    expect(ruleAllows(named, parseResource('pods/exec', 'create', {name: 'web'}))).toBe(false)
    expect(ruleAllows(named, parseResource('pods/exec', 'create'))).toBe(false)
    expect(ruleAllows({apiGroups: ['*'], resources: ['*'], verbs: ['*']}, parseResource('deployments.apps/scale', 'patch'))).toBe(true)
  })

  it('counts only unexpired grants, and says when an expired one would have allowed it', async () => {
    const grant = (role: string, expired: boolean) => ({env: 'staging', namespace: 'ns', cluster: 'dev', binding: `idp-${role}-a`, subject: 'a', kind: 'User' as const, role, roleRef: {kind: 'ClusterRole', name: role}, expired})
    const rules = async (g: {role: string}) => (g.role === 'view' ? [{apiGroups: [''], resources: ['pods'], verbs: ['get', 'list']}] : [])
    expect((await evaluateGrants([grant('view', false)], parseResource('pods', 'list'), rules)).allowed).toBe(true)
    const expired = await evaluateGrants([grant('view', true)], parseResource('pods', 'list'), rules)
    expect(expired).toMatchObject({allowed: false, expiredGrants: [{role: 'view'}]})
    expect(expired.reason).toContain('only expired grants')
    expect((await evaluateGrants([], parseResource('pods', 'list'), rules)).reason).toBe('no idp grant for this subject in this environment')
    expect((await evaluateGrants([grant('view', false)], parseResource('pods', 'delete'), rules)).allowed).toBe(false)
  })
})

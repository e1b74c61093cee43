import {afterEach, describe, expect, it} from 'vitest'

import {InternalError} from '../../src/lib/cli/errors.js'
import {clearSecretsForTests, registerSecret} from '../../src/lib/cli/redact.js'
import {commandLine, describeAction, formatPlan, kubectlCommand, planForJson, shellQuote} from '../../src/lib/plan/format.js'
import {effectiveDependencies, validatePlan} from '../../src/lib/plan/graph.js'
import type {Plan} from '../../src/lib/plan/types.js'

const plan: Plan = {
  version: 1,
  kind: 'env.up',
  summary: 'Bring up pr-1 of shop on dev',
  steps: [
    {
      id: 'namespace',
      title: 'Create namespace shop-pr-1',
      action: {kind: 'tool', tool: 'kubectl', argv: ['create', 'namespace', 'shop-pr-1'], kubeconfig: '/state/dev.kubeconfig'},
      undo: [{kind: 'tool', tool: 'kubectl', argv: ['delete', 'namespace', 'shop-pr-1', '--ignore-not-found'], kubeconfig: '/state/dev.kubeconfig'}],
    },
    {
      id: 'infra',
      title: 'Apply infrastructure',
      dependsOn: ['namespace'],
      action: {kind: 'tool', tool: 'terraform', argv: ['apply', '-auto-approve', '-var', "note=it's here"], cwd: '/repo/infra', timeoutMs: 600_000},
    },
    {
      id: 'vcluster',
      title: 'Create vcluster',
      dependsOn: ['namespace'],
      action: {kind: 'tool', tool: 'argocd', argv: ['login', 'argocd.example.com', '--auth-token', 'abc123secret', '--grpc-web']},
    },
    {
      id: 'label',
      title: 'Label namespace',
      action: {kind: 'api', target: 'kubernetes', op: 'kube.apply', summary: 'apply Namespace shop-pr-1 (labels: idp.dev/env=pr-1)', params: {object: {kind: 'Secret', metadata: {name: 's'}, data: {api: 'c2VjcmV0'}}}},
      undo: [{kind: 'api', target: 'kubernetes', op: 'kube.delete', summary: 'delete Secret s', params: {}}],
    },
    {
      id: 'comment',
      title: 'Comment on the pull request',
      dependsOn: [],
      optional: true,
      action: {kind: 'local', op: 'fs.write', summary: 'write .idp/url', params: {token: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'}},
    },
  ],
  metadata: {},
}

afterEach(() => clearSecretsForTests())

describe('shellQuote', () => {
  it('leaves safe words alone and single-quotes the rest', () => {
    expect(shellQuote(['helm', 'uninstall', 'shop', '-n', 'shop-pr-1'])).toBe('helm uninstall shop -n shop-pr-1')
    expect(shellQuote(['--set', 'image.tag=1.2.3', 'a b', '', "it's", '$HOME', 'x;rm'])).toBe(`--set image.tag=1.2.3 'a b' '' 'it'\\''s' '$HOME' 'x;rm'`)
  })
})

describe('kubectlCommand', () => {
  it('reaches the given kubeconfig whatever the shell holds, or the shell\'s own when idp used it', () => {
    expect(kubectlCommand('/state/kube config', ['--context', 'kind-dev', 'get', 'ns'])).toBe("KUBECONFIG='/state/kube config' kubectl --context kind-dev get ns")
    expect(kubectlCommand(undefined, ['--context', 'team a', 'version'])).toBe("kubectl --context 'team a' version")
  })
})

describe('commandLine and describeAction', () => {
  it('renders a pasteable command with directory, kubeconfig and env, secrets masked', () => {
    registerSecret('s3cr3t-value')
    expect(commandLine({kind: 'tool', tool: 'helm', argv: ['uninstall', 'shop', '-n', 'shop-pr-1'], kubeconfig: '/state/my dev.yaml', cwd: '/repo', env: {TF_VAR_x: 's3cr3t-value'}})).toBe(
      "cd /repo && KUBECONFIG='/state/my dev.yaml' TF_VAR_x='***' helm uninstall shop -n shop-pr-1",
    )
    expect(commandLine({kind: 'tool', tool: 'kubectl', argv: ['apply', '-f', '-'], input: 'abc'})).toBe('kubectl apply -f - # reads 3 bytes on stdin')
    expect(describeAction({kind: 'api', target: 'github', op: 'github.deleteRepo', summary: 'delete repo acme/shop', params: {name: 'shop'}})).toBe('# github API github.deleteRepo: delete repo acme/shop')
    // A clean-up command reaches the server idp created the repository on: GitHub Enterprise through GH_HOST.
    expect(describeAction({kind: 'api', target: 'github', op: 'github.deleteRepo', summary: 'delete repo', params: {owner: 'acme', name: 'shop', host: 'github.com'}})).toBe('gh repo delete acme/shop --yes')
    expect(describeAction({kind: 'api', target: 'github', op: 'github.deleteRepo', summary: 'delete repo', params: {owner: 'acme', name: 'shop', host: 'ghe.example.com'}})).toBe('GH_HOST=ghe.example.com gh repo delete acme/shop --yes')
  })
})

describe('formatPlan', () => {
  it('prints numbered steps with exact argv, dependencies, the steps each may run with (derived), undo, and redacts secrets', () => {
    expect(formatPlan(plan)).toBe(
      [
        'Plan: Bring up pr-1 of shop on dev (5 steps)',
        '1. Create namespace shop-pr-1  [kubectl]  (runs with 5)',
        '     $ KUBECONFIG=/state/dev.kubeconfig kubectl create namespace shop-pr-1',
        '     undo: $ KUBECONFIG=/state/dev.kubeconfig kubectl delete namespace shop-pr-1 --ignore-not-found',
        '2. Apply infrastructure  [terraform]  (runs with 3, 4, 5)',
        "     $ cd /repo/infra && terraform apply -auto-approve -var 'note=it'\\''s here'",
        '       (timeout 600s)',
        '3. Create vcluster  [argocd]  (after 1)  (runs with 2, 5)',
        "     $ argocd login argocd.example.com --auth-token '***' --grpc-web",
        '4. Label namespace  [kubernetes API]  (runs with 2, 5)',
        '     kube.apply: apply Namespace shop-pr-1 (labels: idp.dev/env=pr-1)',
        '     undo: kube.delete: delete Secret s',
        '5. Comment on the pull request  [local]  (independent)  (runs with 1, 2, 3, 4)  (optional)',
        '     fs.write: write .idp/url',
      ].join('\n'),
    )
    expect(formatPlan(plan)).not.toContain('abc123secret')
  })

  it('masks --token=value and registered secrets in titles and argv', () => {
    registerSecret('hunter2hunter2')
    const text = formatPlan({
      version: 1,
      kind: 'x',
      summary: 's',
      steps: [{id: 'a', title: 'Use hunter2hunter2', action: {kind: 'tool', tool: 'git', argv: ['push', '--token=zzzzzz', 'https://user:pw@example.com/r.git']}}],
      metadata: {},
    })
    expect(text).toContain("$ git push '--token=***' 'https://***@example.com/r.git'")
    expect(text).toContain('1. Use ***  [git]')
    expect(text).not.toMatch(/hunter2|zzzzzz|pw@/u)
  })
})

describe('a dry run\'s command lines', () => {
  it('run as idp runs the tool: the variables the runner removes are in the plan (unset) and in the printed line', () => {
    const runner = {removedEnv: (env?: Record<string, string | undefined>) => ['GIT_DIR', 'GIT_WORK_TREE'].filter((name) => env?.[name] === undefined)}
    const gitPlan: Plan = {
      version: 1,
      kind: 'create',
      summary: 'Create shop',
      steps: [
        {id: 'commit', title: 'Commit', action: {kind: 'tool', tool: 'git', argv: ['commit', '-m', 'first'], cwd: '/w/shop', env: {GIT_AUTHOR_NAME: 'A'}}, undo: [{kind: 'tool', tool: 'git', argv: ['reset'], cwd: '/w/shop', env: {GIT_DIR: '/w/shop/.git'}}]},
      ],
      metadata: {},
    }
    const json = planForJson(gitPlan, runner)
    expect(json.steps[0]?.action).toMatchObject({unset: ['GIT_DIR', 'GIT_WORK_TREE']})
    // The action sets GIT_DIR itself: only GIT_WORK_TREE is removed.
    expect(json.steps[0]?.undo?.[0]).toMatchObject({unset: ['GIT_WORK_TREE']})
    expect(formatPlan(json)).toContain('     $ cd /w/shop && GIT_AUTHOR_NAME=A env -u GIT_DIR -u GIT_WORK_TREE git commit -m first\n')
    expect(formatPlan(json)).toContain('     undo: $ cd /w/shop && GIT_DIR=/w/shop/.git env -u GIT_WORK_TREE git reset')
    // Without a runner (or with nothing to remove) there is no unset.
    expect(planForJson(gitPlan).steps[0]?.action).not.toHaveProperty('unset')
    expect(planForJson(gitPlan, {removedEnv: () => []}).steps[0]?.action).not.toHaveProperty('unset')
  })
})

describe('planForJson', () => {
  it('is plain JSON with tool and argv on tool steps, explicit dependencies, and no secrets', () => {
    const json = planForJson(plan)
    expect(JSON.parse(JSON.stringify(json))).toEqual(json)
    expect(json.steps.map((s) => [s.id, s.dependsOn])).toEqual([
      ['namespace', []],
      ['infra', ['namespace']],
      ['vcluster', ['namespace']],
      ['label', ['vcluster']],
      ['comment', []],
    ])
    expect(json.steps[0]).toMatchObject({tool: 'kubectl', argv: ['create', 'namespace', 'shop-pr-1'], action: {kind: 'tool', tool: 'kubectl'}})
    expect(json.steps[2]?.argv).toEqual(['login', 'argocd.example.com', '--auth-token', '***', '--grpc-web'])
    expect(json.steps[3]).not.toHaveProperty('tool')
    expect(json.steps[3]?.action).toMatchObject({op: 'kube.apply', params: {object: {kind: 'Secret', data: {api: '***'}}}})
    expect(json.steps[4]).toMatchObject({optional: true, action: {params: {token: '***'}}})
    const text = JSON.stringify(json)
    expect(text).not.toMatch(/abc123secret|c2VjcmV0|ghp_/u)
    // The caller's plan is not modified.
    expect(plan.steps[2]?.action).toMatchObject({argv: ['login', 'argocd.example.com', '--auth-token', 'abc123secret', '--grpc-web']})
    expect(plan.steps[1]?.dependsOn).toEqual(['namespace'])
    expect(plan.steps[3]).not.toHaveProperty('dependsOn')
  })
})

describe('validatePlan', () => {
  const step = (id: string, extra: Partial<Plan['steps'][number]> = {}) => ({id, title: id, action: {kind: 'tool' as const, tool: 'git' as const, argv: ['status']}, ...extra})
  const problems = (p: Plan, ops?: string[]): string[] => {
    try {
      validatePlan(p, ops)
    } catch (error) {
      expect(error).toBeInstanceOf(InternalError)
      expect((error as InternalError).exitCode).toBe(1)
      return (error as InternalError).details?.problems as string[]
    }
    return []
  }

  it('accepts a good plan and returns the effective dependencies', () => {
    const p: Plan = {version: 1, kind: 'k', summary: 's', steps: [step('a'), step('b'), step('c', {dependsOn: []}), step('d', {dependsOn: ['a', 'c']})], metadata: {}}
    expect([...validatePlan(p, []).entries()]).toEqual([
      ['a', []],
      ['b', ['a']],
      ['c', []],
      ['d', ['a', 'c']],
    ])
    expect(effectiveDependencies(p).get('b')).toEqual(['a'])
  })

  it('reports duplicate ids, unknown dependencies, self-dependencies, unknown ops and tools', () => {
    const p = {
      version: 1,
      kind: 'k',
      summary: 's',
      steps: [
        step('a'),
        step('a'),
        step('b', {dependsOn: ['nope']}),
        step('c', {dependsOn: ['c']}),
        {id: 'd', title: 'd', action: {kind: 'api', target: 'kubernetes', op: 'kube.nope', summary: 'x'}, undo: [{kind: 'local', op: 'fs.gone', summary: 'y'}]},
        {id: 'e', title: 'e', action: {kind: 'tool', tool: 'docker', argv: ['ps']}},
      ],
    } as unknown as Plan
    expect(problems(p, ['kube.apply'])).toEqual([
      'step 2 repeats the id "a"',
      'step 5 ("d") uses op "kube.nope", which has no handler',
      'undo 1 of step 5 ("d") uses op "fs.gone", which has no handler',
      'step 6 ("e") runs unknown tool "docker"',
      'step "b" depends on unknown step "nope"',
      'step "c" depends on itself',
    ])
  })

  it('finds cycles, including through a later step', () => {
    const p: Plan = {version: 1, kind: 'k', summary: 's', steps: [step('a', {dependsOn: ['c']}), step('b'), step('c')], metadata: {}}
    expect(problems(p)).toEqual(['steps depend on each other in a cycle: a -> c -> b -> a'])
  })

  it('rejects a plan of another version', () => {
    expect(problems({version: 2, kind: 'k', summary: 's', steps: []} as unknown as Plan)).toEqual(['plan version is 2, this idp reads version 1'])
  })
})

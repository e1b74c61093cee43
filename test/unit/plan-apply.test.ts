import {mkdtemp, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {Writable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {CancelledError, InternalError, ToolError} from '../../src/lib/cli/errors.js'
import {applyPlan, type ApplyOptions, type Handlers} from '../../src/lib/plan/apply.js'
import {chooseRenderer} from '../../src/lib/plan/run.js'
import {planForJson} from '../../src/lib/plan/format.js'
import {type Journal, type JournalStatus, JournalWriter, loadJournal} from '../../src/lib/plan/journal.js'
import type {Plan, PlanStep} from '../../src/lib/plan/types.js'
import type {RunOptions, RunResult, ToolName} from '../../src/lib/tools/types.js'
import {RecordingRunner, type ScriptedResult} from '../support/recording-runner.js'

/** The shared RecordingRunner, also logging when each command starts and ends (to check order). */
class FakeRunner extends RecordingRunner {
  constructor(readonly log: string[] = []) {
    super()
  }

  /** Script `tool arg...` (matched as a prefix); the script gets the run options (signal, cwd...). */
  on(command: string, script: (options: RunOptions) => Promise<ScriptedResult | void>): this {
    const [tool, ...prefix] = command.split(' ')
    return this.when(tool as ToolName, prefix, async (call) => (await script(call.options)) ?? {})
  }

  override async run(tool: ToolName, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const command = [tool, ...argv].join(' ')
    this.log.push(`start ${command}`)
    try {
      const result = await super.run(tool, argv, options)
      this.log.push(`end ${command}`)
      return result
    } catch (error) {
      this.log.push(`fail ${command}`)
      throw error
    }
  }
}

function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return {promise, resolve}
}

/** Fails the test (instead of hanging) when something that should happen does not. */
function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for: ${what}`)), ms)
  })
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer))
}

function toolFailure(tool: ToolName, argv: string[], stderrTail: string): ToolError {
  return new ToolError(`${tool} exited with code 1`, {tool, argv, exitCode: 1, stderrTail}, {hint: `Read the ${tool} output above.`})
}

/** Rejects like the real runner does when its signal aborts (it kills the child). */
function untilAborted(options: RunOptions): Promise<never> {
  return new Promise((_, reject) => {
    options.signal?.addEventListener('abort', () => reject(new CancelledError('killed')), {once: true})
  })
}

const tool = (id: string, argv: string[], extra: Partial<PlanStep> = {}): PlanStep => ({id, title: `Step ${id}`, action: {kind: 'tool', tool: 'kubectl', argv}, ...extra})

const planOf = (...steps: PlanStep[]): Plan => ({version: 1, kind: 'test', summary: 'a test plan', steps, metadata: {}})

class Sink extends Writable {
  text = ''
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString()
    callback()
  }
}

function options(runner: RecordingRunner, extra: Partial<ApplyOptions> = {}): ApplyOptions {
  return {runner, renderer: 'silent', ...extra}
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the promise to reject')
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'idp-plan-'))
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('chooseRenderer', () => {
  it('is silent under --json, plain in CI or off a terminal, animated on a terminal', () => {
    expect(chooseRenderer({json: true, isTTY: true, ci: false})).toBe('silent')
    expect(chooseRenderer({json: false, isTTY: true, ci: true})).toBe('simple')
    expect(chooseRenderer({json: false, isTTY: false, ci: false})).toBe('simple')
    expect(chooseRenderer({json: false, isTTY: true, ci: false})).toBe('default')
    expect(chooseRenderer({json: false, isTTY: true, ci: false, columns: 120})).toBe('default')
    expect(chooseRenderer({json: false, isTTY: true, ci: false, columns: 0})).toBe('simple')
  })
})

describe('applyPlan validation', () => {
  it('rejects an unknown op with an InternalError before anything runs', async () => {
    const runner = new FakeRunner()
    const plan = planOf(tool('a', ['get', 'ns']), {id: 'b', title: 'B', action: {kind: 'api', target: 'kubernetes', op: 'kube.apply', summary: 'apply', params: {}}})
    const error = await rejection(applyPlan(plan, options(runner, {handlers: {'kube.delete': async () => undefined}, journal: {dir, key: 'k'}})))
    expect(error).toBeInstanceOf(InternalError)
    expect(error.message).toContain('op "kube.apply", which has no handler')
    expect(runner.calls).toEqual([])
    expect(await readdir(dir)).toEqual([])
  })

  it('rejects a dependency cycle before anything runs', async () => {
    const runner = new FakeRunner()
    const error = await rejection(applyPlan(planOf(tool('a', ['x'], {dependsOn: ['b']}), tool('b', ['y'])), options(runner)))
    expect(error).toBeInstanceOf(InternalError)
    expect(error.message).toContain('cycle')
    expect(runner.calls).toEqual([])
  })

  it('throws CancelledError without running anything when already cancelled', async () => {
    const runner = new FakeRunner()
    const controller = new AbortController()
    controller.abort()
    const error = await rejection(applyPlan(planOf(tool('a', ['x'])), options(runner, {signal: controller.signal})))
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.exitCode).toBe(130)
    expect(runner.calls).toEqual([])
  })
})

describe('applyPlan scheduling', () => {
  it('runs steps without dependsOn one after another, passing the action options to the runner', async () => {
    const runner = new FakeRunner()
    const gate = deferred()
    const aStarted = deferred()
    runner.on('kubectl a', async () => {
      aStarted.resolve()
      await gate.promise
      return {stdout: 'made a'}
    })
    const plan = planOf(
      {id: 'a', title: 'A', action: {kind: 'tool', tool: 'kubectl', argv: ['a'], kubeconfig: '/k', cwd: '/w', env: {X: '1'}, timeoutMs: 5, allowedExitCodes: [0, 1], input: 'in'}},
      tool('b', ['b']),
      tool('c', ['c']),
    )
    const applying = applyPlan(plan, options(runner, {concurrency: 4}))
    await within(aStarted.promise, 'step a to start')
    // Let every other ready step start: b must not, because it implicitly depends on a.
    await new Promise((resolve) => setImmediate(resolve))
    expect(runner.log).toEqual(['start kubectl a'])
    gate.resolve()
    const result = await applying
    expect(runner.log).toEqual(['start kubectl a', 'end kubectl a', 'start kubectl b', 'end kubectl b', 'start kubectl c', 'end kubectl c'])
    expect(runner.calls[0]?.options).toMatchObject({cwd: '/w', env: {X: '1'}, kubeconfig: '/k', timeoutMs: 5, allowedExitCodes: [0, 1], input: 'in'})
    expect(runner.calls[0]?.options.signal).toBeInstanceOf(AbortSignal)
    expect(result.steps.map((s) => [s.id, s.status])).toEqual([
      ['a', 'done'],
      ['b', 'done'],
      ['c', 'done'],
    ])
    expect(result.steps[0]?.result).toEqual({exitCode: 0, stdout: 'made a'})
    expect(planForJson(plan).steps.map((s) => s.dependsOn)).toEqual([[], ['a'], ['b']])
  })

  it('starts independent steps together and a joining step only after both', async () => {
    const runner = new FakeRunner()
    const bStarted = deferred()
    const aStarted = deferred()
    // a finishes only once b has started: this completes only if b started while a was running.
    runner.on('kubectl a', async () => {
      aStarted.resolve()
      await within(bStarted.promise, 'b to start while a runs')
    })
    runner.on('kubectl b', async () => {
      bStarted.resolve()
      await aStarted.promise
    })
    const plan = planOf(tool('a', ['a'], {dependsOn: []}), tool('b', ['b'], {dependsOn: []}), tool('c', ['c'], {dependsOn: ['a', 'b']}))
    await applyPlan(plan, options(runner))
    expect(runner.log.slice(0, 2).sort()).toEqual(['start kubectl a', 'start kubectl b'])
    expect(runner.log.indexOf('start kubectl c')).toBeGreaterThan(Math.max(runner.log.indexOf('end kubectl a'), runner.log.indexOf('end kubectl b')))
  })

  it('never runs more than `concurrency` steps at once', async () => {
    const runner = new FakeRunner()
    let active = 0
    let peak = 0
    const steps = ['a', 'b', 'c', 'd', 'e'].map((id) => {
      runner.on(`kubectl ${id}`, async () => {
        active++
        peak = Math.max(peak, active)
        await new Promise((resolve) => setImmediate(resolve))
        active--
      })
      return tool(id, [id], {dependsOn: []})
    })
    await applyPlan(planOf(...steps), options(runner, {concurrency: 2}))
    expect(peak).toBe(2)
    expect(runner.calls).toHaveLength(5)
  })

  it('gives handlers the results of earlier steps and the abort signal', async () => {
    const runner = new FakeRunner().on('kubectl get ns', async () => ({stdout: 'shop-pr-1'}))
    const seen: unknown[] = []
    const handlers: Partial<Handlers> = {
      'github.createRepo': async (action) => ({htmlUrl: `https://github.com/${action.params.name}`, owner: 'acme', ownerType: 'Organization'}),
      'fs.write': async (_action, ctx) => {
        seen.push((ctx.results.get('ns') as {stdout: string}).stdout, ctx.results.get('repo'), ctx.step.id, ctx.signal.aborted)
      },
    }
    const plan = planOf(
      tool('ns', ['get', 'ns']),
      {id: 'repo', title: 'Create repo', action: {kind: 'api', target: 'github', op: 'github.createRepo', summary: 'create acme/shop', params: {name: 'acme/shop', visibility: 'private'}}},
      {id: 'write', title: 'Write', action: {kind: 'local', op: 'fs.write', summary: 'write file', params: {}}},
    )
    const result = await applyPlan(plan, options(runner, {handlers}))
    expect(seen).toEqual(['shop-pr-1', {htmlUrl: 'https://github.com/acme/shop', owner: 'acme', ownerType: 'Organization'}, 'write', false])
    expect(result.steps[1]?.result).toEqual({htmlUrl: 'https://github.com/acme/shop', owner: 'acme', ownerType: 'Organization'})
  })
})

describe('applyPlan failure handling', () => {
  const failingPlan = () =>
    planOf(
      tool('ns', ['create', 'namespace', 'shop-pr-1'], {undo: [{kind: 'tool', tool: 'kubectl', argv: ['delete', 'namespace', 'shop-pr-1'], kubeconfig: '/state/kc'}]}),
      {
        id: 'secret',
        title: 'Create secret',
        action: {kind: 'api', target: 'kubernetes', op: 'kube.apply', summary: 'apply Secret db', params: {}},
        undo: [{kind: 'api', target: 'kubernetes', op: 'kube.delete', summary: 'delete Secret db in shop-pr-1', params: {}}],
      },
      {
        id: 'helm',
        title: 'Install chart',
        action: {kind: 'tool', tool: 'helm', argv: ['install', 'shop', './chart', '-n', 'shop-pr-1']},
        undo: [{kind: 'tool', tool: 'helm', argv: ['uninstall', 'shop', '-n', 'shop-pr-1']}],
      },
      {id: 'wait', title: 'Wait for rollout', action: {kind: 'tool', tool: 'kubectl', argv: ['rollout', 'status', 'deploy/shop']}},
      tool('after', ['never']),
    )

  it('collects evidence before undo, undoes in reverse, rethrows the original error with its exit code', async () => {
    const log: string[] = []
    const runner = new FakeRunner(log).on('kubectl rollout status deploy/shop', async () => {
      throw toolFailure('kubectl', ['rollout', 'status', 'deploy/shop'], 'timed out')
    })
    const handlers: Partial<Handlers> = {
      'kube.apply': async () => {
        log.push('api apply')
      },
      'kube.delete': async (_action, ctx) => {
        log.push(`api delete (aborted: ${ctx.signal.aborted})`)
      },
    }
    const collectEvidence = vi.fn(async (step: PlanStep, error: unknown) => {
      log.push(`evidence for ${step.id}: ${(error as Error).message}`)
      return ['Warning  BackOff  pod/shop-1  Back-off pulling image', 'token: abc']
    })
    const error = await rejection(applyPlan(failingPlan(), options(runner, {handlers, collectEvidence, journal: {dir, key: 'shop-pr-1'}})))

    expect(error).toBeInstanceOf(ToolError)
    expect(error.exitCode).toBe(5)
    expect(error.message).toBe('kubectl exited with code 1')
    expect(log).toEqual([
      'start kubectl create namespace shop-pr-1',
      'end kubectl create namespace shop-pr-1',
      'api apply',
      'start helm install shop ./chart -n shop-pr-1',
      'end helm install shop ./chart -n shop-pr-1',
      'start kubectl rollout status deploy/shop',
      'fail kubectl rollout status deploy/shop',
      'evidence for wait: kubectl exited with code 1',
      'start helm uninstall shop -n shop-pr-1',
      'end helm uninstall shop -n shop-pr-1',
      'api delete (aborted: false)',
      'start kubectl delete namespace shop-pr-1',
      'end kubectl delete namespace shop-pr-1',
    ])
    expect(runner.calls.at(-1)?.options.kubeconfig).toBe('/state/kc')
    expect(error.details).toMatchObject({
      tool: 'kubectl',
      stderrTail: 'timed out',
      step: 'wait',
      evidence: ['Warning  BackOff  pod/shop-1  Back-off pulling image', 'token: ***'],
      undone: ['helm', 'secret', 'ns'],
    })
    expect(error.details).not.toHaveProperty('cleanup')
    expect(error.hint).toBe('Read the kubectl output above.\nUndid 3 step(s).')

    const journal = await loadJournal(dir, 'shop-pr-1')
    expect(journal?.status).toBe('failed')
    expect(journal?.steps.map((s) => [s.id, s.status])).toEqual([
      ['ns', 'undone'],
      ['secret', 'undone'],
      ['helm', 'undone'],
      ['wait', 'failed'],
      ['after', 'skipped'],
    ])
    expect(journal?.steps[3]?.error).toBe('kubectl exited with code 1')
  })

  it('keeps going when an undo fails and lists what to clean up by hand', async () => {
    const runner = new FakeRunner()
      .on('kubectl rollout status deploy/shop', async () => {
        throw toolFailure('kubectl', ['rollout', 'status'], 'x')
      })
      .on('helm uninstall shop -n shop-pr-1', async () => {
        throw toolFailure('helm', ['uninstall'], 'cluster unreachable')
      })
    const handlers = {'kube.apply': async () => undefined, 'kube.delete': async () => undefined}
    const error = await rejection(applyPlan(failingPlan(), options(runner, {handlers, journal: {dir, key: 'j'}})))
    expect(error).toBeInstanceOf(ToolError)
    expect(error.details.undone).toEqual(['secret', 'ns'])
    expect(error.details.undoFailures).toEqual([{step: 'helm', error: 'helm exited with code 1', cleanup: ['helm uninstall shop -n shop-pr-1']}])
    expect(error.details.cleanup).toEqual(['helm uninstall shop -n shop-pr-1'])
    expect(error.hint).toBe('Read the kubectl output above.\nUndo failed for "Install chart" (helm exited with code 1). Clean up by hand:\n  helm uninstall shop -n shop-pr-1')
    expect(runner.log).toContain('start kubectl delete namespace shop-pr-1')
    const journal = await loadJournal(dir, 'j')
    expect(journal?.steps.find((s) => s.id === 'helm')).toMatchObject({status: 'undo-failed', error: 'undo: helm exited with code 1'})
    expect(journal?.cleanup).toEqual(['helm uninstall shop -n shop-pr-1'])
  })

  it('with keepOnFailure undoes nothing and prints the exact clean-up commands', async () => {
    const runner = new FakeRunner().on('kubectl rollout status deploy/shop', async () => {
      throw toolFailure('kubectl', ['rollout', 'status'], 'x')
    })
    const handlers = {'kube.apply': async () => undefined, 'kube.delete': vi.fn(async () => undefined)}
    const error = await rejection(applyPlan(failingPlan(), options(runner, {handlers, keepOnFailure: true})))
    expect(error.exitCode).toBe(5)
    expect(handlers['kube.delete']).not.toHaveBeenCalled()
    expect(runner.log.filter((line) => line.includes('delete') || line.includes('uninstall'))).toEqual([])
    const cleanup = ['helm uninstall shop -n shop-pr-1', '# kubernetes API kube.delete: delete Secret db in shop-pr-1', 'KUBECONFIG=/state/kc kubectl delete namespace shop-pr-1']
    expect(error.details.cleanup).toEqual(cleanup)
    expect(error.hint).toBe(`Read the kubectl output above.\nNothing was undone (--keep-on-failure). To clean up by hand, run:\n${cleanup.map((c) => `  ${c}`).join('\n')}`)
  })

  it('on Ctrl-C kills running steps, undoes the interrupted one first, then the completed ones, and throws CancelledError (130)', async () => {
    const controller = new AbortController()
    const started = deferred()
    const runner = new FakeRunner().on('kubectl slow', async (opts) => {
      started.resolve()
      return untilAborted(opts)
    })
    const plan = planOf(
      tool('ns', ['create', 'ns'], {undo: [{kind: 'tool', tool: 'kubectl', argv: ['delete', 'ns']}]}),
      tool('slow', ['slow'], {undo: [{kind: 'tool', tool: 'kubectl', argv: ['delete', 'slow']}]}),
      tool('later', ['later']),
    )
    const evidence = vi.fn(async () => ['pods pending'])
    const applying = applyPlan(plan, options(runner, {signal: controller.signal, collectEvidence: evidence, journal: {dir, key: 'c'}}))
    await within(started.promise, 'the slow step to start')
    controller.abort(new CancelledError('Cancelled by SIGINT.'))
    const error = await rejection(applying)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.exitCode).toBe(130)
    expect(error.message).toBe('Cancelled by SIGINT.')
    // The interrupted step may have partly run: its undo runs first, while what it ran in still exists.
    expect(runner.log).toEqual(['start kubectl create ns', 'end kubectl create ns', 'start kubectl slow', 'fail kubectl slow', 'start kubectl delete slow', 'end kubectl delete slow', 'start kubectl delete ns', 'end kubectl delete ns'])
    expect(evidence).toHaveBeenCalledTimes(1)
    expect(error.details).toMatchObject({step: 'slow', evidence: ['pods pending'], undone: ['slow', 'ns']})
    expect(error.details.cleanup).toBeUndefined()
    expect(error.hint).toContain('Undid 2 step(s).')
    const journal = await loadJournal(dir, 'c')
    expect(journal?.status).toBe('cancelled')
    expect(journal?.steps.map((s) => s.status)).toEqual(['undone', 'undone', 'skipped'])
  })

  it('lets steps already running finish after a failure, then undoes them too', async () => {
    const aFailed = deferred()
    const runner = new FakeRunner()
      .on('kubectl a', async () => {
        aFailed.resolve()
        throw toolFailure('kubectl', ['a'], 'boom')
      })
      .on('kubectl b', async () => {
        await aFailed.promise
      })
      .on('kubectl c', async () => {
        throw toolFailure('kubectl', ['c'], 'also boom')
      })
    const plan = planOf(
      tool('a', ['a'], {dependsOn: []}),
      tool('b', ['b'], {dependsOn: [], undo: [{kind: 'tool', tool: 'kubectl', argv: ['undo-b']}]}),
      tool('c', ['c'], {dependsOn: []}),
      tool('d', ['d'], {dependsOn: ['b']}),
    )
    const error = await rejection(applyPlan(plan, options(runner, {concurrency: 3})))
    expect(error.message).toBe('kubectl exited with code 1')
    expect(error.details).toMatchObject({step: 'a', undone: ['b'], otherFailures: [{step: 'c', error: 'kubectl exited with code 1'}]})
    expect(runner.log).toContain('end kubectl b')
    expect(runner.log).not.toContain('start kubectl d')
    expect(runner.log.at(-1)).toBe('end kubectl undo-b')
  })

  it('turns a failing optional step into a warning and still runs its dependents', async () => {
    const runner = new FakeRunner().on('kubectl comment', async () => {
      throw new Error('GitHub said 502')
    })
    const plan = planOf(tool('comment', ['comment'], {optional: true}), tool('next', ['next']))
    const result = await applyPlan(plan, options(runner))
    expect(result.warnings).toEqual(['Optional step "Step comment" failed: GitHub said 502'])
    expect(result.steps.map((s) => s.status)).toEqual(['failed', 'done'])
    expect(runner.log).toContain('end kubectl next')
  })

  it('wraps a plain error from a handler as an InternalError, keeping the cause', async () => {
    const boom = new TypeError('undefined is not a function')
    const plan = planOf({id: 'x', title: 'X', action: {kind: 'local', op: 'fs.write', summary: 'w', params: {}}})
    const error = await rejection(
      applyPlan(plan, options(new FakeRunner(), {
        handlers: {
          'fs.write': async () => {
            throw boom
          },
        },
      })),
    )
    expect(error).toBeInstanceOf(InternalError)
    expect(error.cause).toBe(boom)
    expect(error.details.step).toBe('x')
  })
})

describe('applyPlan journal', () => {
  it('writes the redacted plan and step records, marked complete at the end, atomically', async () => {
    const runner = new FakeRunner().on('kubectl a', async () => ({stdout: 'ok'}))
    const plan = planOf(tool('a', ['a']), {id: 'login', title: 'Login', action: {kind: 'tool', tool: 'argocd', argv: ['login', 'x', '--auth-token', 'tok-123456']}})
    await applyPlan(plan, options(runner, {journal: {dir: path.join(dir, 'nested'), key: 'shop-pr-1.env-up'}}))
    const journal = await loadJournal(path.join(dir, 'nested'), 'shop-pr-1.env-up')
    expect(journal).toMatchObject({version: 1, key: 'shop-pr-1.env-up', status: 'complete'})
    expect(journal?.steps).toEqual([
      expect.objectContaining({id: 'a', status: 'done', result: {exitCode: 0, stdout: 'ok'}, startedAt: expect.any(String), durationMs: expect.any(Number)}),
      expect.objectContaining({id: 'login', status: 'done'}),
    ])
    expect(journal?.plan.steps[1]?.argv).toEqual(['login', 'x', '--auth-token', '***'])
    expect(JSON.stringify(journal)).not.toContain('tok-123456')
    expect(await readdir(path.join(dir, 'nested'))).toEqual(['shop-pr-1.env-up.json'])
    expect(await loadJournal(dir, 'absent')).toBeUndefined()
  })

  it('writes only the latest of the snapshots handed over during a write, and ends as the last one', async () => {
    const writer = new JournalWriter(dir, 'quick')
    const snapshot = (status: JournalStatus, n: number): Journal => ({version: 1, key: 'quick', status, startedAt: 't0', updatedAt: `t${n}`, plan: {version: 1, kind: 'k', summary: 's', steps: []} as never, steps: []})
    for (let n = 1; n <= 20; n++) writer.write(snapshot('running', n))
    writer.write(snapshot('complete', 21))
    await writer.flush()
    // The first went out at once; the other 20 came while it was written: only the last of them is written after it.
    expect(writer.written).toBe(2)
    expect(await loadJournal(dir, 'quick')).toMatchObject({status: 'complete', updatedAt: 't21'})
    // A later snapshot, after the writer went idle, is written too.
    writer.write(snapshot('failed', 22))
    await writer.flush()
    expect(writer.written).toBe(3)
    expect(await loadJournal(dir, 'quick')).toMatchObject({status: 'failed', updatedAt: 't22'})
    expect(writer.error).toBeUndefined()
    expect(await readdir(dir)).toEqual(['quick.json'])
  })

  it('keeps the first write error and goes on with later snapshots', async () => {
    const blocked = path.join(dir, 'file-not-dir')
    await writeFile(blocked, '')
    const writer = new JournalWriter(path.join(blocked, 'sub'), 'j')
    writer.write({version: 1, key: 'j', status: 'running', startedAt: 't', updatedAt: 't', plan: {} as never, steps: []})
    await writer.flush()
    expect(writer.error).toBeInstanceOf(Error)
    expect(writer.written).toBe(0)
  })

  it('refuses a key that is not a plain file name', async () => {
    const error = await rejection(applyPlan(planOf(tool('a', ['a'])), options(new FakeRunner(), {journal: {dir, key: '../escape'}})))
    expect(error).toBeInstanceOf(InternalError)
  })
})

describe('applyPlan rendering', () => {
  it('shows control characters of titles, output and evidence instead of obeying them', async () => {
    const stderr = new Sink()
    const runner = new FakeRunner().on('kubectl b', async () => {
      throw toolFailure('kubectl', ['b'], 'nope')
    })
    const plan = planOf({...tool('a', ['a']), title: 'Render evil\u001B[2J\u001B]0;pwned\u0007'}, tool('b', ['b']))
    await rejection(applyPlan(plan, options(runner, {renderer: 'simple', stderr, collectEvidence: async () => ['event: \u001B[1Aup']})))
    expect(stderr.text).toContain('Render evil\\x1b[2J\\x1b]0;pwned\\x07')
    expect(stderr.text).toContain('event: \\x1b[1Aup')
    expect(stderr.text).not.toContain('\u001B]0;pwned')
    expect(stderr.text).not.toContain('\u001B[1Aup')
  })

  for (const renderer of ['simple', 'default'] as const) {
    it(`draws the '${renderer}' renderer on stderr and nothing on stdout`, async () => {
      const stderr = new Sink()
      const stdout = vi.spyOn(process.stdout, 'write')
      try {
        const runner = new FakeRunner().on('kubectl b', async () => {
          throw toolFailure('kubectl', ['b'], 'nope')
        })
        const plan = planOf(tool('a', ['a'], {undo: [{kind: 'tool', tool: 'kubectl', argv: ['undo-a']}]}), tool('b', ['b']), tool('c', ['c']))
        const error = await rejection(applyPlan(plan, options(runner, {renderer, stderr, verbose: true, collectEvidence: async () => ['event: pull failed']})))
        expect(error).toBeInstanceOf(ToolError)
        expect(stdout).not.toHaveBeenCalled()
      } finally {
        stdout.mockRestore()
      }
      const text = stderr.text
      expect(text).toContain('Step a')
      expect(text).toContain('kubectl exited with code 1')
      expect(text).toContain('Undo: Step a')
      expect(text).toContain('Evidence for "Step b" (collected before undo):\n  event: pull failed')
      if (renderer === 'simple') {
        // One line per event, in the order things happened (icons vary with the terminal's unicode support).
        const lines = text.trimEnd().split('\n').map((line) => line.replace(/^[^\w\s"$]+ /u, ''))
        expect(lines).toEqual([
          'Step a',
          '$ kubectl a',
          'Step a',
          'Step b',
          '$ kubectl b',
          'Step b [FAILED: kubectl exited with code 1]',
          'Step c [SKIPPED: not run: "Step b" failed]',
          'Evidence for "Step b" (collected before undo):',
          '  event: pull failed',
          'Undo: Step a',
          '$ kubectl undo-a',
          'Undo: Step a',
        ])
        expect(text).not.toContain('\u001B[')
      }
    })
  }

  it('stays silent with the silent renderer', async () => {
    const stderr = new Sink()
    await applyPlan(planOf(tool('a', ['a'])), options(new FakeRunner(), {renderer: 'silent', stderr}))
    expect(stderr.text).toBe('')
  })
})

describe('what a running plan has made, for a second Ctrl-C', () => {
  it('lists the started step first, then the completed ones newest first, and nothing once the plan is over', async () => {
    const {pendingCleanup} = await import('../../src/lib/plan/pending.js')
    const started = deferred()
    const release = deferred()
    const runner = new FakeRunner().on('kubectl slow', async () => {
      started.resolve()
      await release.promise
    })
    const plan = planOf(
      tool('ns', ['create', 'ns'], {undo: [{kind: 'tool', tool: 'kubectl', argv: ['delete', 'ns'], kubeconfig: '/state/kc'}]}),
      tool('vc', ['create', 'vc'], {undo: [{kind: 'tool', tool: 'kubectl', argv: ['delete', 'vc']}]}),
      tool('slow', ['slow'], {undo: [{kind: 'tool', tool: 'kubectl', argv: ['delete', 'slow']}]}),
    )
    const applying = applyPlan(plan, options(runner))
    await within(started.promise, 'the slow step to start')
    expect(pendingCleanup()).toEqual(['kubectl delete slow', 'kubectl delete vc', 'KUBECONFIG=/state/kc kubectl delete ns'])
    release.resolve()
    await applying
    expect(pendingCleanup()).toEqual([])
  })

  it('with --keep-on-failure after Ctrl-C, the interrupted step\'s clean-up comes first', async () => {
    const controller = new AbortController()
    const started = deferred()
    const runner = new FakeRunner().on('kubectl slow', async (opts) => {
      started.resolve()
      return untilAborted(opts)
    })
    const plan = planOf(tool('ns', ['create', 'ns'], {undo: [{kind: 'tool', tool: 'kubectl', argv: ['delete', 'ns']}]}), tool('slow', ['slow'], {undo: [{kind: 'tool', tool: 'kubectl', argv: ['delete', 'slow']}]}))
    const applying = applyPlan(plan, options(runner, {signal: controller.signal, keepOnFailure: true}))
    await within(started.promise, 'the slow step to start')
    controller.abort(new CancelledError('Cancelled by SIGINT.'))
    const error = await rejection(applying)
    expect(error.details.cleanup).toEqual(['kubectl delete slow', 'kubectl delete ns'])
    expect(error.hint).toContain('("Step slow" was interrupted and may have partly run)')
  })
})


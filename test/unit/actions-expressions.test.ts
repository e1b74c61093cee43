// The workflow runner's expressions (test/support/actions-runner/expressions.ts): GitHub's
// semantics where the preview workflow relies on them, and failure, never an empty string, for
// whatever the runner does not understand.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {condition, type Contexts, evaluate, hashFiles, interpolate} from '../support/actions-runner/expressions.js'

const contexts: Contexts = {
  github: {event_name: 'pull_request', actor: 'dev', event: {action: 'opened', pull_request: {number: 7, head: {sha: 'abc123'}, title: null}}},
  env: {GIT_SHA: 'abc123'},
  vars: {AWS_ROLE_ARN: 'arn:aws:iam::1:role/x'},
  secrets: {GITHUB_TOKEN: 'ghs_x'},
  steps: {image: {outputs: {repository: 'ghcr.io/acme/shop'}, outcome: 'success', conclusion: 'success'}},
}
const step = {place: 'step' as const, jobStatus: 'success' as const}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-expr-'))
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}))

describe('GitHub semantics', () => {
  it('interpolates contexts, steps outputs and env into text', () => {
    expect(interpolate('${{ steps.image.outputs.repository }}:${{ env.GIT_SHA }}', contexts, step)).toBe('ghcr.io/acme/shop:abc123')
    expect(interpolate("preview-${{ github.event.pull_request.number }}", contexts, {place: 'concurrency'})).toBe('preview-7')
    expect(interpolate("${{ 'a}}b' }}", contexts, step)).toBe('a}}b')
  })

  it('an unset var or secret is null: "" in text, falsy, and equal to "" (loose equality)', () => {
    expect(interpolate("${{ vars.NPM_CONFIG_REGISTRY || 'https://registry.npmjs.org/' }}", contexts, {place: 'workflow.env'})).toBe('https://registry.npmjs.org/')
    expect(interpolate('[${{ secrets.NOPE }}]', contexts, step)).toBe('[]')
    expect(condition("vars.NOPE != ''", contexts, {place: 'step.if', jobStatus: 'success'})).toBe(false)
    expect(condition("vars.AWS_ROLE_ARN != ''", contexts, {place: 'step.if', jobStatus: 'success'})).toBe(true)
  })

  it("string comparison ignores case, as GitHub's does", () => {
    expect(condition("github.event.action == 'OPENED'", contexts, {place: 'job.if'})).toBe(true)
    expect(condition("github.event.action != 'closed'", contexts, {place: 'job.if'})).toBe(true)
  })

  it('an if: without a status function means success() && ...; always() runs after a failure', () => {
    expect(condition('true', contexts, {place: 'step.if', jobStatus: 'failure'})).toBe(false)
    expect(condition(undefined, contexts, {place: 'step.if', jobStatus: 'failure'})).toBe(false)
    expect(condition('always()', contexts, {place: 'step.if', jobStatus: 'failure'})).toBe(true)
    expect(condition('${{ failure() }}', contexts, {place: 'step.if', jobStatus: 'failure'})).toBe(true)
    expect(condition('${{ success() }}', contexts, {place: 'step.if', jobStatus: 'failure'})).toBe(false)
  })

  it('hashFiles hashes the matching files of the workspace, "" when none match', () => {
    fs.mkdirSync(path.join(tmp, 'infra'))
    expect(hashFiles(tmp, ['infra/*.tf'])).toBe('')
    expect(condition("hashFiles('infra/*.tf') != ''", contexts, {place: 'step.if', jobStatus: 'success', workspace: tmp})).toBe(false)
    fs.writeFileSync(path.join(tmp, 'infra', 'main.tf'), 'x')
    const one = hashFiles(tmp, ['infra/*.tf'])
    expect(one).toMatch(/^[0-9a-f]{64}$/u)
    expect(condition("hashFiles('infra/*.tf') != ''", contexts, {place: 'step.if', jobStatus: 'success', workspace: tmp})).toBe(true)
    fs.writeFileSync(path.join(tmp, 'infra', 'main.tf'), 'y')
    expect(hashFiles(tmp, ['infra/*.tf'])).not.toBe(one)
  })
})

describe('strictness: what the runner does not understand fails, never reads as empty', () => {
  const fails = (fn: () => unknown, message: RegExp) => expect(fn).toThrow(message)

  it('a context the runner does not provide (matrix, needs, inputs, job, runner...)', () => {
    for (const name of ['matrix.os', 'needs.build.outputs.x', 'inputs.x', 'job.status', 'runner.os', 'strategy.fail-fast']) {
      fails(() => evaluate(name, contexts, step), /Unrecognized named-value|context/iu)
    }
  })

  it('a context GitHub does not allow at that place: secrets and env in a job if:, steps in workflow env', () => {
    fails(() => condition("secrets.GITHUB_TOKEN != ''", contexts, {place: 'job.if'}), /secrets/u)
    fails(() => condition("env.GIT_SHA != ''", contexts, {place: 'job.if'}), /env/u)
    fails(() => interpolate('${{ steps.image.outputs.repository }}', contexts, {place: 'workflow.env'}), /steps/u)
    fails(() => condition("hashFiles('x') != ''", contexts, {place: 'job.if'}), /hashFiles/iu)
  })

  it('an unknown function, or a status function outside if:', () => {
    fails(() => evaluate("toUpper('a')", contexts, step), /toUpper/iu)
    fails(() => interpolate('${{ always() }}', contexts, step), /always/iu)
  })

  it('a github property or event field the runner does not model, and an unknown step id', () => {
    fails(() => interpolate('${{ github.head_ref }}', contexts, step), /no property "head_ref"/u)
    fails(() => interpolate('${{ github.event.pull_request.merged }}', contexts, step), /no property "merged"/u)
    fails(() => interpolate('${{ steps.nope.outputs.x }}', contexts, step), /no property "nope"/u)
    // A field the payload has as null is null, not an error.
    expect(interpolate('[${{ github.event.pull_request.title }}]', contexts, step)).toBe('[]')
  })

  it('syntax errors, an object in text, text around an if: expression', () => {
    fails(() => evaluate('github.event.action ==', contexts, step), /Unexpected end|expected/iu)
    fails(() => evaluate("github.event.action = 'x'", contexts, step), /unexpected/iu)
    fails(() => interpolate('${{ github.event.action', contexts, step), /unterminated/u)
    fails(() => interpolate('${{ github.event.pull_request }}', contexts, step), /an object, not text/u)
    fails(() => condition("x ${{ github.event.action == 'opened' }}", contexts, {place: 'step.if', jobStatus: 'success'}), /one expression/u)
  })

  it('hashFiles refuses patterns it does not implement', () => {
    fails(() => hashFiles(tmp, ['!infra/*.tf']), /only relative include patterns/u)
    fails(() => hashFiles(tmp, ['../x']), /only relative include patterns/u)
  })
})

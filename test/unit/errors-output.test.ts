import {PassThrough} from 'node:stream'
import {afterEach, describe, expect, it} from 'vitest'

import {
  CancelledError, ConfigError, EXIT, InternalError, PrerequisiteError, RemoteError, TimeoutError, ToolError, UsageError, causeChain, toIdpError,
} from '../../src/lib/cli/errors.js'
import {Output, table, useColor, visible} from '../../src/lib/cli/output.js'
import {clearSecretsForTests, redact, redactArgv, redactValue, registerSecret} from '../../src/lib/cli/redact.js'

function capture(): {stream: PassThrough; text: () => string} {
  const stream = new PassThrough()
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  return {stream, text: () => Buffer.concat(chunks).toString('utf8')}
}

describe('error taxonomy', () => {
  it('maps each class to its exit code and JSON code', () => {
    const cases: Array<[Error & {exitCode: number; code: string}, number, string]> = [
      [new InternalError('x'), 1, 'INTERNAL'],
      [new UsageError('x'), 2, 'USAGE'],
      [new ConfigError('x'), 3, 'CONFIG'],
      [new PrerequisiteError('x'), 4, 'PREREQUISITE'],
      [new ToolError('x', {tool: 'helm', argv: []}), 5, 'TOOL'],
      [new RemoteError('x'), 6, 'REMOTE'],
      [new TimeoutError('x'), 7, 'TIMEOUT'],
      [new CancelledError(), 130, 'CANCELLED'],
    ]
    for (const [error, exit, code] of cases) {
      expect(error.exitCode).toBe(exit)
      expect(error.code).toBe(code)
      expect(error.name).toBe(error.constructor.name)
    }
    expect(EXIT.cancelled).toBe(130)
  })

  it('wraps unknown errors as internal errors with a report hint and keeps the cause', () => {
    const original = new TypeError('boom')
    const wrapped = toIdpError(original)
    expect(wrapped).toBeInstanceOf(InternalError)
    expect(wrapped.exitCode).toBe(1)
    expect(wrapped.hint).toMatch(/bug/u)
    expect(wrapped.cause).toBe(original)
  })

  it('lists the cause chain', () => {
    const root = new Error('connection refused')
    const mid = new RemoteError('kube API unreachable', {cause: root})
    const top = new TimeoutError('namespace not ready', {cause: mid})
    expect(causeChain(top)).toEqual(['kube API unreachable', 'connection refused'])
  })

  it('leaves out causes that say nothing new (already in the message or an earlier line)', () => {
    // What a --publish against a closed port gave: "caused by: bad port / fetch failed / bad port".
    const inner = new Error('bad port')
    const fetchFailed = new TypeError('fetch failed', {cause: inner})
    const request = new Error('bad port', {cause: fetchFailed})
    const top = new RemoteError('Could not reach GitHub to read the authenticated user (GET http://127.0.0.1:9/api/v3/user): bad port', {cause: request})
    expect(causeChain(top)).toEqual(['fetch failed'])
  })
})

describe('JSON envelope', () => {
  it('writes exactly one success document on stdout and nothing else', () => {
    const out = capture()
    const err = capture()
    const output = new Output({json: true, verbose: false, stdout: out.stream, stderr: err.stream})
    output.info('progress line')
    output.warn('something odd')
    output.result({answer: 42})
    output.result({again: true})
    expect(JSON.parse(out.text())).toEqual({status: 0, result: {answer: 42}, warnings: ['something odd']})
    expect(err.text()).toBe('')
  })

  it('writes the error envelope with code, message, hint and details', () => {
    const out = capture()
    const output = new Output({json: true, verbose: false, stdout: out.stream, stderr: capture().stream})
    output.error(new ToolError('helm exited with code 1', {tool: 'helm', argv: ['install', 'x'], exitCode: 1}, {hint: 'check the chart'}))
    const doc = JSON.parse(out.text())
    expect(doc.status).toBe(5)
    expect(doc.error).toMatchObject({code: 'TOOL', message: 'helm exited with code 1', hint: 'check the chart', details: {tool: 'helm', exitCode: 1}})
  })

  it('prints human errors on stderr with hint and causes', () => {
    const out = capture()
    const err = capture()
    const output = new Output({json: false, verbose: false, stdout: out.stream, stderr: err.stream})
    output.error(new PrerequisiteError('helm not found', {hint: 'install helm', cause: new Error('ENOENT')}))
    expect(out.text()).toBe('')
    expect(err.text()).toContain('Error: helm not found')
    expect(err.text()).toContain('caused by: ENOENT')
    expect(err.text()).toContain('hint: install helm')
  })
})

describe('redaction', () => {
  afterEach(() => clearSecretsForTests())

  it('masks registered secrets everywhere output goes', () => {
    registerSecret('ghp_supersecretvalue1234567890abcd')
    const out = capture()
    const output = new Output({json: true, verbose: false, stdout: out.stream, stderr: capture().stream})
    output.warn('token ghp_supersecretvalue1234567890abcd leaked?')
    output.result({nested: {value: 'x ghp_supersecretvalue1234567890abcd'}})
    expect(out.text()).not.toContain('supersecret')
    expect(out.text()).toContain('***')
  })

  it('masks secret flags in argv and credential fields in text', () => {
    expect(redactArgv(['login', '--auth-token', 'abc123', '--password=hunter22', '--name', 'x'])).toEqual(['login', '--auth-token', '***', '--password=***', '--name', 'x'])
    expect(redact('    token: eyJhbGciOi.abc')).toBe('    token: ***')
    expect(redact('https://user:pa55@example.com/repo.git')).toBe('https://***@example.com/repo.git')
    expect(redactValue({users: [{user: {token: 'abc', name: 'me'}}]})).toEqual({users: [{user: {token: '***', name: 'me'}}]})
  })

  it('renders aligned tables', () => {
    expect(table(['A', 'BB'], [['xxx', 'y']])).toBe('A    BB\nxxx  y')
  })
})

describe('colour', () => {
  const tty = Object.assign(new PassThrough(), {isTTY: true})
  const pipe = new PassThrough()

  it('on a terminal only; NO_COLOR turns it off and FORCE_COLOR on, whatever the stream', () => {
    expect(useColor(tty, {})).toBe(true)
    expect(useColor(pipe, {})).toBe(false)
    expect(useColor(tty, {NO_COLOR: '1'})).toBe(false)
    // An empty NO_COLOR does not count (no-color.org).
    expect(useColor(tty, {NO_COLOR: ''})).toBe(true)
    expect(useColor(pipe, {FORCE_COLOR: '1'})).toBe(true)
    expect(useColor(tty, {FORCE_COLOR: '0'})).toBe(true)
    expect(useColor(pipe, {FORCE_COLOR: '0'})).toBe(false)
  })

  it('errors and warnings are painted on a colour terminal and plain in a pipe', () => {
    const painted = capture()
    const out = new Output({json: false, verbose: false, stderr: Object.assign(painted.stream, {isTTY: true})})
    const plain = capture()
    const piped = new Output({json: false, verbose: false, stderr: plain.stream})
    const saved = {NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR}
    delete process.env.NO_COLOR
    delete process.env.FORCE_COLOR
    try {
      for (const o of [out, piped]) {
        o.warn('careful')
        o.error(new UsageError('bad flag', {hint: 'use --good'}))
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    expect(painted.text()).toContain('\u001B[33mWarning:\u001B[39m careful')
    expect(painted.text()).toContain('\u001B[31mError:\u001B[39m bad flag')
    expect(plain.text()).toBe('Warning: careful\nError: bad flag\n  hint: use --good\n')
  })
})

describe('control characters are shown, not obeyed', () => {
  it('an ESC sequence, a carriage return or a backspace in a value cannot rewrite what people see; newlines and tabs stay', () => {
    expect(visible('owner: \u001B[2Jmallory\rbob\b\n\tok\u009B')).toBe('owner: \\x1b[2Jmallory\\x0dbob\\x08\n\tok\\x9b')
    const stdout = capture()
    const stderr = capture()
    const out = new Output({json: false, verbose: false, stdout: stdout.stream, stderr: stderr.stream})
    out.warn('reason: \u001B[31mfake\u001B[0m')
    out.result({}, () => 'ENV  OWNER\npr-1 \u001B[1Aevil')
    expect(stdout.text()).toBe('ENV  OWNER\npr-1 \\x1b[1Aevil\n')
    expect(stderr.text()).toBe('Warning: reason: \\x1b[31mfake\\x1b[0m\n')
    // JSON escapes them itself: the value stays as it is.
    const json = capture()
    new Output({json: true, verbose: false, stdout: json.stream}).result({owner: '\u001B[2J'})
    expect(JSON.parse(json.text()).result.owner).toBe('\u001B[2J')
  })
})


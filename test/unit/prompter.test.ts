import {PassThrough} from 'node:stream'
import {describe, expect, it} from 'vitest'

import {CancelledError, UsageError} from '../../src/lib/cli/errors.js'
import {createPrompter, requireValue} from '../../src/lib/cli/prompter.js'
import {TextSink} from '../support/deps.js'

/** A terminal stand-in: what the prompt draws goes to `screen`, keys are written to `keys`. */
function terminal() {
  const keys = new PassThrough()
  const screen = new TextSink()
  return {keys, screen}
}

describe('the Prompter', () => {
  it('answers from the keyboard, drawing on the stream it was given (stderr in the CLI)', async () => {
    const {keys, screen} = terminal()
    const prompter = createPrompter({signal: new AbortController().signal, input: keys, output: screen})
    const answer = prompter.input({message: 'Role'})
    await new Promise((resolve) => setTimeout(resolve, 50))
    keys.write('viewer\r')
    expect(await answer).toBe('viewer')
    expect(screen.text).toContain('Role')
  })

  it('a message or a choice from a template is shown, not obeyed (no terminal title, no screen clear)', async () => {
    const {keys, screen} = terminal()
    const prompter = createPrompter({signal: new AbortController().signal, input: keys, output: screen})
    const answer = prompter.select({message: 'Tier\u001B]0;pwned\u0007', choices: [{name: 'gold\u001B[2J', value: 'gold'}]})
    await new Promise((resolve) => setTimeout(resolve, 50))
    keys.write('\r')
    expect(await answer).toBe('gold')
    expect(screen.text).toContain('Tier\\x1b]0;pwned\\x07')
    expect(screen.text).not.toContain('\u001B]0;pwned')
    expect(screen.text).not.toContain('gold\u001B[2J')
  })

  it('Ctrl-C at a prompt is a cancellation (exit 130), not a bug', async () => {
    const {keys, screen} = terminal()
    const prompter = createPrompter({signal: new AbortController().signal, input: keys, output: screen})
    const answer = prompter.confirm({message: 'Remove 3 environments?'}).catch((error: unknown) => error)
    await new Promise((resolve) => setTimeout(resolve, 50))
    keys.write('\u0003')
    const error = await answer
    expect(error).toBeInstanceOf(CancelledError)
    expect((error as CancelledError).exitCode).toBe(130)
  })

  it('the command\'s signal (Ctrl-C outside the prompt, SIGTERM) ends a prompt as a cancellation', async () => {
    const {keys, screen} = terminal()
    const controller = new AbortController()
    const prompter = createPrompter({signal: controller.signal, input: keys, output: screen})
    const answer = prompter.select({message: 'Template', choices: [{name: 'a', value: 'a'}]}).catch((error: unknown) => error)
    await new Promise((resolve) => setTimeout(resolve, 50))
    controller.abort()
    expect(await answer).toBeInstanceOf(CancelledError)
  })
})

describe('requireValue', () => {
  it('takes the given value, else asks when asking is allowed, else names the flag', async () => {
    const ask = async () => 'asked'
    expect(await requireValue('given', '--env', undefined, ask)).toBe('given')
    const {keys, screen} = terminal()
    const prompter = createPrompter({signal: new AbortController().signal, input: keys, output: screen})
    expect(await requireValue(undefined, '--env', prompter, ask)).toBe('asked')
    const error = await requireValue('', '--env', undefined, ask).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).message).toBe('Missing required value: --env.')
    expect((error as UsageError).hint).toBe('Pass --env, or run in a terminal without --no-input to be asked.')
  })
})

import type {Interfaces} from '@oclif/core'
import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import path from 'node:path'

import {CancelledError, IdpError, toIdpError, UsageError} from './errors.js'
import {Output} from './output.js'
import {registerSecretsFromEnv} from './redact.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** Flags for commands that change something. Spread into a command's `flags`. */
export const changeFlags = {
  'dry-run': Flags.boolean({description: 'Print the plan (numbered steps with exact argv) and change nothing.', env: 'IDP_DRY_RUN'}),
  'keep-on-failure': Flags.boolean({description: 'On failure or Ctrl-C, keep what was done and print the commands that clean it up.', env: 'IDP_KEEP_ON_FAILURE'}),
}

/**
 * The CLI contract of DESIGN.md section 2 lives here: shared flags, the JSON envelope, exit
 * codes, the no-input rule and Ctrl-C. A command implements `execute()` (returning its result)
 * and, optionally, `human()` to render that result for people.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    json: Flags.boolean({description: 'Print one JSON document on stdout ({status, result, warnings} or {status, error}); logs go to stderr.', helpGroup: 'GLOBAL'}),
    'no-input': Flags.boolean({description: 'Never prompt; a missing value is a usage error. Implied when stdin is not a TTY or CI is set.', env: 'IDP_NO_INPUT', helpGroup: 'GLOBAL'}),
    yes: Flags.boolean({char: 'y', description: 'Answer yes to confirmations.', env: 'IDP_YES', helpGroup: 'GLOBAL'}),
    dir: Flags.string({description: 'Repository to act on.', env: 'IDP_DIR', default: '.', helpGroup: 'GLOBAL'}),
    verbose: Flags.boolean({description: 'Show debug output and stack traces.', env: 'IDP_VERBOSE', helpGroup: 'GLOBAL'}),
  }

  static override enableJsonFlag = false

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  protected out!: Output
  private readonly abortController = new AbortController()
  private sigintCount = 0
  private readonly onSignal = (signal: NodeJS.Signals) => this.handleSignal(signal)

  /** Aborted on Ctrl-C (SIGINT) or SIGTERM; long work (plans, tools, waits) listens to it. */
  protected get signal(): AbortSignal {
    return this.abortController.signal
  }

  /** Prompts are allowed only on a TTY, without --no-input and outside CI. */
  protected get interactive(): boolean {
    return !this.flags['no-input'] && !this.flags.json && Boolean(process.stdin.isTTY) && !isCi()
  }

  protected get dir(): string {
    return path.resolve(this.flags.dir)
  }

  override async init(): Promise<void> {
    // Before parsing, so even a usage error honours --json.
    this.out = new Output({json: this.argv.includes('--json'), verbose: this.argv.includes('--verbose') || process.env.IDP_VERBOSE === 'true'})
    registerSecretsFromEnv()
    await super.init()
    const {args, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      args: this.ctor.args,
      strict: this.ctor.strict,
      enableJsonFlag: false,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.out = new Output({json: this.flags.json, verbose: this.flags.verbose})
    process.on('SIGINT', this.onSignal)
    process.on('SIGTERM', this.onSignal)
  }

  async run(): Promise<unknown> {
    const result = await this.execute()
    this.signal.throwIfAborted()
    this.out.result(result, (r) => this.human(r))
    return result
  }

  abstract execute(): Promise<unknown>

  /** The human rendering of the result, on stdout. */
  protected human(_result: any): string | undefined {
    return undefined
  }

  /** A value needed but missing: prompt on a TTY, otherwise a usage error naming the flag. */
  protected async require<V>(value: V | undefined, flag: string, prompt: () => Promise<V>): Promise<V> {
    if (value !== undefined && value !== '') return value
    if (!this.interactive) throw new UsageError(`Missing required value: ${flag}.`, {hint: `Pass ${flag}, or run in a terminal without --no-input to be asked.`})
    return prompt()
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<void> {
    if (this.signal.aborted && !(error instanceof IdpError)) error = new CancelledError('Cancelled by the user.')
    const idpError = toIdpError(this.signal.aborted && error.name === 'AbortError' ? new CancelledError('Cancelled by the user.') : error)
    this.out ??= new Output({json: this.argv.includes('--json'), verbose: false})
    this.out.error(idpError)
    process.exitCode = idpError.exitCode
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    process.off('SIGINT', this.onSignal)
    process.off('SIGTERM', this.onSignal)
    await super.finally(error)
  }

  private handleSignal(signal: NodeJS.Signals): void {
    this.sigintCount++
    if (this.sigintCount > 1) {
      // A second Ctrl-C: the user wants out now, undo or not.
      process.stderr.write('\nInterrupted again: exiting without finishing clean-up.\n')
      process.exit(130)
    }
    if (!this.out.json) process.stderr.write(`\nReceived ${signal}: stopping; completed steps are being undone (Ctrl-C again to exit now).\n`)
    this.abortController.abort(new CancelledError(`Cancelled by ${signal}.`))
  }
}

export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false'
}

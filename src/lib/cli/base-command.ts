import type {Interfaces} from '@oclif/core'
import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import path from 'node:path'

import {createDeps, type Human, type Served, type Service} from './deps.js'
import {CancelledError, IdpError, toIdpError} from './errors.js'
import {Output} from './output.js'
import {pendingCleanup} from '../plan/pending.js'
import {isPromptExit} from './prompter.js'
import {registerSecretsFromEnv} from './redact.js'

export type {Served} from './deps.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** Flags for commands that change something. Spread into a command's `flags`. */
/** For the commands that run the service's image (`env up`, `deploy`): the registry preflight's switch. */
export const imageCheckFlags = {
  'skip-image-check': Flags.boolean({
    description: 'Do not ask the registry whether the image (image.repository of .idp.yml with the tag) exists before changing anything; for clusters that pull from a registry this machine cannot reach.',
    env: 'IDP_SKIP_IMAGE_CHECK',
    allowNo: true,
  }),
}

export const changeFlags = {
  'dry-run': Flags.boolean({description: 'Print the plan (numbered steps with exact argv) and change nothing.', env: 'IDP_DRY_RUN', allowNo: true}),
  'keep-on-failure': Flags.boolean({description: 'On failure or Ctrl-C, keep what was done and print the commands that clean it up.', env: 'IDP_KEEP_ON_FAILURE', allowNo: true}),
}

/**
 * The Backstage catalog (`idp create`, `idp catalog`). No `env:` here: the flag wins over
 * backstage.baseUrl of .idp.yml, which wins over BACKSTAGE_URL (catalog/settings.ts). The token
 * has no flag: BACKSTAGE_TOKEN only, never argv.
 */
export const backstageFlags = {
  'backstage-url': Flags.string({description: 'Backstage base URL, e.g. https://backstage.example.com (default: backstage.baseUrl in .idp.yml, then BACKSTAGE_URL). The token is BACKSTAGE_TOKEN, a static external-access token.'}),
}

/** The wait of `idp deploy` and `idp deploy rollback` through Argo CD. Spread into a command's `flags`. */
export const degradedGraceFlags = {
  'degraded-grace': Flags.string({
    description: 'Argo CD: how long the Application may be Degraded during the rollout (e.g. a Deployment between ReplicaSets) before the wait fails.',
    env: 'IDP_DEGRADED_GRACE',
    default: '30s',
  }),
}

/**
 * The CLI contract lives here: shared flags, the JSON envelope, exit codes, the no-input rule and
 * Ctrl-C. A command parses its flags into a request and hands it to its golden path's service
 * with `serve()`; this class builds the service's Deps, prints the result (JSON, or the human
 * rendering the command names) and turns errors into the envelope and exit code.
 */
export abstract class BaseCommand<T extends typeof Command, R = unknown> extends Command {
  static override baseFlags = {
    json: Flags.boolean({description: 'Print one JSON document on stdout ({status, result, warnings} or {status, error}); logs go to stderr.', helpGroup: 'GLOBAL'}),
    'no-input': Flags.boolean({description: 'Never prompt; a missing value is a usage error. Implied when stdin is not a TTY or CI is set.', env: 'IDP_NO_INPUT', helpGroup: 'GLOBAL'}),
    yes: Flags.boolean({char: 'y', description: 'Answer yes to confirmations.', env: 'IDP_YES', allowNo: true, helpGroup: 'GLOBAL'}),
    dir: Flags.string({description: 'Repository to act on.', env: 'IDP_DIR', default: '.', helpGroup: 'GLOBAL'}),
    verbose: Flags.boolean({description: 'Show debug output and stack traces.', env: 'IDP_VERBOSE', allowNo: true, helpGroup: 'GLOBAL'}),
  }

  static override enableJsonFlag = false

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  protected out!: Output
  private readonly abortController = new AbortController()
  private sigintCount = 0
  private readonly onSignal = (signal: NodeJS.Signals) => this.handleSignal(signal)

  /** The repository to act on (--dir), absolute. */
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

  async run(): Promise<R> {
    const {result, human} = await this.execute()
    this.abortController.signal.throwIfAborted()
    const view = {bin: this.config.bin, cwd: process.cwd(), now: new Date(), dir: this.dir, ...(process.env.IDP_CONFIG ? {configFile: process.env.IDP_CONFIG} : {})}
    this.out.result(result, (r) => human(r, view))
    const code = this.exitCodeOf(result)
    if (code !== undefined) process.exitCode = code
    return result
  }

  /** Parse the flags into a request and `serve` it. */
  abstract execute(): Promise<Served<R>>

  /** A result that is an answer, not an error, may still set the exit code (`access check --exit-code`). */
  protected exitCodeOf(_result: R): number | undefined {
    return undefined
  }

  /** Run a golden path's service with this run's Deps; `human` renders its result for people. */
  protected async serve<Q>(service: Service<Q, R>, human: Human<R>, request: Q): Promise<Served<R>> {
    const {flags} = this
    const deps = createDeps({
      env: process.env,
      out: this.out,
      signal: this.abortController.signal,
      bin: this.config.bin,
      // Asking is allowed only on a terminal, without --no-input or --json (and outside CI).
      interactive: !flags['no-input'] && !flags.json && Boolean(process.stdin.isTTY),
      progress: {isTTY: Boolean(process.stderr.isTTY), columns: process.stderr.columns},
      verbose: flags.verbose,
    })
    return {result: await service(request, deps), human}
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<void> {
    const aborted = this.abortController.signal.aborted
    const cancelled = (aborted && !(error instanceof IdpError)) || (aborted && error.name === 'AbortError') || isPromptExit(error)
    const idpError = toIdpError(cancelled ? new CancelledError('Cancelled by the user.') : error)
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
      // A second Ctrl-C: the user wants out now, undo or not; what is left is said, in full.
      const left = pendingCleanup()
      const list = left.length > 0 ? ` Left behind; to clean up by hand, run:\n${left.map((line) => `  ${line}`).join('\n')}` : ''
      process.stderr.write(`\nInterrupted again: exiting without finishing clean-up.${list}\n`)
      process.exit(130)
    }
    if (!this.out.json) process.stderr.write(`\nReceived ${signal}: stopping; completed steps are being undone (Ctrl-C again to exit now).\n`)
    this.abortController.abort(new CancelledError(`Cancelled by ${signal}.`))
  }
}

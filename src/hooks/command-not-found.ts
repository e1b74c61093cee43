import type {Hook} from '@oclif/core'

import {UsageError} from '../lib/cli/errors.js'
import {Output} from '../lib/cli/output.js'
import {closest} from '../lib/config/suggest.js'

/**
 * An unknown command is a usage error like any other (exit 2, the JSON envelope under --json),
 * with "did you mean" whether or not there is a terminal.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const {config} = options
  const visible = config.commands.filter((c) => !c.hidden)
  const ids = [...visible.map((c) => c.id), ...visible.flatMap((c) => c.aliases)]
  const spaced = (id: string) => id.replaceAll(':', ' ')
  const typed = spaced(options.id)
  // oclif folds the words after an unknown command into its id (`deplyo staging`): try the
  // longest prefix first.
  const words = options.id.split(':')
  let suggestion: string | undefined
  for (let n = words.length; n > 0 && !suggestion; n--) suggestion = closest(words.slice(0, n).join(':'), ids)
  const topic = options.id.split(':')[0] ?? ''
  const helpCommand = config.findTopic(topic) ? `${config.bin} ${spaced(topic)} --help` : `${config.bin} --help`
  const error = new UsageError(`Unknown command "${config.bin} ${typed}".${suggestion ? ` Did you mean "${config.bin} ${spaced(suggestion)}"?` : ''}`, {
    hint: `Run \`${helpCommand}\` for the list of commands.`,
    ...(suggestion ? {details: {suggestion: spaced(suggestion)}} : {}),
  })
  const argv = [...(options.argv ?? []), ...process.argv.slice(2)]
  new Output({json: argv.includes('--json'), verbose: false}).error(error)
  this.exit(error.exitCode)
}

export default hook

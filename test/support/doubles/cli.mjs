// Command lookup shared by the doubles: cobra's Find (sub-command words among flags) and the
// assembly of each command's accepted flags (local + persistent + help), from the contract facts.
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

export function loadFacts(cli) {
  return JSON.parse(readFileSync(join(here, 'contracts', `${cli}.json`), 'utf8'))
}

/**
 * The leading sub-command words of argv with their indexes, skipping flags like cobra's
 * stripFlags: a `--flag`/`-f` that is not a known bool swallows the next word.
 */
export function commandWords(argv, boolLong, boolShort) {
  const words = []
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i]
    if (s === '--') break
    if (s.startsWith('--')) {
      if (!s.includes('=') && !boolLong.has(s.slice(2))) i++
    } else if (s.startsWith('-') && s.length > 1) {
      if (!s.includes('=') && s.length === 2 && !boolShort.has(s[1])) i++
    } else {
      words.push({word: s, index: i})
    }
  }
  return words
}

export function boolSets(flags) {
  return {
    long: new Set(flags.filter((f) => f.type === 'bool').map((f) => f.name)),
    short: new Set(flags.filter((f) => f.type === 'bool' && f.shorthand).map((f) => f.shorthand)),
  }
}

/** argv without the words at the given indexes (cobra's argsMinusFirstX, per level). */
export function withoutIndexes(argv, indexes) {
  const drop = new Set(indexes)
  return argv.filter((_, i) => !drop.has(i))
}

export function fill(template, values) {
  return template.replaceAll(/\{(\w+)\}/gu, (m, key) => (key in values ? String(values[key]) : m))
}

// A cobra/pflag-compatible argument parser for the vcluster and argocd test doubles.
// It mirrors spf13/pflag v1.0.10 + cobra v1.10.2 closely enough that the doubles reject
// exactly what the real CLIs reject, with the same error text (contracts/*.json → parsing, errors).

/** An error that cobra/pflag would return from flag parsing or argument validation. */
export class FlagError extends Error {}

/** Thrown when -h/--help was given: cobra prints help and exits 0. */
export class HelpRequested extends Error {
  constructor() {
    super('help requested')
  }
}

const GO_INT = /^[+-]?(0[xX][0-9a-fA-F](_?[0-9a-fA-F])*|0[oO][0-7](_?[0-7])*|0[bB][01](_?[01])*|0(_?[0-7])*|[1-9](_?[0-9])*)$/u
const GO_UINT = /^(0[xX][0-9a-fA-F](_?[0-9a-fA-F])*|0[oO][0-7](_?[0-7])*|0[bB][01](_?[01])*|0(_?[0-7])*|[1-9](_?[0-9])*)$/u
const GO_DURATION = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/u
const DURATION_UNITS = {ns: 1e-9, us: 1e-6, µs: 1e-6, μs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600}

/** Go's strconv.ParseInt(s, 0, 64): base prefixes and underscores (only with a prefix or base 0). */
export function parseGoInt(value, unsigned = false) {
  if (!(unsigned ? GO_UINT : GO_INT).test(value)) {
    return {error: `strconv.${unsigned ? 'ParseUint' : 'ParseInt'}: parsing ${goQuote(value)}: invalid syntax`}
  }
  const clean = value.replaceAll('_', '')
  const negative = clean.startsWith('-')
  const body = clean.replace(/^[+-]/u, '')
  let n
  if (/^0[xXoObB]/u.test(body)) n = BigInt(body.toLowerCase())
  else if (body.length > 1 && body.startsWith('0')) n = BigInt(`0o${body.slice(1)}`)
  else n = BigInt(body)
  if (negative) n = -n
  const max = unsigned ? 2n ** 64n - 1n : 2n ** 63n - 1n
  const min = unsigned ? 0n : -(2n ** 63n)
  if (n > max || n < min) return {error: `strconv.${unsigned ? 'ParseUint' : 'ParseInt'}: parsing ${goQuote(value)}: value out of range`}
  return {value: Number(n)}
}

/** Go's time.ParseDuration, returning seconds. */
export function parseGoDuration(value) {
  if (value === '0' || value === '+0' || value === '-0') return {value: 0}
  if (!GO_DURATION.test(value)) {
    if (/^[-+]?(\d+(\.\d*)?|\.\d+)$/u.test(value)) return {error: `time: missing unit in duration ${goQuote(value)}`}
    const unit = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)([^\d.]+)/u.exec(value)
    if (unit && !(unit[1] in DURATION_UNITS) && !/[\d.]/u.test(unit[1])) return {error: `time: unknown unit ${goQuote(unit[1])} in duration ${goQuote(value)}`}
    return {error: `time: invalid duration ${goQuote(value)}`}
  }
  let seconds = 0
  for (const m of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gu)) seconds += Number(m[1]) * DURATION_UNITS[m[2]]
  return {value: value.startsWith('-') ? -seconds : seconds}
}

const GO_BOOL = {1: true, t: true, T: true, TRUE: true, true: true, True: true, 0: false, f: false, F: false, FALSE: false, false: false, False: false}

/** Go's %q for the ASCII values tests use (JSON string escaping is the same for them). */
export function goQuote(value) {
  return JSON.stringify(value)
}

/** encoding/csv reading of one line, as pflag's stringSlice does. */
function readCsv(value) {
  if (value === '') return []
  const out = []
  let field = ''
  let quoted = false
  let i = 0
  let atStart = true
  while (i < value.length) {
    const ch = value[i]
    if (quoted) {
      if (ch === '"' && value[i + 1] === '"') { field += '"'; i += 2; continue }
      if (ch === '"') { quoted = false; i++; continue }
      field += ch
    } else if (ch === '"' && atStart) {
      quoted = true
    } else if (ch === ',') {
      out.push(field); field = ''; atStart = true; i++; continue
    } else {
      field += ch
    }
    atStart = false
    i++
  }
  if (quoted) throw new FlagError(`parse error on line 1, column ${value.length + 1}: extraneous or missing " in quoted-field`)
  out.push(field)
  return out
}

/** Render a flag as pflag does in "invalid argument" errors. */
function flagLabel(flag) {
  return flag.shorthand ? `-${flag.shorthand}, --${flag.name}` : `--${flag.name}`
}

/**
 * One set of flags (a command's local + inherited + help), parsed like pflag.FlagSet.Parse
 * with interspersed flags on.
 */
export class FlagSet {
  /** @param {Array<{name:string, shorthand?:string|null, type:string, default:any, deprecated?:boolean, deprecationWarning?:string}>} flags */
  constructor(flags) {
    this.byName = new Map()
    this.byShort = new Map()
    for (const flag of flags) {
      if (this.byName.has(flag.name)) continue
      this.byName.set(flag.name, flag)
      if (flag.shorthand && !this.byShort.has(flag.shorthand)) this.byShort.set(flag.shorthand, flag)
    }
    this.values = {}
    this.changed = new Set()
    this.warnings = []
    for (const flag of this.byName.values()) this.values[flag.name] = cloneDefault(flag)
  }

  /** Whether a flag takes no value (pflag NoOptDefVal): only bools here. */
  isBool(name) {
    return this.byName.get(name)?.type === 'bool'
  }

  set(flag, raw) {
    const {name, type} = flag
    const fail = (cause) => {
      throw new FlagError(`invalid argument ${goQuote(raw)} for ${goQuote(flagLabel(flag))} flag: ${cause}`)
    }
    switch (type) {
      case 'bool': {
        if (!(raw in GO_BOOL)) fail(`strconv.ParseBool: parsing ${goQuote(raw)}: invalid syntax`)
        this.values[name] = GO_BOOL[raw]
        break
      }
      case 'int':
      case 'int64':
      case 'uint': {
        const r = parseGoInt(raw, type === 'uint')
        if (r.error) fail(r.error)
        this.values[name] = r.value
        break
      }
      case 'duration': {
        const r = parseGoDuration(raw)
        if (r.error) fail(r.error)
        this.values[name] = r.value
        break
      }
      case 'stringArray': {
        this.values[name] = this.changed.has(name) ? [...this.values[name], raw] : [raw]
        break
      }
      case 'stringSlice': {
        let parts
        try {
          parts = readCsv(raw)
        } catch (error) {
          fail(error.message)
        }
        this.values[name] = this.changed.has(name) ? [...this.values[name], ...parts] : parts
        break
      }
      case 'int64Slice': {
        const parts = readCsv(raw).map((p) => {
          const r = parseGoInt(p.trim())
          if (r.error) fail(r.error)
          return r.value
        })
        this.values[name] = this.changed.has(name) ? [...this.values[name], ...parts] : parts
        break
      }
      default:
        this.values[name] = raw
    }
    this.changed.add(name)
    if (flag.deprecated) this.warnings.push(flag.deprecationWarning ?? `Flag --${name} has been deprecated`)
  }

  /** Parse argv; returns the positional arguments. Throws FlagError or HelpRequested. */
  parse(argv) {
    const positional = []
    let args = [...argv]
    let help = false
    while (args.length > 0) {
      const s = args.shift()
      if (s.length === 0 || s[0] !== '-' || s.length === 1) {
        positional.push(s)
        continue
      }
      if (s === '--') {
        positional.push(...args)
        this.dashIndex = positional.length - args.length
        args = []
        break
      }
      if (s.startsWith('--')) {
        const body = s.slice(2)
        if (body.length === 0 || body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${s}`)
        const eq = body.indexOf('=')
        const name = eq === -1 ? body : body.slice(0, eq)
        const flag = this.byName.get(name)
        if (!flag) {
          if (name === 'help') { help = true; continue }
          throw new FlagError(`unknown flag: --${name}`)
        }
        if (eq !== -1) this.set(flag, body.slice(eq + 1))
        else if (flag.type === 'bool') this.set(flag, 'true')
        else if (args.length > 0) this.set(flag, args.shift())
        else throw new FlagError(`flag needs an argument: ${s}`)
        if (name === 'help' && this.values.help) help = true
        continue
      }
      // Shorthand cluster: -abc, -nvalue, -n value, -n=value
      let shorthands = s.slice(1)
      while (shorthands.length > 0) {
        const c = shorthands[0]
        const flag = this.byShort.get(c)
        if (!flag) {
          if (c === 'h') { help = true; shorthands = shorthands.slice(1); continue }
          throw new FlagError(`unknown shorthand flag: '${c}' in -${shorthands}`)
        }
        if (shorthands.length > 2 && shorthands[1] === '=') {
          this.set(flag, shorthands.slice(2))
          shorthands = ''
        } else if (flag.type === 'bool') {
          this.set(flag, 'true')
          shorthands = shorthands.slice(1)
        } else if (shorthands.length > 1) {
          this.set(flag, shorthands.slice(1))
          shorthands = ''
        } else if (args.length > 0) {
          this.set(flag, args.shift())
          shorthands = ''
        } else {
          throw new FlagError(`flag needs an argument: '${c}' in -${shorthands}`)
        }
        if (flag.name === 'help' && this.values.help) help = true
      }
    }
    if (help) throw new HelpRequested()
    return positional
  }
}

function cloneDefault(flag) {
  const d = flag.default
  if (flag.type === 'duration') return typeof d === 'string' ? parseGoDuration(d).value ?? 0 : d
  return Array.isArray(d) ? [...d] : d
}

/**
 * cobra's stripFlags + Find: the leading words of argv that name a sub-command, skipping flags
 * (a non-bool `--flag`/`-f` without `=` swallows the next word, as cobra assumes).
 */
export function nonFlagWords(argv, boolFlagNames = new Set(), boolShorts = new Set()) {
  const words = []
  const args = [...argv]
  while (args.length > 0) {
    const s = args.shift()
    if (s === '--') break
    if (s.startsWith('--') && !s.includes('=') && !boolFlagNames.has(s.slice(2))) args.shift()
    else if (s.startsWith('-') && !s.startsWith('--') && !s.includes('=') && s.length === 2 && !boolShorts.has(s[1])) args.shift()
    else if (s !== '' && !s.startsWith('-')) words.push(s)
  }
  return words
}

/** Levenshtein distance, for cobra's "Did you mean this?" suggestions (distance <= 2 or prefix). */
export function suggestionsFor(typed, names) {
  const dist = (a, b) => {
    const dp = Array.from({length: a.length + 1}, (_, i) => [i, ...Array(b.length).fill(0)])
    for (let j = 1; j <= b.length; j++) dp[0][j] = j
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1))
      }
    }
    return dp[a.length][b.length]
  }
  return names.filter((name) => dist(typed, name) <= 2 || name.toLowerCase().startsWith(typed.toLowerCase()))
}

/** A plain help text built from the contract facts (usage prose is deliberately not copied). */
export function renderHelp(useLine, flags) {
  const lines = ['Usage:', `  ${useLine}`, '', 'Flags:']
  for (const f of flags) {
    if (f.hidden) continue
    const short = f.shorthand ? `-${f.shorthand}, ` : '    '
    const type = f.type === 'bool' ? '' : ` ${f.type}`
    lines.push(`  ${short}--${f.name}${type}`)
  }
  return `${lines.join('\n')}\n`
}

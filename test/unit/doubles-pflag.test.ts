import {describe, expect, it} from 'vitest'
import {FlagError, FlagSet, HelpRequested, parseGoDuration, parseGoInt} from '../support/doubles/pflag.mjs'

const flags = [
  {name: 'namespace', shorthand: 'n', type: 'string', default: ''},
  {name: 'connect', shorthand: null, type: 'bool', default: true},
  {name: 'silent', shorthand: 's', type: 'bool', default: false},
  {name: 'debug', shorthand: 'd', type: 'bool', default: false},
  {name: 'values', shorthand: 'f', type: 'stringArray', default: []},
  {name: 'labels', shorthand: 'l', type: 'stringSlice', default: []},
  {name: 'local-port', shorthand: null, type: 'int', default: 0},
  {name: 'timeout', shorthand: null, type: 'uint', default: 0},
  {name: 'backoff', shorthand: null, type: 'duration', default: '5s'},
  {name: 'old', shorthand: null, type: 'string', default: '', deprecated: true, deprecationWarning: 'Flag --old has been deprecated, use --new'},
  {name: 'help', shorthand: 'h', type: 'bool', default: false},
]

function parse(argv: string[]) {
  const fs = new FlagSet(flags)
  const args = fs.parse(argv)
  return {args, values: fs.values, changed: fs.changed, warnings: fs.warnings}
}

describe('pflag-compatible parser', () => {
  it('accepts flags anywhere and stops at --', () => {
    const r = parse(['a', '-n', 'ns', 'b', '--', '-n', 'x'])
    expect(r.args).toEqual(['a', 'b', '-n', 'x'])
    expect(r.values.namespace).toBe('ns')
  })

  it('takes values as --f=v, --f v, -fv, -f v and -f=v', () => {
    expect(parse(['--namespace=a']).values.namespace).toBe('a')
    expect(parse(['--namespace', 'b']).values.namespace).toBe('b')
    expect(parse(['-nc']).values.namespace).toBe('c')
    expect(parse(['-n', 'd']).values.namespace).toBe('d')
    expect(parse(['-n=e']).values.namespace).toBe('e')
  })

  it('sets bools only with --f or --f=false; `--f false` leaves a positional', () => {
    expect(parse(['--connect=false']).values.connect).toBe(false)
    const quirk = parse(['--connect', 'false'])
    expect(quirk.values.connect).toBe(true)
    expect(quirk.args).toEqual(['false'])
    expect(parse(['-sd']).values).toMatchObject({silent: true, debug: true})
    expect(() => parse(['--connect=maybe'])).toThrow('invalid argument "maybe" for "--connect" flag: strconv.ParseBool: parsing "maybe": invalid syntax')
  })

  it('appends stringArray verbatim and splits stringSlice on commas', () => {
    expect(parse(['-f', 'a,b', '--values', 'c']).values.values).toEqual(['a,b', 'c'])
    expect(parse(['-l', 'a=1,b=2', '--labels', 'c=3']).values.labels).toEqual(['a=1', 'b=2', 'c=3'])
  })

  it('validates int, uint and duration with Go error texts', () => {
    expect(() => parse(['--local-port', 'abc'])).toThrow('invalid argument "abc" for "--local-port" flag: strconv.ParseInt: parsing "abc": invalid syntax')
    expect(() => parse(['--timeout=-1'])).toThrow('invalid argument "-1" for "--timeout" flag: strconv.ParseUint: parsing "-1": invalid syntax')
    expect(() => parse(['--backoff', 'abc'])).toThrow('invalid argument "abc" for "--backoff" flag: time: invalid duration "abc"')
    expect(parse(['--local-port', '0x10']).values['local-port']).toBe(16)
    expect(parse(['--backoff', '1m30s']).values.backoff).toBe(90)
    expect(parse([]).values.backoff).toBe(5)
    expect(parseGoInt('9223372036854775808').error).toBe('strconv.ParseInt: parsing "9223372036854775808": value out of range')
    expect(parseGoDuration('10').error).toBe('time: missing unit in duration "10"')
  })

  it('renders the shorthand in invalid-argument errors', () => {
    const fs = new FlagSet([{name: 'replicas', shorthand: 'r', type: 'int', default: 1}])
    expect(() => fs.parse(['-r', 'x'])).toThrow('invalid argument "x" for "-r, --replicas" flag: strconv.ParseInt: parsing "x": invalid syntax')
  })

  it('reports unknown flags and missing values like pflag', () => {
    expect(() => parse(['--nope'])).toThrow(new FlagError('unknown flag: --nope'))
    expect(() => parse(['-sx'])).toThrow("unknown shorthand flag: 'x' in -x")
    expect(() => parse(['--namespace'])).toThrow('flag needs an argument: --namespace')
    expect(() => parse(['-n'])).toThrow("flag needs an argument: 'n' in -n")
    expect(() => parse(['---x'])).toThrow('bad flag syntax: ---x')
  })

  it('warns on deprecated flags and signals help', () => {
    expect(parse(['--old', 'v']).warnings).toEqual(['Flag --old has been deprecated, use --new'])
    expect(() => parse(['x', '-h'])).toThrow(HelpRequested)
    expect(() => parse(['--help'])).toThrow(HelpRequested)
  })
})

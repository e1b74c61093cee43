// The idp GitHub Action (action.yml at the repository root): runs one idp command with --json
// and hands its result to the steps after it as outputs (url, kubeconfig, expires-at, ...).
//
// Which idp it runs: this repository's own built CLI when it has one (a checkout that ran
// `npm ci && npm run build`, as the tests do), else the release named by the inputs, installed
// from npm into the runner's tool cache: `package`@`version`, by default this action's own
// package.json name and version, so `uses: OWNER/idp@v0.1.0` runs exactly idp-cli@0.1.0. dist/ is
// built, never committed, and the CLI loads its commands lazily from many files: a single-file
// bundle would be a second build of the CLI to keep in step; the npm release is the same artifact
// the pinned-install workflow runs.
//
// The command is split into arguments here (quotes allowed) and never given to a shell, so an
// expression such as ${{ github.head_ref }} in it cannot run code. Plain JavaScript with no
// dependencies: the runner starts this file as it is, with its own Node (runs.using).
import {spawn} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const ACTION_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The action's inputs as the runner passes them: INPUT_<NAME>, spaces as "_", upper case. */
export function getInput(env, name) {
  return (env[`INPUT_${name.replace(/ /gu, '_').toUpperCase()}`] ?? '').trim()
}

export class ActionError extends Error {
  constructor(message, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

/**
 * "env up --pr 42" → ['env', 'up', '--pr', '42']: whitespace separates, '...' is literal, "..."
 * keeps \" and \\, a backslash outside quotes escapes the next character. No variables, globs or
 * operators: nothing here is a shell.
 */
export function splitCommand(text) {
  const args = []
  let current = ''
  let started = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (/\s/u.test(c)) {
      if (started) args.push(current)
      current = ''
      started = false
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1)
      if (end < 0) throw new ActionError(`The command has an unterminated ' quote: ${text}`, 2)
      current += text.slice(i + 1, end)
      started = true
      i = end
    } else if (c === '"') {
      let j = i + 1
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && (text[j + 1] === '"' || text[j + 1] === '\\')) j++
        current += text[j]
      }
      if (j >= text.length) throw new ActionError(`The command has an unterminated " quote: ${text}`, 2)
      started = true
      i = j
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i]
      started = true
    } else {
      current += c
      started = true
    }
  }
  if (started) args.push(current)
  return args
}

/** The idp argv for the `command` input: without a leading "idp", with --json. */
export function commandArgs(command) {
  const args = splitCommand(command)
  if (args[0] === 'idp') args.shift()
  if (args.length === 0) throw new ActionError('The command input is empty: name an idp command, e.g. "env up --pr 42".', 2)
  if (!args.includes('--json')) args.push('--json')
  return args
}

const EXACT_VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/u
const PACKAGE_NAME = /^(@[a-z0-9][-a-z0-9._~]*\/)?[a-z0-9][-a-z0-9._~]*$/u

/** The npm package this action runs when it has no built CLI: name@exact-version. */
export function packageSpec(env, root = ACTION_ROOT) {
  const own = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  const name = getInput(env, 'package') || own.name
  const version = (getInput(env, 'version') || own.version).replace(/^v/u, '')
  if (!PACKAGE_NAME.test(name)) throw new ActionError(`The package input "${name}" is not an npm package name (e.g. idp-cli or @acme/idp-cli).`, 2)
  if (!EXACT_VERSION.test(version)) throw new ActionError(`The version input "${version}" is not an exact version: pin one release, e.g. ${own.version}.`, 2)
  return {name, version, spec: `${name}@${version}`, own: name === own.name && version === own.version}
}

/** bin/run.js of this checkout when it is built (dist/ and the oclif manifest), else undefined. */
export function builtCli(root = ACTION_ROOT) {
  const ok = existsSync(path.join(root, 'dist', 'commands')) && existsSync(path.join(root, 'oclif.manifest.json'))
  return ok ? path.join(root, 'bin', 'run.js') : undefined
}

function run(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options)
    const forward = (signal) => child.kill(signal)
    process.on('SIGINT', forward)
    process.on('SIGTERM', forward)
    let stdout = ''
    child.stdout?.on('data', (chunk) => (stdout += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
      resolve({code: code ?? (signal === 'SIGINT' ? 130 : 1), stdout})
    })
  })
}

/** Install name@version into the tool cache once per runner; returns its bin/run.js. */
async function installCli(pkg, env) {
  const base = env.RUNNER_TOOL_CACHE || env.RUNNER_TEMP || os.tmpdir()
  const prefix = path.join(base, 'idp', pkg.spec.replace(/[^\w.@-]/gu, '_'))
  const runJs = path.join(prefix, 'node_modules', ...pkg.name.split('/'), 'bin', 'run.js')
  if (existsSync(runJs)) return runJs
  mkdirSync(prefix, {recursive: true})
  console.log(`Installing ${pkg.spec} from ${env.NPM_CONFIG_REGISTRY || env.npm_config_registry || 'the npm registry'}`)
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const args = ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', pkg.spec]
  // npm's output is progress for the log: stdout joins stderr.
  const {code} = await run(npm, args, {env, stdio: ['ignore', 'inherit', 'inherit'], shell: process.platform === 'win32'}).catch((error) => ({code: `${error.message}`}))
  if (code !== 0 || !existsSync(runJs)) {
    throw new ActionError(`Could not install ${pkg.spec} (npm ${args.join(' ')} exited ${code}).`, 1)
  }
  return runJs
}

/** `value` escaped for a workflow command's message (%, CR, LF). */
export function escapeData(value) {
  return String(value).replace(/%/gu, '%25').replace(/\r/gu, '%0D').replace(/\n/gu, '%0A')
}

/** `value` escaped for a workflow command's property (also ":" and ","). */
export function escapeProperty(value) {
  return escapeData(value).replace(/:/gu, '%3A').replace(/,/gu, '%2C')
}

/** An argument as the log shows it: as it is when plainly safe, else as a JSON string (no raw CR, LF or control characters). */
export function displayArg(arg) {
  return /^[\w@%+=:,./-]+$/u.test(arg) ? arg : JSON.stringify(arg)
}

/**
 * Log lines that hold text from outside (the command's arguments, idp's results) so that the
 * runner takes no workflow command from them: each line on one line (no CR or LF: a newline
 * could start a `::command::`), between `::stop-commands::TOKEN` and `::TOKEN::` with a random
 * token, during which the runner runs no command (also no legacy `##[...]` one).
 */
export function logUntrusted(lines, write = (line) => console.log(line)) {
  const token = `idp-${randomUUID()}`
  write(`::stop-commands::${token}`)
  for (const line of lines) write(String(line).replace(/\r\n|\r|\n/gu, ' '))
  write(`::${token}::`)
}

/**
 * Outputs in $GITHUB_OUTPUT's multi-line syntax: name<<DELIMITER, the value, DELIMITER, with a
 * delimiter found in neither (what @actions/core writes).
 */
export function formatOutputs(outputs) {
  let text = ''
  for (const [name, value] of Object.entries(outputs)) {
    if (value === undefined || value === null) continue
    const delimiter = `ghadelimiter_${randomUUID()}`
    const data = String(value)
    if (name.includes(delimiter) || data.includes(delimiter)) throw new ActionError(`Output ${name} contains its delimiter.`, 1)
    text += `${name}<<${delimiter}${os.EOL}${data}${os.EOL}${delimiter}${os.EOL}`
  }
  return text
}

/** The outputs of a command's --json result: only names, paths, addresses and times, never a credential. */
export function resultOutputs(envelope, resultFile) {
  const result = envelope && typeof envelope.result === 'object' && envelope.result !== null ? envelope.result : {}
  const pick = (value) => (typeof value === 'string' || typeof value === 'number' ? value : undefined)
  return {
    url: pick(result.url),
    kubeconfig: pick(result.kubeconfig),
    'expires-at': pick(result.expiresAt),
    environment: pick(result.env),
    status: pick(envelope?.status),
    result: resultFile,
  }
}

export async function main(env = process.env) {
  const args = commandArgs(getInput(env, 'command'))
  const cwd = path.resolve(env.GITHUB_WORKSPACE || process.cwd(), getInput(env, 'working-directory') || '.')
  if (!existsSync(cwd)) throw new ActionError(`The working-directory ${cwd} does not exist.`, 2)
  const pkg = packageSpec(env)
  const local = pkg.own ? builtCli() : undefined
  // The inputs are this action's, not idp's: they stay out of its environment.
  const childEnv = Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('INPUT_')))
  childEnv.CI ||= 'true'
  const runJs = local ?? (await installCli(pkg, childEnv))
  logUntrusted([`idp ${args.map(displayArg).join(' ')}   (${local ? `the built CLI in ${ACTION_ROOT}` : pkg.spec}, in ${displayArg(cwd)})`])

  // stdout is the --json document; stderr (progress, warnings, errors) goes to the log as it comes.
  const {code, stdout} = await run(process.execPath, [runJs, ...args], {cwd, env: childEnv, stdio: ['ignore', 'pipe', 'inherit']})
  let envelope
  try {
    envelope = JSON.parse(stdout)
  } catch {
    throw new ActionError(`idp ${args.slice(0, 2).join(' ')} exited ${code} without a JSON result on stdout.`, code || 1)
  }
  const resultFile = path.join(env.RUNNER_TEMP || os.tmpdir(), `idp-result-${randomUUID()}.json`)
  writeFileSync(resultFile, `${JSON.stringify(envelope, null, 2)}\n`, {mode: 0o600})
  for (const warning of envelope.warnings ?? []) console.log(`::warning title=idp::${escapeData(warning)}`)

  const outputs = resultOutputs(envelope, resultFile)
  if (env.GITHUB_OUTPUT) appendFileSync(env.GITHUB_OUTPUT, formatOutputs(outputs))
  else console.log('::warning title=idp::GITHUB_OUTPUT is not set (not on a GitHub Actions runner): no outputs written.')

  if (code !== 0 || envelope.status !== 0) {
    const error = envelope.error ?? {}
    const message = [error.message ?? `exited ${code}`, error.hint ? `Hint: ${error.hint}` : ''].filter(Boolean).join('\n')
    console.log(`::error title=${escapeProperty(`idp ${args.slice(0, 2).join(' ')}`)}::${escapeData(message)}`)
    return code || envelope.status || 1
  }
  logUntrusted(Object.entries(outputs).filter(([name, value]) => value !== undefined && name !== 'result' && name !== 'status').map(([name, value]) => `  ${name}: ${displayArg(String(value))}`))
  return 0
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => (process.exitCode = code),
    (error) => {
      const exitCode = error instanceof ActionError ? error.exitCode : 1
      console.log(`::error title=idp::${escapeData(error instanceof Error ? error.message : String(error))}`)
      process.exitCode = exitCode
    },
  )
}

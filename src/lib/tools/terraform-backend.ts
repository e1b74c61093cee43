/**
 * Which backend a Terraform root module declares, read from its files the way Terraform reads
 * them, without running terraform (init would already need the answer: idp passes
 * -backend-config only to the partial `backend "kubernetes" {}` it configures).
 *
 * What is read: the module directory's `*.tf` and `*.tf.json` files (not subdirectories, and not
 * the names Terraform ignores: a leading `.`, a trailing `~`, `#...#`), override files
 * (`override.tf`, `*_override.tf`, and their `.tf.json`) last, so their backend wins as in
 * Terraform. In `.tf` files a small HCL lexer skips comments (`#`, `//`, `/* *\/`), quoted
 * strings with their `${...}`/`%{...}` templates, and heredocs, and follows brace nesting, so a
 * `backend` word in a comment, a string or a nested block is not taken for one; only a top-level
 * `terraform { backend "TYPE" { ... } }` (or `cloud { ... }`) counts. `.tf.json` files are parsed
 * as JSON. The backend's label may be quoted (`backend "s3"`) or not (`backend s3`), as HCL
 * allows. Limits: it does not validate the HCL (terraform init reports a broken file itself).
 */
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'

export interface DeclaredBackend {
  /** The backend type (`kubernetes`, `s3`, `local`, ...), or `cloud` for a `cloud {}` block. */
  type: string
  /** The file it is declared in (relative to the module). */
  file: string
  /** The block has no attributes: a partial configuration for the one running init to fill. */
  empty: boolean
}

function ignoredFile(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || (name.startsWith('#') && name.endsWith('#'))
}

function isOverride(name: string): boolean {
  const base = name.replace(/\.tf(\.json)?$/u, '')
  return base === 'override' || base.endsWith('_override')
}

/** The backend the module in `dir` declares, or undefined when it declares none (Terraform then uses local state). */
export async function declaredBackend(dir: string): Promise<DeclaredBackend | undefined> {
  const names = (await readdir(dir, {withFileTypes: true}))
    .filter((entry) => entry.isFile() && /\.tf(\.json)?$/u.test(entry.name) && !ignoredFile(entry.name))
    .map((entry) => entry.name)
    .sort()
  const ordered = [...names.filter((n) => !isOverride(n)), ...names.filter((n) => isOverride(n))]
  let found: DeclaredBackend | undefined
  for (const name of ordered) {
    const text = await readFile(path.join(dir, name), 'utf8')
    const backend = name.endsWith('.json') ? backendInJson(text) : backendInHcl(text)
    if (backend) found = {...backend, file: name}
  }
  return found
}

type Found = Omit<DeclaredBackend, 'file'>

function backendInJson(text: string): Found | undefined {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return undefined
  }
  const list = (value: unknown): Array<Record<string, unknown>> =>
    (Array.isArray(value) ? value : [value]).filter((v): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v))
  let found: Found | undefined
  for (const block of list((doc as Record<string, unknown> | undefined)?.terraform)) {
    for (const backends of list(block.backend)) {
      for (const [type, body] of Object.entries(backends)) found = {type, empty: list(body).every((b) => Object.keys(b).length === 0)}
    }
    if (block.cloud !== undefined) found = {type: 'cloud', empty: false}
  }
  return found
}

interface Token {
  kind: 'word' | 'string' | '{' | '}' | 'other'
  text: string
}

/** HCL tokens that matter for block structure: identifiers, quoted strings (their text), braces. */
export function hclTokens(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const n = text.length
  // Skips a quoted string starting at text[i] === '"'; returns its raw text between the quotes.
  const readString = (): string => {
    const start = ++i
    while (i < n) {
      const c = text[i]
      if (c === '\\') i += 2
      else if (c === '"') break
      else if ((c === '$' || c === '%') && text[i + 1] === '{') {
        i += 2
        skipCode(1)
      } else i++
    }
    const value = text.slice(start, i)
    i++
    return value
  }
  // Skips code (inside a template interpolation) until its braces close.
  const skipCode = (depth: number): void => {
    while (i < n && depth > 0) {
      const c = text[i]
      if (c === '"') readString()
      else if (c === '{') {
        depth++
        i++
      } else if (c === '}') {
        depth--
        i++
      } else i++
    }
  }
  while (i < n) {
    const c = text[i]!
    if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < n && text[i] !== '\n') i++
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end === -1 ? n : end + 2
    } else if (c === '"') {
      tokens.push({kind: 'string', text: readString()})
    } else if (c === '<' && text[i + 1] === '<') {
      const heredoc = /^<<(-?)([A-Za-z_][\w-]*)[ \t]*\r?\n/u.exec(text.slice(i))
      if (!heredoc) {
        tokens.push({kind: 'other', text: '<<'})
        i += 2
        continue
      }
      const marker = heredoc[2]!
      i += heredoc[0].length
      // The heredoc ends at a line holding only its marker (indented with <<-).
      for (;;) {
        const eol = text.indexOf('\n', i)
        const line = text.slice(i, eol === -1 ? n : eol)
        i = eol === -1 ? n : eol + 1
        if (line.trim() === marker || i >= n) break
      }
    } else if (c === '{' || c === '}') {
      tokens.push({kind: c, text: c})
      i++
    } else if (/[A-Za-z_]/u.test(c)) {
      const word = /^[A-Za-z_][\w-]*/u.exec(text.slice(i, i + 256))![0]
      tokens.push({kind: 'word', text: word})
      i += word.length
    } else if (/\s/u.test(c)) {
      i++
    } else {
      tokens.push({kind: 'other', text: c})
      i++
    }
  }
  return tokens
}

function backendInHcl(text: string): Found | undefined {
  const tokens = hclTokens(text)
  let found: Found | undefined
  let depth = 0
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t]!
    if (token.kind === '{') depth++
    else if (token.kind === '}') depth = Math.max(0, depth - 1)
    else if (depth === 0 && token.kind === 'word' && token.text === 'terraform' && tokens[t + 1]?.kind === '{') {
      // Inside the top-level terraform block: its direct `backend "TYPE" {` and `cloud {` blocks.
      let inner = 0
      for (t += 1; t < tokens.length; t++) {
        const k = tokens[t]!
        if (k.kind === '{') inner++
        else if (k.kind === '}') {
          inner--
          if (inner === 0) break
        } else if (inner === 1 && k.kind === 'word' && k.text === 'backend' && (tokens[t + 1]?.kind === 'string' || tokens[t + 1]?.kind === 'word') && tokens[t + 2]?.kind === '{') {
          // The label quoted (`backend "s3"`) or not (`backend s3`): HCL takes both, and so does Terraform.
          found = {type: tokens[t + 1]!.text, empty: tokens[t + 3]?.kind === '}'}
        } else if (inner === 1 && k.kind === 'word' && k.text === 'cloud' && tokens[t + 1]?.kind === '{') {
          found = {type: 'cloud', empty: tokens[t + 2]?.kind === '}'}
        }
      }
    }
  }
  return found
}

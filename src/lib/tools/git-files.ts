import {existsSync} from 'node:fs'
import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'

/**
 * What git answers about HEAD, read from the repository's own files instead of starting git: each
 * question is a process start, which cost more than the rest of `idp env up --dry-run` (issue 6).
 * Only the plain cases are read here (a `.git` directory or worktree file, loose or packed refs);
 * anything else answers `undefined`, and the caller asks git itself.
 */
export type GitHead =
  | {repository: false}
  /** `branch` is absent when HEAD is detached; `sha` is absent on a branch with no commit yet. */
  | {repository: true; branch?: string; sha?: string}

const OBJECT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/u

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch {
    return undefined
  }
}

/** The nearest directory at or above `dir` that holds `.git` (a directory, or a file in worktrees). */
export function gitRoot(dir: string): string | undefined {
  let current = path.resolve(dir)
  for (;;) {
    if (existsSync(path.join(current, '.git'))) return current
    const parent = path.dirname(current)
    if (parent === current) return undefined
    current = parent
  }
}

/** The git directory of the repository holding `dir`, as git finds it (a worktree's `.git` is a file). */
async function findGitDir(dir: string): Promise<string | false | undefined> {
  const root = gitRoot(dir)
  if (!root) return false
  const dotGit = path.join(root, '.git')
  const info = await stat(dotGit).catch(() => undefined)
  if (info?.isDirectory()) return dotGit
  const match = info?.isFile() ? /^gitdir: (.+)$/mu.exec((await readText(dotGit)) ?? '') : undefined
  return match ? path.resolve(root, match[1]!.trim()) : undefined
}

async function resolveRef(commonDir: string, ref: string): Promise<string | undefined> {
  const loose = (await readText(path.join(commonDir, ref)))?.trim()
  if (loose !== undefined) return OBJECT_ID.test(loose) ? loose : undefined
  for (const line of ((await readText(path.join(commonDir, 'packed-refs'))) ?? '').split('\n')) {
    const [id, name] = line.trim().split(' ')
    if (name === ref && id && OBJECT_ID.test(id)) return id
  }
  return undefined
}

export async function readGitHead(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<GitHead | undefined> {
  // Variables that change where git looks: leave those to git.
  if (env.GIT_DIR || env.GIT_WORK_TREE || env.GIT_COMMON_DIR || env.GIT_CEILING_DIRECTORIES || env.GIT_DISCOVERY_ACROSS_FILESYSTEM) return undefined
  const gitDir = await findGitDir(dir)
  if (gitDir === false) return {repository: false}
  if (!gitDir) return undefined
  const head = (await readText(path.join(gitDir, 'HEAD')))?.trim()
  if (!head) return undefined
  if (OBJECT_ID.test(head)) return {repository: true, sha: head}
  const ref = /^ref: (refs\/heads\/\S+)$/u.exec(head)?.[1]
  // reftable repositories point HEAD at refs/heads/.invalid; other symbolic targets are rare.
  if (!ref || ref === 'refs/heads/.invalid') return undefined
  const common = (await readText(path.join(gitDir, 'commondir')))?.trim()
  const commonDir = common ? path.resolve(gitDir, common) : gitDir
  const sha = await resolveRef(commonDir, ref)
  return {repository: true, branch: ref.slice('refs/heads/'.length), ...(sha ? {sha} : {})}
}

import type {RunOptions, ToolRunner} from './types.js'

/**
 * git argv builders (pure: planners embed their output in plan steps) and small run helpers.
 * Every builder returns the arguments after `git`.
 */
export interface GitIdentity {
  name: string
  email: string
}

/**
 * user.name and user.email as git's own config has them (system, global, repository; the last one
 * set wins, as in git), in one `git config` call. Either may be missing: a fresh machine has neither.
 */
export async function gitConfigIdentity(runner: ToolRunner, cwd: string): Promise<Partial<GitIdentity>> {
  let stdout: string
  try {
    // Exit 1: neither is set.
    ;({stdout} = await runner.run('git', ['config', '--get-regexp', String.raw`^user\.(name|email)$`], {cwd, allowedExitCodes: [0, 1]}))
  } catch {
    return {}
  }
  const found: Partial<GitIdentity> = {}
  for (const line of stdout.split('\n')) {
    const match = /^user\.(name|email) (.+)$/u.exec(line.trim())
    if (match) found[match[1] as keyof GitIdentity] = match[2]
  }
  return found
}

/** `-c user.name=… -c user.email=…` so a commit works on machines with no git identity. */
function identityArgs(identity?: GitIdentity): string[] {
  return identity ? ['-c', `user.name=${identity.name}`, '-c', `user.email=${identity.email}`] : []
}

export function gitInitArgs(options: {branch?: string} = {}): string[] {
  return ['init', '--initial-branch', options.branch ?? 'main']
}

export function gitAddAllArgs(): string[] {
  return ['add', '--all']
}

export function gitCommitArgs(options: {message: string; identity?: GitIdentity; allowEmpty?: boolean}): string[] {
  return [...identityArgs(options.identity), 'commit', '--quiet', ...(options.allowEmpty ? ['--allow-empty'] : []), '--message', options.message]
}

export function gitRemoteAddArgs(options: {name?: string; url: string}): string[] {
  return ['remote', 'add', options.name ?? 'origin', options.url]
}

export function gitPushArgs(options: {remote?: string; branch: string; setUpstream?: boolean}): string[] {
  return ['push', ...(options.setUpstream === false ? [] : ['--set-upstream']), options.remote ?? 'origin', options.branch]
}

export function gitRevParseArgs(ref = 'HEAD', options: {short?: boolean} = {}): string[] {
  return ['rev-parse', ...(options.short ? ['--short'] : []), '--verify', ref]
}

export function gitStatusPorcelainArgs(): string[] {
  return ['status', '--porcelain']
}

/** The commit HEAD points at (full sha). */
export async function gitHeadSha(runner: ToolRunner, cwd: string, options: RunOptions = {}): Promise<string> {
  const {stdout} = await runner.run('git', gitRevParseArgs('HEAD'), {...options, cwd})
  return stdout.trim()
}


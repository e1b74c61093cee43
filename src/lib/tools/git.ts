import type {RunOptions, ToolRunner} from './types.js'

/**
 * git argv builders (pure: planners embed their output in plan steps) and small run helpers.
 * Every builder returns the arguments after `git`.
 */
export interface GitIdentity {
  name: string
  email: string
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

export function gitCurrentBranchArgs(): string[] {
  return ['symbolic-ref', '--quiet', '--short', 'HEAD']
}

export function gitRemoteUrlArgs(remote = 'origin'): string[] {
  return ['remote', 'get-url', remote]
}

/** The commit HEAD points at (full sha). */
export async function gitHeadSha(runner: ToolRunner, cwd: string, options: RunOptions = {}): Promise<string> {
  const {stdout} = await runner.run('git', gitRevParseArgs('HEAD'), {...options, cwd})
  return stdout.trim()
}

/** Whether the work tree has uncommitted changes (tracked or untracked). */
export async function gitIsDirty(runner: ToolRunner, cwd: string, options: RunOptions = {}): Promise<boolean> {
  const {stdout} = await runner.run('git', gitStatusPorcelainArgs(), {...options, cwd})
  return stdout.trim() !== ''
}

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

/**
 * The git commands idp runs in a repository it creates (init, add, commit, remote, push) run no
 * hook: with `create --force` into an existing repository, .git/hooks holds whatever was there,
 * and a template must never get code run through idp's own commit (post-index-change,
 * post-commit and pre-push are not skipped by --no-verify).
 */
/**
 * The variables that tell git which repository to use instead of the working directory (git's
 * own list: `git rev-parse --local-env-vars`, what it clears when it enters a submodule). idp
 * always names the repository by the directory it works in (--dir, the new service), so a
 * GIT_DIR or GIT_WORK_TREE the shell happens to hold must not send a commit somewhere else.
 */
export const GIT_REPOSITORY_ENV = [
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_CONFIG',
  'GIT_CONFIG_PARAMETERS',
  'GIT_CONFIG_COUNT',
  'GIT_OBJECT_DIRECTORY',
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_IMPLICIT_WORK_TREE',
  'GIT_GRAFT_FILE',
  'GIT_INDEX_FILE',
  'GIT_NO_REPLACE_OBJECTS',
  'GIT_REPLACE_REF_BASE',
  'GIT_PREFIX',
  'GIT_INTERNAL_SUPER_PREFIX',
  'GIT_SHALLOW_FILE',
  'GIT_COMMON_DIR',
] as const

/**
 * The repository variables idp removes from the environment of a tool it runs: those `ambient`
 * (idp's environment, what the tool would inherit) holds, unless the action sets them itself.
 * Every tool, not only git: Terraform module sources, helm plugins and credential helpers run git
 * too. A printed command says `env -u` for each, so it runs as idp ran it.
 */
export function removedToolEnv(ambient: Record<string, string | undefined>, actionEnv: Record<string, string | undefined> = {}): string[] {
  return GIT_REPOSITORY_ENV.filter((name) => ambient[name] !== undefined && actionEnv[name] === undefined)
}

export const GIT_NO_HOOKS = ['-c', `core.hooksPath=${process.platform === 'win32' ? 'NUL' : '/dev/null'}`]

/**
 * The identity a commit records, as environment variables: git ranks GIT_AUTHOR_* and
 * GIT_COMMITTER_* in the environment above any config (`-c user.name` included), so an identity
 * idp was told to use goes there, and the shell's own variables cannot override it.
 */
export function gitIdentityEnv(identity: GitIdentity): Record<string, string> {
  return {GIT_AUTHOR_NAME: identity.name, GIT_AUTHOR_EMAIL: identity.email, GIT_COMMITTER_NAME: identity.name, GIT_COMMITTER_EMAIL: identity.email}
}

export function gitInitArgs(options: {branch?: string} = {}): string[] {
  return [...GIT_NO_HOOKS, 'init', '--initial-branch', options.branch ?? 'main']
}

export function gitAddAllArgs(): string[] {
  return [...GIT_NO_HOOKS, 'add', '--all']
}

export function gitCommitArgs(options: {message: string; identity?: GitIdentity; allowEmpty?: boolean}): string[] {
  return [...GIT_NO_HOOKS, ...identityArgs(options.identity), 'commit', '--quiet', '--no-verify', ...(options.allowEmpty ? ['--allow-empty'] : []), '--message', options.message]
}

export function gitRemoteAddArgs(options: {name?: string; url: string}): string[] {
  return [...GIT_NO_HOOKS, 'remote', 'add', options.name ?? 'origin', options.url]
}

export function gitPushArgs(options: {remote?: string; branch: string; setUpstream?: boolean}): string[] {
  return [...GIT_NO_HOOKS, 'push', '--no-verify', ...(options.setUpstream === false ? [] : ['--set-upstream']), options.remote ?? 'origin', options.branch]
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


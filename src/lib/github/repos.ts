import {UsageError} from '../cli/errors.js'
import {repositoryNameProblem} from '../cli/names.js'
import {registerSecret} from '../cli/redact.js'
import {DEFAULT_SERVER_URL, githubCall, hasStatus, toRemoteError, type GitHubClient} from './client.js'

export type RepositoryVisibility = 'private' | 'public' | 'internal'
export type OwnerType = 'User' | 'Organization'

export interface CreateRepositoryOptions {
  /** User or organization; default: the user the token belongs to. */
  owner?: string
  name: string
  visibility: RepositoryVisibility
  description?: string
}

export interface RepositoryInfo {
  owner: string
  name: string
  fullName: string
  htmlUrl: string
  cloneUrl: string
  defaultBranch: string
  ownerType: OwnerType
  visibility: RepositoryVisibility
}


/**
 * Create an empty repository (no auto-init, so the caller's first push decides the history) under the
 * authenticated user or an organization. Which endpoint applies is decided from GitHub's own view of the
 * owner, because an org and a user are both just "owner" in `.idp.yml`.
 */
export async function createRepository(client: GitHubClient, options: CreateRepositoryOptions): Promise<RepositoryInfo> {
  const problem = repositoryNameProblem(options.name)
  if (problem) throw new UsageError(`"${options.name}" is not a valid GitHub repository name: ${problem}.`, {hint: 'Service names are DNS labels (e.g. "shop-api"); use one as the repository name.'})

  const me = await githubCall('read the authenticated user', () => client.rest.users.getAuthenticated())
  const login = me.data.login
  const owner = options.owner ?? login
  const ownerType = owner.toLowerCase() === login.toLowerCase() ? 'User' : await ownerTypeOf(client, owner)
  const fullName = `${owner}/${options.name}`

  if (ownerType === 'User' && owner.toLowerCase() !== login.toLowerCase()) {
    throw new UsageError(`Cannot create ${fullName}: "${owner}" is another user's account, and the token belongs to "${login}".`, {
      hint: `Use an organization as the owner, leave the owner empty to create it under ${login}, or use ${owner}'s token.`,
    })
  }
  if (ownerType === 'User' && options.visibility === 'internal') {
    throw new UsageError(`Cannot create ${fullName} as internal: internal visibility exists only for organizations in an enterprise.`, {hint: 'Use --visibility private, or an organization owner.'})
  }

  const action = `create repository ${fullName}`
  const response =
    ownerType === 'User'
      ? await githubCall(action, () =>
          client.rest.repos.createForAuthenticatedUser({name: options.name, description: options.description, private: options.visibility !== 'public', auto_init: false}),
        )
      : await githubCall(action, () =>
          // Octokit's types follow github.com's schema, which omits `internal`; Enterprise Cloud and Server accept it.
          client.rest.repos.createInOrg({org: owner, name: options.name, description: options.description, visibility: options.visibility as 'public' | 'private', auto_init: false}),
        )
  return toInfo(response.data)
}

/** Delete a repository (the undo of createRepository). Returns false when it was already gone. */
export async function deleteRepository(client: GitHubClient, owner: string, name: string): Promise<boolean> {
  try {
    await client.rest.repos.delete({owner, repo: name})
    return true
  } catch (error) {
    if (hasStatus(error, 404)) return false
    const mapped = toRemoteError(error, `delete repository ${owner}/${name}`)
    if (hasStatus(error, 403)) mapped.hint = 'Deleting needs admin rights on the repository and, for classic tokens, the delete_repo scope (`gh auth refresh -s delete_repo`).'
    throw mapped
  }
}

export interface GitAuthEnvOptions {
  /** Limit the header to this host (e.g. GITHUB_SERVER_URL) so it never reaches submodules on other hosts. */
  serverUrl?: string
  /** The environment git will inherit, to append after any GIT_CONFIG_COUNT entries already there. */
  baseEnv?: NodeJS.ProcessEnv
}

/**
 * Environment variables that make `git push`/`git clone` over HTTPS authenticate with a token, the way
 * actions/checkout does: an `http.<url>.extraHeader` passed through GIT_CONFIG_COUNT, so the token is in
 * neither argv (visible in `ps`), the remote URL (printed by git and saved in .git/config), nor a file.
 */
export function gitAuthEnv(token: string, options: GitAuthEnvOptions = {}): Record<string, string> {
  if (!token) throw new UsageError('gitAuthEnv needs a token.', {hint: 'export GITHUB_TOKEN=... before pushing to GitHub.'})
  registerSecret(token)
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64')
  registerSecret(basic)
  const value = `Authorization: Basic ${basic}`
  registerSecret(value)
  const base = options.baseEnv ?? process.env
  const existing = Number.parseInt(base.GIT_CONFIG_COUNT ?? '0', 10)
  const index = Number.isInteger(existing) && existing > 0 ? existing : 0
  const scope = new URL(options.serverUrl ?? DEFAULT_SERVER_URL)
  const prefix = `${scope.origin}${scope.pathname.replace(/\/?$/u, '/')}`
  return {
    GIT_CONFIG_COUNT: String(index + 1),
    [`GIT_CONFIG_KEY_${index}`]: `http.${prefix}.extraHeader`,
    [`GIT_CONFIG_VALUE_${index}`]: value,
    // Never fall back to an interactive username/password prompt when the header is refused.
    GIT_TERMINAL_PROMPT: '0',
  }
}

interface RepoData {
  name: string
  full_name: string
  html_url: string
  clone_url?: string
  default_branch?: string
  private?: boolean
  visibility?: string
  owner: {login: string; type?: string} | null
}

function toInfo(data: RepoData): RepositoryInfo {
  const owner = data.owner?.login ?? data.full_name.split('/')[0] ?? ''
  const visibility = data.visibility === 'public' || data.visibility === 'private' || data.visibility === 'internal' ? data.visibility : data.private ? 'private' : 'public'
  return {
    owner,
    name: data.name,
    fullName: data.full_name,
    htmlUrl: data.html_url,
    cloneUrl: data.clone_url ?? `${data.html_url}.git`,
    // An empty repository reports the owner's default branch setting, which is what its first push should use.
    defaultBranch: data.default_branch ?? 'main',
    ownerType: data.owner?.type === 'Organization' ? 'Organization' : 'User',
    visibility,
  }
}

async function ownerTypeOf(client: GitHubClient, owner: string): Promise<OwnerType> {
  try {
    const response = await client.rest.users.getByUsername({username: owner})
    return response.data.type === 'Organization' ? 'Organization' : 'User'
  } catch (error) {
    const mapped = toRemoteError(error, `look up owner ${owner}`)
    if (hasStatus(error, 404)) {
      mapped.message = `GitHub has no user or organization named "${owner}" (404).`
      mapped.hint = 'Check repo.owner in .idp.yml (or --owner); for GitHub Enterprise check GITHUB_API_URL points at your server.'
    }
    throw mapped
  }
}

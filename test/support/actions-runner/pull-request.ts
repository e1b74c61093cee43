// A pull request on the GitHub stand-in as GitHub keeps one: the head branch pushed, the
// refs GitHub maintains (refs/pull/N/head, and refs/pull/N/merge: a test merge of the head into
// the base, which is what a pull_request run checks out as GITHUB_SHA), and the webhook payload
// of each activity (opened, synchronize, closed) in the shape GitHub sends.
import {execFileSync} from 'node:child_process'

export interface PullRequestRepo {
  /** owner/name */
  fullName: string
  /** The bare repository the stand-in serves. */
  gitDir: string
  serverUrl: string
  apiUrl: string
  id: number
  owner: {login: string; id: number; type: 'User' | 'Organization'}
  private: boolean
  defaultBranch: string
}

export interface PullRequestState {
  number: number
  head: string
  base: string
  headSha: string
  baseSha: string
  mergeSha: string
  title: string
  author: {login: string; id: number}
}

const gitEnv = {...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'GitHub', GIT_AUTHOR_EMAIL: 'noreply@github.com', GIT_COMMITTER_NAME: 'GitHub', GIT_COMMITTER_EMAIL: 'noreply@github.com'}
const git = (gitDir: string, args: string[], input?: string) => execFileSync('git', ['--git-dir', gitDir, ...args], {env: gitEnv, encoding: 'utf8', ...(input === undefined ? {} : {input})}).trim()

/**
 * Update refs/pull/N/head and refs/pull/N/merge in the bare repository from the head and base
 * branches (the test merge GitHub makes: a merge commit with the base first, the head second).
 */
export function refreshPullRefs(gitDir: string, number: number, head: string, base: string): {headSha: string; baseSha: string; mergeSha: string} {
  const headSha = git(gitDir, ['rev-parse', `refs/heads/${head}`])
  const baseSha = git(gitDir, ['rev-parse', `refs/heads/${base}`])
  const tree = git(gitDir, ['merge-tree', '--write-tree', baseSha, headSha]).split('\n')[0]!
  const mergeSha = git(gitDir, ['commit-tree', tree, '-p', baseSha, '-p', headSha, '-m', `Merge ${headSha} into ${baseSha}`])
  git(gitDir, ['update-ref', `refs/pull/${number}/head`, headSha])
  git(gitDir, ['update-ref', `refs/pull/${number}/merge`, mergeSha])
  return {headSha, baseSha, mergeSha}
}

function repositoryJson(repo: PullRequestRepo) {
  const [owner, name] = repo.fullName.split('/')
  return {
    id: repo.id,
    name,
    full_name: repo.fullName,
    private: repo.private,
    owner: {login: owner, id: repo.owner.id, type: repo.owner.type},
    html_url: `${repo.serverUrl}/${repo.fullName}`,
    url: `${repo.apiUrl}/repos/${repo.fullName}`,
    clone_url: `${repo.serverUrl}/${repo.fullName}.git`,
    default_branch: repo.defaultBranch,
    visibility: repo.private ? 'private' : 'public',
  }
}

/** The `pull_request` webhook payload for one activity type. */
export function pullRequestEvent(
  repo: PullRequestRepo,
  pr: PullRequestState,
  action: 'opened' | 'synchronize' | 'reopened' | 'closed',
  extra: {before?: string; merged?: boolean; at?: Date} = {},
): Record<string, unknown> {
  if (action === 'synchronize' && !extra.before) throw new Error('a synchronize event needs the previous head commit (before)')
  const at = (extra.at ?? new Date()).toISOString().replace(/\.\d+Z$/u, 'Z')
  const closed = action === 'closed'
  const repository = repositoryJson(repo)
  const [owner] = repo.fullName.split('/')
  const user = {login: pr.author.login, id: pr.author.id, type: 'User'}
  return {
    action,
    number: pr.number,
    ...(action === 'synchronize' ? {before: extra.before, after: pr.headSha} : {}),
    pull_request: {
      url: `${repo.apiUrl}/repos/${repo.fullName}/pulls/${pr.number}`,
      id: 1_000_000 + pr.number,
      html_url: `${repo.serverUrl}/${repo.fullName}/pull/${pr.number}`,
      number: pr.number,
      state: closed ? 'closed' : 'open',
      locked: false,
      title: pr.title,
      user,
      body: null,
      created_at: at,
      updated_at: at,
      closed_at: closed ? at : null,
      merged_at: closed && extra.merged ? at : null,
      merge_commit_sha: pr.mergeSha,
      draft: false,
      head: {label: `${owner}:${pr.head}`, ref: pr.head, sha: pr.headSha, user: {login: owner, type: repo.owner.type}, repo: repository},
      base: {label: `${owner}:${pr.base}`, ref: pr.base, sha: pr.baseSha, user: {login: owner, type: repo.owner.type}, repo: repository},
      merged: closed ? Boolean(extra.merged) : false,
      mergeable: null,
      commits: 1,
    },
    repository,
    ...(repo.owner.type === 'Organization' ? {organization: {login: owner, id: repo.owner.id}} : {}),
    sender: user,
  }
}

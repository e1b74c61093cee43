/**
 * The sticky pull-request comment of a preview environment: its text, and the poster that creates
 * or edits it through the GitHub API (Octokit loads only when a comment is really posted).
 */
import {createGitHubClient, type GitHubClient, githubSettings} from '../github/client.js'
import {upsertStickyComment} from '../github/pr-comments.js'
import {PR_COMMENT_MARKER} from './plan-up.js'

export interface PrCommentPoster {
  /** Create or edit the sticky comment; returns its URL. */
  post(target: {owner: string; repo: string; number: number; marker: string}, body: string): Promise<{url: string; created: boolean}>
}

export function prCommentBody(input: {env: string; status: string; url?: string; expiresAt?: string; bin: string; sha?: string}): string {
  const lines = [`### Preview environment \`${input.env}\``, '', `| | |`, `|---|---|`, `| Status | **${input.status}** |`]
  if (input.url && input.status !== 'deleted') lines.push(`| URL | ${input.url} |`)
  if (input.expiresAt && input.status !== 'deleted') lines.push(`| Expires | ${input.expiresAt} |`)
  if (input.sha) lines.push(`| Commit | \`${input.sha}\` |`)
  lines.push('', input.status === 'deleted' ? 'This environment was torn down.' : `Tear down: \`${input.bin} env down ${input.env}\``)
  return lines.join('\n')
}

/** Posts the sticky PR comment through the GitHub API, or undefined when there is no token. */
export async function prCommentPoster(config: {github?: {apiUrl?: string}}, env: NodeJS.ProcessEnv): Promise<PrCommentPoster | undefined> {
  const settings = githubSettings(env, config)
  if (!settings.token) return undefined
  const token = settings.token
  let client: GitHubClient | undefined
  return {
    async post(target, body) {
      client ??= await createGitHubClient({token, baseUrl: settings.apiUrl})
      const result = await upsertStickyComment(client, {owner: target.owner, repo: target.repo, prNumber: target.number, marker: target.marker, body})
      return {url: result.url, created: result.created}
    },
  }
}

/** After a failed or cancelled `up`: say so on the PR (best effort; the command's error matters more). */
export async function postFailureComment(poster: PrCommentPoster, target: {owner: string; repo: string; number: number}, input: {env: string; bin: string; sha?: string; cancelled: boolean}): Promise<void> {
  await poster.post({...target, marker: PR_COMMENT_MARKER}, prCommentBody({env: input.env, status: input.cancelled ? 'cancelled' : 'failed', ...(input.sha ? {sha: input.sha} : {}), bin: input.bin}))
}

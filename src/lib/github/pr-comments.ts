import {UsageError} from '../cli/errors.js'
import {githubCall, toRemoteError, type GitHubClient} from './client.js'

export interface StickyCommentOptions {
  owner: string
  repo: string
  prNumber: number
  /** Identifies the comment across runs, e.g. "preview-env"; becomes the hidden `<!-- idp:MARKER -->`. */
  marker: string
  body: string
  /** Page size while searching existing comments (GitHub's maximum is 100). */
  perPage?: number
}

export interface StickyCommentResult {
  id: number
  url: string
  created: boolean
}

const MARKER = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/u

export function stickyMarker(marker: string): string {
  if (!MARKER.test(marker)) throw new UsageError(`"${marker}" is not a valid comment marker.`, {hint: 'Use letters, digits, ".", "_", ":" or "-" (at most 64), e.g. "preview-env".'})
  return `<!-- idp:${marker} -->`
}

/**
 * One comment per PR and marker that idp keeps up to date (preview URL, status), instead of a new comment
 * on every push. The marker is an HTML comment, invisible in the rendered PR, found by scanning all pages.
 */
export async function upsertStickyComment(client: GitHubClient, options: StickyCommentOptions): Promise<StickyCommentResult> {
  const marker = stickyMarker(options.marker)
  if (!Number.isInteger(options.prNumber) || options.prNumber < 1) throw new UsageError(`"${options.prNumber}" is not a pull request number.`, {hint: 'Pass --pr N, or run in a pull_request event of GitHub Actions.'})
  const body = options.body.includes(marker) ? options.body : `${marker}\n${options.body}`
  const where = `${options.owner}/${options.repo}#${options.prNumber}`

  const existing = await findStickyComment(client, {...options, marker})
  if (existing !== undefined) {
    if (existing.body === body) return {id: existing.id, url: existing.url, created: false}
    const updated = await githubCall(`update the idp comment on ${where}`, () =>
      client.rest.issues.updateComment({owner: options.owner, repo: options.repo, comment_id: existing.id, body}),
    )
    return {id: updated.data.id, url: updated.data.html_url, created: false}
  }
  const created = await githubCall(`comment on ${where}`, () =>
    client.rest.issues.createComment({owner: options.owner, repo: options.repo, issue_number: options.prNumber, body}),
  )
  return {id: created.data.id, url: created.data.html_url, created: true}
}

async function findStickyComment(
  client: GitHubClient,
  options: Omit<StickyCommentOptions, 'body'>,
): Promise<undefined | {id: number; url: string; body: string}> {
  const perPage = Math.min(Math.max(options.perPage ?? 100, 1), 100)
  try {
    const pages = client.paginate.iterator(client.rest.issues.listComments, {owner: options.owner, repo: options.repo, issue_number: options.prNumber, per_page: perPage})
    for await (const page of pages) {
      // The oldest marked comment is the sticky one; later duplicates (from a race) are left alone.
      const hit = page.data.find((comment) => comment.body?.includes(options.marker))
      if (hit) return {id: hit.id, url: hit.html_url, body: hit.body ?? ''}
    }
    return undefined
  } catch (error) {
    throw toRemoteError(error, `list comments on ${options.owner}/${options.repo}#${options.prNumber}`)
  }
}

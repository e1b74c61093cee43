import {githubCall, hasStatus, toRemoteError, type GitHubClient} from './client.js'

export type RepositoryPermission = 'pull' | 'triage' | 'push' | 'maintain' | 'admin'

export interface Collaborator {
  login: string
  /** GitHub's role name: read, triage, write, maintain, admin (or a custom role). */
  role: string
}

export async function listCollaborators(client: GitHubClient, owner: string, repo: string): Promise<Collaborator[]> {
  const users = await githubCall(`list collaborators of ${owner}/${repo}`, () => client.paginate(client.rest.repos.listCollaborators, {owner, repo, per_page: 100}))
  return users.map((user) => ({login: user.login, role: user.role_name ?? roleFromPermissions(user.permissions)}))
}

/**
 * Give a user access to a repository. GitHub invites users who are not yet collaborators (201, they must
 * accept) and changes the permission of existing collaborators and org members at once (204).
 */
export async function addCollaborator(
  client: GitHubClient,
  options: {owner: string; repo: string; username: string; permission: RepositoryPermission},
): Promise<{invited: boolean}> {
  const response = await githubCall(`add ${options.username} to ${options.owner}/${options.repo}`, () =>
    client.rest.repos.addCollaborator({owner: options.owner, repo: options.repo, username: options.username, permission: options.permission}),
  )
  return {invited: response.status === 201}
}

/** Whether the user is an active member (or maintainer) of the team; a pending invitation is not membership. */
export async function isTeamMember(client: GitHubClient, options: {org: string; teamSlug: string; username: string}): Promise<boolean> {
  try {
    const response = await client.rest.teams.getMembershipForUserInOrg({org: options.org, team_slug: options.teamSlug, username: options.username})
    return response.data.state === 'active'
  } catch (error) {
    if (hasStatus(error, 404)) return false
    throw toRemoteError(error, `check ${options.username} in team ${options.org}/${options.teamSlug}`)
  }
}

function roleFromPermissions(permissions: undefined | {admin?: boolean; maintain?: boolean; push?: boolean; triage?: boolean; pull?: boolean}): string {
  if (!permissions) return 'unknown'
  if (permissions.admin) return 'admin'
  if (permissions.maintain) return 'maintain'
  if (permissions.push) return 'write'
  if (permissions.triage) return 'triage'
  return 'read'
}

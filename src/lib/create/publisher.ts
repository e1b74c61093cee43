import type {Publisher} from './handlers.js'

/** The Publisher backed by src/lib/github (Octokit); loaded only when a run publishes. */
export async function createGitHubPublisher(options: {token: string; apiUrl: string; serverUrl: string}): Promise<Publisher> {
  const [{createGitHubClient}, {createRepository, deleteRepository, gitAuthEnv}] = await Promise.all([import('../github/client.js'), import('../github/repos.js')])
  const client = await createGitHubClient({token: options.token, baseUrl: options.apiUrl})
  return {
    createRepository: (repo) => createRepository(client, repo),
    deleteRepository: (owner, name) => deleteRepository(client, owner, name),
    pushEnv: () => gitAuthEnv(options.token, {serverUrl: options.serverUrl}),
  }
}

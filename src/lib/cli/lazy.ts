/**
 * The one place heavy dependencies are loaded from (docs/architecture.md, "Lazy loading"). Each
 * costs tens of milliseconds to load and most runs of most commands never need it: a command
 * file loads only its service, and a service reaches these through the loaders below, at the
 * moment it needs one. Type-only imports of these packages are free and may appear anywhere.
 */

/** The executor (plan/apply.ts): only a real run needs it, never a dry run. */
export const loadExecutor = () => import('../plan/apply.js')

/** @kubernetes/client-node, from the code-cached bundle (once per process). */
export const loadKubeClient = () => import('../kube/client-node-loader.js').then((m) => m.loadClientNode())

/** Octokit (@octokit/rest), for idp's GitHub client (github/client.ts). */
export const loadOctokit = () => import('@octokit/rest')

/** @inquirer/prompts: only on a terminal, only when something must be asked. */
export const loadPrompts = () => import('@inquirer/prompts')

/** execa: for the ToolRunner (tools/runner.ts), the one module that starts processes, at its first start. */
export const loadExeca = () => import('execa')

/** listr2: only when a plan runs with progress shown (never under --json). */
export const loadListr = () => import('listr2')

/** @backstage/catalog-model (and ajv under it): Backstage's own entity validators, for `idp catalog validate`. */
export const loadCatalogModel = () => import('@backstage/catalog-model')

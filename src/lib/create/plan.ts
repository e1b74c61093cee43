import {gitAddAllArgs, gitCommitArgs, gitIdentityEnv, gitInitArgs} from '../tools/git.js'
import {type OpSpec, type Plan, PLAN_VERSION, type PlanStep} from '../plan/types.js'
import type {FileStep} from './skeleton.js'

export type Visibility = 'private' | 'internal' | 'public'

/** The local and GitHub operations of a create plan (handlers.ts); see OpRegistry in plan/types.ts. */
export interface CreateOps {
  'create.render': OpSpec<{targetDir: string; files: FileStep[]}, {files: number}>
  'create.undoRender': OpSpec<{targetDir: string; removeTarget: boolean; removeGit: boolean}, {removed: string | number}>
  'create.push': OpSpec<{dir: string; branch: string}, {remote: string}>
  'create.catalog': OpSpec<{dir: string; catalogInfoPath: string; registerUrl?: string}, {path: string; registerUrl?: string}>
  'github.createRepo': OpSpec<{owner?: string; name: string; visibility: Visibility; description?: string}, {htmlUrl: string; owner: string; ownerType: string}>
  /** host: the GitHub server (for the clean-up command a person runs: GH_HOST for GitHub Enterprise). */
  'github.deleteRepo': OpSpec<{owner?: string; name: string; host?: string}, {deleted: boolean}>
  /** Register catalog-info.yaml of the repository this run created (its blob URL on branch) in the Backstage catalog. No token in params: the handler has it. */
  'backstage.register': OpSpec<{baseUrl: string; catalogInfoPath: string; branch: string}, {target: string; entities: string[]; alreadyRegistered: boolean; locationId?: string}>
  /** Undo of backstage.register: remove the location this run registered (never one that was there before). */
  'backstage.unregister': OpSpec<{baseUrl: string}, {removed: boolean}>
}

/** The ids of a create plan's steps. */
export const CREATE_STEP = {
  render: 'render',
  gitInit: 'git-init',
  gitAdd: 'git-add',
  gitCommit: 'git-commit',
  githubRepo: 'github-repo',
  gitPush: 'git-push',
  catalog: 'catalog',
  catalogRegister: 'catalog-register',
} as const

/** What a create plan is about. */
export interface CreateMetadata {
  directory: string
  template: string
}

/**
 * `idp create` as a plan (pure): render the template into the target directory, make it a git
 * repository with one commit, optionally create the GitHub repository and push, and check the
 * catalog entry. The command prints it (--dry-run), returns it (--json) or applies it.
 */

export interface CreatePlanOptions {
  name: string
  /** Absolute target directory (<--dir>/NAME). */
  targetDir: string
  template: {name: string; ref: string; source: string; dir: string}
  /** The template's file steps (fetch:*, fs:delete, fs:rename), in order. */
  files: FileStep[]
  git: {branch: string; message: string; authorName: string; authorEmail: string}
  /** Present when the run creates the GitHub repository and pushes. */
  publish?: {owner?: string; name: string; visibility: Visibility; description?: string; apiUrl: string}
  /** Present when the template has a catalog:register step. */
  catalog?: {catalogInfoPath: string; registerUrl?: string}
  /** Present when the run registers the published repository's catalog-info.yaml in Backstage (--publish, a Backstage URL and BACKSTAGE_TOKEN). */
  register?: {baseUrl: string; catalogInfoPath: string}
}

export interface CreateFacts {
  /** The target directory existed before this run (empty, or --force). */
  targetExists: boolean
  /** It already held a .git (with --force): undo must leave that repository alone. */
  targetHasGit?: boolean
}

/** The GitHub server of an API URL: github.com for api.github.com, the host itself for GitHub Enterprise. */
function githubHost(apiUrl: string): string {
  const host = new URL(apiUrl).host
  return host === 'api.github.com' ? 'github.com' : host
}

export function planCreate(options: CreatePlanOptions, facts: CreateFacts): Plan<CreateMetadata> {
  const dir = options.targetDir
  const steps: PlanStep[] = []
  steps.push({
    id: CREATE_STEP.render,
    title: `Render template ${options.template.name} into ${dir}`,
    action: {
      kind: 'local',
      op: 'create.render',
      summary: `${options.files.map((f) => f.action).join(', ')} from ${options.template.dir} into ${dir}`,
      params: {targetDir: dir, files: options.files},
    },
    undo: [
      {
        kind: 'local',
        op: 'create.undoRender',
        summary: facts.targetExists ? `remove the files and directories this run created in ${dir}` : `remove ${dir}`,
        params: {targetDir: dir, removeTarget: !facts.targetExists, removeGit: facts.targetExists && !facts.targetHasGit},
      },
    ],
  })
  steps.push({id: CREATE_STEP.gitInit, title: `git init (branch ${options.git.branch})`, action: {kind: 'tool', tool: 'git', argv: gitInitArgs({branch: options.git.branch}), cwd: dir}})
  steps.push({id: CREATE_STEP.gitAdd, title: 'git add', action: {kind: 'tool', tool: 'git', argv: gitAddAllArgs(), cwd: dir}})
  steps.push({
    id: CREATE_STEP.gitCommit,
    title: 'Initial commit',
    action: {
      kind: 'tool',
      tool: 'git',
      // No hook runs (GIT_NO_HOOKS, --no-verify): the initial commit is generated content. The
      // identity also goes in the environment, where git ranks it above the shell's variables.
      argv: gitCommitArgs({message: options.git.message, identity: {name: options.git.authorName, email: options.git.authorEmail}}),
      env: gitIdentityEnv({name: options.git.authorName, email: options.git.authorEmail}),
      cwd: dir,
    },
  })
  if (options.publish) {
    const p = options.publish
    const full = `${p.owner ?? '(token owner)'}/${p.name}`
    steps.push({
      id: CREATE_STEP.githubRepo,
      title: `Create GitHub repository ${full} (${p.visibility})`,
      action: {kind: 'api', target: 'github', op: 'github.createRepo', summary: `POST ${p.apiUrl} create ${p.visibility} repository ${full}`, params: {owner: p.owner, name: p.name, visibility: p.visibility, description: p.description}},
      undo: [{kind: 'api', target: 'github', op: 'github.deleteRepo', summary: `delete repository ${full}`, params: {owner: p.owner, name: p.name, host: githubHost(p.apiUrl)}}],
    })
    steps.push({
      id: CREATE_STEP.gitPush,
      title: `Push ${options.git.branch} to ${full}`,
      action: {
        kind: 'local',
        op: 'create.push',
        summary: `git remote add origin <clone URL of ${full}> && git push --no-verify --set-upstream origin ${options.git.branch} (no hooks; token via http.extraHeader, never in argv)`,
        params: {dir, branch: options.git.branch},
      },
    })
  }
  if (options.catalog) {
    steps.push({
      id: CREATE_STEP.catalog,
      title: `Check ${options.catalog.catalogInfoPath.replace(/^\//u, '')} for the Backstage catalog`,
      action: {
        kind: 'local',
        op: 'create.catalog',
        summary: options.catalog.registerUrl ? `catalog entry stays in the repository; register it at ${options.catalog.registerUrl}` : 'catalog entry stays in the repository',
        params: {dir, catalogInfoPath: options.catalog.catalogInfoPath, registerUrl: options.catalog.registerUrl},
      },
      dependsOn: [CREATE_STEP.render],
      optional: true,
    })
  }
  if (options.register && options.publish) {
    const r = options.register
    const file = r.catalogInfoPath.replace(/^\//u, '')
    const full = `${options.publish.owner ?? '(token owner)'}/${options.publish.name}`
    steps.push({
      id: CREATE_STEP.catalogRegister,
      title: `Register ${file} of ${full} in the Backstage catalog at ${r.baseUrl}`,
      action: {
        kind: 'api',
        target: 'backstage',
        op: 'backstage.register',
        summary: `POST ${r.baseUrl}/api/catalog/locations?dryRun=true, then POST ${r.baseUrl}/api/catalog/locations {type: url, target: <blob URL of ${file} on ${options.git.branch} in ${full}>} (token from BACKSTAGE_TOKEN; already registered is fine)`,
        params: {baseUrl: r.baseUrl, catalogInfoPath: r.catalogInfoPath, branch: options.git.branch},
      },
      undo: [{kind: 'api', target: 'backstage', op: 'backstage.unregister', summary: `remove the location this run registered from the catalog at ${r.baseUrl}`, params: {baseUrl: r.baseUrl}}],
      dependsOn: options.catalog ? [CREATE_STEP.gitPush, CREATE_STEP.catalog] : [CREATE_STEP.gitPush],
    })
  }
  return {
    version: PLAN_VERSION,
    kind: 'create',
    summary: `Create ${options.name} from template ${options.template.name}`,
    steps,
    metadata: {directory: dir, template: options.template.name},
  }
}

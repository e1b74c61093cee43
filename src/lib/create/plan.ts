import {gitAddAllArgs, gitCommitArgs, gitInitArgs} from '../tools/git.js'
import {type Plan, PLAN_VERSION, type PlanStep} from '../plan/types.js'
import type {FileStep} from './skeleton.js'

/**
 * `idp create` as a plan (pure): render the template into the target directory, make it a git
 * repository with one commit, optionally create the GitHub repository and push, and check the
 * catalog entry. The command prints it (--dry-run), returns it (--json) or applies it.
 */

export const CREATE_OPS = {
  render: 'create.render',
  undoRender: 'create.undoRender',
  push: 'create.push',
  catalog: 'create.catalog',
  createRepo: 'github.createRepo',
  deleteRepo: 'github.deleteRepo',
} as const

export interface CreatePlanOptions {
  name: string
  /** Absolute target directory (<--dir>/NAME). */
  targetDir: string
  template: {name: string; ref: string; source: string; dir: string}
  /** The template's file steps (fetch:*, fs:delete, fs:rename), in order. */
  files: FileStep[]
  git: {branch: string; message: string; authorName: string; authorEmail: string}
  /** Present when the run creates the GitHub repository and pushes. */
  publish?: {owner?: string; name: string; visibility: 'private' | 'internal' | 'public'; description?: string; apiUrl: string}
  /** Present when the template has a catalog:register step. */
  catalog?: {catalogInfoPath: string; registerUrl?: string}
}

export interface CreateFacts {
  /** The target directory existed before this run (empty, or --force). */
  targetExists: boolean
  /** It already held a .git (with --force): undo must leave that repository alone. */
  targetHasGit?: boolean
}

export function planCreate(options: CreatePlanOptions, facts: CreateFacts): Plan {
  const dir = options.targetDir
  const steps: PlanStep[] = []
  steps.push({
    id: 'render',
    title: `Render template ${options.template.name} into ${dir}`,
    action: {
      kind: 'local',
      op: CREATE_OPS.render,
      summary: `${options.files.map((f) => f.action).join(', ')} from ${options.template.dir} into ${dir}`,
      params: {targetDir: dir, files: options.files},
    },
    undo: [
      {
        kind: 'local',
        op: CREATE_OPS.undoRender,
        summary: facts.targetExists ? `remove the files and directories this run created in ${dir}` : `remove ${dir}`,
        params: {targetDir: dir, removeTarget: !facts.targetExists, removeGit: facts.targetExists && !facts.targetHasGit},
      },
    ],
  })
  steps.push({id: 'git-init', title: `git init (branch ${options.git.branch})`, action: {kind: 'tool', tool: 'git', argv: gitInitArgs({branch: options.git.branch}), cwd: dir}})
  steps.push({id: 'git-add', title: 'git add', action: {kind: 'tool', tool: 'git', argv: gitAddAllArgs(), cwd: dir}})
  steps.push({
    id: 'git-commit',
    title: 'Initial commit',
    action: {
      kind: 'tool',
      tool: 'git',
      // --no-verify: the initial commit is generated content; no hook may run code on it.
      argv: [...gitCommitArgs({message: options.git.message, identity: {name: options.git.authorName, email: options.git.authorEmail}}), '--no-verify'],
      cwd: dir,
    },
  })
  if (options.publish) {
    const p = options.publish
    const full = `${p.owner ?? '(token owner)'}/${p.name}`
    steps.push({
      id: 'github-repo',
      title: `Create GitHub repository ${full} (${p.visibility})`,
      action: {kind: 'api', target: 'github', op: CREATE_OPS.createRepo, summary: `POST ${p.apiUrl} create ${p.visibility} repository ${full}`, params: {owner: p.owner, name: p.name, visibility: p.visibility, description: p.description}},
      undo: [{kind: 'api', target: 'github', op: CREATE_OPS.deleteRepo, summary: `delete repository ${full}`, params: {owner: p.owner, name: p.name}}],
    })
    steps.push({
      id: 'git-push',
      title: `Push ${options.git.branch} to ${full}`,
      action: {
        kind: 'local',
        op: CREATE_OPS.push,
        summary: `git remote add origin <clone URL of ${full}> && git push --set-upstream origin ${options.git.branch} (token via http.extraHeader, never in argv)`,
        params: {dir, branch: options.git.branch},
      },
    })
  }
  if (options.catalog) {
    steps.push({
      id: 'catalog',
      title: `Check ${options.catalog.catalogInfoPath.replace(/^\//u, '')} for the Backstage catalog`,
      action: {
        kind: 'local',
        op: CREATE_OPS.catalog,
        summary: options.catalog.registerUrl ? `catalog entry stays in the repository; register it at ${options.catalog.registerUrl}` : 'catalog entry stays in the repository',
        params: {dir, catalogInfoPath: options.catalog.catalogInfoPath, registerUrl: options.catalog.registerUrl},
      },
      dependsOn: ['render'],
      optional: true,
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

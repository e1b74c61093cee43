// The preview workflow that `idp create` generates (.github/workflows/preview.yml, from
// templates/_shared/skeleton), run the way GitHub runs it (test/support/actions-runner) for a
// pull request's life: opened → synchronize (a new commit) → closed. Everything it reaches is
// real or a stand-in: the service is created and published with the built idp (`idp create
// --publish`) to the GitHub stand-in, each job checks it out from there into a fresh workspace,
// installs idp with the workflow's own `npm install --global "$IDP_PACKAGE"` from a registry
// serving `npm pack` of this worktree, pushes the image to a real OCI registry, and runs idp
// with the kubeconfig secret of the Kubernetes stand-in (vcluster double, real helm), and applies
// the bundled Terraform module (an S3 bucket) with real terraform and the real aws provider
// against the S3 stand-in, reached through the credentials step's AWS_ENDPOINT_URL_* variables.
// The assertions read the state left behind: cluster objects, the registry, helm's releases, the
// Terraform state Secret, the bucket, the pull request's comment.
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {gunzipSync} from 'node:zlib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse, stringify} from 'yaml'

import {localActions, type PushedImage} from '../support/actions-runner/actions.js'
import {type NpmRegistry, packIdp, startNpmRegistry} from '../support/actions-runner/npm-registry.js'
import {pullRequestEvent, type PullRequestRepo, type PullRequestState, refreshPullRefs} from '../support/actions-runner/pull-request.js'
import {type JobResult, runWorkflow, type WorkflowResult} from '../support/actions-runner/runner.js'
import {parseJson, runCli} from '../support/cli.js'
import {doublesBinDir} from '../support/doubles/harness.js'
import {type GitHubStandIn, startGitHubStandIn} from '../support/github-stand-in/index.js'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'
import {startRegistry, type TestRegistry} from '../support/registry/index.js'
import {type S3StandIn, startS3StandIn} from '../support/s3-stand-in/index.js'
import {helmBinary, RUN_MARKER_ENV, terraformConfigFile, toolsBinDir} from '../support/tool-env.js'

const DEV_TOKEN = `ghp_dev${randomBytes(12).toString('hex')}`
/** The run's GITHUB_TOKEN: a canary that must appear in no output. */
const ACTIONS_TOKEN = `ghs_canary${randomBytes(12).toString('hex')}`
const BOT = 'github-actions[bot]'
const SERVICE = 'shop'

let kube: KubeStandIn
let registry: TestRegistry
let gh: GitHubStandIn
let npm: NpmRegistry
let s3: S3StandIn
let root: string
let dev: string
let machineEnv: Record<string, string>
let repo: PullRequestRepo
let pr: PullRequestState
let runs = 0
const pushed: PushedImage[] = []
const logs: string[] = []

const devEnv = () => ({
  ...process.env,
  HOME: path.join(root, 'dev-home'),
  GIT_CONFIG_NOSYSTEM: '1',
  GITHUB_TOKEN: DEV_TOKEN,
  GITHUB_API_URL: gh.apiUrl,
  GITHUB_SERVER_URL: gh.serverUrl,
})
const git = (args: string[]) => execFileSync('git', ['-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', ...args], {cwd: dev, env: devEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']}).trim()
/** The developer pushes to the repository on the stand-in (its bare repository: the stand-in is GitHub). */
const push = (refspec: string) => git(['push', '-q', repo.gitDir, refspec])

const AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/preview-environments'

async function run(action: 'opened' | 'synchronize' | 'closed', options: {before?: string; merged?: boolean; workflow?: string; only?: string[]} = {}): Promise<WorkflowResult> {
  const {workflow: file = 'preview.yml', only, ...extra} = options
  const workflow = execFileSync('git', ['--git-dir', repo.gitDir, 'show', `${pr.mergeSha}:.github/workflows/${file}`], {encoding: 'utf8'})
  const {AWS_REGION: _region, ...aws} = s3.env()
  const {actions, pushed: now} = localActions({registries: {'ghcr.io': registry}, aws: {env: aws}})
  const result = await runWorkflow(
    {
      workflow,
      workflowPath: `.github/workflows/${file}`,
      eventName: 'pull_request',
      event: pullRequestEvent(repo, pr, action, extra),
      sha: pr.mergeSha,
      ref: `refs/pull/${pr.number}/merge`,
      repository: repo.fullName,
      actor: pr.author.login,
      serverUrl: gh.serverUrl,
      apiUrl: gh.apiUrl,
      secrets: {GITHUB_TOKEN: ACTIONS_TOKEN, PREVIEW_KUBECONFIG: fs.readFileSync(kube.kubeconfig('host', {context: 'kind-dev'}), 'utf8')},
      vars: {NPM_CONFIG_REGISTRY: npm.url, AWS_ROLE_ARN},
      actions,
      machineEnv,
      root: path.join(root, 'runner'),
      runId: 1000 + ++runs,
      ...(only ? {only} : {}),
    },
    (line) => {
      logs.push(line)
      // IDP_TEST_WORKFLOW_LOG=FILE: follow the runs as they go (tail -f FILE).
      if (process.env.IDP_TEST_WORKFLOW_LOG) fs.appendFileSync(process.env.IDP_TEST_WORKFLOW_LOG, `${line}\n`)
    },
  )
  pushed.push(...now)
  return result
}

function job(result: WorkflowResult, id: string): JobResult {
  const found = result.jobs.find((j) => j.id === id)
  if (!found) throw new Error(`no job ${id}`)
  return found
}

/** A readable account of a failed job, for the assertion message. */
function explain(result: WorkflowResult): string {
  return result.jobs
    .flatMap((j) => [`job ${j.id}: ${j.conclusion}`, ...j.steps.filter((s) => s.outcome === 'failure').map((s) => `  ${s.name}: ${s.error}\n${s.stdout.slice(-3000)}\n${s.stderr.slice(-3000)}`)])
    .join('\n')
}

const host = () => kube.store('host')
const namespace = () => `${SERVICE}-pr-${pr.number}`
const virtual = () => `vcluster-${namespace()}-pr-${pr.number}`
const stateSecret = () => host().get('v1', 'Secret', `tfstate-${namespace()}-idp-${SERVICE}`, 'idp-system')
/** The resources in the environment's Terraform state (the backend keeps it gzipped in the Secret). */
const stateResources = () => {
  const state = JSON.parse(gunzipSync(Buffer.from(stateSecret()!.data!.tfstate!, 'base64')).toString('utf8')) as {resources: Array<{type: string}>}
  return state.resources.map((r) => r.type).sort()
}
const deploymentImage = () => kube.store(virtual()).get('apps/v1', 'Deployment', SERVICE, 'default')?.spec?.template?.spec?.containers?.[0]?.image
const helmReleases = () => kube.store(virtual()).list('v1', 'Secret', 'default').filter((s) => s.metadata?.labels?.owner === 'helm').map((s) => `${s.metadata?.labels?.name}.v${s.metadata?.labels?.version}:${s.metadata?.labels?.status}`).sort()
const comments = () => gh.state.comments.filter((c) => c.repo === repo.fullName && c.issue === pr.number)

async function manifestStatus(repository: string, tag: string): Promise<number> {
  const response = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {method: 'HEAD', headers: {accept: 'application/vnd.oci.image.manifest.v1+json'}})
  return response.status
}

/** Every text the runs produced: the canary token must be in none. */
function allOutput(result: WorkflowResult): string {
  return result.jobs.flatMap((j) => [j.summary, ...j.steps.flatMap((s) => [s.stdout, s.stderr, JSON.stringify(s.outputs)])]).join('\n')
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-preview-workflow-'))
  fs.mkdirSync(path.join(root, 'dev-home'))
  ;[kube, registry, gh, npm, s3] = await Promise.all([
    startKubeStandIn({controllerDelayMs: 10, argocd: false}),
    startRegistry(),
    startGitHubStandIn({tokens: {[DEV_TOKEN]: 'dev', [ACTIONS_TOKEN]: BOT}, orgs: [{login: 'acme', members: {dev: 'admin'}}]}),
    startNpmRegistry([packIdp()]),
    startS3StandIn(),
  ])
  // The runner machine: its tools on PATH (helm, kubectl, terraform, node, git, the vcluster
  // double), the Terraform CLI config with the provider mirror, nothing of this shell's settings.
  const helmDir = path.join(root, 'machine-bin')
  fs.mkdirSync(helmDir)
  fs.symlinkSync(helmBinary(4), path.join(helmDir, 'helm'))
  const systemPath = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d && !d.includes('node_modules'))
  machineEnv = {
    PATH: [helmDir, doublesBinDir, toolsBinDir, path.dirname(process.execPath), ...systemPath].join(path.delimiter),
    TF_CLI_CONFIG_FILE: terraformConfigFile,
    LANG: 'C.UTF-8',
    ...(process.env[RUN_MARKER_ENV] ? {[RUN_MARKER_ENV]: process.env[RUN_MARKER_ENV]} : {}),
  }

  // The developer creates the service from the bundled template and publishes it to "GitHub".
  const created = await runCli(
    ['create', SERVICE, '--template', 'typescript-service', '--set', 'owner=team-a', '--set', 'repoUrl=github.com?owner=acme&repo=shop', '--publish', '--dir', root, '--json'],
    {cwd: root, baseEnv: devEnv()},
  )
  expect(created.code, created.stderr).toBe(0)
  dev = path.join(root, SERVICE)
  const standInRepo = gh.state.repos.get(`acme/${SERVICE}`)!
  standInRepo.collaborators.set(BOT, 'push')
  repo = {
    fullName: `acme/${SERVICE}`,
    gitDir: standInRepo.gitDir,
    serverUrl: gh.serverUrl,
    apiUrl: gh.apiUrl,
    id: standInRepo.id,
    owner: standInRepo.owner,
    private: standInRepo.visibility !== 'public',
    defaultBranch: standInRepo.defaultBranch,
  }
  expect(repo.defaultBranch).toBe('main')

  // The one change to the generated service, on main: image.repository names the registry that
  // stands in for ghcr.io (idp checks that the image exists there and deploys it from there).
  const config = parse(fs.readFileSync(path.join(dev, '.idp.yml'), 'utf8')) as {image: {repository: string}; clusters: {dev: {context: string}}}
  expect(config.image.repository).toBe('ghcr.io/acme/shop')
  expect(config.clusters.dev.context).toBe('kind-dev')
  config.image.repository = `${registry.host}/acme/shop`
  fs.writeFileSync(path.join(dev, '.idp.yml'), stringify(config))
  git(['add', '-A'])
  git(['commit', '-qm', 'Images from the registry stand-in'])
  push('main:refs/heads/main')

  // A pull request from a feature branch.
  git(['checkout', '-qb', 'feature'])
  fs.appendFileSync(path.join(dev, 'README.md'), '\nA change under review.\n')
  git(['commit', '-qam', 'A change'])
  push('feature:refs/heads/feature')
  const number = gh.openPullRequest(repo.fullName)
  pr = {number, head: 'feature', base: 'main', title: 'A change', author: {login: 'dev', id: 2}, ...refreshPullRefs(repo.gitDir, number, 'feature', 'main')}
}, 300_000)

afterAll(async () => {
  await Promise.all([kube?.stop(), registry?.stop(), gh?.stop(), npm?.stop(), s3?.stop()])
  if (root) fs.rmSync(root, {recursive: true, force: true})
}, 120_000)

describe('preview.yml, run as GitHub runs it, over a pull request', () => {
  /** The head commit the pull request was opened with. */
  let firstSha = ''

  it('opened: the up job builds and pushes the image, installs this idp from the registry and brings the environment up', async () => {
    const result = await run('opened')
    expect(result.triggered).toBe(true)
    expect(result.conclusion, explain(result)).toBe('success')
    expect(job(result, 'down').ran).toBe(false)
    const up = job(result, 'up')
    expect(up.concurrencyGroup).toBe(`preview-${pr.number}`)
    // Every step ran, in order (infra/*.tf exists and vars.AWS_ROLE_ARN is set: terraform and AWS credentials too).
    expect(up.steps.map((s) => `${s.name}:${s.outcome}`)).toEqual([
      expect.stringMatching(/^Run actions\/checkout@.*:success$/u),
      expect.stringMatching(/^Run docker\/setup-buildx-action@.*:success$/u),
      expect.stringMatching(/^Run docker\/login-action@.*:success$/u),
      'Image name:success',
      expect.stringMatching(/^Run docker\/build-push-action@.*:success$/u),
      expect.stringMatching(/^Run actions\/setup-node@.*:success$/u),
      expect.stringMatching(/^Run azure\/setup-helm@.*:success$/u),
      expect.stringMatching(/^Run loft-sh\/setup-vcluster@.*:success$/u),
      expect.stringMatching(/^Run hashicorp\/setup-terraform@.*:success$/u),
      expect.stringMatching(/^Run aws-actions\/configure-aws-credentials@.*:success$/u),
      'Kubeconfig:success',
      'Install idp:success',
      'Preview environment up:success',
      'Summary:success',
    ])
    // The Image name step's output reached build-push through steps.image.outputs.
    expect(up.steps[3]?.outputs).toEqual({repository: 'ghcr.io/acme/shop'})
    // The image: pushed under the workflow's name, for the head commit.
    firstSha = pr.headSha
    expect(pushed.map((p) => p.reference)).toEqual([`ghcr.io/acme/shop:${firstSha}`])
    expect(await manifestStatus('acme/shop', firstSha)).toBe(200)
    // idp came from the registry stand-in (npm asked for the package and its tarball, nothing else).
    expect(npm.requests.filter((r) => r.status !== 200)).toEqual([])
    expect(npm.requests.map((r) => r.path)).toEqual(expect.arrayContaining(['/idp-cli', '/idp-cli/-/idp-cli-0.1.0.tgz']))
    expect(fs.existsSync(path.join(up.dirs.home, '..', 'tool-cache'))).toBe(true)
    // The environment: namespace, vcluster, helm release with the pushed image, Terraform state.
    expect(host().get('v1', 'Namespace', namespace())?.metadata?.labels?.['idp.dev/env']).toBe(`pr-${pr.number}`)
    expect(kube.clusters.list()).toContain(virtual())
    expect(deploymentImage()).toBe(`${registry.host}/acme/shop:${firstSha}`)
    expect(helmReleases()).toEqual([`${SERVICE}.v1:deployed`])
    expect(stateResources()).toEqual(['aws_s3_bucket', 'aws_s3_bucket_lifecycle_configuration', 'aws_s3_bucket_ownership_controls', 'aws_s3_bucket_public_access_block', 'aws_s3_bucket_server_side_encryption_configuration', 'aws_s3_bucket_versioning'])
    // The bucket, made by the real aws provider through the credentials step's endpoints.
    expect(s3.bucketNames()).toEqual([namespace()])
    expect(s3.bucket(namespace())).toMatchObject({region: 'us-east-1', tags: {service: SERVICE, env: `pr-${pr.number}`, 'managed-by': 'idp'}, ownership: 'BucketOwnerEnforced'})
    // What the workflow reports: env.json in the job summary, and the sticky PR comment.
    const envJson = parseJson(fs.readFileSync(path.join(up.dirs.runnerTemp, 'env.json'), 'utf8'))
    expect(envJson).toMatchObject({status: 0, result: {env: `pr-${pr.number}`, image: {image: `${registry.host}/acme/shop:${firstSha}`, status: 'present'}}})
    expect(up.summary).toContain('### Preview environment')
    expect(up.summary).toContain(`"env": "pr-${pr.number}"`)
    expect(comments()).toHaveLength(1)
    expect(comments()[0]).toMatchObject({user: BOT})
    expect(comments()[0]?.body).toContain(firstSha)
    expect(allOutput(result)).not.toContain(ACTIONS_TOKEN)
  }, 600_000)

  it('synchronize: a new commit is built and pushed, and the preview runs its image', async () => {
    git(['checkout', '-q', 'feature'])
    fs.appendFileSync(path.join(dev, 'README.md'), '\nA second change.\n')
    git(['commit', '-qam', 'A second change'])
    push('feature:refs/heads/feature')
    const before = pr.headSha
    pr = {...pr, ...refreshPullRefs(repo.gitDir, pr.number, 'feature', 'main')}
    expect(pr.headSha).not.toBe(before)
    const result = await run('synchronize', {before})
    expect(result.conclusion, explain(result)).toBe('success')
    expect(job(result, 'down').ran).toBe(false)
    expect(pushed.map((p) => p.reference)).toEqual([`ghcr.io/acme/shop:${before}`, `ghcr.io/acme/shop:${pr.headSha}`])
    expect(await manifestStatus('acme/shop', pr.headSha)).toBe(200)
    expect(deploymentImage()).toBe(`${registry.host}/acme/shop:${pr.headSha}`)
    expect(helmReleases()).toEqual([`${SERVICE}.v1:superseded`, `${SERVICE}.v2:deployed`])
    expect(stateResources()).toContain('aws_s3_bucket')
    expect(s3.bucketNames()).toEqual([namespace()])
    // One sticky comment, now naming the new commit.
    expect(comments()).toHaveLength(1)
    expect(comments()[0]?.body).toContain(pr.headSha)
    expect(allOutput(result)).not.toContain(ACTIONS_TOKEN)
  }, 600_000)

  // Not run: `test` (npm ci of the service's dependencies needs the network) and `infra` (its
  // setup-terraform keeps the default terraform_wrapper, which the runner does not model).
  it('ci.yml on the pull request: the image and chart jobs', async () => {
    const before = pushed.length
    const result = await run('synchronize', {before: firstSha, workflow: 'ci.yml', only: ['image', 'chart']})
    expect(result.conclusion, explain(result)).toBe('success')
    expect(result.jobs.map((j) => `${j.id}:${j.ran}:${j.conclusion}`)).toEqual(['test:false:skipped', 'image:true:success', 'chart:true:success', 'infra:false:skipped'])
    // push: false builds without pushing.
    expect(pushed.length).toBe(before)
    expect(job(result, 'chart').steps.map((s) => s.outcome)).toEqual(['success', 'success', 'success', 'success'])
    expect(job(result, 'chart').steps[2]?.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/u)
  }, 600_000)

  it('closed: the down job removes the environment, its vcluster, its bucket and its Terraform state', async () => {
    const result = await run('closed', {merged: false})
    expect(result.conclusion, explain(result)).toBe('success')
    expect(job(result, 'up').ran).toBe(false)
    const down = job(result, 'down')
    expect(down.steps.map((s) => `${s.name}:${s.outcome}`).slice(-3)).toEqual(['Kubeconfig:success', 'Install idp:success', 'Preview environment down:success'])
    expect(parseJson(down.steps.at(-1)!.stdout)).toMatchObject({status: 0, result: {env: `pr-${pr.number}`}})
    expect(kube.clusters.list()).not.toContain(virtual())
    const ns = host().get('v1', 'Namespace', namespace())
    expect(ns === undefined || ns.metadata?.deletionTimestamp !== undefined).toBe(true)
    expect(stateSecret()).toBeUndefined()
    expect(s3.bucketNames()).toEqual([])
    expect(host().list('v1', 'Secret', 'idp-system').map((s) => s.metadata?.name)).toEqual([])
    expect(comments()[0]?.body).toContain('torn down')
    expect(allOutput(result)).not.toContain(ACTIONS_TOKEN)
  }, 600_000)
})

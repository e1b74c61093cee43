// The README's Quickstart, run as written: the ```sh block under "## Quickstart" is read from
// README.md (so the README cannot drift from what is tested) and each line runs through sh, in
// order, in the directory the previous lines left, with the built CLI on PATH as `idp`. Around it,
// the world a team has: the Kubernetes stand-in as the cluster (with Argo CD), the vcluster and
// argocd doubles, a real OCI registry holding the service's image, and the S3 stand-in behind the
// real aws provider. `$EDITOR` is a script that does what the comment says: names the stand-in's
// kube context under `clusters:` (and, as the team's CI would have pushed it, the image is in the
// registry .idp.yml names).
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {repoRoot, runJs, runProcess} from '../support/cli.js'
import {fileHolds, filesUnder} from '../support/files.js'
import {type KubeStandIn, startKubeStandIn} from '../support/kube-stand-in/index.js'
import {startRegistry, type TestRegistry} from '../support/registry/index.js'
import {type S3StandIn, startS3StandIn} from '../support/s3-stand-in/index.js'
import {isolatedUser, type IsolatedUser} from '../support/user-env.js'

/** The lines of the README's Quickstart block, exactly as written. */
export function quickstartBlock(readme: string): string[] {
  const section = readme.split(/^## Quickstart\s*$/mu)[1]
  if (section === undefined) throw new Error('README.md has no "## Quickstart" section')
  const block = /^```sh\n([\s\S]*?)^```$/mu.exec(section)
  if (!block) throw new Error('the Quickstart section has no ```sh block')
  return block[1]!.split('\n').filter((line) => line.trim() !== '')
}

interface Step {
  line: string
  code: number | null
  stdout: string
  stderr: string
  cwd: string
}

let kube: KubeStandIn
let s3: S3StandIn
let registry: TestRegistry
let user: IsolatedUser
let root: string
let kubeconfigHashes: string[] = []
const hash = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex')
const steps: Step[] = []
const lines = quickstartBlock(fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8'))

beforeAll(async () => {
  ;[kube, s3, registry] = await Promise.all([startKubeStandIn({controllerDelayMs: 10}), startS3StandIn(), startRegistry()])
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-quickstart-'))
  const bin = path.join(root, 'user-bin')
  fs.mkdirSync(bin)
  // `idp` as an installed CLI would be: the built bin/run.js behind a name on PATH.
  fs.writeFileSync(path.join(bin, 'idp'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(runJs)} "$@"\n`, {mode: 0o755})
  // $EDITOR: the edit the Quickstart's comment asks for, made by a script instead of a person.
  const editor = path.join(bin, 'edit-idp-yml')
  fs.writeFileSync(
    editor,
    [
      `#!${process.execPath}`,
      "const fs = require('node:fs')",
      'const file = process.argv[2]',
      "let text = fs.readFileSync(file, 'utf8')",
      "const edited = text.replace(/^(clusters:\\n  dev:\\n    context: ).*$/mu, '$1standin-host').replace(/^(  prod:\\n    context: ).*$/mu, '$1standin-prod').replace(/^(image:\\n  repository: ).*$/mu, `$1${process.env.QUICKSTART_REGISTRY}/acme/shop`)",
      "if (edited === text) { console.error('edit-idp-yml: nothing to edit in ' + file); process.exit(1) }",
      'fs.writeFileSync(file, edited)',
    ].join('\n'),
    {mode: 0o755},
  )
  // Argo CD is installed on dev (its CRDs come with the stand-in; its namespace, as an install makes it).
  kube.store().create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'argocd'}})
  const base = isolatedUser(root, kube)
  // Two clusters, as a team has: dev (previews, staging) and prod, each a context of the user's kubeconfig.
  kube.clusters.create('prod')
  const prodKubeconfig = kube.kubeconfig('prod', {path: path.join(base.home, '.kube', 'prod.yaml'), context: 'standin-prod'})
  kubeconfigHashes = [base.kubeconfigHash(), hash(prodKubeconfig)]
  user = {
    ...base,
    env: {
      ...base.env,
      ...s3.env(),
      KUBECONFIG: [base.userKubeconfig, prodKubeconfig].join(path.delimiter),
      PATH: [bin, base.env.PATH].join(path.delimiter),
      EDITOR: editor,
      QUICKSTART_REGISTRY: registry.host,
      // The image check runs for real, against the registry the edited .idp.yml names.
      IDP_SKIP_IMAGE_CHECK: undefined,
      GIT_AUTHOR_NAME: 'Alice',
      GIT_AUTHOR_EMAIL: 'alice@example.com',
      GIT_COMMITTER_NAME: 'Alice',
      GIT_COMMITTER_EMAIL: 'alice@example.com',
    },
  }
  for (const [key, value] of Object.entries(user.env)) if (value === undefined) delete user.env[key]
}, 60_000)

afterAll(async () => {
  await Promise.all([kube?.stop(), s3?.stop(), registry?.stop()])
  if (root) fs.rmSync(root, {recursive: true, force: true})
})

/** Runs one line through sh in `cwd`; the directory it leaves (a `cd`) is where the next one runs. */
async function runLine(line: string, cwd: string): Promise<Step & {next: string}> {
  const cwdFile = path.join(root, 'cwd')
  fs.rmSync(cwdFile, {force: true})
  const result = await runProcess('sh', ['-c', `${line}\nstatus=$?\npwd > ${JSON.stringify(cwdFile)}\nexit $status`], {cwd, baseEnv: user.env})
  const next = fs.existsSync(cwdFile) ? fs.readFileSync(cwdFile, 'utf8').trim() : cwd
  return {line, cwd, next, ...result}
}

describe('the README Quickstart, as written', () => {
  it('is a block of idp commands that starts with idp create', () => {
    expect(lines[0]).toMatch(/^idp create shop /u)
    expect(lines.filter((line) => line.startsWith('idp ')).length).toBeGreaterThanOrEqual(8)
  })

  it('every command succeeds, in order, against the stand-ins', async () => {
    let cwd = path.join(root, 'work')
    fs.mkdirSync(cwd)
    for (const line of lines) {
      if (line.startsWith('idp env up pr-1 --dry-run')) {
        // The image the service's CI would have pushed for this commit.
        const sha = execFileSync('git', ['rev-parse', 'HEAD'], {cwd, encoding: 'utf8'}).trim()
        await registry.push('acme/shop', sha)
      }
      const step = await runLine(line, cwd)
      steps.push(step)
      cwd = step.next
      expect(step.code, `\`${line}\` failed (exit ${step.code}):\n${step.stdout}\n${step.stderr}`).toBe(0)
    }
  }, 400_000)

  const step = (prefix: string) => {
    const found = steps.find((s) => s.line.startsWith(prefix))
    if (!found) throw new Error(`no step ran that starts with "${prefix}" (an earlier one failed?)`)
    return found
  }

  it('env up made the preview: its bucket (tagged by the real provider) and its state Secret existed; env down removed both', () => {
    const up = s3.requests().filter((r) => r.operation === 'CreateBucket')
    expect(up.map((r) => r.bucket)).toEqual(['shop-pr-1'])
    expect(s3.requests().some((r) => r.operation === 'PutBucketTagging' && r.bucket === 'shop-pr-1')).toBe(true)
    expect(s3.requests().some((r) => r.operation === 'DeleteBucket' && r.status === 204 && r.bucket === 'shop-pr-1')).toBe(true)
    expect(step('idp env down pr-1').code).toBe(0)
    expect(s3.bucketNames()).toEqual([])
    const secrets = kube.store().list('v1', 'Secret', 'idp-system').map((s) => s.metadata?.name ?? "")
    expect(secrets.filter((name) => name.startsWith('tfstate-'))).toEqual([])
    const leases = kube.store().list('coordination.k8s.io/v1', 'Lease', 'idp-system').map((l) => l.metadata?.name ?? '')
    expect(leases.filter((name) => name.includes('tfstate-'))).toEqual([])
    // The state was there while the preview lived: in the cluster, not on this machine.
    expect(kube.requests().some((r) => r.method === 'POST' && r.path.includes('/namespaces/idp-system/secrets'))).toBe(true)
    expect(fs.existsSync(path.join(root, 'work', 'shop', 'infra', 'terraform.tfstate.d'))).toBe(false)
  })

  it('env list showed the preview, access grant bound alice, deploy staging synced the Argo CD Application', () => {
    expect(step('idp env list').stdout).toMatch(/pr-1/u)
    expect(step('idp access grant').stdout).toContain('alice@example.com')
    // The grant: a RoleBinding applied server-side (in the preview's vcluster, gone with it at env down).
    expect(kube.requests().some((r) => r.method === 'PATCH' && (r.status ?? 500) < 300 && r.path.includes('/rolebindings/'))).toBe(true)
    const app = kube.store().get('argoproj.io/v1alpha1', 'Application', 'shop-staging', 'argocd') as {status?: {sync?: {status?: string}; health?: {status?: string}}} | undefined
    expect(app?.status?.sync?.status).toBe('Synced')
    expect(app?.status?.health?.status).toBe('Healthy')
    // deploy is Argo CD's: no bucket for staging was made by it (Terraform runs in env up/down).
    expect(s3.requests().some((r) => r.bucket === 'shop-staging')).toBe(false)
  })

  it('the AWS secret key reached terraform only: no output, journal or state file of idp holds it', () => {
    const secret = s3.credentials.secretAccessKey
    for (const s of steps) expect(s.stdout + s.stderr).not.toContain(secret)
    const files = filesUnder(user.stateDir)
    expect(files.length).toBeGreaterThan(0)
    for (const file of files) expect(fileHolds(file, secret), file).toBe(false)
  })

  it("left the user's kubeconfig as it was", () => {
    expect(steps.length).toBe(lines.length)
    expect([hash(user.userKubeconfig), hash(user.env.KUBECONFIG!.split(path.delimiter)[1]!)]).toEqual(kubeconfigHashes)
  })
})

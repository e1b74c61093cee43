// The S3 (+ STS) stand-in is faithful to what the real `hashicorp/aws` provider (5.100.0, from the
// local mirror) needs: the bundled typescript-service infra module, rendered by `idp create`, is
// applied, planned again (no changes: the provider's refresh is satisfied) and destroyed with real
// terraform, pointed at the stand-in only through the environment a user would set
// (AWS_ENDPOINT_URL_S3/_STS, fake keys, AWS_REGION), the provider block untouched.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, runProcess} from '../support/cli.js'
import {type S3StandIn, startS3StandIn} from '../support/s3-stand-in/index.js'
import {toolEnv} from '../support/tool-env.js'

let s3: S3StandIn
let root: string
let infra: string

/** terraform in the module with the stand-in's environment and a HOME without ~/.aws. */
const terraform = (args: string[], env: Record<string, string> = {}) =>
  runProcess('terraform', [...args, '-no-color'], {cwd: infra, baseEnv: toolEnv({env: {HOME: root, ...s3.env(), ...env}})})
const operations = (since: number) => s3.requests().slice(since).map((r) => (r.code ? `${r.operation} ${r.code}` : r.operation))

beforeAll(async () => {
  s3 = await startS3StandIn()
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-s3-'))
  const created = await runCli(['create', 'shop', '--template', 'typescript-service', '--set', 'owner=team-a', '--set', 'repoUrl=github.com?owner=acme&repo=shop', '--no-input'], {
    cwd: root,
    env: {HOME: root, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com'},
  })
  expect(created.code, created.stderr).toBe(0)
  infra = path.join(root, 'shop', 'infra')
  // State on disk for this test only: idp's kubernetes backend is exercised by the quickstart test.
  fs.writeFileSync(path.join(infra, 'backend_override.tf'), 'terraform {\n  backend "local" {}\n}\n')
  const init = await terraform(['init', '-input=false'])
  expect(init.code, init.stderr).toBe(0)
}, 120_000)

afterAll(async () => {
  await s3?.stop()
  if (root) fs.rmSync(root, {recursive: true, force: true})
})

describe('S3 stand-in: the wire', () => {
  it('answers an unsigned request with S3 403 AccessDenied, an XML body and request ids', async () => {
    const response = await fetch(`${s3.url}/any-bucket?tagging`)
    expect(response.status).toBe(403)
    expect(response.headers.get('x-amz-request-id')).toMatch(/^[0-9A-F]{16}$/u)
    expect(response.headers.get('x-amz-id-2')).toBeTruthy()
    const body = await response.text()
    expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>Access Denied<\/Message>/u)
    expect(body).toContain(`<RequestId>${response.headers.get('x-amz-request-id')}</RequestId>`)
  })

  it('rejects a malformed Authorization header before anything else', async () => {
    const response = await fetch(`${s3.url}/`, {headers: {authorization: 'AWS4-HMAC-SHA256 Credential=x', 'x-amz-date': '20260101T000000Z', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD'}})
    expect(response.status).toBe(400)
    expect(await response.text()).toContain('<Code>AuthorizationHeaderMalformed</Code>')
  })

  it('STS without a signature is MissingAuthenticationToken in an ErrorResponse', async () => {
    const response = await fetch(s3.stsUrl, {method: 'POST', body: 'Action=GetCallerIdentity&Version=2011-06-15', headers: {'content-type': 'application/x-www-form-urlencoded'}})
    expect(response.status).toBe(403)
    const body = await response.text()
    expect(body).toContain('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">')
    expect(body).toContain('<Code>MissingAuthenticationToken</Code>')
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/u)
  })
})

describe('S3 stand-in: the real aws provider against it', () => {
  it('a wrong secret key fails at credential validation with the SignatureDoesNotMatch STS returns', async () => {
    const since = s3.requests().length
    const plan = await terraform(['plan', '-input=false', '-var', 'env=pr-1'], {AWS_SECRET_ACCESS_KEY: 'not-the-secret'})
    expect(plan.code).toBe(1)
    expect(plan.stderr).toContain('SignatureDoesNotMatch')
    expect(operations(since)).toEqual(['GetCallerIdentity SignatureDoesNotMatch'])
    expect(s3.bucketNames()).toEqual([])
  })

  it('applies the bundled module (6 resources), plans no change, and force-destroys a non-empty preview bucket', async () => {
    let since = s3.requests().length
    const apply = await terraform(['apply', '-auto-approve', '-input=false', '-var', 'env=pr-1'])
    expect(apply.code, apply.stderr).toBe(0)
    expect(apply.stdout).toContain('Apply complete! Resources: 6 added, 0 changed, 0 destroyed.')
    expect(apply.stdout).toMatch(/bucket_arn = "arn:aws:s3:::shop-pr-1"/u)
    // Every call was signed with the stand-in's keys (verified) and went path-style to the loopback endpoint.
    expect(operations(since)).toEqual(expect.arrayContaining(['GetCallerIdentity', 'HeadBucket NoSuchBucket', 'CreateBucket', 'GetBucketTagging NoSuchTagSet', 'PutBucketTagging', 'PutPublicAccessBlock', 'PutBucketOwnershipControls', 'PutBucketEncryption', 'PutBucketLifecycleConfiguration']))
    // A preview's versioning "Disabled" is never sent: S3 accepts only Enabled or Suspended.
    expect(operations(since)).not.toContain('PutBucketVersioning')
    const bucket = s3.bucket('shop-pr-1')!
    expect(bucket.tags).toEqual({service: 'shop', env: 'pr-1', owner: 'team-a', 'managed-by': 'idp'})
    expect(bucket.publicAccessBlock).toEqual({BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true})
    expect(bucket.ownership).toBe('BucketOwnerEnforced')
    expect(bucket.encryption).toEqual({algorithm: 'AES256', kmsKeyId: undefined, bucketKeyEnabled: false})
    expect(bucket.versioning).toBeUndefined()
    expect(bucket.lifecycle?.map((rule) => rule.children.find((c) => c.name === 'ID')?.text)).toEqual(['expire-noncurrent-versions'])

    since = s3.requests().length
    const plan = await terraform(['plan', '-detailed-exitcode', '-input=false', '-var', 'env=pr-1'])
    expect(plan.code, plan.stdout + plan.stderr).toBe(0)
    expect(plan.stdout).toContain('No changes.')
    expect(operations(since).every((op) => op.startsWith('Get') || op.startsWith('Head') || op.endsWith('NotFoundError') || op.includes(' NoSuch'))).toBe(true)

    s3.putObject('shop-pr-1', 'uploads/report.csv', 'a,b\n')
    since = s3.requests().length
    const destroy = await terraform(['destroy', '-auto-approve', '-input=false', '-var', 'env=pr-1'])
    expect(destroy.code, destroy.stderr).toBe(0)
    expect(destroy.stdout).toContain('Destroy complete! Resources: 6 destroyed.')
    // force_destroy: the provider empties the bucket only after S3 refuses to delete it, listing versions until none are left.
    const emptying = operations(since).filter((op) => /^(DeleteBucket( |$)|ListObjectVersions|DeleteObjects)/u.test(op))
    expect(emptying).toEqual(['DeleteBucket BucketNotEmpty', 'ListObjectVersions', 'DeleteObjects', 'ListObjectVersions', 'DeleteBucket'])
    expect(s3.bucketNames()).toEqual([])
  }, 240_000)
})

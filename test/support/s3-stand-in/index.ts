import {createHash, randomBytes, randomUUID} from 'node:crypto'
import {createServer, type IncomingMessage, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {type SigV4Credentials, type SigV4Failure, verifySigV4} from './sigv4.js'
import {child, children, document, element, escapeXml, parseXml, renderXml, textOf, type XmlNode} from './xml.js'

/**
 * An S3 (+ STS) stand-in for tests: the REST API the Terraform AWS provider (5.x, AWS SDK for Go
 * v2) uses for the bundled templates' buckets, with S3's paths, XML bodies, status codes, error
 * codes and messages, and request ids (https://docs.aws.amazon.com/AmazonS3/latest/API/):
 *
 * - Path-style requests on a loopback endpoint (`/<bucket>`, `/<bucket>/<key>`; a virtual-hosted
 *   `Host: <bucket>.<endpoint>` is understood too): ListBuckets, Create/Head/DeleteBucket,
 *   GetBucketLocation, the bucket's tagging, encryption, publicAccessBlock, ownershipControls,
 *   versioning, lifecycle, policy, acl, cors, website, accelerate, requestPayment, logging,
 *   replication and object-lock subresources, ListObjects(V2), ListObjectVersions, DeleteObjects,
 *   Put/Get/Head/DeleteObject.
 * - Today's defaults of a new bucket (since 2023): SSE-S3 encryption, Block Public Access on,
 *   Object Ownership BucketOwnerEnforced; deleting one of them gives the "not found" error codes
 *   (ServerSideEncryption... resets to SSE-S3, as S3 does).
 * - Every request is SigV4-signed and verified against the stand-in's credentials (a missing,
 *   malformed or wrong signature is S3's 403/400); a `Content-MD5` or `x-amz-checksum-crc32` is
 *   checked against the body.
 * - STS on its own endpoint: GetCallerIdentity (query protocol, form body), which the provider
 *   calls to validate credentials and learn the account.
 *
 * State lives in memory per instance. Listens on 127.0.0.1 only.
 */

export interface S3StandInOptions {
  /** The region buckets are created in when no LocationConstraint comes (default us-east-1, whose legacy re-create answers 200). */
  region?: string
  accountId?: string
  accessKeyId?: string
  secretAccessKey?: string
}

export interface S3Object {
  key: string
  versionId: string
  body: Buffer
  etag: string
  lastModified: Date
  deleteMarker: boolean
}

export interface S3BucketState {
  name: string
  region: string
  created: Date
  /** undefined: no tag set (GetBucketTagging → NoSuchTagSet). */
  tags?: Record<string, string>
  encryption?: {algorithm: string; kmsKeyId?: string; bucketKeyEnabled: boolean}
  publicAccessBlock?: {BlockPublicAcls: boolean; IgnorePublicAcls: boolean; BlockPublicPolicy: boolean; RestrictPublicBuckets: boolean}
  ownership?: string
  versioning?: 'Enabled' | 'Suspended'
  /** The lifecycle rules as S3 returns them (XML of each <Rule>). */
  lifecycle?: XmlNode[]
  /** x-amz-transition-default-minimum-object-size of the lifecycle configuration. */
  transitionMinimumSize?: string
  policy?: string
  /** Every version of every key, oldest first (unversioned buckets keep one, versionId "null"). */
  objects: S3Object[]
}

export interface S3RequestRecord {
  service: 's3' | 'sts'
  method: string
  /** The operation as the S3 API reference names it (CreateBucket, GetBucketTagging, ...). */
  operation: string
  bucket?: string
  status: number
  /** The error code, when the answer is an error. */
  code?: string
}

export interface S3StandIn {
  /** The S3 endpoint: http://127.0.0.1:<port> (an IP, so the SDK uses path-style requests). */
  url: string
  /** The STS endpoint: another loopback port. */
  stsUrl: string
  region: string
  accountId: string
  credentials: SigV4Credentials
  /**
   * The environment that points the real AWS provider (or the AWS CLI, any SDK v2 client) at the
   * stand-in without changing a provider block: service-specific endpoints, fake credentials, the
   * region, no instance metadata lookups.
   */
  env(): Record<string, string>
  bucketNames(): string[]
  bucket(name: string): S3BucketState | undefined
  /** Puts an object as a client would (so a test can make a bucket non-empty). */
  putObject(bucket: string, key: string, body: string | Buffer): void
  requests(): S3RequestRecord[]
  stop(): Promise<void>
}

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message)
  }
}

const ERRORS = {
  NoSuchBucket: [404, 'The specified bucket does not exist'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchTagSet: [404, 'The TagSet does not exist'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist'],
  NoSuchPublicAccessBlockConfiguration: [404, 'The public access block configuration was not found'],
  OwnershipControlsNotFoundError: [404, 'The bucket ownership controls were not found'],
  ServerSideEncryptionConfigurationNotFoundError: [404, 'The server side encryption configuration was not found'],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist'],
  NoSuchWebsiteConfiguration: [404, 'The specified bucket does not have a website configuration'],
  ReplicationConfigurationNotFoundError: [404, 'The replication configuration was not found'],
  ObjectLockConfigurationNotFoundError: [404, 'Object Lock configuration does not exist for this bucket'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema'],
  InvalidTag: [400, 'The TagKey you have provided is invalid'],
  BadDigest: [400, 'The Content-MD5 or checksum value that you specified did not match what the server received.'],
  InvalidDigest: [400, 'The Content-MD5 you specified is not valid.'],
  MissingContentMD5: [400, 'Missing required header for this request: Content-MD5'],
  InvalidArgument: [400, 'Invalid argument.'],
  MalformedPolicy: [400, "Policies must be valid JSON and the first byte must be '{'"],
  InvalidBucketAclWithObjectOwnership: [400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  NotImplemented: [501, 'A header you provided implies functionality that is not implemented'],
  InvalidLocationConstraint: [400, 'The specified location-constraint is not valid'],
  IllegalLocationConstraintException: [400, 'The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.'],
} as const

function fail(code: keyof typeof ERRORS, extra: Record<string, string> = {}, message?: string): never {
  const [status, text] = ERRORS[code]
  throw new S3Error(status, code, message ?? text, extra)
}

/** S3's bucket naming rules (general purpose buckets). */
export function validBucketName(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/u.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/u.test(name) &&
    !/^(xn--|sthree-|amzn-s3-demo-)/u.test(name) &&
    !/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/u.test(name)
  )
}

const CRC32_TABLE = Array.from({length: 256}, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xed_b8_83_20 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

export function crc32(data: Buffer): number {
  let c = 0xff_ff_ff_ff
  for (const byte of data) c = CRC32_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xff_ff_ff_ff) >>> 0
}

const requestId = () => randomBytes(8).toString('hex').toUpperCase()
const hostId = () => randomBytes(48).toString('base64')
const bool = (node: XmlNode | undefined, name: string) => textOf(node, name) === 'true'

/** Which operation a request is, from its method, whether it names a bucket and key, and its subresource. */
function operationOf(method: string, bucket: string | undefined, key: string | undefined, query: URLSearchParams): string {
  if (!bucket) return method === 'GET' ? 'ListBuckets' : 'Unknown'
  if (key !== undefined) return {GET: 'GetObject', HEAD: 'HeadObject', PUT: 'PutObject', DELETE: 'DeleteObject'}[method] ?? 'Unknown'
  const sub = SUBRESOURCES.find((name) => query.has(name))
  const verb = {GET: 'Get', PUT: 'Put', DELETE: 'Delete', POST: 'Post', HEAD: 'Head'}[method] ?? method
  if (!sub) {
    if (method === 'GET') return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects'
    return {PUT: 'CreateBucket', HEAD: 'HeadBucket', DELETE: 'DeleteBucket'}[method] ?? 'Unknown'
  }
  if (sub === 'versions') return method === 'GET' ? 'ListObjectVersions' : 'Unknown'
  if (sub === 'delete') return method === 'POST' ? 'DeleteObjects' : 'Unknown'
  return `${verb}${SUBRESOURCE_NAMES[sub]}`
}

const SUBRESOURCE_NAMES: Record<string, string> = {
  tagging: 'BucketTagging',
  encryption: 'BucketEncryption',
  publicAccessBlock: 'PublicAccessBlock',
  ownershipControls: 'BucketOwnershipControls',
  versioning: 'BucketVersioning',
  lifecycle: 'BucketLifecycleConfiguration',
  policy: 'BucketPolicy',
  acl: 'BucketAcl',
  cors: 'BucketCors',
  website: 'BucketWebsite',
  accelerate: 'BucketAccelerateConfiguration',
  requestPayment: 'BucketRequestPayment',
  logging: 'BucketLogging',
  replication: 'BucketReplication',
  'object-lock': 'ObjectLockConfiguration',
  location: 'BucketLocation',
}
const SUBRESOURCES = [...Object.keys(SUBRESOURCE_NAMES), 'versions', 'delete']

function body(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

export async function startS3StandIn(options: S3StandInOptions = {}): Promise<S3StandIn> {
  const region = options.region ?? 'us-east-1'
  const accountId = options.accountId ?? '123456789012'
  const credentials: SigV4Credentials = {
    accessKeyId: options.accessKeyId ?? 'AKIAIOSFODNN7EXAMPLE',
    secretAccessKey: options.secretAccessKey ?? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  }
  const ownerId = createHash('sha256').update(accountId).digest('hex')
  const buckets = new Map<string, S3BucketState>()
  const records: S3RequestRecord[] = []

  const getBucket = (name: string): S3BucketState => buckets.get(name) ?? fail('NoSuchBucket', {BucketName: name})

  const liveObjects = (bucket: S3BucketState) => {
    const latest = new Map<string, S3Object>()
    for (const object of bucket.objects) latest.set(object.key, object)
    return [...latest.values()].filter((o) => !o.deleteMarker).sort((a, b) => (a.key < b.key ? -1 : 1))
  }

  const newVersionId = (bucket: S3BucketState) => (bucket.versioning === 'Enabled' ? randomBytes(24).toString('base64url') : 'null')

  function putObject(bucket: S3BucketState, key: string, data: Buffer): S3Object {
    const object: S3Object = {key, versionId: newVersionId(bucket), body: data, etag: `"${createHash('md5').update(data).digest('hex')}"`, lastModified: new Date(), deleteMarker: false}
    if (object.versionId === 'null') bucket.objects = bucket.objects.filter((o) => !(o.key === key && o.versionId === 'null'))
    bucket.objects.push(object)
    return object
  }

  function deleteObject(bucket: S3BucketState, key: string, versionId: string | undefined): {versionId?: string; deleteMarker: boolean} {
    if (versionId !== undefined) {
      const found = bucket.objects.find((o) => o.key === key && o.versionId === versionId)
      bucket.objects = bucket.objects.filter((o) => o !== found)
      return {versionId, deleteMarker: found?.deleteMarker ?? false}
    }
    if (bucket.versioning === undefined) {
      bucket.objects = bucket.objects.filter((o) => o.key !== key)
      return {deleteMarker: false}
    }
    const marker = {key, versionId: newVersionId(bucket), body: Buffer.alloc(0), etag: '', lastModified: new Date(), deleteMarker: true}
    if (marker.versionId === 'null') bucket.objects = bucket.objects.filter((o) => !(o.key === key && o.versionId === 'null'))
    bucket.objects.push(marker)
    return {versionId: marker.versionId, deleteMarker: true}
  }

  const xmlBody = (data: Buffer, root: string): XmlNode => {
    let node: XmlNode
    try {
      node = parseXml(data.toString('utf8'))
    } catch {
      fail('MalformedXML')
    }
    if (node.name !== root) fail('MalformedXML')
    return node
  }

  /** Content-MD5 and x-amz-checksum-crc32 are checked like S3 does; `required`: one of them must come. */
  function checkDigest(request: IncomingMessage, data: Buffer, required: boolean) {
    const md5 = request.headers['content-md5']
    const crc = request.headers['x-amz-checksum-crc32']
    if (typeof md5 === 'string') {
      if (!/^[A-Za-z0-9+/]{22}==$/u.test(md5)) fail('InvalidDigest')
      if (md5 !== createHash('md5').update(data).digest('base64')) fail('BadDigest')
    }
    if (typeof crc === 'string') {
      const expected = Buffer.alloc(4)
      expected.writeUInt32BE(crc32(data))
      if (crc !== expected.toString('base64')) fail('BadDigest', {}, 'The CRC32 you specified did not match the calculated checksum.')
    }
    const otherChecksum = Object.keys(request.headers).some((h) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-crc32' && h !== 'x-amz-checksum-type')
    if (required && typeof md5 !== 'string' && typeof crc !== 'string' && !otherChecksum) fail('MissingContentMD5')
  }

  const renderTags = (tags: Record<string, string>) => `<TagSet>${Object.entries(tags).map(([k, v]) => `<Tag>${element('Key', k)}${element('Value', v)}</Tag>`).join('')}</TagSet>`

  function parseTags(node: XmlNode): Record<string, string> {
    const tags: Record<string, string> = {}
    const list = children(child(node, 'TagSet'), 'Tag')
    if (!child(node, 'TagSet')) fail('MalformedXML')
    if (list.length > 50) fail('InvalidTag', {}, 'Object tags cannot be greater than 50')
    for (const tag of list) {
      const key = child(tag, 'Key')?.text
      const value = child(tag, 'Value')?.text
      if (key === undefined || value === undefined) fail('MalformedXML')
      if (key === '' || key.length > 128) fail('InvalidTag', {TagKey: key}, 'The TagKey you have provided is invalid')
      if (value.length > 256) fail('InvalidTag', {TagKey: key}, 'The TagValue you have provided is invalid')
      if (key.startsWith('aws:')) fail('InvalidTag', {TagKey: key}, 'System tags cannot be added/updated by requester')
      if (key in tags) fail('InvalidTag', {TagKey: key}, 'Cannot provide multiple Tags with the same key')
      tags[key] = value
    }
    return tags
  }

  type Answer = {status: number; xml?: string; text?: string; data?: Buffer; headers?: Record<string, string>}
  const ok = (xml?: string, headers?: Record<string, string>): Answer => ({status: 200, xml, headers})
  const noContent: Answer = {status: 204}
  const lifecycleHeader = (bucket: S3BucketState) => ({'x-amz-transition-default-minimum-object-size': bucket.transitionMinimumSize ?? 'all_storage_classes_128K'})

  function bucketConfig(method: string, sub: string, bucket: S3BucketState, request: IncomingMessage, data: Buffer): Answer {
    const name = bucket.name
    switch (`${method} ${sub}`) {
      case 'GET location':
        return ok(`<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${bucket.region === 'us-east-1' ? '' : escapeXml(bucket.region)}</LocationConstraint>`)
      case 'GET tagging':
        if (!bucket.tags) fail('NoSuchTagSet', {BucketName: name})
        return ok(document('Tagging', renderTags(bucket.tags)))
      case 'PUT tagging':
        checkDigest(request, data, true)
        bucket.tags = parseTags(xmlBody(data, 'Tagging'))
        return noContent
      case 'DELETE tagging':
        bucket.tags = undefined
        return noContent
      case 'GET encryption': {
        const sse = bucket.encryption ?? fail('ServerSideEncryptionConfigurationNotFoundError', {BucketName: name})
        const byDefault = element('SSEAlgorithm', sse.algorithm) + (sse.kmsKeyId ? element('KMSMasterKeyID', sse.kmsKeyId) : '')
        return ok(document('ServerSideEncryptionConfiguration', `<Rule><ApplyServerSideEncryptionByDefault>${byDefault}</ApplyServerSideEncryptionByDefault>${element('BucketKeyEnabled', sse.bucketKeyEnabled)}</Rule>`))
      }
      case 'PUT encryption': {
        checkDigest(request, data, true)
        const rule = child(xmlBody(data, 'ServerSideEncryptionConfiguration'), 'Rule')
        const byDefault = child(rule, 'ApplyServerSideEncryptionByDefault')
        const algorithm = textOf(byDefault, 'SSEAlgorithm')
        if (!algorithm || !['AES256', 'aws:kms', 'aws:kms:dsse'].includes(algorithm)) fail('MalformedXML')
        const kmsKeyId = textOf(byDefault, 'KMSMasterKeyID')
        if (kmsKeyId && algorithm === 'AES256') fail('InvalidArgument')
        bucket.encryption = {algorithm, kmsKeyId, bucketKeyEnabled: bool(rule, 'BucketKeyEnabled')}
        return ok()
      }
      case 'DELETE encryption':
        // S3 applies SSE-S3 to every bucket: deleting the configuration restores that default.
        bucket.encryption = {algorithm: 'AES256', bucketKeyEnabled: false}
        return noContent
      case 'GET publicAccessBlock': {
        const block = bucket.publicAccessBlock ?? fail('NoSuchPublicAccessBlockConfiguration', {BucketName: name})
        return ok(document('PublicAccessBlockConfiguration', Object.entries(block).map(([k, v]) => element(k, v)).join('')))
      }
      case 'PUT publicAccessBlock': {
        checkDigest(request, data, true)
        const node = xmlBody(data, 'PublicAccessBlockConfiguration')
        bucket.publicAccessBlock = {BlockPublicAcls: bool(node, 'BlockPublicAcls'), IgnorePublicAcls: bool(node, 'IgnorePublicAcls'), BlockPublicPolicy: bool(node, 'BlockPublicPolicy'), RestrictPublicBuckets: bool(node, 'RestrictPublicBuckets')}
        return ok()
      }
      case 'DELETE publicAccessBlock':
        bucket.publicAccessBlock = undefined
        return noContent
      case 'GET ownershipControls': {
        const ownership = bucket.ownership ?? fail('OwnershipControlsNotFoundError', {BucketName: name})
        return ok(document('OwnershipControls', `<Rule>${element('ObjectOwnership', ownership)}</Rule>`))
      }
      case 'PUT ownershipControls': {
        checkDigest(request, data, true)
        const rules = children(xmlBody(data, 'OwnershipControls'), 'Rule')
        const ownership = textOf(rules[0], 'ObjectOwnership')
        if (rules.length !== 1 || !ownership || !['BucketOwnerPreferred', 'ObjectWriter', 'BucketOwnerEnforced'].includes(ownership)) fail('MalformedXML')
        bucket.ownership = ownership
        return ok()
      }
      case 'DELETE ownershipControls':
        bucket.ownership = undefined
        return noContent
      case 'GET versioning':
        return ok(bucket.versioning ? document('VersioningConfiguration', element('Status', bucket.versioning)) : `<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`)
      case 'PUT versioning': {
        checkDigest(request, data, false)
        const status = textOf(xmlBody(data, 'VersioningConfiguration'), 'Status')
        if (status !== 'Enabled' && status !== 'Suspended') fail('MalformedXML')
        bucket.versioning = status
        return ok()
      }
      case 'GET lifecycle':
        if (!bucket.lifecycle) fail('NoSuchLifecycleConfiguration', {BucketName: name})
        return ok(document('LifecycleConfiguration', bucket.lifecycle.map(renderXml).join('')), lifecycleHeader(bucket))
      case 'PUT lifecycle': {
        checkDigest(request, data, true)
        const rules = children(xmlBody(data, 'LifecycleConfiguration'), 'Rule')
        if (rules.length === 0 || rules.length > 1000) fail('MalformedXML')
        const ids = new Set<string>()
        for (const rule of rules) {
          const status = textOf(rule, 'Status')
          if (status !== 'Enabled' && status !== 'Disabled') fail('MalformedXML')
          if (child(rule, 'Filter') && child(rule, 'Prefix')) fail('MalformedXML')
          let id = textOf(rule, 'ID')
          if (id === undefined) {
            id = randomBytes(24).toString('base64').replace(/[+/=]/gu, '')
            rule.children.unshift({name: 'ID', children: [], text: id})
          }
          if (id.length > 255) fail('InvalidArgument')
          if (ids.has(id)) fail('InvalidArgument', {}, 'Rule ID must be unique. Found same ID for more than one rule')
          ids.add(id)
          const actions = ['Expiration', 'Transition', 'NoncurrentVersionExpiration', 'NoncurrentVersionTransition', 'AbortIncompleteMultipartUpload']
          if (!rule.children.some((c) => actions.includes(c.name))) fail('MalformedXML')
        }
        const size = request.headers['x-amz-transition-default-minimum-object-size']
        if (size !== undefined && size !== 'all_storage_classes_128K' && size !== 'varies_by_storage_class') fail('InvalidArgument')
        bucket.lifecycle = rules
        bucket.transitionMinimumSize = typeof size === 'string' ? size : 'all_storage_classes_128K'
        return ok(undefined, lifecycleHeader(bucket))
      }
      case 'DELETE lifecycle':
        bucket.lifecycle = undefined
        bucket.transitionMinimumSize = undefined
        return noContent
      case 'GET policy':
        if (bucket.policy === undefined) fail('NoSuchBucketPolicy', {BucketName: name})
        return {status: 200, text: bucket.policy}
      case 'PUT policy':
        try {
          JSON.parse(data.toString('utf8'))
        } catch {
          fail('MalformedPolicy')
        }
        bucket.policy = data.toString('utf8')
        return noContent
      case 'DELETE policy':
        bucket.policy = undefined
        return noContent
      case 'GET acl':
        return ok(
          document(
            'AccessControlPolicy',
            `<Owner>${element('ID', ownerId)}</Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">${element('ID', ownerId)}</Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList>`,
          ),
        )
      case 'GET cors':
        return fail('NoSuchCORSConfiguration', {BucketName: name})
      case 'GET website':
        return fail('NoSuchWebsiteConfiguration', {BucketName: name})
      case 'GET accelerate':
        return ok(document('AccelerateConfiguration', ''))
      case 'GET requestPayment':
        return ok(document('RequestPaymentConfiguration', element('Payer', 'BucketOwner')))
      case 'GET logging':
        return ok(`<?xml version="1.0" encoding="UTF-8"?>\n<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`)
      case 'GET replication':
        return fail('ReplicationConfigurationNotFoundError', {BucketName: name})
      case 'GET object-lock':
        return fail('ObjectLockConfigurationNotFoundError', {BucketName: name})
      default:
        return fail('NotImplemented')
    }
  }

  function listVersions(bucket: S3BucketState, query: URLSearchParams): string {
    const prefix = query.get('prefix') ?? ''
    const max = Math.min(Number(query.get('max-keys') ?? 1000), 1000)
    const all = bucket.objects.filter((o) => o.key.startsWith(prefix))
    const latest = new Map<string, S3Object>()
    for (const o of all) latest.set(o.key, o)
    const sorted = [...all].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : b.lastModified.getTime() - a.lastModified.getTime()))
    const page = sorted.slice(0, max)
    const entries = page
      .map((o) => {
        const common = element('Key', o.key) + element('VersionId', o.versionId) + element('IsLatest', latest.get(o.key) === o) + element('LastModified', o.lastModified.toISOString()) + `<Owner>${element('ID', ownerId)}</Owner>`
        return o.deleteMarker ? `<DeleteMarker>${common}</DeleteMarker>` : `<Version>${common}${element('ETag', o.etag)}${element('Size', o.body.length)}${element('StorageClass', 'STANDARD')}</Version>`
      })
      .join('')
    const truncated = sorted.length > max
    const next = truncated ? element('NextKeyMarker', page.at(-1)!.key) + element('NextVersionIdMarker', page.at(-1)!.versionId) : ''
    return document('ListVersionsResult', element('Name', bucket.name) + element('Prefix', prefix) + element('KeyMarker', '') + element('VersionIdMarker', '') + next + element('MaxKeys', max) + element('IsTruncated', truncated) + entries)
  }

  function listObjects(bucket: S3BucketState, query: URLSearchParams, v2: boolean): string {
    const prefix = query.get('prefix') ?? ''
    const max = Math.min(Number(query.get('max-keys') ?? 1000), 1000)
    const after = (v2 ? (query.get('continuation-token') ?? query.get('start-after')) : query.get('marker')) ?? ''
    const matching = liveObjects(bucket).filter((o) => o.key.startsWith(prefix) && o.key > after)
    const page = matching.slice(0, max)
    const truncated = matching.length > max
    const contents = page.map((o) => `<Contents>${element('Key', o.key)}${element('LastModified', o.lastModified.toISOString())}${element('ETag', o.etag)}${element('Size', o.body.length)}${element('StorageClass', 'STANDARD')}</Contents>`).join('')
    const paging = v2
      ? element('KeyCount', page.length) + (truncated ? element('NextContinuationToken', page.at(-1)!.key) : '')
      : element('Marker', after) + (truncated ? element('NextMarker', page.at(-1)!.key) : '')
    return document('ListBucketResult', element('Name', bucket.name) + element('Prefix', prefix) + paging + element('MaxKeys', max) + element('IsTruncated', truncated) + contents)
  }

  function s3(method: string, bucketName: string | undefined, key: string | undefined, query: URLSearchParams, request: IncomingMessage, data: Buffer): Answer {
    if (!bucketName) {
      if (method !== 'GET') fail('MethodNotAllowed')
      const list = [...buckets.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
      return ok(document('ListAllMyBucketsResult', `<Owner>${element('ID', ownerId)}</Owner><Buckets>${list.map((b) => `<Bucket>${element('Name', b.name)}${element('CreationDate', b.created.toISOString())}${element('BucketRegion', b.region)}</Bucket>`).join('')}</Buckets>`))
    }
    if (key !== undefined) {
      const bucket = getBucket(bucketName)
      if (key === '') fail('MethodNotAllowed')
      switch (method) {
        case 'PUT': {
          if (request.headers['content-encoding']?.includes('aws-chunked')) fail('NotImplemented')
          checkDigest(request, data, false)
          const object = putObject(bucket, key, data)
          return {status: 200, headers: {ETag: object.etag, ...(bucket.versioning ? {'x-amz-version-id': object.versionId} : {})}}
        }
        case 'GET':
        case 'HEAD': {
          const object = liveObjects(bucket).find((o) => o.key === key) ?? fail('NoSuchKey', {Key: key})
          return {status: 200, data: method === 'GET' ? object.body : Buffer.alloc(0), headers: {ETag: object.etag, 'Last-Modified': object.lastModified.toUTCString(), 'Content-Type': 'binary/octet-stream', ...(method === 'HEAD' ? {'Content-Length': String(object.body.length)} : {})}}
        }
        case 'DELETE': {
          const result = deleteObject(bucket, key, query.get('versionId') ?? undefined)
          return {status: 204, headers: {...(result.deleteMarker ? {'x-amz-delete-marker': 'true'} : {}), ...(result.versionId ? {'x-amz-version-id': result.versionId} : {})}}
        }
        default:
          fail('MethodNotAllowed')
      }
    }
    const sub = SUBRESOURCES.find((name) => query.has(name))
    if (!sub) {
      switch (method) {
        case 'PUT': {
          if (!validBucketName(bucketName)) fail('InvalidBucketName', {BucketName: bucketName})
          let location = 'us-east-1'
          if (data.length > 0) {
            const constraint = textOf(xmlBody(data, 'CreateBucketConfiguration'), 'LocationConstraint')
            if (constraint === 'us-east-1') fail('InvalidLocationConstraint', {LocationConstraint: constraint})
            if (constraint) location = constraint
          }
          if (location !== region) fail('IllegalLocationConstraintException')
          const ownership = typeof request.headers['x-amz-object-ownership'] === 'string' ? request.headers['x-amz-object-ownership'] : 'BucketOwnerEnforced'
          const acl = request.headers['x-amz-acl']
          if (ownership === 'BucketOwnerEnforced' && acl !== undefined && acl !== 'private' && acl !== 'bucket-owner-full-control') fail('InvalidBucketAclWithObjectOwnership')
          const existing = buckets.get(bucketName)
          if (existing) {
            // S3's legacy answer in us-east-1: re-creating a bucket you own is a 200.
            if (region === 'us-east-1') return {status: 200, headers: {Location: `/${bucketName}`}}
            fail('BucketAlreadyOwnedByYou', {BucketName: bucketName})
          }
          buckets.set(bucketName, {
            name: bucketName,
            region: location,
            created: new Date(),
            encryption: {algorithm: 'AES256', bucketKeyEnabled: false},
            publicAccessBlock: {BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true},
            ownership,
            objects: [],
          })
          return {status: 200, headers: {Location: `/${bucketName}`}}
        }
        case 'HEAD': {
          const bucket = getBucket(bucketName)
          return {status: 200, headers: {'x-amz-bucket-region': bucket.region, 'x-amz-access-point-alias': 'false'}}
        }
        case 'DELETE': {
          const bucket = getBucket(bucketName)
          if (bucket.objects.length > 0) fail('BucketNotEmpty', {BucketName: bucketName})
          buckets.delete(bucketName)
          return noContent
        }
        case 'GET': {
          const bucket = getBucket(bucketName)
          return ok(listObjects(bucket, query, query.get('list-type') === '2'))
        }
        default:
          fail('MethodNotAllowed')
      }
    }
    const bucket = getBucket(bucketName)
    if (sub === 'versions') {
      if (method !== 'GET') fail('MethodNotAllowed')
      return ok(listVersions(bucket, query))
    }
    if (sub === 'delete') {
      if (method !== 'POST') fail('MethodNotAllowed')
      checkDigest(request, data, true)
      const node = xmlBody(data, 'Delete')
      const quiet = bool(node, 'Quiet')
      const objects = children(node, 'Object')
      if (objects.length === 0 || objects.length > 1000) fail('MalformedXML')
      const deleted = objects.map((o) => {
        const objectKey = textOf(o, 'Key') ?? fail('MalformedXML')
        const result = deleteObject(bucket, objectKey, textOf(o, 'VersionId'))
        return `<Deleted>${element('Key', objectKey)}${result.versionId === undefined ? '' : element(result.deleteMarker && textOf(o, 'VersionId') === undefined ? 'DeleteMarkerVersionId' : 'VersionId', result.versionId)}${result.deleteMarker ? element('DeleteMarker', true) : ''}</Deleted>`
      })
      return ok(document('DeleteResult', quiet ? '' : deleted.join('')))
    }
    return bucketConfig(method, sub, bucket, request, data)
  }

  const commonHeaders = () => ({'x-amz-request-id': requestId(), 'x-amz-id-2': hostId(), Date: new Date().toUTCString(), Server: 'AmazonS3'})

  function authFailure(failure: SigV4Failure): S3Error {
    return new S3Error(failure.status, failure.code, failure.message, failure.code === 'InvalidAccessKeyId' || failure.code === 'SignatureDoesNotMatch' ? {AWSAccessKeyId: credentials.accessKeyId} : {})
  }

  const s3Server = createServer((request, response) => {
    void (async () => {
      const data = await body(request)
      const target = request.url ?? '/'
      const url = new URL(target, 'http://s3.local')
      const hostname = (request.headers.host ?? '').replace(/:\d+$/u, '')
      // Virtual-hosted style (Host: <bucket>.<endpoint host>) or path style (/<bucket>/<key>).
      const virtual = hostname !== '127.0.0.1' && hostname !== 'localhost' && hostname.endsWith('.localhost') ? hostname.slice(0, -'.localhost'.length) : undefined
      const parts = url.pathname.split('/').slice(1)
      const bucketName = virtual ?? (parts[0] ? decodeURIComponent(parts[0]) : undefined)
      const keyParts = virtual ? parts : parts.slice(1)
      const key = virtual ? (url.pathname === '/' ? undefined : decodeURIComponent(keyParts.join('/'))) : parts.length > 1 && !(parts.length === 2 && parts[1] === '') ? decodeURIComponent(keyParts.join('/')) : undefined
      const method = request.method ?? 'GET'
      const operation = operationOf(method, bucketName, key, url.searchParams)
      const headers = commonHeaders()
      let answer: Answer
      try {
        const verified = verifySigV4({method, target, headers: request.headers, body: data}, [credentials], {service: 's3', now: new Date()})
        if ('code' in verified) throw authFailure(verified)
        answer = s3(method, bucketName, key, url.searchParams, request, data)
      } catch (error) {
        if (!(error instanceof S3Error)) {
          response.writeHead(500, {...headers, 'Content-Type': 'application/xml'})
          response.end(document('Error', element('Code', 'InternalError') + element('Message', String(error)), '').replace(' xmlns=""', ''))
          return
        }
        records.push({service: 's3', method, operation, bucket: bucketName, status: error.status, code: error.code})
        const errorXml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${element('Code', error.code)}${element('Message', error.message)}${Object.entries(error.extra).map(([k, v]) => element(k, v)).join('')}${element('RequestId', headers['x-amz-request-id'])}${element('HostId', headers['x-amz-id-2'])}</Error>`
        // A HEAD has no body: the SDK sees only the status (NotFound for a 404).
        response.writeHead(error.status, {...headers, 'Content-Type': 'application/xml', ...(method === 'HEAD' ? {} : {'Content-Length': String(Buffer.byteLength(errorXml))})})
        response.end(method === 'HEAD' ? undefined : errorXml)
        return
      }
      records.push({service: 's3', method, operation, bucket: bucketName, status: answer.status})
      const payload = answer.xml !== undefined ? Buffer.from(answer.xml) : answer.text !== undefined ? Buffer.from(answer.text) : (answer.data ?? Buffer.alloc(0))
      response.writeHead(answer.status, {
        ...headers,
        ...(answer.xml !== undefined ? {'Content-Type': 'application/xml'} : answer.text !== undefined ? {'Content-Type': 'application/json'} : {}),
        ...(method === 'HEAD' ? {} : {'Content-Length': String(payload.length)}),
        ...answer.headers,
      })
      response.end(method === 'HEAD' ? undefined : payload)
    })()
  })

  const stsServer = createServer((request, response) => {
    void (async () => {
      const data = await body(request)
      const form = new URLSearchParams(data.toString('utf8'))
      const action = form.get('Action') ?? new URL(request.url ?? '/', 'http://sts.local').searchParams.get('Action') ?? ''
      const id = randomUUID()
      const reply = (status: number, xml: string, code?: string) => {
        records.push({service: 'sts', method: request.method ?? 'GET', operation: action || 'Unknown', status, code})
        response.writeHead(status, {'x-amzn-RequestId': id, 'Content-Type': 'text/xml', 'Content-Length': String(Buffer.byteLength(xml)), Date: new Date().toUTCString()})
        response.end(xml)
      }
      const error = (status: number, code: string, message: string, type = 'Sender') =>
        reply(status, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${code}</Code>\n    <Message>${escapeXml(message)}</Message>\n  </Error>\n  <RequestId>${id}</RequestId>\n</ErrorResponse>\n`, code)
      const verified = verifySigV4({method: request.method ?? 'GET', target: request.url ?? '/', headers: request.headers, body: data}, [credentials], {service: 'sts', now: new Date()})
      if ('code' in verified) {
        if (verified.code === 'AccessDenied' && !request.headers.authorization) return error(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token')
        if (verified.code === 'InvalidAccessKeyId') return error(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.')
        if (verified.code === 'SignatureDoesNotMatch') return error(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.')
        return error(verified.status, verified.code === 'AuthorizationHeaderMalformed' ? 'IncompleteSignature' : verified.code, verified.message)
      }
      if (form.get('Version') !== '2011-06-15') return error(400, 'InvalidAction', `Could not find operation ${action} for version ${form.get('Version') ?? 'NO_VERSION_SPECIFIED'}`)
      if (action !== 'GetCallerIdentity') return error(400, 'InvalidAction', `Could not find operation ${action} for version 2011-06-15`)
      reply(
        200,
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <GetCallerIdentityResult>\n    <Arn>arn:aws:iam::${accountId}:user/idp-test</Arn>\n    <UserId>AIDA${createHash('sha256').update(credentials.accessKeyId).digest('hex').slice(0, 17).toUpperCase()}</UserId>\n    <Account>${accountId}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>${id}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n`,
      )
    })()
  })

  const listen = (server: Server) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
    })
  const [s3Port, stsPort] = await Promise.all([listen(s3Server), listen(stsServer)])
  const url = `http://127.0.0.1:${s3Port}`
  const stsUrl = `http://127.0.0.1:${stsPort}`

  return {
    url,
    stsUrl,
    region,
    accountId,
    credentials,
    env: () => ({
      AWS_ENDPOINT_URL_S3: url,
      AWS_ENDPOINT_URL_STS: stsUrl,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: region,
      AWS_EC2_METADATA_DISABLED: 'true',
    }),
    bucketNames: () => [...buckets.keys()].sort(),
    bucket: (name) => buckets.get(name),
    putObject(bucketName, key, data) {
      const bucket = buckets.get(bucketName)
      if (!bucket) throw new Error(`no bucket ${bucketName}`)
      putObject(bucket, key, Buffer.from(data))
    },
    requests: () => [...records],
    async stop() {
      const close = (server: Server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
      await Promise.all([close(s3Server), close(stsServer)])
    },
  }
}

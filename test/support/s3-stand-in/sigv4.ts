import {createHash, createHmac, timingSafeEqual} from 'node:crypto'
import type {IncomingHttpHeaders} from 'node:http'

/**
 * AWS Signature Version 4 as the services verify it
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
 * the canonical request from the method, the path as sent (S3 does not normalise or re-encode it;
 * other services do not either for "/"), the query sorted and URI-encoded, the signed headers and
 * the payload hash; the string to sign from the date and scope; the key derived from the secret.
 */

export interface SigV4Credentials {
  accessKeyId: string
  secretAccessKey: string
}

export interface SignedRequest {
  method: string
  /** The raw request target: path and query exactly as they came on the request line. */
  target: string
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface SigV4Scope {
  accessKeyId: string
  date: string
  region: string
  service: string
}

/** Why a request fails authentication, as the service's error code and message. */
export interface SigV4Failure {
  code: 'AccessDenied' | 'InvalidArgument' | 'AuthorizationHeaderMalformed' | 'InvalidAccessKeyId' | 'SignatureDoesNotMatch' | 'RequestTimeTooSkewed' | 'XAmzContentSHA256Mismatch' | 'MissingAuthenticationToken' | 'IncompleteSignature' | 'InvalidClientTokenId'
  message: string
  status: number
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest()

/** RFC 3986 unreserved characters stay, everything else is %XX (upper case), as SigV4 requires. */
export function uriEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9\-._~]/u.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('')
}

function canonicalQuery(query: string): string {
  if (query === '') return ''
  return query
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const at = part.indexOf('=')
      const key = decodeURIComponent((at === -1 ? part : part.slice(0, at)).replace(/\+/gu, '%20'))
      const value = at === -1 ? '' : decodeURIComponent(part.slice(at + 1).replace(/\+/gu, '%20'))
      return [uriEncode(key), uriEncode(value)] as const
    })
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
}

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(',') : (value ?? '')).trim().replace(/\s+/gu, ' ')

/** The scope of a well-formed Authorization header, or why it is not one. */
export function parseAuthorization(header: string | undefined): {scope: SigV4Scope; signedHeaders: string[]; signature: string} | SigV4Failure {
  if (!header) return {code: 'AccessDenied', message: 'Access Denied', status: 403}
  const match = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/u.exec(header)
  if (!match) return {code: 'AuthorizationHeaderMalformed', message: 'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.', status: 400}
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match
  return {scope: {accessKeyId: accessKeyId!, date: date!, region: region!, service: service!}, signedHeaders: signedHeaders!.split(';'), signature: signature!}
}

/**
 * Checks a request's signature against the known credentials. `payloadHash`: what the
 * canonical request ends with (S3: the x-amz-content-sha256 header; other services: the body's hash).
 */
export function verifySigV4(request: SignedRequest, credentials: SigV4Credentials[], options: {service: string; now: Date}): SigV4Failure | SigV4Scope {
  const parsed = parseAuthorization(request.headers.authorization)
  if ('code' in parsed) return parsed
  const {scope, signedHeaders, signature} = parsed
  const known = credentials.find((c) => c.accessKeyId === scope.accessKeyId)
  if (!known) return {code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.', status: 403}
  if (scope.service !== options.service) {
    return {code: 'AuthorizationHeaderMalformed', message: `The authorization header is malformed; incorrect service "${scope.service}". This endpoint belongs to "${options.service}".`, status: 400}
  }
  const amzDate = headerValue(request.headers['x-amz-date'])
  if (!/^\d{8}T\d{6}Z$/u.test(amzDate) || !amzDate.startsWith(scope.date)) return {code: 'AccessDenied', message: 'AWS authentication requires a valid Date or x-amz-date header', status: 403}
  const signedAt = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15))
  if (Math.abs(options.now.getTime() - signedAt) > 15 * 60 * 1000) return {code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.', status: 403}
  if (!signedHeaders.includes('host')) return {code: 'AccessDenied', message: 'Access Denied', status: 403}

  let payloadHash = headerValue(request.headers['x-amz-content-sha256'])
  if (options.service === 's3') {
    if (payloadHash === '') return {code: 'InvalidArgument', message: 'x-amz-content-sha256 must be present', status: 400}
    if (/^[0-9a-f]{64}$/u.test(payloadHash) && payloadHash !== sha256(request.body)) {
      return {code: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed.", status: 400}
    }
  } else if (payloadHash === '') {
    payloadHash = sha256(request.body)
  }

  const at = request.target.indexOf('?')
  const path = at === -1 ? request.target : request.target.slice(0, at)
  const query = at === -1 ? '' : request.target.slice(at + 1)
  const canonicalRequest = [
    request.method,
    path,
    canonicalQuery(query),
    ...signedHeaders.map((name) => `${name}:${headerValue(request.headers[name])}`),
    '',
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n')
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/aws4_request`
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, credentialScope, sha256(canonicalRequest)].join('\n')
  const key = hmac(hmac(hmac(hmac(`AWS4${known.secretAccessKey}`, scope.date), scope.region), scope.service), 'aws4_request')
  const expected = hmac(key, stringToSign)
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return {code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', status: 403}
  }
  return scope
}

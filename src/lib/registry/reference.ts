/**
 * Image references as Docker and the OCI distribution clients read them
 * (github.com/distribution/reference): `[registry[:port]/]path[:tag][@digest]`. The first path
 * component is a registry host only when it has a "." or a ":", is `localhost`, or has an
 * upper-case letter; otherwise the image is on Docker Hub (`docker.io`, whose API is
 * registry-1.docker.io), where a one-component name is an official image under `library/`.
 */
import {ConfigError} from '../cli/errors.js'

export interface ImageReference {
  /** The registry as written in references: docker.io, ghcr.io, 127.0.0.1:5000. */
  registry: string
  /** The repository inside the registry: library/nginx, acme/shop. */
  repository: string
  tag?: string
  digest?: string
}

const DOCKER_HUB = 'docker.io'
const DOCKER_HUB_API = 'registry-1.docker.io'

const DOMAIN_COMPONENT = String.raw`(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
const DOMAIN = new RegExp(String.raw`^(?:${DOMAIN_COMPONENT}(?:\.${DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$`, 'u')
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/u
const TAG = /^\w[\w.-]{0,127}$/u
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/u
const NAME_MAX = 255
const EXPECTED = 'registry/path, e.g. ghcr.io/acme/shop'

/**
 * Parse an image reference; a malformed one is a ConfigError with the reason. `from` names where
 * it came from (`image.repository of .idp.yml`), for the message.
 */
export function parseImageReference(text: string, from = 'image.repository of .idp.yml'): ImageReference {
  const fail = (reason: string): never => {
    throw new ConfigError(`Invalid image reference "${text}" (${from}): ${reason}.`, [{path: 'image.repository', message: reason, expected: EXPECTED, found: text}], {
      hint: 'An image is [registry[:port]/]path[:tag][@sha256:digest], e.g. ghcr.io/acme/shop or registry.example.com:5000/team/shop; path components are lower-case letters and digits joined by ".", "_", "__" or "-".',
    })
  }
  if (text === '' || text.trim() !== text) fail('it is empty or has surrounding spaces')
  let rest = text
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) fail(`"${digest}" is not a digest (algorithm:hex, e.g. sha256:<64 hex digits>)`)
    if (digest.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/u.test(digest)) fail('a sha256 digest is 64 lower-case hex digits')
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) fail(`"${tag}" is not a tag (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")`)
  }
  if (rest.length > NAME_MAX) fail(`the name is longer than ${NAME_MAX} characters`)

  const slash = rest.indexOf('/')
  const first = slash === -1 ? '' : rest.slice(0, slash)
  const isHost = slash !== -1 && (/[.:]/u.test(first) || first === 'localhost' || first !== first.toLowerCase())
  let registry = isHost ? first : DOCKER_HUB
  let repository = isHost ? rest.slice(slash + 1) : rest
  if (isHost && !DOMAIN.test(registry)) fail(`"${registry}" is not a registry host[:port]`)
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`
  if (repository === '') fail('the repository path is empty')
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) fail(`"${component}" is not a path component (lower-case letters and digits joined by ".", "_", "__" or "-")`)
  }
  return {registry, repository, ...(tag ? {tag} : {}), ...(digest ? {digest} : {})}
}

/** The reference as text, the way `docker pull` takes it. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}

/**
 * The image a command runs: `image.repository` of `.idp.yml` (a name: no tag, no digest) with the
 * tag the command gives helm as image.tag.
 */
export function imageToRun(repository: string, tag: string): ImageReference {
  const ref = parseImageReference(repository)
  if (ref.tag || ref.digest) {
    throw new ConfigError(`image.repository "${repository}" holds a ${ref.digest ? 'digest' : 'tag'}; idp adds the tag itself.`, [{path: 'image.repository', message: 'must not contain a tag or digest', expected: EXPECTED, found: repository}], {
      hint: 'Set image.repository to the name only (e.g. ghcr.io/acme/shop), and the tag in image.tag of .idp.yml or with --image-tag.',
    })
  }
  return {...ref, tag}
}

/** True for hosts on this machine, where registries commonly serve plain HTTP (Docker allows it there too). */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/u, '').replace(/^\[(.*)\]$/u, '$1')
  return name === 'localhost' || name === '::1' || /^127(?:\.\d{1,3}){3}$/u.test(name)
}

/** Where a registry's API is: https, plain http for a loopback registry; Docker Hub's API host for docker.io. */
export function registryBaseUrl(registry: string): string {
  const host = registry === DOCKER_HUB ? DOCKER_HUB_API : registry
  return `${isLoopbackHost(host) ? 'http' : 'https'}://${host}`
}

import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {PrerequisiteError} from '../../src/lib/cli/errors.js'
import {clearSecretsForTests, redact} from '../../src/lib/cli/redact.js'
import {readKubeconfig, resolveContext, selectContext, writePrivateKubeconfig} from '../../src/lib/kube/kubeconfig.js'
import {checkReachable, reachTargetOf} from '../../src/lib/kube/reach.js'

const work = mkdtempSync(path.join(os.tmpdir(), 'idp-kubeconfig-'))
const servers: Array<http.Server | https.Server> = []
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
  rmSync(work, {recursive: true, force: true})
})

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

// Two files, like KUBECONFIG=a:b; `b` also defines "dev" (kubectl: the first file wins).
const userDir = path.join(work, 'home', '.kube')
mkdirSync(path.join(userDir, 'certs'), {recursive: true})
writeFileSync(path.join(userDir, 'certs', 'ca.crt'), 'not really a cert\n')
const fileA = path.join(userDir, 'config')
const fileB = path.join(userDir, 'other.yaml')
writeFileSync(
  fileA,
  `apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: dev-cluster
  cluster: {server: "https://dev.example.com:6443", certificate-authority: certs/ca.crt}
- name: prod-cluster
  cluster: {server: "https://prod.example.com", insecure-skip-tls-verify: true}
users:
- name: dev-user
  user: {token: dev-token-0123456789}
- name: prod-user
  user: {client-certificate-data: Y2VydA==, client-key-data: c2VjcmV0LWtleS1kYXRh}
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: team-a}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
`,
)
writeFileSync(
  fileB,
  `apiVersion: v1
kind: Config
clusters:
- name: dev-cluster
  cluster: {server: "https://shadowed.example.com"}
- name: kind
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: kind-user
  user: {username: admin, password: kind-password-42}
contexts:
- name: dev
  context: {cluster: kind, user: kind-user}
- name: kind-kind
  context: {cluster: kind, user: kind-user}
`,
)
const env = {HOME: path.join(work, 'home'), KUBECONFIG: [fileA, fileB].join(path.delimiter)}

describe('reading kubeconfig like kubectl', () => {
  it('merges KUBECONFIG files, first definition wins, and registers credentials as secrets', async () => {
    const config = await readKubeconfig({env})
    expect(config.files).toEqual([fileA, fileB])
    expect([...config.contexts.keys()].sort()).toEqual(['dev', 'kind-kind', 'prod'])
    expect(config.currentContext).toBe('prod')
    const dev = await resolveContext({context: 'dev', env})
    expect(dev.cluster.server).toBe('https://dev.example.com:6443')
    expect(dev.cluster.certificateAuthority).toBe(path.join(userDir, 'certs', 'ca.crt'))
    expect(dev.namespace).toBe('team-a')
    expect(redact('token dev-token-0123456789 and kind-password-42 and c2VjcmV0LWtleS1kYXRh')).toBe('token *** and *** and ***')
  })

  it('falls back to ~/.kube/config and never picks the current context for an unknown name', async () => {
    const config = await readKubeconfig({env: {HOME: env.HOME}})
    expect(config.files).toEqual([fileA])
    const error = (await resolveContext({context: 'kind-dev', env}).catch((e: unknown) => e)) as PrerequisiteError
    expect(error).toBeInstanceOf(PrerequisiteError)
    expect(error.exitCode).toBe(4)
    expect(error.message).toContain('Kube context "kind-dev" not found')
    expect(error.hint).toBe('Available contexts: dev, prod, kind-kind. Set clusters.<name>.context in .idp.yml to one of them, or add the context to your kubeconfig. `kind create cluster --name dev` makes it locally.')
    // `kind create cluster` alone would make kind-kind: the hint names the cluster.
    const none = (() => {
      try {
        selectContext({files: [], contexts: new Map(), clusters: new Map(), users: new Map()} as unknown as Parameters<typeof selectContext>[0], 'kind-dev')
      } catch (e) {
        return e as PrerequisiteError
      }
    })()
    expect(none?.hint).toBe('No contexts are defined. `kind create cluster --name dev` makes it locally. Create one with your cloud CLI\'s "update-kubeconfig", or set KUBECONFIG to a file that has it.')
  })

  it('an explicit kubeconfig path must exist', async () => {
    await expect(readKubeconfig({kubeconfigPath: path.join(work, 'missing.yaml')})).rejects.toBeInstanceOf(PrerequisiteError)
  })
})

describe('private kubeconfig', () => {
  it('is written 0600 with exactly one context, usable by kubectl, and the user files are unchanged', async () => {
    const before = [sha(fileA), sha(fileB)]
    const file = path.join(work, 'state', 'kubeconfigs', 'dev.yaml')
    const written = await writePrivateKubeconfig({context: 'dev', file, env})
    expect(written).toEqual({file, context: 'dev', server: 'https://dev.example.com:6443', namespace: 'team-a', sha256: createHash('sha256').update(readFileSync(file)).digest('hex')})
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700)
    const doc = parse(readFileSync(file, 'utf8'))
    expect(doc['current-context']).toBe('dev')
    expect(doc.contexts).toEqual([{name: 'dev', context: {cluster: 'dev-cluster', user: 'dev-user', namespace: 'team-a'}}])
    expect(doc.clusters).toHaveLength(1)
    // The relative CA path now points at the file next to the user's kubeconfig.
    expect(doc.clusters[0].cluster['certificate-authority']).toBe(path.join(userDir, 'certs', 'ca.crt'))
    expect(doc.users).toEqual([{name: 'dev-user', user: {token: 'dev-token-0123456789'}}])
    const view = JSON.parse(execFileSync('kubectl', ['config', 'view', '--raw', '-o', 'json', '--kubeconfig', file], {encoding: 'utf8'}))
    expect(view.contexts.map((c: {name: string}) => c.name)).toEqual(['dev'])
    expect(view['current-context']).toBe('dev')
    expect([sha(fileA), sha(fileB)]).toEqual(before)
  })

  it('is kept while its sources are unchanged, and copied again when anything it came from changes', async () => {
    const file = path.join(work, 'state', 'kubeconfigs', 'kept.json')
    const ino = () => statSync(file).ino
    // Sources changed in the last seconds are not trusted to show their next change: age them.
    const settle = (...files: string[]) => {
      const past = new Date(Date.now() - 60_000)
      for (const f of files) utimesSync(f, past, past)
    }
    settle(fileA, fileB)
    const first = await writePrivateKubeconfig({context: 'dev', file, env})
    // Written as JSON, with a record of its origin next to it (no credentials in the record).
    expect(JSON.parse(readFileSync(file, 'utf8'))['current-context']).toBe('dev')
    const record = readFileSync(`${file}.source.json`, 'utf8')
    expect(statSync(`${file}.source.json`).mode & 0o777).toBe(0o600)
    expect(record).not.toContain('dev-token')
    expect(JSON.parse(record).sources.map((s: {path: string}) => s.path)).toEqual([fileA, fileB])
    const copied = ino()

    // Same context, same files: the copy is used as it is (a new copy would be a new file: temp + rename).
    clearSecretsForTests()
    expect(await writePrivateKubeconfig({context: 'dev', file, env})).toEqual(first)
    expect(ino()).toBe(copied)
    // Its user's credentials are still registered as secrets.
    expect(redact('token dev-token-0123456789')).toBe('token ***')

    // Did idp write a new copy (temp + rename: a new inode)? The file as it is after the change is
    // held open meanwhile, so its inode number cannot be reused by that new copy.
    const again = async (change: () => void, options: {context?: string; env?: Record<string, string>} = {}) => {
      change()
      const fd = openSync(file, 'r')
      try {
        const before = fstatSync(fd).ino
        await writePrivateKubeconfig({context: options.context ?? 'dev', file, env: options.env ?? env})
        return ino() !== before
      } finally {
        closeSync(fd)
      }
    }
    // A user file changed (a tool refreshed a token in it), another file in KUBECONFIG appearing,
    // another context, or the copy edited (or written by another idp from other sources): copied again.
    expect(await again(() => utimesSync(fileB, new Date(Date.now() - 30_000), new Date(Date.now() - 30_000)))).toBe(true)
    expect(await again(() => {})).toBe(false)
    const third = path.join(userDir, 'third.yaml')
    const withThird = {...env, KUBECONFIG: [fileA, fileB, third].join(path.delimiter)}
    expect(await again(() => {}, {env: withThird})).toBe(true)
    expect(await again(() => {}, {env: withThird})).toBe(false)
    expect(await again(() => {
      writeFileSync(third, 'apiVersion: v1\nkind: Config\n')
      settle(third)
    }, {env: withThird})).toBe(true)
    expect(await again(() => {}, {context: 'prod'})).toBe(true)
    expect(JSON.parse(readFileSync(file, 'utf8'))['current-context']).toBe('prod')
    const edit = (text: string) => text.replace('prod.example.com', 'evil.example.com')
    expect(await again(() => writeFileSync(file, edit(readFileSync(file, 'utf8'))), {context: 'prod'})).toBe(true)
    expect(readFileSync(file, 'utf8')).toContain('https://prod.example.com')
    // Another file put in place by rename, same size and all: its hash differs from the record's.
    expect(await again(() => {
      const other = `${file}.other`
      writeFileSync(other, edit(readFileSync(file, 'utf8')))
      renameSync(other, file)
    }, {context: 'prod'})).toBe(true)
    expect(readFileSync(file, 'utf8')).toContain('https://prod.example.com')
    // A record that is not JSON only means a fresh copy.
    expect(await again(() => writeFileSync(`${file}.source.json`, 'garbage'), {context: 'prod'})).toBe(true)
    expect(await again(() => {}, {context: 'prod'})).toBe(false)
    // A record of another build (another key), or as an older idp wrote it: a fresh copy.
    const kept = JSON.parse(readFileSync(`${file}.source.json`, 'utf8'))
    expect(await again(() => writeFileSync(`${file}.source.json`, JSON.stringify({...kept, key: '0'.repeat(64)})), {context: 'prod'})).toBe(true)
    const older = {version: 1, build: 'source', context: 'prod', sources: kept.sources, ...kept.value}
    expect(await again(() => writeFileSync(`${file}.source.json`, JSON.stringify(older)), {context: 'prod'})).toBe(true)
    expect(await again(() => {}, {context: 'prod'})).toBe(false)

    // A source changed a moment ago: copied, but no record kept, so the next call copies again.
    utimesSync(fileB, new Date(), new Date())
    expect(await again(() => {}, {context: 'prod'})).toBe(true)
    expect(existsSync(`${file}.source.json`)).toBe(false)
    expect(await again(() => {}, {context: 'prod'})).toBe(true)
    settle(fileB)
    rmSync(third)
  })

  it('refuses to overwrite one of the user kubeconfig files', async () => {
    await expect(writePrivateKubeconfig({context: 'dev', file: fileB, env})).rejects.toBeInstanceOf(PrerequisiteError)
  })
})

describe('reachability (/version within the timeout)', () => {
  let httpUrl = ''
  let httpsUrl = ''
  let silentUrl = ''
  let caPem = ''
  const seen: Array<string | undefined> = []

  beforeAll(async () => {
    const listen = async (server: http.Server | https.Server) => {
      servers.push(server)
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
      return (server.address() as AddressInfo).port
    }
    const handler: http.RequestListener = (req, res) => {
      seen.push(req.headers.authorization)
      if (req.url !== '/version') return res.writeHead(404).end()
      if (req.headers.authorization === 'Bearer wrong') return res.writeHead(401, 'Unauthorized').end()
      res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({major: '1', minor: '31', gitVersion: 'v1.31.2'}))
    }
    httpUrl = `http://127.0.0.1:${await listen(http.createServer(handler))}`
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(work, 'tls.key'), '-out', path.join(work, 'tls.crt')], {stdio: 'ignore'})
    caPem = readFileSync(path.join(work, 'tls.crt'), 'utf8')
    httpsUrl = `https://127.0.0.1:${await listen(https.createServer({key: readFileSync(path.join(work, 'tls.key')), cert: caPem}, handler))}`
    silentUrl = `http://127.0.0.1:${await listen(http.createServer(() => {}))}`
  })

  it('sends the bearer token and reads the version', async () => {
    const result = await checkReachable({server: httpUrl, token: 'tok-reach-1'})
    expect(result).toMatchObject({ok: true, reachable: true, status: 200, version: 'v1.31.2'})
    expect(seen).toContain('Bearer tok-reach-1')
  })

  it('honours the CA of the context, and insecure-skip-tls-verify', async () => {
    expect(await checkReachable({server: httpsUrl, ca: caPem})).toMatchObject({ok: true, version: 'v1.31.2'})
    const untrusted = await checkReachable({server: httpsUrl})
    expect(untrusted.ok).toBe(false)
    expect(untrusted.error).toMatch(/certificate/iu)
    expect(await checkReachable({server: httpsUrl, insecureSkipTlsVerify: true})).toMatchObject({ok: true})
  })

  it('reads a kubeconfig file (CA data, token) and reports refused credentials as reachable but not ok', async () => {
    const file = path.join(work, 'reach.yaml')
    writeFileSync(
      file,
      `apiVersion: v1
kind: Config
current-context: local
clusters: [{name: c, cluster: {server: "${httpsUrl}", certificate-authority-data: ${Buffer.from(caPem).toString('base64')}}}]
users: [{name: u, user: {token: wrong}}]
contexts: [{name: local, context: {cluster: c, user: u}}]
`,
    )
    const result = await checkReachable(file)
    expect(result).toMatchObject({ok: false, reachable: true, status: 401})
    const context = await resolveContext({context: 'local', kubeconfigPath: file})
    expect((await reachTargetOf(context)).ca).toBe(caPem)
  })

  it('gives up after the timeout and reports refused connections', async () => {
    const started = Date.now()
    const silent = await checkReachable({server: silentUrl}, 300)
    expect(silent).toMatchObject({ok: false, reachable: false})
    expect(silent.error).toContain('within 300 ms')
    expect(Date.now() - started).toBeLessThan(3000)
    const refused = await checkReachable({server: 'https://127.0.0.1:1'}, 2000)
    expect(refused.error).toMatch(/ECONNREFUSED/u)
  })
})

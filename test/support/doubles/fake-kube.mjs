// A small in-process Kubernetes API used by the doubles' own tests until the shared stand-in
// (test/support/kube-stand-in/) exists. Same layout as the stand-in: isolated clusters under
// /clusters/<id> (host = /clusters/host), admin API PUT|DELETE /_standin/clusters/<id>, GET
// /_standin/clusters. Resources are stored generically (JSON CRUD, label selectors, merge patch).
import {randomUUID} from 'node:crypto'
import http from 'node:http'

function status(res, code, reason, message) {
  res.writeHead(code, {'content-type': 'application/json'})
  res.end(JSON.stringify({kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code}))
}

function send(res, code, body) {
  res.writeHead(code, {'content-type': 'application/json'})
  res.end(JSON.stringify(body))
}

function matches(obj, selector) {
  if (!selector) return true
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=')
    return v === undefined ? k in (obj.metadata?.labels ?? {}) : obj.metadata?.labels?.[k] === v
  })
}

function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const out = target && typeof target === 'object' && !Array.isArray(target) ? {...target} : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

/** Parse /api/v1/... or /apis/g/v/... into {ns, plural, name}. */
function parseResource(path) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent)
  let rest
  let gv
  if (parts[0] === 'api' && parts[1] === 'v1') { gv = 'v1'; rest = parts.slice(2) } else if (parts[0] === 'apis' && parts.length >= 3) { gv = `${parts[1]}/${parts[2]}`; rest = parts.slice(3) } else return undefined
  if (rest[0] === 'namespaces' && rest.length >= 3) return {gv, ns: rest[1], plural: rest[2], name: rest[3], sub: rest[4]}
  return {gv, ns: undefined, plural: rest[0], name: rest[1], sub: rest[2]}
}

export async function startFakeKube() {
  /** cluster id → Map(key → object), key = gv|plural|ns|name */
  const clusters = new Map([['host', new Map()]])
  let rv = 1
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks).toString('utf8'))
      } catch (error) {
        status(res, 500, 'InternalError', String(error))
      }
    })
  })
  function handle(req, res, text) {
    const url = new URL(req.url, 'http://x')
    const admin = /^\/_standin\/clusters(?:\/([^/]+))?$/u.exec(url.pathname)
    if (admin) {
      const id = admin[1] && decodeURIComponent(admin[1])
      if (req.method === 'GET' && !id) return send(res, 200, {clusters: [...clusters.keys()]})
      if (req.method === 'PUT' && id) {
        if (!clusters.has(id)) clusters.set(id, new Map())
        return send(res, 200, {id})
      }
      if (req.method === 'DELETE' && id) return clusters.delete(id) ? send(res, 200, {id}) : status(res, 404, 'NotFound', `cluster ${id} not found`)
      return status(res, 405, 'MethodNotAllowed', 'method not allowed')
    }
    const m = /^\/clusters\/([^/]+)(\/.*)?$/u.exec(url.pathname)
    if (!m || !clusters.has(decodeURIComponent(m[1]))) return status(res, 404, 'NotFound', 'the server could not find the requested resource')
    const store = clusters.get(decodeURIComponent(m[1]))
    const path = m[2] ?? '/'
    if (path === '/version') return send(res, 200, {major: '1', minor: '35', gitVersion: 'v1.35.0-fake'})
    const r = parseResource(path)
    if (!r || !r.plural) return status(res, 404, 'NotFound', 'the server could not find the requested resource')
    const key = (ns, name) => `${r.gv}|${r.plural}|${ns ?? ''}|${name}`
    const kindName = `${r.plural}${r.gv.includes('/') ? `.${r.gv.split('/')[0]}` : ''}`
    const isNamespace = r.gv === 'v1' && r.plural === 'namespaces'
    if (req.method === 'GET' && !r.name) {
      const prefix = `${r.gv}|${r.plural}|`
      const items = [...store.entries()].filter(([k, o]) => k.startsWith(prefix) && (r.ns === undefined || o.metadata.namespace === r.ns) && matches(o, url.searchParams.get('labelSelector'))).map(([, o]) => o)
      return send(res, 200, {apiVersion: r.gv, kind: 'List', metadata: {resourceVersion: String(rv)}, items})
    }
    const existing = store.get(key(r.ns, r.name))
    if (req.method === 'GET') return existing ? send(res, 200, existing) : status(res, 404, 'NotFound', `${kindName} "${r.name}" not found`)
    if (req.method === 'DELETE') {
      if (!existing) return status(res, 404, 'NotFound', `${kindName} "${r.name}" not found`)
      store.delete(key(r.ns, r.name))
      if (isNamespace) for (const [k, o] of store) if (o.metadata.namespace === r.name) store.delete(k)
      return send(res, 200, existing)
    }
    const body = text ? JSON.parse(text) : {}
    if (req.method === 'POST') {
      const name = body.metadata?.name
      if (r.ns && !isNamespace && !store.has(`v1|namespaces||${r.ns}`)) return status(res, 404, 'NotFound', `namespaces "${r.ns}" not found`)
      if (store.has(key(r.ns, name))) return status(res, 409, 'AlreadyExists', `${kindName} "${name}" already exists`)
      const obj = {...body, metadata: {...body.metadata, ...(r.ns ? {namespace: r.ns} : {}), uid: randomUUID(), resourceVersion: String(++rv), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/u, 'Z')}}
      store.set(key(r.ns, name), obj)
      return send(res, 201, obj)
    }
    if (req.method === 'PUT' || req.method === 'PATCH') {
      if (!existing) return status(res, 404, 'NotFound', `${kindName} "${r.name}" not found`)
      const next = req.method === 'PUT' ? body : mergePatch(existing, body)
      const obj = {...next, metadata: {...next.metadata, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp, resourceVersion: String(++rv)}}
      store.set(key(r.ns, r.name), obj)
      return send(res, 200, obj)
    }
    return status(res, 405, 'MethodNotAllowed', 'method not allowed')
  }
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address()
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    hostUrl: `${url}/clusters/host`,
    clusterIds: () => [...clusters.keys()],
    stop: () => new Promise((resolve) => {
      server.closeAllConnections?.()
      server.close(() => resolve())
    }),
  }
}

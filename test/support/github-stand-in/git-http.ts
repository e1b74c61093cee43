import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {join} from 'node:path'

/**
 * Git smart HTTP through the real `git http-backend` CGI program, so `git push` and `git clone` against
 * the stand-in run git's own protocol code end to end.
 */
export class GitHttpBackend {
  private readonly backend: string
  readonly children = new Set<ChildProcess>()

  constructor(
    private readonly projectRoot: string,
    private readonly home: string,
  ) {
    const execPath = execFileSync('git', ['--exec-path'], {encoding: 'utf8'}).trim()
    this.backend = join(execPath, 'git-http-backend')
    if (!existsSync(this.backend)) throw new Error(`git http-backend not found at ${this.backend}`)
  }

  /** Serve one request; `pathInfo` is relative to the project root, e.g. `/acme/shop.git/info/refs`. */
  serve(req: IncomingMessage, res: ServerResponse, pathInfo: string, query: string, remoteUser: string | undefined): void {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_PROJECT_ROOT: this.projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: pathInfo,
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: query,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
    }
    const contentType = req.headers['content-type']
    if (contentType) env.CONTENT_TYPE = contentType
    const contentLength = req.headers['content-length']
    if (contentLength) env.CONTENT_LENGTH = contentLength
    const encoding = req.headers['content-encoding']
    if (encoding) env.HTTP_CONTENT_ENCODING = encoding
    const protocol = req.headers['git-protocol']
    if (typeof protocol === 'string') env.HTTP_GIT_PROTOCOL = protocol
    // http-backend enables receive-pack only for an authenticated REMOTE_USER, like a real server.
    if (remoteUser) env.REMOTE_USER = remoteUser

    const child = spawn(this.backend, [], {env, stdio: ['pipe', 'pipe', 'pipe']})
    this.children.add(child)
    child.on('close', () => this.children.delete(child))
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('error', (error) => {
      if (!res.headersSent) res.writeHead(500, {'content-type': 'text/plain'})
      res.end(`http-backend failed: ${error.message}\n`)
    })
    req.pipe(child.stdin)
    child.stdin.on('error', () => {})

    let head = Buffer.alloc(0)
    let headersDone = false
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk)
        return
      }
      head = Buffer.concat([head, chunk])
      const crlf = head.indexOf('\r\n\r\n')
      const lf = head.indexOf('\n\n')
      const end = crlf !== -1 && (lf === -1 || crlf < lf) ? {at: crlf, len: 4} : lf !== -1 ? {at: lf, len: 2} : undefined
      if (!end) return
      headersDone = true
      let status = 200
      const headers: Record<string, string> = {}
      for (const line of head.subarray(0, end.at).toString('latin1').split(/\r?\n/u)) {
        const colon = line.indexOf(':')
        if (colon === -1) continue
        const name = line.slice(0, colon).trim()
        const value = line.slice(colon + 1).trim()
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 200
        else headers[name] = value
      }
      res.writeHead(status, headers)
      const rest = head.subarray(end.at + end.len)
      if (rest.length > 0) res.write(rest)
    })
    child.on('close', (code) => {
      if (!headersDone) {
        if (!res.headersSent) res.writeHead(500, {'content-type': 'text/plain'})
        res.end(`http-backend exited ${code}: ${stderr}\n`)
        return
      }
      res.end()
    })
  }

  /** Kill whatever is still running and wait for it, so a test leaves no processes behind. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.once('close', () => resolve())
            child.kill('SIGKILL')
          }),
      ),
    )
  }
}

import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';

export interface ServiceState {
  /** Set to false when shutting down so load balancers stop sending traffic before we close. */
  ready: boolean;
}

export interface AppConfig {
  serviceName: string;
  version: string;
  bucketName?: string;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

export function handle(config: AppConfig, state: ServiceState, req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    sendJson(res, 405, {error: 'method not allowed'});
    return;
  }

  switch (path) {
    case '/healthz': {
      sendJson(res, 200, {status: 'ok'});
      return;
    }

    case '/readyz': {
      if (state.ready) sendJson(res, 200, {status: 'ready'});
      else sendJson(res, 503, {status: 'shutting down'});
      return;
    }

    case '/': {
      sendJson(res, 200, {
        service: config.serviceName,
        version: config.version,
        bucket: config.bucketName ?? null,
      });
      return;
    }

    default: {
      sendJson(res, 404, {error: 'not found'});
    }
  }
}

export function createApp(config: AppConfig, state: ServiceState = {ready: true}): Server {
  const server = createServer((req, res) => {
    handle(config, state, req, res);
  });
  // Slow clients must not hold sockets forever behind a load balancer.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

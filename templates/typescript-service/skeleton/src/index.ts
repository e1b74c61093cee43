import {createApp, type ServiceState} from './server.js';

const port = Number.parseInt(process.env.PORT ?? '${{ values.port }}', 10);
if (!Number.isInteger(port) || port < 1 || port > 65_535) {
  console.error(`PORT must be a TCP port number, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

const state: ServiceState = {ready: true};
const server = createApp(
  {
    serviceName: process.env.SERVICE_NAME ?? '${{ values.name }}',
    version: process.env.APP_VERSION ?? 'dev',
    bucketName: process.env.BUCKET_NAME || undefined,
  },
  state,
);

server.listen(port, () => {
  console.log(JSON.stringify({level: 'info', msg: 'listening', port}));
});

// Kubernetes sends SIGTERM and keeps routing traffic for a moment: fail readiness first,
// then stop accepting connections and let in-flight requests finish.
function shutdown(signal: string): void {
  console.log(JSON.stringify({level: 'info', msg: 'shutting down', signal}));
  state.ready = false;
  const drainMs = Number.parseInt(process.env.SHUTDOWN_DRAIN_MS ?? '5000', 10);
  setTimeout(() => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  }, drainMs).unref();
}

process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));

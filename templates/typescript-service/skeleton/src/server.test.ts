import assert from 'node:assert/strict';
import type {AddressInfo} from 'node:net';
import {after, before, describe, it} from 'node:test';

import {createApp, type ServiceState} from './server.js';

describe('http service', () => {
  const state: ServiceState = {ready: true};
  const server = createApp({serviceName: 'test-svc', version: '1.2.3', bucketName: 'test-svc-dev'}, state);
  let base = '';

  before(async () => {
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', resolve);
    });
    const {port} = server.address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
    });
  });

  it('answers /healthz with 200', async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {status: 'ok'});
  });

  it('answers /readyz with 200 while ready and 503 while shutting down', async () => {
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    state.ready = false;
    try {
      const res = await fetch(`${base}/readyz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), {status: 'shutting down'});
    } finally {
      state.ready = true;
    }
  });

  it('describes itself on /', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), {service: 'test-svc', version: '1.2.3', bucket: 'test-svc-dev'});
  });

  it('returns 404 for unknown paths', async () => {
    const res = await fetch(`${base}/nope`);
    assert.equal(res.status, 404);
  });

  it('rejects methods other than GET and HEAD', async () => {
    const res = await fetch(`${base}/healthz`, {method: 'POST'});
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
  });
});

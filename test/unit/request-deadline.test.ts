import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { pino } from 'pino';
import { createHttpApp } from '../../src/http/app.js';

/** REQUEST_TIMEOUT_MS: a request whose backend stalls is answered 503, not left hanging. */
describe('request deadline', function () {
  let server: http.Server;
  let base: string;

  before(async function () {
    const router = new Router();
    router.get('/slow', async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      ctx.body = { late: true };
    });
    router.get('/fast', (ctx) => {
      ctx.body = { ok: true };
    });
    const app = createHttpApp({
      logger: pino({ level: 'silent' }),
      routers: [router],
      requestTimeoutMs: 150,
    });
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers 503 SERVICE_UNAVAILABLE with Retry-After once the deadline passes', async function () {
    const started = Date.now();
    const res = await fetch(`${base}/slow`);
    const elapsed = Date.now() - started;
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'SERVICE_UNAVAILABLE');
    assert.ok(!JSON.stringify(body).includes('at '), 'no stack');
    assert.ok(elapsed < 900, `answered after ${elapsed} ms, before the handler finished`);
  });

  it('leaves requests that finish in time alone', async function () {
    const res = await fetch(`${base}/fast`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  });
});

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { pino } from 'pino';
import { AppError } from '../../src/errors/app-error.js';
import { createHttpApp } from '../../src/http/app.js';
import { sleep } from '../../src/lifecycle/wait.js';

/** REQUEST_TIMEOUT_MS: a request whose backend stalls is answered 503, not left hanging. */
describe('request deadline', function () {
  let server: http.Server;
  let base: string;

  before(async function () {
    const router = new Router();
    router.get('/slow', async (ctx) => {
      // Real delay: a stalled backend, the scenario the deadline is for.
      await sleep(1000);
      ctx.body = { late: true };
    });
    router.get('/fast', (ctx) => {
      ctx.body = { ok: true };
    });
    router.get('/wait/:ms', async (ctx) => {
      // Real delay: a handler that takes its time (within the deadline or not).
      await sleep(Number(ctx.params.ms));
      ctx.body = { waited: Number(ctx.params.ms) };
    });
    router.get('/fail', () => {
      throw new AppError('NOT_FOUND', 'nothing here');
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

  it('gives every request its own deadline, counted from its own start', async function () {
    // Started 100 ms apart: each is answered ~150 ms after its own start (one shared timer).
    const timed = async (path: string, delay: number) => {
      // Real delay: staggered starts are what gives each request a deadline of its own.
      await sleep(delay);
      const started = Date.now();
      const res = await fetch(`${base}${path}`);
      await res.arrayBuffer();
      return { status: res.status, elapsed: Date.now() - started };
    };
    const [a, b, c] = await Promise.all([
      timed('/slow', 0),
      timed('/slow', 100),
      timed('/wait/60', 120),
    ]);
    assert.equal(a.status, 503);
    assert.equal(b.status, 503);
    assert.equal(c.status, 200, 'a request done in time while others expire');
    for (const { elapsed } of [a, b]) {
      assert.ok(elapsed >= 140 && elapsed < 600, `answered after ${elapsed} ms`);
    }
  });

  it('keeps answering after deadlines expired, and passes handler errors through', async function () {
    const fast = await fetch(`${base}/wait/10`);
    assert.equal(fast.status, 200);
    assert.deepEqual(await fast.json(), { waited: 10 });
    const fail = await fetch(`${base}/fail`);
    assert.equal(fail.status, 404);
    assert.equal(((await fail.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });
});

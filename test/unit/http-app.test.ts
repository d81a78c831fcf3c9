import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { pino } from 'pino';
import { createHttpApp } from '../../src/http/app.js';

/** The client address Koa gives a request carrying `X-Forwarded-For`, per `trustProxy`. */
async function ipSeen(trustProxy: boolean | undefined): Promise<string> {
  const router = new Router();
  router.get('/ip', (ctx) => {
    ctx.body = { ip: ctx.ip };
  });
  const app = createHttpApp({ logger: pino({ level: 'silent' }), routers: [router], trustProxy });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/ip`, {
      headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' },
    });
    return ((await res.json()) as { ip: string }).ip;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('createHttpApp', function () {
  it('takes the client address from X-Forwarded-For only with trustProxy', async function () {
    assert.equal(await ipSeen(true), '203.0.113.7');
    assert.match(await ipSeen(false), /127\.0\.0\.1$/);
    assert.match(await ipSeen(undefined), /127\.0\.0\.1$/);
  });
});

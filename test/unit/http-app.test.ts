import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { pino } from 'pino';
import { createHttpApp } from '../../src/http/app.js';

/** The client address Koa gives a request carrying `X-Forwarded-For`, per `trustProxyHops`. */
async function ipSeen(trustProxyHops: number | undefined, forwardedFor: string): Promise<string> {
  const router = new Router();
  router.get('/ip', (ctx) => {
    ctx.body = { ip: ctx.ip };
  });
  const app = createHttpApp({
    logger: pino({ level: 'silent' }),
    routers: [router],
    trustProxyHops,
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/ip`, {
      headers: { 'x-forwarded-for': forwardedFor },
    });
    return ((await res.json()) as { ip: string }).ip;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('createHttpApp', function () {
  it('takes the client address from X-Forwarded-For, counted from the right, only with trustProxyHops', async function () {
    const header = '1.2.3.4, 203.0.113.7, 10.0.0.1';
    assert.equal(await ipSeen(1, header), '10.0.0.1');
    assert.equal(await ipSeen(2, header), '203.0.113.7');
    assert.equal(await ipSeen(3, header), '1.2.3.4');
    // Fewer entries than hops: the leftmost present.
    assert.equal(await ipSeen(10, header), '1.2.3.4');
    assert.match(await ipSeen(0, header), /127\.0\.0\.1$/);
    assert.match(await ipSeen(undefined, header), /127\.0\.0\.1$/);
  });
});

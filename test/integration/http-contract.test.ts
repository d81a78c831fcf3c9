import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import WebSocket from 'ws';
import { ERROR_CODES } from '../../src/errors/error-codes.js';
import { sleep } from '../../src/lifecycle/wait.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';
import {
  call,
  signupUser,
  startTestApi,
  storedCounts,
  type TestApi,
  type TestUser,
} from '../helpers/api-harness.js';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request with exactly these headers and bytes (fetch would add a Content-Type). */
function raw(
  url: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers = { ...opts.headers };
    // Node sends a GET's or DELETE's body with neither Content-Length nor chunked coding.
    if (opts.body !== undefined) headers['content-length'] ??= String(Buffer.byteLength(opts.body));
    const req = http.request(`${url}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The documented error shape with `code`, its status, and a JSON Content-Type. */
function assertError(a: RawAnswer, code: keyof typeof ERROR_CODES, what: string): void {
  assert.equal(a.status, ERROR_CODES[code].status, `${what}: ${a.status} ${a.text}`);
  assert.match(a.headers['content-type'] ?? '', /^application\/json/, what);
  const body = JSON.parse(a.text) as { error?: { code?: string; message?: string } };
  assert.equal(body.error?.code, code, what);
  assert.equal(typeof body.error?.message, 'string', what);
}

/** The methods of an `Allow` header, sorted. */
function allowed(a: RawAnswer): string[] {
  return String(a.headers.allow ?? '')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean)
    .sort();
}

/**
 * Writes `bytes` on a raw TCP connection and waits for the server to close it; resolves with
 * the milliseconds that took and what the server wrote, or rejects after `boundMs`.
 */
function closedAfter(
  port: number,
  bytes: string,
  boundMs: number,
): Promise<{ ms: number; received: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const start = Date.now();
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${boundMs} ms`));
    }, boundMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - start, received });
    });
    socket.write(bytes);
  });
}

describe('the HTTP contract and transport limits', function () {
  this.timeout(30000);
  let ctx: TestContext;
  let t: TestApi;
  let alice: TestUser;
  let bob: TestUser;
  let messageId: string;

  before(async function () {
    // Short timeouts so that the half-sent requests below are closed within seconds; the
    // answer deadline is shorter than the receive timeout, so a slow body must not meet it.
    ctx = createTestContext('httpcontract', {
      HEADERS_TIMEOUT_MS: '1000',
      REQUEST_TIMEOUT_MS: '2000',
      RECEIVE_TIMEOUT_MS: '4000',
      RATE_LIMIT_SENDS: '1000',
    });
    t = await startTestApi(ctx.config, ctx.logger);
    [alice, bob] = await Promise.all([
      signupUser(t.url, 'http_alice'),
      signupUser(t.url, 'http_bob'),
    ]);
    const sent = await call(t.url, 'POST', '/api/messages/send', {
      token: alice.token,
      body: { receiverId: bob.id, content: 'the original' },
    });
    assert.equal(sent.status, 201);
    messageId = sent.body.message.id as string;
  });

  after(async function () {
    await t?.close();
    await ctx?.cleanup();
  });

  const counts = () => storedCounts(t, ctx.config);

  describe('statuses of the router and Koa are JSON errors', function () {
    it('405 METHOD_NOT_ALLOWED with Allow for a known path and another method', async function () {
      const cases: Array<[string, string, string[]]> = [
        ['PUT', '/api/auth/signup', ['POST']],
        ['GET', '/api/auth/login', ['POST']],
        ['DELETE', '/api/users', ['GET', 'HEAD']],
        ['POST', '/health', ['GET', 'HEAD']],
        ['POST', '/health/live', ['GET', 'HEAD']],
        ['DELETE', '/health/ready', ['GET', 'HEAD']],
        // GET /api/messages/:receiverId has this path too (and answers 400 INVALID_ID).
        ['PUT', '/api/messages/send', ['GET', 'HEAD', 'POST']],
        ['POST', `/api/messages/item/${messageId}`, ['DELETE', 'GET', 'HEAD', 'PATCH']],
      ];
      for (const [method, path, allow] of cases) {
        const a = await raw(t.url, method, path, {
          headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` },
          body: '{"username":"http_carol","password":"correct horse"}',
        });
        assertError(a, 'METHOD_NOT_ALLOWED', `${method} ${path}`);
        assert.deepEqual(allowed(a), allow, `${method} ${path}`);
      }
      const head = await raw(t.url, 'HEAD', '/api/auth/signup');
      assert.equal(head.status, 405);
      assert.deepEqual(allowed(head), ['POST']);
      assert.equal(head.text, '');
    });

    it('501 NOT_IMPLEMENTED for a method no route knows, on any path', async function () {
      for (const [method, path] of [
        ['PROPFIND', '/api/auth/signup'],
        ['PROPFIND', '/nowhere'],
        ['MKCOL', '/api/users'],
        ['TRACE', '/'],
      ] as const) {
        const a = await raw(t.url, method, path);
        assertError(a, 'NOT_IMPLEMENTED', `${method} ${path}`);
        assert.equal(
          (JSON.parse(a.text) as { error: { message: string } }).error.message,
          ERROR_CODES.NOT_IMPLEMENTED.message,
        );
      }
      // The Allow header names the path's methods, and is left out where there are none.
      assert.deepEqual(allowed(await raw(t.url, 'PROPFIND', '/api/auth/signup')), ['POST']);
      assert.equal((await raw(t.url, 'PROPFIND', '/nowhere')).headers.allow, undefined);
    });

    it('404 NOT_FOUND for an unknown path, whatever the method', async function () {
      for (const method of ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS']) {
        const a = await raw(t.url, method, '/api/nowhere', {
          headers: { 'content-type': 'application/json' },
          body: method === 'GET' || method === 'OPTIONS' ? undefined : '{}',
        });
        assertError(a, 'NOT_FOUND', `${method} /api/nowhere`);
      }
    });

    it('OPTIONS answers 200 with Allow; HEAD answers like GET without a body', async function () {
      const options = await raw(t.url, 'OPTIONS', '/api/auth/signup');
      assert.equal(options.status, 200);
      assert.deepEqual(allowed(options), ['POST']);
      const item = await raw(t.url, 'OPTIONS', `/api/messages/item/${messageId}`);
      assert.deepEqual(allowed(item), ['DELETE', 'GET', 'HEAD', 'PATCH']);
      const head = await raw(t.url, 'HEAD', '/health');
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
      const unauth = await raw(t.url, 'HEAD', '/api/users');
      assert.equal(unauth.status, 401);
    });
  });

  describe('request bodies', function () {
    const validBodies = () => [
      {
        what: 'signup',
        method: 'POST',
        path: '/api/auth/signup',
        body: { username: 'http_dave', password: 'correct horse' },
      },
      {
        what: 'login',
        method: 'POST',
        path: '/api/auth/login',
        body: { username: 'http_alice', password: 'correct horse' },
      },
      {
        what: 'send',
        method: 'POST',
        path: '/api/messages/send',
        token: alice.token,
        body: { receiverId: bob.id, content: 'must not be stored' },
      },
      {
        what: 'edit',
        method: 'PATCH',
        path: `/api/messages/item/${messageId}`,
        token: alice.token,
        body: { content: 'must not be stored' },
      },
    ];

    async function assertUnchanged(before: { users: number; messages: number }) {
      assert.deepEqual(await counts(), before);
      const item = await call(t.url, 'GET', `/api/messages/item/${messageId}`, {
        token: alice.token,
      });
      assert.equal(item.body.message.content, 'the original');
    }

    it('a Content-Type other than application/json (or none) → 415, nothing stored', async function () {
      const before = await counts();
      const types = [
        undefined,
        'text/plain',
        'text/plain;charset=UTF-8',
        'text/html',
        'application/xml',
        'application/x-www-form-urlencoded',
        'application/json; charset=iso-8859-1',
      ];
      for (const { what, method, path, token, body } of validBodies()) {
        for (const type of types) {
          const headers: Record<string, string> = {};
          if (type) headers['content-type'] = type;
          if (token) headers.authorization = `Bearer ${token}`;
          const a = await raw(t.url, method, path, { headers, body: JSON.stringify(body) });
          assertError(a, 'UNSUPPORTED_MEDIA_TYPE', `${what} as ${type ?? 'no type'}`);
        }
        // gzip-encoded and chunked bodies take the same check.
        const gz = await raw(t.url, method, path, {
          headers: {
            'content-type': 'text/plain',
            'content-encoding': 'gzip',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: gzipSync(JSON.stringify(body)),
        });
        assertError(gz, 'UNSUPPORTED_MEDIA_TYPE', `${what} gzip as text/plain`);
      }
      await assertUnchanged(before);
    });

    it('bytes that are not valid UTF-8 → 400 BAD_JSON naming UTF-8, nothing stored', async function () {
      const before = await counts();
      const bad = {
        '\\xff\\xfe': Buffer.from([0xff, 0xfe]),
        'overlong \\xc0\\xbc': Buffer.from([0xc0, 0xbc]),
        'truncated \\xe2\\x82': Buffer.from([0xe2, 0x82]),
      };
      for (const { what, method, path, token, body } of validBodies()) {
        for (const [name, bytes] of Object.entries(bad)) {
          // The bytes inside the last string value: the JSON is otherwise valid.
          const text = JSON.stringify(body);
          const at = text.lastIndexOf('"');
          const payload = Buffer.concat([
            Buffer.from(text.slice(0, at)),
            bytes,
            Buffer.from(text.slice(at)),
          ]);
          for (const gzip of [false, true]) {
            const a = await raw(t.url, method, path, {
              headers: {
                'content-type': 'application/json',
                ...(gzip ? { 'content-encoding': 'gzip' } : {}),
                ...(token ? { authorization: `Bearer ${token}` } : {}),
              },
              body: gzip ? gzipSync(payload) : payload,
            });
            assertError(a, 'BAD_JSON', `${what} with ${name}${gzip ? ' (gzip)' : ''}`);
            assert.match(a.text, /not valid UTF-8/);
          }
        }
      }
      await assertUnchanged(before);
    });

    it('application/json with charset=utf-8, in any case, is accepted', async function () {
      const a = await raw(t.url, 'POST', '/api/messages/send', {
        headers: {
          'content-type': 'Application/JSON; charset="UTF-8"',
          authorization: `Bearer ${alice.token}`,
        },
        body: JSON.stringify({ receiverId: bob.id, content: 'é 😀 \ufffd' }),
      });
      assert.equal(a.status, 201, a.text);
      assert.equal(
        (JSON.parse(a.text) as { message: { content: string } }).message.content,
        'é 😀 \ufffd',
      );
    });

    it('a bodiless POST needs no Content-Type: it is {} and validation answers 400', async function () {
      const a = await raw(t.url, 'POST', '/api/messages/send', {
        headers: { 'content-length': '0', authorization: `Bearer ${alice.token}` },
      });
      assertError(a, 'VALIDATION_FAILED', 'bodiless send');
      const login = await raw(t.url, 'POST', '/api/auth/login');
      assertError(login, 'VALIDATION_FAILED', 'bodiless login');
    });
  });

  describe('half-sent requests', function () {
    const port = () => Number(new URL(t.url).port);

    it('a request line cut short is closed within seconds (HEADERS_TIMEOUT_MS=1000)', async function () {
      const { ms } = await closedAfter(port(), 'GET /hea', 8000);
      assert.ok(ms < 8000, `${ms} ms`);
    });

    it('headers cut short are closed, with a 408', async function () {
      const { received } = await closedAfter(
        port(),
        'POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl',
        8000,
      );
      assert.match(received, /^HTTP\/1\.1 408 /);
    });

    it("a body cut short is closed (RECEIVE_TIMEOUT_MS=4000) with one 408, not REQUEST_TIMEOUT_MS's 503; nothing stored", async function () {
      const before = await counts();
      const body = JSON.stringify({ receiverId: bob.id, content: 'half' });
      const { received } = await closedAfter(
        port(),
        'POST /api/messages/send HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
          `Authorization: Bearer ${alice.token}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
        8000,
      );
      assert.match(received, /^HTTP\/1\.1 408 /);
      assert.equal(received.match(/HTTP\/1\.1 /g)?.length, 1, received);
      assert.deepEqual(await counts(), before);
    });

    it("Node's own bodiless answers: 400 to a malformed request, 431 to headers over 16 KiB", async function () {
      const malformed = await closedAfter(port(), 'GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n', 8000);
      assert.match(malformed.received, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(malformed.received, /\r\n\r\n$/);
      const big = await closedAfter(
        port(),
        `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'x'.repeat(17 * 1024)}\r\n\r\n`,
        8000,
      );
      assert.match(big.received, /^HTTP\/1\.1 431 /);
    });

    it('keeps an idle ws connection past RECEIVE_TIMEOUT_MS: the limit is on receiving a request', async function () {
      const ws = new WebSocket(`${t.url.replace('http', 'ws')}/ws`, {
        headers: { authorization: `Bearer ${alice.token}` },
      });
      try {
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
        });
        // Real delay, a negative check: idle past the receive timeout plus Node's 1 s check.
        await sleep(ctx.config.http.receiveTimeoutMs + 1500);
        const pong = new Promise((resolve) => ws.once('message', (d) => resolve(String(d))));
        ws.send('{"type":"ping"}');
        assert.equal(await pong, '{"type":"pong"}');
      } finally {
        ws.terminate();
      }
    });
  });

  describe('metrics', function () {
    it('are served on their own loopback listener, not on the API port (404 there)', async function () {
      const metricsUrl = new URL(t.api.metricsUrl);
      assert.equal(metricsUrl.hostname, '127.0.0.1');
      assert.equal(metricsUrl.pathname, '/metrics');
      assert.notEqual(metricsUrl.port, new URL(t.url).port);
      const res = await fetch(metricsUrl);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^http_request_duration_seconds_bucket\{/m);
      assertError(await raw(t.url, 'GET', '/metrics'), 'NOT_FOUND', 'GET /metrics on the API');
    });
  });
});

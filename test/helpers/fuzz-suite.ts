import assert from 'node:assert/strict';
import fc from 'fast-check';
import WebSocket from 'ws';
import { ERROR_CODES } from '../../src/errors/error-codes.js';
import {
  startTestApi,
  signupUser,
  storedCounts,
  type TestApi,
  type TestUser,
} from './api-harness.js';
import { createTestContext, type TestContext } from './test-context.js';
import {
  badPathSegment,
  badQuery,
  invalidBody,
  nonStringJson,
  hugeString,
  extraKey,
  invalidUtf8,
  nonJsonContentType,
  withInvalidUtf8,
} from './hostile-input.js';

/** How many cases each property runs. */
export interface FuzzSize {
  /** Cases per HTTP route group. */
  http: number;
  /** Cases over the ws protocol. */
  ws: number;
}

/** The seed: fixed so that a failure is reproducible; FUZZ_SEED overrides it. */
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);

interface Answer {
  status: number;
  text: string;
}

/** Sends raw bytes (a Buffer keeps invalid UTF-8 invalid); `contentType` null sends none. */
async function request(
  url: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: Buffer,
  contentType: string | null = 'application/json',
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body && contentType !== null) headers['content-type'] = contentType;
  const res = await fetch(`${url}${path}`, { method, headers, body });
  return { status: res.status, text: await res.text() };
}

/** A 4xx with the documented `{ error: { code, message } }` body, its code matching its status. */
function assertRefused(a: Answer, what: string): void {
  assert.ok(
    a.status >= 400 && a.status < 500,
    `${what}: expected a 4xx, got ${a.status} ${a.text.slice(0, 200)}`,
  );
  assertErrorShape(a, what);
}

function assertErrorShape(a: Answer, what: string): void {
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    assert.fail(`${what}: ${a.status} body is not JSON: ${a.text.slice(0, 200)}`);
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  assert.ok(
    error && typeof error === 'object',
    `${what}: no "error" object in ${a.text.slice(0, 200)}`,
  );
  assert.equal(typeof error.message, 'string', `${what}: error.message`);
  const code = error.code as keyof typeof ERROR_CODES;
  assert.ok(
    typeof code === 'string' && code in ERROR_CODES,
    `${what}: undocumented code ${String(code)}`,
  );
  assert.equal(ERROR_CODES[code].status, a.status, `${what}: ${code} with status ${a.status}`);
  assert.ok(!/\bat .+:\d+:\d+/.test(a.text), `${what}: a stack trace reached the client`);
}

const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/json; charset=latin1',
];

/**
 * Registers the hostile-input suite: every REST route and the ws protocol, against an
 * in-process API, with `size` cases per property. Expected of every case: no 5xx, a 4xx
 * with the documented error shape, and nothing stored (users and messages counted before
 * and after; the target message unchanged).
 */
export function defineFuzzSuite(size: FuzzSize): void {
  describe(`hostile input (fuzz, seed ${SEED}): every route refuses, nothing is stored`, function () {
    this.timeout(Math.max(60_000, size.http * 100));
    let ctx: TestContext;
    let api: TestApi;
    let alice: TestUser;
    let bob: TestUser;
    let messageId: string;
    let baseline: { users: number; messages: number };

    before(async () => {
      ctx = createTestContext('fuzz', { RATE_LIMIT_SENDS: '100000' });
      api = await startTestApi(ctx.config, ctx.logger);
      alice = await signupUser(api.url, 'fuzz_alice');
      bob = await signupUser(api.url, 'fuzz_bob');
      const sent = await request(
        api.url,
        'POST',
        '/api/messages/send',
        alice.token,
        Buffer.from(JSON.stringify({ receiverId: bob.id, content: 'the original' })),
      );
      assert.equal(sent.status, 201, sent.text);
      messageId = (JSON.parse(sent.text) as { message: { id: string } }).message.id;
      baseline = await counts();
    });

    after(async () => {
      await api?.close();
      await ctx?.cleanup();
    });

    const counts = () => storedCounts(api, ctx.config);

    const params = () => ({ seed: SEED, numRuns: size.http, endOnFailure: true });

    it('POST /api/auth/signup and /api/auth/login', async () => {
      const body = invalidBody({ username: '"fuzz_carol"', password: '"correct horse"' });
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('signup', 'login'),
          body,
          fc.constantFrom(...CONTENT_TYPES),
          async (route, b, type) => {
            const a = await request(api.url, 'POST', `/api/auth/${route}`, undefined, b, type);
            assertRefused(a, `${route} ${b.subarray(0, 80).toString('latin1')}`);
          },
        ),
        params(),
      );
    });

    it('POST /api/messages/send (body and Idempotency-Key)', async () => {
      const body = invalidBody(
        { receiverId: JSON.stringify(bob.id), content: '"hello"', clientMsgId: '"k1"' },
        ['receiverId', 'clientMsgId'],
      );
      await fc.assert(
        fc.asyncProperty(body, fc.constantFrom(...CONTENT_TYPES), async (b, type) => {
          const a = await request(api.url, 'POST', '/api/messages/send', alice.token, b, type);
          assertRefused(a, `send ${b.subarray(0, 80).toString('latin1')}`);
        }),
        params(),
      );
      // A valid body with a malformed Idempotency-Key header is refused too.
      await fc.assert(
        fc.asyncProperty(fc.stringMatching(/^[!-~]{65,120}$|^[$.!~*][!-~]{0,30}$/), async (key) => {
          const res = await fetch(`${api.url}/api/messages/send`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${alice.token}`,
              'content-type': 'application/json',
              'idempotency-key': key,
            },
            body: JSON.stringify({ receiverId: bob.id, content: 'keyed' }),
          });
          assertRefused({ status: res.status, text: await res.text() }, `Idempotency-Key ${key}`);
        }),
        { ...params(), numRuns: Math.ceil(size.http / 5) },
      );
    });

    it('GET /api/users, GET /api/messages/:receiverId (hostile paths and queries)', async () => {
      await fc.assert(
        fc.asyncProperty(badPathSegment, fc.option(badQuery), async (seg, query) => {
          const q = query ? `?${query}` : '';
          const conv = await request(api.url, 'GET', `/api/messages/${seg}${q}`, alice.token);
          assertRefused(conv, `GET /api/messages/${seg}${q}`);
          // The users list ignores queries: 200, or a documented 4xx.
          const users = await request(api.url, 'GET', `/api/users${q}`, alice.token);
          assert.ok(users.status < 500, `GET /api/users${q}: ${users.status}`);
          if (users.status >= 400) assertErrorShape(users, `GET /api/users${q}`);
        }),
        params(),
      );
      // A valid receiver with a hostile query.
      await fc.assert(
        fc.asyncProperty(
          badQuery.filter((q) => !/^(limit=([1-9]\d?|100)|before=[0-9a-f]{24})(&|$)/.test(q)),
          async (q) => {
            const a = await request(api.url, 'GET', `/api/messages/${bob.id}?${q}`, alice.token);
            if (a.status !== 200) assertRefused(a, `GET /api/messages/<bob>?${q}`);
          },
        ),
        params(),
      );
    });

    it('GET/PATCH/DELETE /api/messages/item/:messageId', async () => {
      const editBody = invalidBody({ content: '"edited"' });
      await fc.assert(
        fc.asyncProperty(
          badPathSegment,
          editBody,
          fc.constantFrom('GET', 'PATCH', 'DELETE'),
          async (seg, b, method) => {
            const a = await request(
              api.url,
              method,
              `/api/messages/item/${seg}`,
              alice.token,
              method === 'PATCH' ? b : undefined,
            );
            assertRefused(a, `${method} item/${seg}`);
            // The real message, with a hostile edit body.
            if (method === 'PATCH') {
              const e = await request(
                api.url,
                'PATCH',
                `/api/messages/item/${messageId}`,
                alice.token,
                b,
              );
              assertRefused(e, `PATCH item/<own> ${b.subarray(0, 80).toString('latin1')}`);
            }
          },
        ),
        params(),
      );
    });

    it('the ws protocol: hostile frames get an error frame, never an ack or a crash', async () => {
      const frame = fc.oneof(
        // message:send with one bad field or an extra key
        fc
          .tuple(
            fc.constantFrom('receiverId', 'content', 'clientMsgId', 'imageUrl', 'publicId'),
            fc.oneof(
              nonStringJson,
              hugeString.filter((s) => s.length < 60_000),
            ),
          )
          .map(([f, v]) => {
            const fields: Record<string, string> = {
              type: '"message:send"',
              receiverId: JSON.stringify(bob.id),
              content: '"hi"',
              [f]: v,
            };
            return `{${Object.entries(fields)
              .map(([k, x]) => `${JSON.stringify(k)}:${x}`)
              .join(',')}}`;
          }),
        fc
          .tuple(
            extraKey.filter((k) => !['type', 'receiverId', 'content', 'clientMsgId'].includes(k)),
            nonStringJson,
          )
          .map(
            ([k, v]) =>
              `{"type":"message:send","receiverId":${JSON.stringify(bob.id)},"content":"hi",${JSON.stringify(k)}:${v}}`,
          ),
        // wrong or missing type, not an object, not JSON
        nonStringJson.map((v) => `{"type":${v}}`),
        fc.string({ maxLength: 20 }).map((t) => `{"type":${JSON.stringify(`x${t}`)}}`),
        fc.constantFrom('[]', 'null', '42', '"s"', '{', '{"type":"message:send"', ''),
        fc.string({ maxLength: 50 }),
      );
      let ws: WebSocket | undefined;
      const open = async () => {
        const s = new WebSocket(`${api.url.replace('http', 'ws')}/ws`, {
          headers: { authorization: `Bearer ${alice.token}` },
        });
        await new Promise((resolve, reject) => {
          s.once('open', resolve);
          s.once('error', reject);
        });
        return s;
      };
      const next = (s: WebSocket) =>
        new Promise<{ closed: number } | { frame: { type?: string; code?: string } }>(
          (resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no ws answer within 5 s')), 5000);
            s.once('message', (d) => {
              clearTimeout(timer);
              s.removeAllListeners('close');
              resolve({ frame: JSON.parse(d.toString()) as { type?: string; code?: string } });
            });
            s.once('close', (code) => {
              clearTimeout(timer);
              s.removeAllListeners('message');
              resolve({ closed: code });
            });
          },
        );
      try {
        await fc.assert(
          fc.asyncProperty(frame, fc.boolean(), async (text, binary) => {
            if (!ws || ws.readyState !== WebSocket.OPEN) ws = await open();
            const answer = next(ws);
            ws.send(binary ? Buffer.from(text) : text, { binary });
            const a = await answer;
            if ('closed' in a) {
              // A protocol violation (e.g. a frame over 64 KiB: 1009) may close the socket.
              assert.ok(
                [1007, 1008, 1009].includes(a.closed),
                `ws closed with ${a.closed} after ${text.slice(0, 80)}`,
              );
              ws = undefined;
              return;
            }
            assert.equal(
              a.frame.type,
              'error',
              `ws answered ${JSON.stringify(a.frame).slice(0, 200)} to ${text.slice(0, 80)}`,
            );
            const code = a.frame.code as keyof typeof ERROR_CODES;
            assert.ok(
              code in ERROR_CODES && ERROR_CODES[code].status < 500,
              `ws error ${code} to ${text.slice(0, 80)}`,
            );
          }),
          { seed: SEED, numRuns: size.ws, endOnFailure: true },
        );
        // Still serving: a ping is answered.
        if (!ws || ws.readyState !== WebSocket.OPEN) ws = await open();
        const pong = next(ws);
        ws.send('{"type":"ping"}');
        assert.deepEqual(await pong, { frame: { type: 'pong' } });
      } finally {
        ws?.terminate();
      }
    });

    /** A valid body for each route with a body: refused only for its encoding or its type. */
    const validBodies = (): Array<{
      method: string;
      path: string;
      token: string | undefined;
      fields: Record<string, string>;
    }> => [
      {
        method: 'POST',
        path: '/api/auth/signup',
        token: undefined,
        fields: { username: 'fuzz_dave', password: 'correct horse' },
      },
      {
        method: 'POST',
        path: '/api/auth/login',
        token: undefined,
        fields: { username: 'fuzz_alice', password: 'correct horse' },
      },
      {
        method: 'POST',
        path: '/api/messages/send',
        token: alice.token,
        fields: { receiverId: bob.id, content: 'hello', clientMsgId: 'k2' },
      },
      {
        method: 'PATCH',
        path: `/api/messages/item/${messageId}`,
        token: alice.token,
        fields: { content: 'edited' },
      },
    ];

    /** The answer `a` is exactly `code` (and its status) in the documented shape. */
    function assertCode(a: Answer, code: keyof typeof ERROR_CODES, what: string): void {
      assertErrorShape(a, what);
      assert.equal((JSON.parse(a.text) as { error: { code: string } }).error.code, code, what);
    }

    it('valid JSON with bytes that are not UTF-8: 400 BAD_JSON on every route', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...validBodies()),
          fc.nat(),
          fc.nat(20),
          invalidUtf8,
          async (route, fieldPick, at, bad) => {
            const names = Object.keys(route.fields);
            const field = names[fieldPick % names.length] ?? '';
            const body = withInvalidUtf8(route.fields, field, at, bad);
            const a = await request(api.url, route.method, route.path, route.token, body);
            assertCode(
              a,
              'BAD_JSON',
              `${route.method} ${route.path} ${body.toString('latin1').slice(0, 80)}`,
            );
          },
        ),
        params(),
      );
    });

    it('a valid body that is not application/json in UTF-8: 415 on every route', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...validBodies()),
          nonJsonContentType,
          async (route, type) => {
            const body = Buffer.from(JSON.stringify(route.fields));
            const a = await request(api.url, route.method, route.path, route.token, body, type);
            assertCode(a, 'UNSUPPORTED_MEDIA_TYPE', `${route.method} ${route.path} as ${type}`);
          },
        ),
        params(),
      );
    });

    it('stored nothing, and the target message is unchanged', async () => {
      assert.deepEqual(await counts(), baseline);
      const a = await request(api.url, 'GET', `/api/messages/item/${messageId}`, alice.token);
      assert.equal(a.status, 200, a.text);
      assert.equal(
        (JSON.parse(a.text) as { message: { content: string } }).message.content,
        'the original',
      );
      const health = await request(api.url, 'GET', '/health', undefined);
      assert.equal(health.status, 200, health.text);
    });
  });
}

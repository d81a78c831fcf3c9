import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import {
  ContractViolation,
  contractChecker,
  type AnswerToCheck,
} from '../helpers/contract-check.js';
import {
  ignoreOrigin,
  settleContractChecks,
  takeContractViolations,
} from '../helpers/contract-hook.js';

// That every code of the error registry appears in the documents is checked by
// test/unit/openapi-document.test.ts ('names every error code of the registry').

const ALICE = '6b17795be1273f5759a86a01';
const BOB = '6b17795be1273f5759a86a02';
const message = {
  id: '6b17795be1273f5759a86a04',
  senderId: ALICE,
  receiverId: BOB,
  content: 'hello bob',
  imageUrl: null,
  publicId: null,
  createdAt: '2026-12-08T03:28:27.820Z',
};
const withoutId: Partial<typeof message> = { ...message };
delete withoutId.id;
const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };
const error = (code: string, text = 'x') => ({ error: { code, message: text } });

const answer = (a: Partial<AnswerToCheck> & Pick<AnswerToCheck, 'status'>): AnswerToCheck => ({
  method: 'GET',
  url: 'http://127.0.0.1:3000/api/users',
  headers: JSON_TYPE,
  body: undefined,
  ...a,
});

/** Asserts that the checker refuses `fn`'s answer or frame with a message matching `pattern`. */
function refuses(fn: () => void, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ContractViolation, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

describe('the contract check (answers and frames against the API documents)', function () {
  const check = contractChecker();

  it('accepts answers of the shapes the API gives', function () {
    const send = { method: 'POST', url: 'http://127.0.0.1:1/api/messages/send' };
    check.checkHttpAnswer(answer({ ...send, status: 201, body: { message, persisted: true } }));
    check.checkHttpAnswer(answer({ ...send, status: 200, body: { message, persisted: false } }));
    check.checkHttpAnswer(
      answer({ ...send, status: 400, body: error('VALIDATION_FAILED', 'content: too long') }),
    );
    check.checkHttpAnswer(
      answer({
        ...send,
        status: 429,
        headers: { ...JSON_TYPE, 'retry-after': '10' },
        body: error('RATE_LIMITED'),
      }),
    );
    check.checkHttpAnswer(
      answer({
        url: `http://127.0.0.1:1/api/messages/${BOB}?limit=10`,
        status: 200,
        headers: new Headers({ ...JSON_TYPE, 'X-Cache': 'HIT' }),
        body: { messages: [message] },
      }),
    );
    check.checkHttpAnswer(answer({ status: 200, body: { users: [{ id: BOB, username: 'bob' }] } }));
    // HEAD as its GET without the body; OPTIONS from the router; a 204; a 304 of a page.
    check.checkHttpAnswer(answer({ method: 'HEAD', status: 401 }));
    check.checkHttpAnswer(
      answer({ method: 'OPTIONS', status: 200, headers: { allow: 'HEAD, GET' } }),
    );
    check.checkHttpAnswer(
      answer({
        method: 'DELETE',
        url: `http://127.0.0.1:1/api/messages/item/${ALICE}`,
        status: 204,
      }),
    );
    check.checkHttpAnswer(
      answer({
        url: 'http://127.0.0.1:1/static/js/web/chat.js',
        status: 304,
        headers: { etag: 'W/"1"' },
      }),
    );
    // The answers no route gives: an unknown path, a method the path does not list, an
    // unknown method, and the body reader's errors before routing.
    check.checkHttpAnswer(
      answer({ url: 'http://127.0.0.1:1/api/nowhere', status: 404, body: error('NOT_FOUND') }),
    );
    check.checkHttpAnswer(
      answer({
        method: 'PUT',
        status: 405,
        headers: { ...JSON_TYPE, allow: 'HEAD, GET' },
        body: error('METHOD_NOT_ALLOWED'),
      }),
    );
    check.checkHttpAnswer(
      answer({ method: 'PROPFIND', status: 501, body: error('NOT_IMPLEMENTED') }),
    );
    check.checkHttpAnswer(
      answer({
        method: 'PUT',
        url: 'http://127.0.0.1:1/api/nowhere',
        status: 415,
        body: error('UNSUPPORTED_MEDIA_TYPE'),
      }),
    );
    check.checkServerFrame({ type: 'message:new', message });
    check.checkServerFrame({ type: 'message:ack', clientMsgId: 'c-1', message, persisted: true });
    check.checkServerFrame({ type: 'error', code: 'UNKNOWN_TYPE', message: 'Unknown frame type' });
    check.checkServerFrame({ type: 'pong' });
    check.checkClientFrame({ type: 'message:send', receiverId: BOB, content: 'hi' });
    check.checkUpgradeRefusal({
      url: 'ws://127.0.0.1:1/ws',
      status: 401,
      headers: { 'www-authenticate': 'Bearer' },
      body: error('UNAUTHORIZED'),
    });
  });

  it('refuses answers that the OpenAPI document does not describe', function () {
    const send = { method: 'POST', url: 'http://127.0.0.1:1/api/messages/send' };
    refuses(
      () => check.checkHttpAnswer(answer({ ...send, status: 200, body: { message } })),
      /^POST \/api\/messages\/send → 200: body: .*persisted/,
    );
    refuses(
      () =>
        check.checkHttpAnswer(
          answer({
            ...send,
            status: 201,
            body: { message: { ...message, createdAt: 1 }, persisted: true },
          }),
        ),
      /→ 201: body: .*createdAt/,
    );
    refuses(
      () => check.checkHttpAnswer(answer({ ...send, status: 400, body: error('NOPE') })),
      /→ 400: body: .*\/error\/code must be equal to one of the allowed values/,
    );
    refuses(
      () => check.checkHttpAnswer(answer({ ...send, status: 404, body: error('NOT_FOUND') })),
      /→ 404: body: .*code/,
    );
    refuses(
      () => check.checkHttpAnswer(answer({ status: 418, body: error('INTERNAL') })),
      /^GET \/api\/users → 418: status 418 is not documented for GET \/api\/users \(documented: 200, 401, 500, 503\)/,
    );
    refuses(
      () =>
        check.checkHttpAnswer(
          answer({ url: 'http://127.0.0.1:1/api/secret', status: 200, body: { ok: true } }),
        ),
      /^GET \/api\/secret → 200: a path the OpenAPI document does not have: only 404 \(components\/responses\/NoRoute\) or 501/,
    );
    refuses(
      () => check.checkHttpAnswer(answer({ ...send, status: 429, body: error('RATE_LIMITED') })),
      /→ 429: the required header Retry-After is missing/,
    );
    refuses(
      () =>
        check.checkHttpAnswer(
          answer({
            url: `http://127.0.0.1:1/api/messages/${BOB}`,
            status: 200,
            body: { messages: [] },
          }),
        ),
      /^GET \/api\/messages\/\{receiverId\} → 200: the required header X-Cache is missing/,
    );
    refuses(
      () =>
        check.checkHttpAnswer(
          answer({ method: 'PUT', status: 405, body: error('METHOD_NOT_ALLOWED') }),
        ),
      /^PUT \/api\/users → 405: the required header Allow is missing/,
    );
    refuses(
      () =>
        check.checkHttpAnswer(
          answer({ status: 200, headers: { 'content-type': 'text/html' }, body: '<p>users</p>' }),
        ),
      /content type text\/html is not documented \(documented: application\/json\)/,
    );
    refuses(
      () => check.checkHttpAnswer(answer({ status: 200 })),
      /an empty body, but the document has application\/json/,
    );
  });

  it('refuses frames and upgrade refusals that the AsyncAPI document does not describe', function () {
    refuses(
      () => check.checkServerFrame({ type: 'message:shouted', message }),
      /^ws server → client frame "message:shouted": the AsyncAPI document has no such/,
    );
    refuses(
      () => check.checkServerFrame({ type: 'message:new', message: withoutId }),
      /"message:new": \/message must have required property 'id'/,
    );
    // A client's frame coming from the server is no server frame.
    refuses(() => check.checkServerFrame({ type: 'ping' }), /"ping": .*no such/);
    refuses(() => check.checkServerFrame('pong'), /not an object with a string type/);
    refuses(
      () =>
        check.checkUpgradeRefusal({
          url: 'ws://127.0.0.1:1/ws',
          status: 401,
          headers: {},
          body: error('FORBIDDEN'),
        }),
      /ws upgrade \/ws → 401: code "FORBIDDEN" is not documented for 401/,
    );
  });
});

describe('the contract hook (every answer and frame the suites receive)', function () {
  /** A fake API on loopback that answers deliberately wrong at documented paths. */
  let server: http.Server;
  let wss: WebSocketServer;
  let base: string;

  before(async function () {
    server = http.createServer((req, res) => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { ...JSON_TYPE, ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/api/messages/send') return json(200, { message });
      if (req.url === '/api/auth/login') return json(429, error('RATE_LIMITED'));
      if (req.url === '/api/users') return json(200, { users: [] });
      if (req.url === '/metrics') return json(200, { anything: 'goes' });
      json(200, { surprise: true });
    });
    wss = new WebSocketServer({ server, path: '/ws' });
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ type: 'pong' }));
      ws.send(JSON.stringify({ type: 'message:new', message: withoutId }));
      ws.send(JSON.stringify({ type: 'message:shouted', message }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    wss?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('records wrong answers to fetch without changing what the test receives', async function () {
    const res = await fetch(`${base}/api/messages/send`, { method: 'POST' });
    // The test still reads the whole answer.
    assert.deepEqual(await res.json(), { message });
    const fine = await fetch(`${base}/api/users`);
    assert.equal(fine.status, 200);
    await fetch(`${base}/api/secret/place`);
    await fetch(`${base}/metrics`); // not the API: unchecked
    await settleContractChecks();
    const found = takeContractViolations(this.test).map((e) => e.message);
    assert.equal(found.length, 2, found.join('\n'));
    assert.match(found[0]!, /^POST \/api\/messages\/send → 200: body: .*persisted/);
    assert.match(
      found[1]!,
      /^GET \/api\/secret\/place → 200: a path the OpenAPI document does not have/,
    );
  });

  it('records wrong answers to http.request, read by the test as usual', async function () {
    const { status, text } = await new Promise<{ status: number; text: string }>(
      (resolve, reject) => {
        const req = http.request(`${base}/api/auth/login`, { method: 'POST' }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end();
      },
    );
    assert.equal(status, 429);
    assert.deepEqual(JSON.parse(text), error('RATE_LIMITED'));
    await settleContractChecks();
    const found = takeContractViolations(this.test).map((e) => e.message);
    assert.deepEqual(found, [
      'POST /api/auth/login → 429: the required header Retry-After is missing',
    ]);
  });

  it('records the frames a ws client receives that the document does not describe', async function () {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`);
    const got: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (data) => got.push(JSON.parse(String(data))) === 3 && resolve());
      ws.on('error', reject);
    });
    ws.close();
    assert.equal(got.length, 3);
    const found = takeContractViolations(this.test).map((e) => e.message);
    assert.equal(found.length, 2, found.join('\n'));
    assert.match(found[0]!, /"message:new": \/message must have required property 'id'/);
    assert.match(found[1]!, /"message:shouted": the AsyncAPI document has no such/);
  });

  it('leaves an origin that a test opts out alone', async function () {
    const restore = ignoreOrigin(base);
    try {
      await (await fetch(`${base}/api/messages/send`, { method: 'POST' })).text();
      await settleContractChecks();
    } finally {
      restore();
    }
    assert.deepEqual(takeContractViolations(this.test), []);
  });
});

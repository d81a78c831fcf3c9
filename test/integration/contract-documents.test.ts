import assert from 'node:assert/strict';
import http from 'node:http';
import { buildAsyncApiDocument } from '../../src/contract/asyncapi-document.js';
import { buildOpenApiDocument } from '../../src/contract/openapi-document.js';
import { ERROR_CODES } from '../../src/errors/error-codes.js';
import {
  call,
  signupUser,
  startTestApi,
  wsUpgrade,
  type HttpAnswer,
  type TestApi,
  type TestUser,
} from '../helpers/api-harness.js';
import { documentSchemas, type Pointer } from '../helpers/document-schemas.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';
import { connectWs } from '../helpers/ws-client.js';

type Json = Record<string, unknown>;

/**
 * A request with exactly these headers (fetch adds `Cache-Control: no-cache` to a request with
 * If-None-Match, which rules out a 304).
 */
function raw(
  url: string,
  method: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the API contract documents, served and kept', function () {
  this.timeout(30000);
  let ctx: TestContext;
  let t: TestApi;

  before(async function () {
    ctx = createTestContext('contract-docs');
    t = await startTestApi(ctx.config, ctx.logger);
  });

  after(async function () {
    await t?.close();
    await ctx?.cleanup();
  });

  for (const [path, build] of [
    ['/openapi.json', buildOpenApiDocument],
    ['/asyncapi.json', buildAsyncApiDocument],
  ] as const) {
    it(`GET ${path}: the built document as JSON, with an ETag and 304 on revalidation`, async function () {
      const res = await fetch(`${t.url}${path}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      assert.deepEqual(await res.json(), JSON.parse(JSON.stringify(build())));
      const etag = res.headers.get('etag');
      assert.match(etag ?? '', /^"[\w-]+"$/);
      const again = await raw(`${t.url}${path}`, 'GET', { 'if-none-match': etag! });
      assert.equal(again.status, 304);
      assert.equal(again.text, '');
      const head = await raw(`${t.url}${path}`, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
      const put = await call(t.url, 'PUT', path, { body: {} });
      assert.equal(put.status, 405);
      assert.equal(put.headers.get('allow'), 'HEAD, GET');
    });
  }

  it('answers as the served OpenAPI document says, hand-built JSON included', async function () {
    const doc = (await call(t.url, 'GET', '/openapi.json')).body as Json;
    const schemas = documentSchemas(doc);
    const check = (method: string, path: string, a: HttpAnswer) => {
      const at: Pointer = ['paths', path, method, 'responses', String(a.status)];
      const responses = ((doc.paths as Json)[path] as Record<string, Json>)[method]!.responses;
      assert.ok(
        (responses as Json)[String(a.status)],
        `${method} ${path}: ${a.status} undocumented`,
      );
      if (a.body !== undefined) {
        schemas.assertValid(
          [...at, 'content', 'application/json', 'schema'],
          a.body,
          `${method} ${path}`,
        );
      }
    };

    const signup = await call(t.url, 'POST', '/api/auth/signup', {
      body: { username: 'alice', password: 'correct horse' },
    });
    check('post', '/api/auth/signup', signup);
    const alice: TestUser = {
      id: signup.body.user.id,
      username: 'alice',
      token: signup.body.token,
    };
    const bob = await signupUser(t.url, 'bob');
    const token = alice.token;
    check(
      'post',
      '/api/auth/login',
      await call(t.url, 'POST', '/api/auth/login', {
        body: { username: 'alice', password: 'correct horse' },
      }),
    );
    check('get', '/api/users', await call(t.url, 'GET', '/api/users', { token }));

    // The send's answer and the conversation page are JSON built by hand for speed.
    const body = { receiverId: bob.id, content: 'hello bob' };
    const headers = { 'idempotency-key': 'contract-1' };
    const sent = await call(t.url, 'POST', '/api/messages/send', { token, body, headers });
    assert.equal(sent.status, 201);
    check('post', '/api/messages/send', sent);
    const replay = await call(t.url, 'POST', '/api/messages/send', { token, body, headers });
    assert.equal(replay.status, 200);
    check('post', '/api/messages/send', replay);
    const image = await call(t.url, 'POST', '/api/messages/send', {
      token,
      body: {
        receiverId: bob.id,
        content: null,
        imageUrl: 'https://a.example/c.png',
        publicId: 'c',
      },
    });
    check('post', '/api/messages/send', image);
    for (const cache of ['MISS', 'HIT']) {
      const page = await call(t.url, 'GET', `/api/messages/${bob.id}?limit=10`, { token });
      check('get', '/api/messages/{receiverId}', page);
      assert.equal(page.headers.get('x-cache'), cache);
      assert.equal(page.body.messages.length, 2);
    }
    const id = sent.body.message.id as string;
    const item = '/api/messages/item/{messageId}';
    check('get', item, await call(t.url, 'GET', `/api/messages/item/${id}`, { token }));
    const edited = await call(t.url, 'PATCH', `/api/messages/item/${id}`, {
      token,
      body: { content: 'hello again' },
    });
    assert.equal(typeof edited.body.message.updatedAt, 'string');
    check('patch', item, edited);
    check(
      'patch',
      item,
      await call(t.url, 'PATCH', `/api/messages/item/${id}`, {
        token: bob.token,
        body: { content: 'not mine' },
      }),
    );
    check(
      'delete',
      item,
      await call(t.url, 'DELETE', `/api/messages/item/${image.body.message.id}`, { token }),
    );
    check('get', '/api/stats', await call(t.url, 'GET', '/api/stats', { token }));
    for (const path of ['/health', '/health/live', '/health/ready']) {
      check('get', path, await call(t.url, 'GET', path));
    }

    // Errors: each with a code its operation lists for that status.
    check(
      'post',
      '/api/messages/send',
      await call(t.url, 'POST', '/api/messages/send', {
        token,
        body: { receiverId: 'nope', content: 'x' },
      }),
    );
    check(
      'post',
      '/api/messages/send',
      await call(t.url, 'POST', '/api/messages/send', {
        token,
        raw: 'x',
        headers: { 'content-type': 'text/plain' },
      }),
    );
    check('get', '/api/users', await call(t.url, 'GET', '/api/users'));
    check(
      'get',
      '/api/messages/{receiverId}',
      await call(t.url, 'GET', `/api/messages/${bob.id}?sort=desc`, { token }),
    );

    // The answers no route gives: components/responses.
    const noRoute = await call(t.url, 'GET', '/api/nowhere');
    assert.equal(noRoute.status, 404);
    schemas.assertValid(
      ['components', 'responses', 'NoRoute', 'content', 'application/json', 'schema'],
      noRoute.body,
      '404',
    );
    const notAllowed = await call(t.url, 'PUT', '/api/auth/signup', { body: {} });
    assert.equal(notAllowed.status, 405);
    assert.equal(notAllowed.headers.get('allow'), 'POST');
    schemas.assertValid(
      ['components', 'responses', 'MethodNotAllowed', 'content', 'application/json', 'schema'],
      notAllowed.body,
      '405',
    );
  });

  it('speaks ws as the served AsyncAPI document says', async function () {
    const doc = (await call(t.url, 'GET', '/asyncapi.json')).body as Json;
    const schemas = documentSchemas(doc, 'draft-07');
    const frame = (id: string, value: unknown) =>
      schemas.assertValid(['components', 'schemas', id], value, id);
    const carol = await signupUser(t.url, 'carol');
    const dave = await signupUser(t.url, 'dave');
    const c = await connectWs(t.api, carol);
    const d = await connectWs(t.api, dave);
    try {
      const send = { type: 'message:send', receiverId: dave.id, content: 'hi', clientMsgId: 'w-1' };
      frame('MessageSendFrame', send);
      c.ws.send(JSON.stringify(send));
      frame('MessageAckFrame', await c.next((f) => f.type === 'message:ack'));
      frame('MessageNewFrame', await d.next((f) => f.type === 'message:new'));
      c.ws.send(JSON.stringify({ type: 'ping' }));
      frame('PongFrame', await c.next((f) => f.type === 'pong'));
      c.ws.send(JSON.stringify({ type: 'nope', clientMsgId: 'w-2' }));
      const error = await c.next((f) => f.type === 'error');
      assert.equal(error.code, 'UNKNOWN_TYPE');
      frame('ErrorFrame', error);
    } finally {
      c.ws.close();
      d.ws.close();
    }

    const refusals = (doc.channels as Record<string, Json>).chat!['x-handshake-refusals'] as Array<{
      status: number;
      code: string;
    }>;
    const refused = await wsUpgrade(`${t.url.replace('http', 'ws')}/ws`, {});
    assert.equal(refused.status, ERROR_CODES.UNAUTHORIZED.status);
    assert.ok(
      refusals.some((r) => r.status === refused.status && r.code === refused.body.error.code),
    );
    schemas.assertValid(['components', 'schemas', 'ErrorBody'], refused.body, 'refusal');
  });
});

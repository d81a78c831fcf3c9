import assert from 'node:assert/strict';
import { ObjectId } from 'mongodb';
import { SignJWT } from 'jose';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { cachedValue, dropDueEntry, dueDeadline } from '../helpers/due-index.js';
import { sharedServers, startThrowawayMongo, startThrowawayRedis } from '../helpers/servers.js';
import { createTestContext, TEST_JWT_SECRET, type TestContext } from '../helpers/test-context.js';
import {
  call,
  clearRedisPrefix,
  inspectMongo,
  inspectRedis,
  signupUser,
  startTestApi,
  type TestApi,
  type TestUser,
} from '../helpers/api-harness.js';
import { MessageStore } from '../../src/messages/message-store.js';
import type { MessageShadow } from '../../src/messages/message.js';
import { SendIdempotency } from '../../src/messages/send-idempotency.js';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';

type Redis = Awaited<ReturnType<typeof inspectRedis>>;
type Mongo = Awaited<ReturnType<typeof inspectMongo>>;

const ID_RE = /^[0-9a-f]{24}$/;

/** One context + API + users + inspection clients, for a describe block. */
function setup(name: string, env: Record<string, string> = {}) {
  const s = {} as {
    ctx: TestContext;
    t: TestApi;
    redis: Redis;
    mongo: Mongo;
    messages: MessageStore;
    alice: TestUser;
    bob: TestUser;
    carol: TestUser;
  };
  before(async function () {
    s.ctx = createTestContext(name, { CACHE_TTL_SECONDS: '60', RATE_LIMIT_SENDS: '1000', ...env });
    s.t = await startTestApi(s.ctx.config, s.ctx.logger);
    s.redis = await inspectRedis(s.ctx.config);
    s.mongo = await inspectMongo(s.ctx.config);
    s.messages = MessageStore.fromDb(s.mongo.db);
    [s.alice, s.bob, s.carol] = await Promise.all([
      signupUser(s.t.url, 'alice'),
      signupUser(s.t.url, 'bob'),
      signupUser(s.t.url, 'carol'),
    ]);
  });
  after(async function () {
    await s.t?.close();
    await s.redis?.close();
    await s.mongo?.close();
    await s.ctx?.cleanup();
  });
  return s;
}

async function send(
  t: TestApi,
  from: TestUser,
  to: TestUser | string,
  content: string,
  extra: { headers?: Record<string, string>; body?: Record<string, unknown> } = {},
) {
  return call(t.url, 'POST', '/api/messages/send', {
    token: from.token,
    headers: extra.headers,
    body: { receiverId: typeof to === 'string' ? to : to.id, content, ...extra.body },
  });
}

describe('messages REST API', function () {
  describe('write-through (default)', function () {
    const s = setup('msgrest');

    it('requires a valid bearer token on every route: 401 UNAUTHORIZED', async function () {
      const someId = new ObjectId().toHexString();
      const expired = await new SignJWT({ username: 'alice' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(s.alice.id)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
        .sign(new TextEncoder().encode(TEST_JWT_SECRET));
      const forged = await new SignJWT({ username: 'alice' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(s.alice.id)
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('x'.repeat(40)));
      const routes: Array<[string, string]> = [
        ['POST', '/api/messages/send'],
        ['GET', `/api/messages/${someId}`],
        ['GET', `/api/messages/item/${someId}`],
        ['PATCH', `/api/messages/item/${someId}`],
        ['DELETE', `/api/messages/item/${someId}`],
      ];
      for (const [method, path] of routes) {
        for (const token of [undefined, expired, forged]) {
          const res = await call(s.t.url, method, path, {
            token,
            body: method === 'POST' || method === 'PATCH' ? { content: 'x' } : undefined,
          });
          assert.equal(res.status, 401, `${method} ${path}`);
          assert.equal(res.body.error.code, 'UNAUTHORIZED');
        }
      }
    });

    it('sends: 201 with the message; stored in MongoDB and cached with TTL + due entry; event to both', async function () {
      s.t.events.length = 0;
      const res = await send(s.t, s.alice, s.bob, 'hello bob');
      assert.equal(res.status, 201);
      assert.equal(res.body.persisted, true);
      const m = res.body.message;
      assert.match(m.id, ID_RE);
      assert.deepEqual(
        { ...m, id: undefined, createdAt: undefined },
        {
          id: undefined,
          senderId: s.alice.id,
          receiverId: s.bob.id,
          content: 'hello bob',
          imageUrl: null,
          publicId: null,
          createdAt: undefined,
        },
      );
      // ISO 8601 in UTC with milliseconds, as the README says.
      assert.match(m.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      const doc = await s.messages.collection.findOne({ _id: new ObjectId(m.id) });
      assert.equal(doc?.content, 'hello bob');
      assert.equal(doc?.conversationId, [s.alice.id, s.bob.id].sort().join(':'));

      const key = s.t.keys.message(m.id);
      assert.deepEqual(JSON.parse((await cachedValue(s.redis, key)) ?? 'null'), m);
      const ttl = await s.redis.ttl(key);
      assert.ok(ttl > 50 && ttl <= 60, `ttl ${ttl}`);
      assert.ok((await dueDeadline(s.redis, s.t.keys, key)) !== null, 'due entry');
      assert.equal(await s.redis.hExists(s.t.keys.shadow, key), 0, 'no shadow');
      assert.ok(
        Number(await s.redis.get(s.t.keys.conversationGeneration(s.alice.id, s.bob.id))) >= 1,
      );

      assert.equal(s.t.events.length, 1);
      assert.equal(s.t.events[0]?.type, 'message:new');
      assert.deepEqual(s.t.events[0]?.recipients, [s.bob.id, s.alice.id]);
      assert.deepEqual(s.t.events[0]?.message, m);
    });

    it('sends an image-only message, and text beside an image kept as sent', async function () {
      const res = await call(s.t.url, 'POST', '/api/messages/send', {
        token: s.alice.token,
        body: { receiverId: s.carol.id, imageUrl: 'https://img.example/x.png', publicId: 'pub_1' },
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.message.content, null);
      assert.equal(res.body.message.imageUrl, 'https://img.example/x.png');
      assert.equal(res.body.message.publicId, 'pub_1');
      const both = await call(s.t.url, 'POST', '/api/messages/send', {
        token: s.alice.token,
        body: { receiverId: s.carol.id, content: '  look  ', imageUrl: 'http://img.example/y' },
      });
      assert.equal(both.status, 201);
      assert.equal(both.body.message.content, '  look  ', 'not trimmed');
      assert.equal(both.body.message.imageUrl, 'http://img.example/y');
      assert.equal(both.body.message.publicId, null);
    });

    const badSends: Array<[string, () => Record<string, unknown>, number, string, RegExp]> = [
      [
        'no content nor imageUrl',
        () => ({ receiverId: s.bob.id }),
        400,
        'VALIDATION_FAILED',
        /content/,
      ],
      [
        'content over 5000 chars',
        () => ({ receiverId: s.bob.id, content: 'x'.repeat(5001) }),
        400,
        'VALIDATION_FAILED',
        /content/,
      ],
      [
        'blank content',
        () => ({ receiverId: s.bob.id, content: '   ' }),
        400,
        'VALIDATION_FAILED',
        /content/,
      ],
      [
        'content of the wrong type',
        () => ({ receiverId: s.bob.id, content: 42 }),
        400,
        'VALIDATION_FAILED',
        /content/,
      ],
      [
        'a non-http imageUrl',
        () => ({ receiverId: s.bob.id, imageUrl: 'javascript:alert(1)' }),
        400,
        'VALIDATION_FAILED',
        /imageUrl/,
      ],
      [
        'an ftp imageUrl',
        () => ({ receiverId: s.bob.id, imageUrl: 'ftp://img.example/x.png' }),
        400,
        'VALIDATION_FAILED',
        /^imageUrl: must be an http\(s\) URL$/,
      ],
      [
        'a publicId over 256 chars',
        () => ({
          receiverId: s.bob.id,
          imageUrl: 'https://img.example/x.png',
          publicId: 'p'.repeat(257),
        }),
        400,
        'VALIDATION_FAILED',
        /publicId/,
      ],
      [
        'an unknown field',
        () => ({ receiverId: s.bob.id, content: 'x', senderId: s.carol.id }),
        400,
        'VALIDATION_FAILED',
        /senderId/,
      ],
      [
        'a constructor key',
        () => ({ receiverId: s.bob.id, content: 'x', constructor: { a: 1 } }),
        400,
        'VALIDATION_FAILED',
        /constructor/,
      ],
      [
        'an operator object as receiverId',
        () => ({ receiverId: { $ne: null }, content: 'x' }),
        400,
        'VALIDATION_FAILED',
        /receiverId/,
      ],
      [
        'a malformed receiverId',
        () => ({ receiverId: 'bob', content: 'x' }),
        400,
        'INVALID_ID',
        /receiverId/,
      ],
      [
        'an unknown receiver',
        () => ({ receiverId: new ObjectId().toHexString(), content: 'x' }),
        404,
        'USER_NOT_FOUND',
        /user/i,
      ],
      [
        'yourself as receiver',
        () => ({ receiverId: s.alice.id, content: 'x' }),
        400,
        'VALIDATION_FAILED',
        /yourself/,
      ],
      [
        'a malformed clientMsgId',
        () => ({ receiverId: s.bob.id, content: 'x', clientMsgId: 'a b' }),
        400,
        'VALIDATION_FAILED',
        /clientMsgId/,
      ],
    ];
    for (const [what, body, status, code, msg] of badSends) {
      it(`refuses a send with ${what}: ${status} ${code}`, async function () {
        const count = await s.messages.collection.countDocuments();
        const res = await call(s.t.url, 'POST', '/api/messages/send', {
          token: s.alice.token,
          body: body(),
        });
        assert.equal(res.status, status);
        assert.equal(res.body.error.code, code);
        assert.match(res.body.error.message, msg);
        assert.equal(await s.messages.collection.countDocuments(), count, 'nothing stored');
      });
    }

    it('refuses malformed JSON (400 BAD_JSON), a __proto__ key (400) and a body over 100 KiB (413)', async function () {
      const bad = await call(s.t.url, 'POST', '/api/messages/send', {
        token: s.alice.token,
        raw: '{"receiverId"',
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'BAD_JSON');
      const proto = await call(s.t.url, 'POST', '/api/messages/send', {
        token: s.alice.token,
        raw: `{"receiverId":"${s.bob.id}","content":"x","__proto__":{"admin":true}}`,
      });
      assert.equal(proto.status, 400);
      const big = await call(s.t.url, 'POST', '/api/messages/send', {
        token: s.alice.token,
        body: { receiverId: s.bob.id, content: 'x', pad: 'y'.repeat(101 * 1024) },
      });
      assert.equal(big.status, 413);
      assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
    });

    it('reads a conversation: MISS from MongoDB then HIT from the list, oldest first, both directions', async function () {
      const sent = [];
      for (const [from, to, text] of [
        [s.bob, s.carol, 'one'],
        [s.carol, s.bob, 'two'],
        [s.bob, s.carol, 'three'],
      ] as const) {
        sent.push((await send(s.t, from, to, text)).body.message);
      }
      const first = await call(s.t.url, 'GET', `/api/messages/${s.carol.id}`, {
        token: s.bob.token,
      });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-cache'), 'MISS');
      assert.deepEqual(first.body.messages, sent);
      assert.equal(await s.redis.lLen(s.t.keys.conversation(s.bob.id, s.carol.id)), 3);
      assert.ok(
        (await s.redis.zScore(s.t.keys.due, s.t.keys.conversation(s.bob.id, s.carol.id))) !== null,
      );

      const second = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}`, {
        token: s.carol.token,
      });
      assert.equal(second.headers.get('x-cache'), 'HIT');
      assert.deepEqual(second.body.messages, sent);

      // A send extends the cached list: still a HIT, with the new message last.
      const four = (await send(s.t, s.carol, s.bob, 'four')).body.message;
      const third = await call(s.t.url, 'GET', `/api/messages/${s.carol.id}`, {
        token: s.bob.token,
      });
      assert.equal(third.headers.get('x-cache'), 'HIT');
      assert.deepEqual(third.body.messages, [...sent, four]);
    });

    it('refuses bad conversation reads', async function () {
      const cases: Array<[string, number, string, RegExp?]> = [
        ['/api/messages/not-an-id', 400, 'INVALID_ID'],
        [`/api/messages/${new ObjectId().toHexString()}`, 404, 'USER_NOT_FOUND'],
        [`/api/messages/${s.bob.id}?limit=0`, 400, 'VALIDATION_FAILED'],
        [`/api/messages/${s.bob.id}?limit=101`, 400, 'VALIDATION_FAILED'],
        [`/api/messages/${s.bob.id}?limit=abc`, 400, 'VALIDATION_FAILED'],
        [`/api/messages/${s.bob.id}?limit=1&limit=2`, 400, 'VALIDATION_FAILED'],
        [`/api/messages/${s.bob.id}?before=xyz`, 400, 'INVALID_ID'],
        [
          `/api/messages/${s.bob.id}?before=${new ObjectId().toHexString()}`,
          404,
          'MESSAGE_NOT_FOUND',
        ],
        [
          `/api/messages/${s.bob.id}?sort=desc`,
          400,
          'VALIDATION_FAILED',
          /^unknown query parameter "sort"$/,
        ],
        [
          `/api/messages/${s.bob.id}?limit=5&after=x&page=2`,
          400,
          'VALIDATION_FAILED',
          /"after", "page"/,
        ],
        [`/api/messages/${s.alice.id}`, 400, 'VALIDATION_FAILED', /another user/],
      ];
      for (const [path, status, code, message] of cases) {
        const res = await call(s.t.url, 'GET', path, { token: s.alice.token });
        assert.equal(res.status, status, path);
        assert.equal(res.body.error.code, code, path);
        if (message) assert.match(res.body.error.message, message, path);
      }
    });

    it('reads one message through message:{id}: hit, then after the key is gone MongoDB + re-cache', async function () {
      const m = (await send(s.t, s.alice, s.bob, 'item')).body.message;
      const hit = await call(s.t.url, 'GET', `/api/messages/item/${m.id}`, { token: s.bob.token });
      assert.equal(hit.status, 200);
      assert.deepEqual(hit.body.message, m);

      const key = s.t.keys.message(m.id);
      await s.redis.del(key);
      await dropDueEntry(s.redis, s.t.keys, key);
      const miss = await call(s.t.url, 'GET', `/api/messages/item/${m.id}`, {
        token: s.alice.token,
      });
      assert.equal(miss.status, 200);
      assert.deepEqual(miss.body.message, m);
      assert.deepEqual(JSON.parse((await cachedValue(s.redis, key)) ?? 'null'), m, 're-cached');
      assert.ok((await s.redis.ttl(key)) > 50);
      assert.ok((await dueDeadline(s.redis, s.t.keys, key)) !== null, 'due entry again');

      const stranger = await call(s.t.url, 'GET', `/api/messages/item/${m.id}`, {
        token: s.carol.token,
      });
      assert.equal(stranger.status, 404);
      assert.equal(stranger.body.error.code, 'MESSAGE_NOT_FOUND');
      const unknown = await call(
        s.t.url,
        'GET',
        `/api/messages/item/${new ObjectId().toHexString()}`,
        {
          token: s.alice.token,
        },
      );
      assert.equal(unknown.status, 404);
      const bad = await call(s.t.url, 'GET', '/api/messages/item/123', { token: s.alice.token });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'INVALID_ID');
    });

    it('edits (sender only); the next reads show the change at once', async function () {
      const m = (await send(s.t, s.alice, s.bob, 'before edit')).body.message;
      // Warm both caches.
      await call(s.t.url, 'GET', `/api/messages/${s.bob.id}`, { token: s.alice.token });
      const warm = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}`, {
        token: s.alice.token,
      });
      assert.equal(warm.headers.get('x-cache'), 'HIT');
      s.t.events.length = 0;

      const asReceiver = await call(s.t.url, 'PATCH', `/api/messages/item/${m.id}`, {
        token: s.bob.token,
        body: { content: 'hacked' },
      });
      assert.equal(asReceiver.status, 403);
      assert.equal(asReceiver.body.error.code, 'FORBIDDEN');
      const asStranger = await call(s.t.url, 'PATCH', `/api/messages/item/${m.id}`, {
        token: s.carol.token,
        body: { content: 'hacked' },
      });
      assert.equal(asStranger.status, 404);
      assert.equal(asStranger.body.error.code, 'MESSAGE_NOT_FOUND');
      for (const body of [
        { content: 'x', senderId: s.bob.id },
        { content: '' },
        { content: 'x'.repeat(5001) },
        {},
      ]) {
        const bad = await call(s.t.url, 'PATCH', `/api/messages/item/${m.id}`, {
          token: s.alice.token,
          body,
        });
        assert.equal(bad.status, 400, JSON.stringify(body).slice(0, 50));
        assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
      }

      const res = await call(s.t.url, 'PATCH', `/api/messages/item/${m.id}`, {
        token: s.alice.token,
        body: { content: 'after edit' },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.message.content, 'after edit');
      assert.equal(res.body.message.id, m.id);
      assert.ok(res.body.message.updatedAt);
      assert.equal(await s.redis.exists(s.t.keys.message(m.id)), 0, 'entry dropped');

      const conv = await call(s.t.url, 'GET', `/api/messages/${s.alice.id}`, {
        token: s.bob.token,
      });
      assert.equal(conv.headers.get('x-cache'), 'MISS');
      const seen = conv.body.messages.find((x: { id: string }) => x.id === m.id);
      assert.equal(seen.content, 'after edit');
      const item = await call(s.t.url, 'GET', `/api/messages/item/${m.id}`, { token: s.bob.token });
      assert.equal(item.body.message.content, 'after edit');
      const doc = await s.messages.collection.findOne({ _id: new ObjectId(m.id) });
      assert.equal(doc?.content, 'after edit');

      assert.deepEqual(
        s.t.events.map((e) => [e.type, e.message.id, e.recipients]),
        [['message:updated', m.id, [s.bob.id, s.alice.id]]],
      );
    });

    it('deletes (sender only, 204); the message disappears from every read', async function () {
      const keep = (await send(s.t, s.bob, s.alice, 'keep me')).body.message;
      const m = (await send(s.t, s.alice, s.bob, 'delete me')).body.message;
      await call(s.t.url, 'GET', `/api/messages/${s.bob.id}`, { token: s.alice.token });
      s.t.events.length = 0;

      const asReceiver = await call(s.t.url, 'DELETE', `/api/messages/item/${m.id}`, {
        token: s.bob.token,
      });
      assert.equal(asReceiver.status, 403);
      const asStranger = await call(s.t.url, 'DELETE', `/api/messages/item/${m.id}`, {
        token: s.carol.token,
      });
      assert.equal(asStranger.status, 404);
      const bad = await call(s.t.url, 'DELETE', '/api/messages/item/zzz', { token: s.alice.token });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'INVALID_ID');

      const res = await call(s.t.url, 'DELETE', `/api/messages/item/${m.id}`, {
        token: s.alice.token,
      });
      assert.equal(res.status, 204);
      assert.equal(res.body, undefined);

      const conv = await call(s.t.url, 'GET', `/api/messages/${s.alice.id}`, {
        token: s.bob.token,
      });
      const ids = conv.body.messages.map((x: { id: string }) => x.id);
      assert.ok(!ids.includes(m.id));
      assert.ok(ids.includes(keep.id));
      const again = await call(s.t.url, 'GET', `/api/messages/${s.alice.id}`, {
        token: s.bob.token,
      });
      assert.equal(again.headers.get('x-cache'), 'HIT');
      assert.ok(!again.body.messages.some((x: { id: string }) => x.id === m.id));
      const item = await call(s.t.url, 'GET', `/api/messages/item/${m.id}`, {
        token: s.alice.token,
      });
      assert.equal(item.status, 404);
      const twice = await call(s.t.url, 'DELETE', `/api/messages/item/${m.id}`, {
        token: s.alice.token,
      });
      assert.equal(twice.status, 404);

      const doc = await s.messages.collection.findOne({ _id: new ObjectId(m.id) });
      assert.ok(doc?.deletedAt instanceof Date, 'soft-deleted tombstone');
      assert.deepEqual(
        s.t.events.map((e) => [e.type, e.message.id, e.recipients]),
        [['message:deleted', m.id, [s.bob.id, s.alice.id]]],
      );
    });

    it('retries with the same idempotency key return the same message and store it once', async function () {
      const key = `k-${Date.now()}`;
      const first = await send(s.t, s.carol, s.alice, 'once', {
        headers: { 'Idempotency-Key': key },
      });
      assert.equal(first.status, 201);
      const retry = await send(s.t, s.carol, s.alice, 'once', {
        headers: { 'Idempotency-Key': key },
      });
      assert.ok(retry.status === 200 || retry.status === 201);
      assert.deepEqual(retry.body.message, first.body.message);
      const viaField = await send(s.t, s.carol, s.alice, 'once', { body: { clientMsgId: key } });
      assert.deepEqual(viaField.body.message, first.body.message);
      const count = await s.messages.collection.countDocuments({ content: 'once' });
      assert.equal(count, 1);

      const conflict = await send(s.t, s.carol, s.alice, 'different', {
        headers: { 'Idempotency-Key': key },
      });
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.error.code, 'IDEMPOTENCY_CONFLICT');

      // A key whose first request is still in flight (here: claimed by a "process" that then
      // stopped) is a retryable 409 with Retry-After, not a conflict.
      const inFlight = `k-flight-${Date.now()}`;
      await new SendIdempotency({
        redis: s.redis as unknown as RedisNodeClient,
        keys: s.t.keys,
      }).claim(
        s.carol.id,
        inFlight,
        new ObjectId().toHexString(),
        SendIdempotency.bodyHash({
          receiverId: s.alice.id,
          content: 'in flight',
          imageUrl: null,
          publicId: null,
        }),
      );
      const busy = await send(s.t, s.carol, s.alice, 'in flight', {
        headers: { 'Idempotency-Key': inFlight },
      });
      assert.equal(busy.status, 409);
      assert.equal(busy.body.error.code, 'IDEMPOTENCY_IN_PROGRESS');
      assert.equal(busy.headers.get('retry-after'), '1');

      // Another user may use the same key for their own message.
      const other = await send(s.t, s.bob, s.alice, 'once', {
        headers: { 'Idempotency-Key': key },
      });
      assert.equal(other.status, 201);
      assert.notEqual(other.body.message.id, first.body.message.id);

      const mismatch = await send(s.t, s.carol, s.alice, 'x', {
        headers: { 'Idempotency-Key': 'one' },
        body: { clientMsgId: 'two' },
      });
      assert.equal(mismatch.status, 400);
      const badHeader = await send(s.t, s.carol, s.alice, 'x', {
        headers: { 'Idempotency-Key': 'a'.repeat(65) },
      });
      assert.equal(badHeader.status, 400);
      assert.equal(badHeader.body.error.code, 'VALIDATION_FAILED');
    });

    it('concurrent sends with one key store one message and all answer it', async function () {
      const key = `race-${Date.now()}`;
      const answers = await Promise.all(
        [1, 2, 3].map(() =>
          send(s.t, s.bob, s.carol, 'raced', { headers: { 'Idempotency-Key': key } }),
        ),
      );
      for (const a of answers) assert.ok(a.status === 200 || a.status === 201, String(a.status));
      assert.equal(new Set(answers.map((a) => a.body.message.id)).size, 1);
      assert.equal(answers.filter((a) => a.status === 201).length, 1);
      assert.equal(await s.messages.collection.countDocuments({ content: 'raced' }), 1);
    });

    it('the service takes the ws envelope’s clientMsgId as the idempotency key', async function () {
      const svc = s.t.api.services.messageService;
      const input = { receiverId: s.bob.id, content: 'via ws' };
      const a = await svc.send(s.carol.id, input, { clientMsgId: 'ws-1' });
      const b = await svc.send(s.carol.id, input, { clientMsgId: 'ws-1' });
      assert.equal(a.status, 201);
      assert.equal(b.status, 200);
      assert.equal(b.message.id, a.message.id);
      await assert.rejects(
        svc.send(s.carol.id, { ...input, clientMsgId: 'ws-2' }, { clientMsgId: 'ws-1' }),
        (e: { code?: string }) => e.code === 'VALIDATION_FAILED',
      );
    });

    it('a conversation fill does not land when the conversation changed since it began', async function () {
      const { ConversationCache } = await import('../../src/messages/conversation-cache.js');
      const conversations = new ConversationCache({
        redis: s.t.api.redis,
        space: s.t.space,
        ttlSeconds: 60,
        size: 100,
      });
      const old = (await send(s.t, s.alice, s.carol, 'old')).body.message;
      await s.redis.del(s.t.keys.conversation(s.alice.id, s.carol.id));
      const generation = await conversations.generation(s.alice.id, s.carol.id);
      await send(s.t, s.carol, s.alice, 'newer'); // a write during the (simulated) MongoDB read
      assert.equal(await conversations.fill(s.alice.id, s.carol.id, generation, [old]), false);
      assert.equal(await s.redis.exists(s.t.keys.conversation(s.alice.id, s.carol.id)), 0);
      const now = await conversations.generation(s.alice.id, s.carol.id);
      assert.equal(await conversations.fill(s.alice.id, s.carol.id, now, [old]), true);
    });

    it('a retry after a request died between claim and write takes over with the same id', async function () {
      const key = `crash-${Date.now()}`;
      const id = new ObjectId().toHexString();
      // What a process that crashed right after claiming leaves behind (lease long over).
      await s.redis.hSet(s.t.keys.idempotency(s.carol.id, key), {
        bodyHash: (await import('../../src/messages/send-idempotency.js')).SendIdempotency.bodyHash(
          {
            receiverId: s.bob.id,
            content: 'after crash',
            imageUrl: null,
            publicId: null,
          },
        ),
        id,
        state: 'pending',
        at: '0',
      });
      await s.redis.expire(s.t.keys.idempotency(s.carol.id, key), 600);
      const res = await send(s.t, s.carol, s.bob, 'after crash', {
        headers: { 'Idempotency-Key': key },
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.message.id, id);
      const again = await send(s.t, s.carol, s.bob, 'after crash', {
        headers: { 'Idempotency-Key': key },
      });
      assert.equal(again.body.message.id, id);
      assert.equal(await s.messages.collection.countDocuments({ content: 'after crash' }), 1);
    });
  });

  describe('pagination beyond the cached window (CONVERSATION_CACHE_SIZE=5)', function () {
    const s = setup('msgpage', { CONVERSATION_CACHE_SIZE: '5' });

    it('serves pages inside the window from the list and older ones from MongoDB', async function () {
      const sent: Array<{ id: string; content: string }> = [];
      for (let i = 0; i < 8; i++) {
        sent.push(
          (await send(s.t, i % 2 ? s.alice : s.bob, i % 2 ? s.bob : s.alice, `m${i}`)).body.message,
        );
      }
      const all = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}`, { token: s.alice.token });
      assert.equal(all.headers.get('x-cache'), 'MISS');
      assert.deepEqual(
        all.body.messages.map((m: { content: string }) => m.content),
        sent.map((m) => m.content),
      );
      assert.equal(
        await s.redis.lLen(s.t.keys.conversation(s.alice.id, s.bob.id)),
        5,
        'list holds the latest 5',
      );

      const last3 = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}?limit=3`, {
        token: s.alice.token,
      });
      assert.equal(last3.headers.get('x-cache'), 'HIT');
      assert.deepEqual(
        last3.body.messages.map((m: { content: string }) => m.content),
        ['m5', 'm6', 'm7'],
      );

      const inWindow = await call(
        s.t.url,
        'GET',
        `/api/messages/${s.bob.id}?before=${sent[6]?.id}&limit=2`,
        {
          token: s.alice.token,
        },
      );
      assert.equal(inWindow.headers.get('x-cache'), 'HIT');
      assert.deepEqual(
        inWindow.body.messages.map((m: { content: string }) => m.content),
        ['m4', 'm5'],
      );

      const beyond = await call(
        s.t.url,
        'GET',
        `/api/messages/${s.bob.id}?before=${sent[4]?.id}&limit=3`,
        {
          token: s.alice.token,
        },
      );
      assert.equal(beyond.headers.get('x-cache'), 'MISS');
      assert.deepEqual(
        beyond.body.messages.map((m: { content: string }) => m.content),
        ['m1', 'm2', 'm3'],
      );

      const oldest = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}?before=${sent[1]?.id}`, {
        token: s.alice.token,
      });
      assert.deepEqual(
        oldest.body.messages.map((m: { content: string }) => m.content),
        ['m0'],
      );

      // Larger than the window without a cursor: from MongoDB.
      const many = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}?limit=7`, {
        token: s.alice.token,
      });
      assert.equal(many.headers.get('x-cache'), 'MISS');
      assert.equal(many.body.messages.length, 7);
      assert.equal(many.body.messages[0].content, 'm1');
    });

    it('pages 50 by default: the newest page first, then `before` (exclusive) back to an empty page', async function () {
      const sent: Array<{ id: string; content: string }> = [];
      for (let i = 0; i < 53; i++) {
        sent.push((await send(s.t, s.carol, s.bob, `p${i}`)).body.message);
      }
      const contents = (res: { body: { messages: Array<{ content: string }> } }) =>
        res.body.messages.map((m) => m.content);
      const newest = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}`, {
        token: s.carol.token,
      });
      assert.equal(newest.status, 200);
      assert.deepEqual(
        contents(newest),
        sent.slice(3).map((m) => m.content),
        'the newest 50, oldest first',
      );
      const first = newest.body.messages[0] as { id: string };
      const older = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}?before=${first.id}`, {
        token: s.carol.token,
      });
      assert.deepEqual(contents(older), ['p0', 'p1', 'p2'], 'before the cursor, without it');
      const end = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}?before=${sent[0]?.id}`, {
        token: s.carol.token,
      });
      assert.equal(end.status, 200);
      assert.deepEqual(end.body.messages, []);
    });
  });

  describe('rate limit (RATE_LIMIT_SENDS=3)', function () {
    const s = setup('msgrate', { RATE_LIMIT_SENDS: '3', RATE_LIMIT_WINDOW_SECONDS: '60' });

    it('answers 429 RATE_LIMITED with Retry-After once a user is over the limit', async function () {
      for (let i = 0; i < 3; i++)
        assert.equal((await send(s.t, s.alice, s.bob, `r${i}`)).status, 201);
      const res = await send(s.t, s.alice, s.bob, 'too many');
      assert.equal(res.status, 429);
      assert.equal(res.body.error.code, 'RATE_LIMITED');
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.equal(await s.messages.collection.countDocuments({ content: 'too many' }), 0);
      // Per user: bob may still send.
      assert.equal((await send(s.t, s.bob, s.alice, 'mine')).status, 201);
    });
  });

  describe('rate limit in write-behind mode (counted by the send script)', function () {
    const s = setup('msgratewb', {
      RATE_LIMIT_SENDS: '2',
      RATE_LIMIT_WINDOW_SECONDS: '60',
      PERSISTENCE_MODE: 'write-behind',
    });

    it('answers 429 and writes nothing to Redis; the refused key may be used again later', async function () {
      for (let i = 0; i < 2; i++)
        assert.equal((await send(s.t, s.alice, s.bob, `wb${i}`)).status, 201);
      const shadowsBefore = await s.redis.hLen(s.t.keys.shadow);
      const res = await send(s.t, s.alice, s.bob, 'too many', {
        headers: { 'Idempotency-Key': 'refused-1' },
      });
      assert.equal(res.status, 429);
      assert.equal(res.body.error.code, 'RATE_LIMITED');
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.equal(await s.redis.hLen(s.t.keys.shadow), shadowsBefore, 'no shadow written');
      const page = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}`, {
        token: s.alice.token,
      });
      assert.deepEqual(
        (page.body.messages as Array<{ content: string }>).map((m) => m.content),
        ['wb0', 'wb1'],
      );
      // The key was released, not kept as in progress: a retry is refused the same way.
      const again = await send(s.t, s.alice, s.bob, 'too many', {
        headers: { 'Idempotency-Key': 'refused-1' },
      });
      assert.equal(again.status, 429);
      assert.equal((await send(s.t, s.bob, s.alice, 'mine')).status, 201, 'per user');
    });
  });

  describe('expiry (CACHE_TTL_SECONDS=1)', function () {
    const s = setup('msgttl', { CACHE_TTL_SECONDS: '1' });

    it('message:{id} is gone after the TTL while the conversation still returns it from MongoDB', async function () {
      const m = (await send(s.t, s.alice, s.bob, 'short-lived')).body.message;
      const key = s.t.keys.message(m.id);
      assert.equal(await s.redis.exists(key), 1);
      await waitUntil(
        'message:{id} to expire',
        async () => (await s.redis.exists(key)) === 0,
        4000,
      );
      const res = await call(s.t.url, 'GET', `/api/messages/${s.bob.id}`, { token: s.alice.token });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-cache'), 'MISS');
      assert.deepEqual(res.body.messages, [m]);
    });
  });

  describe('write-behind (PERSISTENCE_MODE=write-behind)', function () {
    const s = setup('msgwb', { PERSISTENCE_MODE: 'write-behind' });

    it('sends into Redis only (201, persisted false); reads see it before persistence', async function () {
      const res = await send(s.t, s.alice, s.bob, 'later');
      assert.equal(res.status, 201);
      assert.equal(res.body.persisted, false);
      const m = res.body.message;
      assert.equal(await s.messages.collection.countDocuments({ _id: new ObjectId(m.id) }), 0);
      const shadow = JSON.parse(
        (await s.redis.hGet(s.t.keys.shadow, s.t.keys.message(m.id))) ?? 'null',
      ) as MessageShadow;
      assert.deepEqual(shadow.message, m);
      assert.ok((await s.redis.zScore(s.t.keys.pending(s.alice.id, s.bob.id), m.id)) !== null);

      const conv = await call(s.t.url, 'GET', `/api/messages/${s.alice.id}`, {
        token: s.bob.token,
      });
      assert.deepEqual(conv.body.messages, [m]);
      // Even once its cache entry is gone, the shadow answers.
      await s.redis.del([s.t.keys.message(m.id), s.t.keys.conversation(s.alice.id, s.bob.id)]);
      const item = await call(s.t.url, 'GET', `/api/messages/item/${m.id}`, { token: s.bob.token });
      assert.deepEqual(item.body.message, m);
      assert.equal(
        await s.redis.exists(s.t.keys.message(m.id)),
        0,
        'a pending message is not re-cached',
      );
      const conv2 = await call(s.t.url, 'GET', `/api/messages/${s.alice.id}`, {
        token: s.bob.token,
      });
      assert.equal(conv2.headers.get('x-cache'), 'MISS');
      assert.deepEqual(conv2.body.messages, [m]);

      // What the daemon does later: one copy in MongoDB, reads dedupe.
      await s.messages.insertMissing([shadow]);
      await s.redis.del(s.t.keys.conversation(s.alice.id, s.bob.id));
      const conv3 = await call(s.t.url, 'GET', `/api/messages/${s.alice.id}`, {
        token: s.bob.token,
      });
      assert.deepEqual(conv3.body.messages, [m]);
    });

    it('an edit of a pending message lands in MongoDB and drops the shadow', async function () {
      const m = (await send(s.t, s.alice, s.carol, 'draft')).body.message;
      const res = await call(s.t.url, 'PATCH', `/api/messages/item/${m.id}`, {
        token: s.alice.token,
        body: { content: 'final' },
      });
      assert.equal(res.status, 200);
      const doc = await s.messages.collection.findOne({ _id: new ObjectId(m.id) });
      assert.equal(doc?.content, 'final');
      assert.equal(doc?.senderId, s.alice.id);
      assert.equal(await s.redis.hExists(s.t.keys.shadow, s.t.keys.message(m.id)), 0);
      assert.equal(await s.redis.zScore(s.t.keys.pending(s.alice.id, s.carol.id), m.id), null);
      // A late daemon upsert of the old shadow changes nothing.
      await s.messages.insertMissing([{ message: m }]);
      const conv = await call(s.t.url, 'GET', `/api/messages/${s.alice.id}`, {
        token: s.carol.token,
      });
      assert.deepEqual(
        conv.body.messages.map((x: { content: string }) => x.content),
        ['final'],
      );
    });

    it('a delete of a pending message leaves a tombstone a late daemon upsert cannot resurrect', async function () {
      const m = (await send(s.t, s.carol, s.bob, 'oops')).body.message;
      assert.equal(
        (await call(s.t.url, 'DELETE', `/api/messages/item/${m.id}`, { token: s.carol.token }))
          .status,
        204,
      );
      assert.equal(await s.redis.hExists(s.t.keys.shadow, s.t.keys.message(m.id)), 0);
      await s.messages.insertMissing([{ message: m }]);
      const doc = await s.messages.collection.findOne({ _id: new ObjectId(m.id) });
      assert.ok(doc?.deletedAt instanceof Date);
      const conv = await call(s.t.url, 'GET', `/api/messages/${s.carol.id}`, {
        token: s.bob.token,
      });
      assert.deepEqual(conv.body.messages, []);
    });
  });

  describe('Redis down', function () {
    it('answers 503 SERVICE_UNAVAILABLE for sends and reads', async function () {
      this.timeout(30000);
      const redisServer = await startThrowawayRedis();
      const ctx = createTestContext(
        'msgredisdown',
        {},
        {
          redisUrl: redisServer.url,
          mongoUri: sharedServers().mongoUri,
        },
      );
      const t = await startTestApi(ctx.config, ctx.logger);
      try {
        const alice = await signupUser(t.url, 'alice');
        const bob = await signupUser(t.url, 'bob');
        await redisServer.stop();
        await waitUntil('the API to see Redis gone', () => !t.api.redis.isReady, 5000);
        const sent = await send(t, alice, bob, 'no redis');
        assert.equal(sent.status, 503);
        assert.equal(sent.body.error.code, 'SERVICE_UNAVAILABLE');
        const read = await call(t.url, 'GET', `/api/messages/${bob.id}`, { token: alice.token });
        assert.equal(read.status, 503);
        assert.equal(read.body.error.code, 'SERVICE_UNAVAILABLE');
        const item = await call(
          t.url,
          'GET',
          `/api/messages/item/${new ObjectId().toHexString()}`,
          {
            token: alice.token,
          },
        );
        assert.equal(item.status, 503);
      } finally {
        await t.close();
        await redisServer.dispose();
        const mongo = await inspectMongo(ctx.config);
        await mongo.db.dropDatabase();
        await mongo.close();
      }
    });
  });

  describe('MongoDB down in write-through mode', function () {
    it('accepts a send into Redis (202, persisted false) and answers 503 where MongoDB is needed', async function () {
      this.timeout(60000);
      const mongoServer = await startThrowawayMongo();
      const ctx = createTestContext(
        'msgdown',
        { CACHE_TTL_SECONDS: '60' },
        {
          redisUrl: sharedServers().redisUrl,
          mongoUri: mongoServer.uri,
        },
      );
      const t = await startTestApi(ctx.config, ctx.logger);
      const redis = await inspectRedis(ctx.config);
      let restarted: Awaited<ReturnType<typeof mongoServer.restart>> | undefined;
      try {
        const alice = await signupUser(t.url, 'alice');
        const bob = await signupUser(t.url, 'bob');
        await send(t, alice, bob, 'before the outage');
        const path = `/api/messages/${bob.id}`;
        await call(t.url, 'GET', path, { token: alice.token });
        await mongoServer.stop();

        // A cached conversation is served without MongoDB.
        const cached = await call(t.url, 'GET', path, { token: alice.token });
        assert.equal(cached.status, 200, JSON.stringify(cached.body));
        assert.equal(cached.headers.get('x-cache'), 'HIT');

        const res = await send(t, alice, bob, 'while down');
        assert.equal(res.status, 202);
        assert.equal(res.body.persisted, false);
        const m = res.body.message;
        const shadow = await redis.hGet(t.keys.shadow, t.keys.message(m.id));
        assert.ok(shadow, 'shadow for the daemon');
        assert.deepEqual((JSON.parse(shadow) as MessageShadow).message, m);
        assert.ok((await redis.zScore(t.keys.pending(alice.id, bob.id), m.id)) !== null);
        assert.equal(t.events[0]?.type, 'message:new');

        const item = await call(t.url, 'GET', `/api/messages/item/${m.id}`, { token: bob.token });
        assert.equal(item.status, 200);
        assert.deepEqual(item.body.message, m);

        const users = await call(t.url, 'GET', '/api/users', { token: alice.token });
        assert.equal(users.status, 503);
        assert.equal(users.body.error.code, 'SERVICE_UNAVAILABLE');

        // Known down: later sends are accepted too (a probe or a skip of MongoDB).
        const again = await send(t, alice, bob, 'still down');
        assert.equal(again.status, 202);

        // Back: a probe notices it, and sends are written through again.
        restarted = await mongoServer.restart();
        await waitUntil(
          'sends written through again once MongoDB is back',
          async () => (await send(t, alice, bob, 'after the outage')).status === 201,
          20000,
          100,
        );
      } finally {
        await t.close();
        await redis.close();
        await clearRedisPrefix(ctx.config);
        await restarted?.dispose();
        await mongoServer.dispose();
      }
    });
  });
});

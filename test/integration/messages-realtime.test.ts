import WebSocket from 'ws';
import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { call, signupUser, startTestApi, type TestUser } from '../helpers/api-harness.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';
import { connectWs as connect, type Frame } from '../helpers/ws-client.js';

describe('messages over REST and ws with the real services (two API processes)', function () {
  this.timeout(30000);
  let ctx: TestContext;
  let api1: ApiServer;
  let api2: ApiServer;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    ctx = createTestContext('msgrt');
    api1 = await startApiServer(ctx.config, ctx.logger);
    api2 = await startApiServer(ctx.config, ctx.logger);
    await Promise.all([api1.ready, api2.ready]);
    alice = await signupUser(api1.url, 'alice_rt');
    bob = await signupUser(api2.url, 'bob_rt');
  });
  after(async () => {
    await api1?.close();
    await api2?.close();
    await ctx?.cleanup();
  });

  it('a REST send reaches the receiver and both sender connections, across processes, within a second', async () => {
    const bobWs = await connect(api2, bob);
    const alice1 = await connect(api1, alice);
    const alice2 = await connect(api2, alice);
    try {
      const sent = await call(api1.url, 'POST', '/api/messages/send', {
        token: alice.token,
        body: { receiverId: bob.id, content: 'hi bob' },
      });
      assert.equal(sent.status, 201);
      const id = sent.body.message.id;
      const isIt = (f: Frame) => f.type === 'message:new' && f.message.id === id;
      const got = await bobWs.next(isIt);
      assert.equal(got.message.content, 'hi bob');
      assert.equal(got.message.senderId, alice.id);
      await alice1.next(isIt);
      await alice2.next(isIt);
    } finally {
      for (const c of [bobWs, alice1, alice2]) c.ws.close();
    }
  });

  it('each connection gets a send exactly once, on the process that took it and on the other', async () => {
    const alice1 = await connect(api1, alice);
    const alice2 = await connect(api2, alice);
    const bob1 = await connect(api1, bob);
    const bob2 = await connect(api2, bob);
    const all = [alice1, alice2, bob1, bob2];
    try {
      const ids: string[] = [];
      // Concurrent sends through api1: delivered there directly, elsewhere through Redis.
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          call(api1.url, 'POST', '/api/messages/send', {
            token: alice.token,
            body: { receiverId: bob.id, content: `once ${i}` },
          }),
        ),
      );
      for (const sent of answers) {
        assert.equal(sent.status, 201);
        ids.push(sent.body.message.id);
      }
      // A later send through api2: api1 reads its own echoes before this one (one
      // subscription, in order), so a copy delivered twice would be in by then.
      const last = await call(api2.url, 'POST', '/api/messages/send', {
        token: bob.token,
        body: { receiverId: alice.id, content: 'marker' },
      });
      assert.equal(last.status, 201);
      for (const c of all) {
        await c.next((f) => f.type === 'message:new' && f.message.id === last.body.message.id);
        const got = c.frames.filter((f) => f.type === 'message:new').map((f) => f.message.id);
        assert.deepEqual([...got].sort(), [...ids, last.body.message.id].sort());
      }
    } finally {
      for (const c of all) c.ws.close();
    }
  });

  it('a ws send is acked, stored, delivered, and edits/deletes reach both parties', async () => {
    const bobWs = await connect(api1, bob);
    const aliceWs = await connect(api2, alice);
    try {
      aliceWs.ws.send(
        JSON.stringify({
          type: 'message:send',
          receiverId: bob.id,
          content: 'over ws',
          clientMsgId: 'c-1',
        }),
      );
      const ack = await aliceWs.next((f) => f.type === 'message:ack' && f.clientMsgId === 'c-1');
      assert.equal(ack.persisted, true);
      const id = ack.message.id;
      await bobWs.next((f) => f.type === 'message:new' && f.message.id === id);

      const read = await call(api1.url, 'GET', `/api/messages/item/${id}`, { token: bob.token });
      assert.equal(read.status, 200);
      assert.equal(read.body.message.content, 'over ws');

      // A retried ws send with the same clientMsgId is not stored twice.
      aliceWs.ws.send(
        JSON.stringify({
          type: 'message:send',
          receiverId: bob.id,
          content: 'over ws',
          clientMsgId: 'c-1',
        }),
      );
      const again = await aliceWs.next(
        (f) => f.type === 'message:ack' && f.clientMsgId === 'c-1' && f !== ack,
      );
      assert.equal(again.message.id, id);

      const edit = await call(api2.url, 'PATCH', `/api/messages/item/${id}`, {
        token: alice.token,
        body: { content: 'edited' },
      });
      assert.equal(edit.status, 200);
      const upd = await bobWs.next((f) => f.type === 'message:updated' && f.message.id === id);
      assert.equal(upd.message.content, 'edited');
      await aliceWs.next((f) => f.type === 'message:updated' && f.message.id === id);

      const del = await call(api1.url, 'DELETE', `/api/messages/item/${id}`, {
        token: alice.token,
      });
      assert.equal(del.status, 204);
      await bobWs.next((f) => f.type === 'message:deleted' && f.message.id === id);
      const list = await call(api2.url, 'GET', `/api/messages/${alice.id}`, { token: bob.token });
      assert.ok(!list.body.messages.some((m: { id: string }) => m.id === id));
    } finally {
      bobWs.ws.close();
      aliceWs.ws.close();
    }
  });

  it('a ws send over the rate limit gets RATE_LIMITED with retryAfterSeconds, as REST gets Retry-After', async () => {
    const dave = await signupUser(api1.url, 'dave_rt');
    const daveWs = await connect(api1, dave);
    try {
      const { sends: limit, windowSeconds } = ctx.config.rateLimit;
      for (let i = 0; i <= limit; i++) {
        daveWs.ws.send(
          JSON.stringify({
            type: 'message:send',
            receiverId: bob.id,
            content: `n${i}`,
            clientMsgId: `rl-${i}`,
          }),
        );
      }
      const refused = await daveWs.next((f) => f.type === 'error', 5000);
      assert.equal(refused.code, 'RATE_LIMITED');
      assert.equal(refused.clientMsgId, `rl-${limit}`);
      assert.ok(Number.isInteger(refused.retryAfterSeconds), JSON.stringify(refused));
      assert.ok(refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= windowSeconds);
      assert.equal(daveWs.frames.filter((f) => f.type === 'message:ack').length, limit);

      const rest = await call(api2.url, 'POST', '/api/messages/send', {
        token: dave.token,
        body: { receiverId: bob.id, content: 'over REST' },
      });
      assert.equal(rest.status, 429);
      const restRetry = Number(rest.headers.get('retry-after'));
      assert.ok(restRetry >= 1 && restRetry <= refused.retryAfterSeconds, `${restRetry}`);
    } finally {
      daveWs.ws.close();
    }
  });

  it('refuses the ws upgrade without a valid token (401 before the upgrade)', async () => {
    const ws = new WebSocket(`${api1.url.replace('http', 'ws')}/ws?token=forged.token.here`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    assert.equal(status, 401);
  });

  it('serves Prometheus metrics and the cluster stats', async () => {
    // A new conversation: the first read misses (sends do not create the list), the next hits.
    const carol = await signupUser(api1.url, 'carol_rt');
    await call(api1.url, 'POST', '/api/messages/send', {
      token: alice.token,
      body: { receiverId: carol.id, content: 'hi carol' },
    });
    const first = await call(api1.url, 'GET', `/api/messages/${carol.id}`, { token: alice.token });
    const second = await call(api1.url, 'GET', `/api/messages/${carol.id}`, { token: alice.token });
    assert.equal(first.headers.get('x-cache'), 'MISS');
    assert.equal(second.headers.get('x-cache'), 'HIT');
    const res = await fetch(api1.metricsUrl);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.notEqual(new URL(api1.metricsUrl).port, new URL(api1.url).port);
    assert.match(
      text,
      /http_request_duration_seconds_bucket\{.*route="\/api\/messages\/:receiverId"/,
    );
    assert.match(text, /cache_hits_total\{kind="conversation"\} [1-9]/);
    assert.match(text, /cache_misses_total\{kind="conversation"\} [1-9]/);
    assert.match(text, /messages_sent_total\{mode="write-through",transport="rest"\} [1-9]/);
    assert.match(text, /ws_connections \d/);
    assert.match(text, /process_cpu_seconds_total/);

    assert.equal((await call(api1.url, 'GET', '/api/stats')).status, 401);
    // Every process flushes its stats to Redis once a second: poll until both have.
    let stats = await call(api2.url, 'GET', '/api/stats', { token: bob.token });
    await waitUntil(
      'the cluster stats to count the sends, the hit and both API processes',
      async () => {
        stats = await call(api2.url, 'GET', '/api/stats', { token: bob.token });
        const b = stats.body;
        return stats.status !== 200 || (b.sends >= 2 && b.cacheHits >= 1 && b.instances.api === 2);
      },
      5000,
    );
    assert.equal(stats.status, 200);
    assert.ok(stats.body.sends >= 2, JSON.stringify(stats.body));
    assert.ok(stats.body.cacheHits >= 1);
    assert.equal(stats.body.instances.api, 2);
    assert.equal(typeof stats.body.backlog, 'number');
  });
});

describe('the test harness API (startTestApi)', function () {
  this.timeout(30000);

  it('records the events it publishes and still delivers them over ws', async () => {
    const ctx = createTestContext('msgrec');
    const t = await startTestApi(ctx.config, ctx.logger);
    try {
      const alice = await signupUser(t.url, 'alice_rec');
      const bob = await signupUser(t.url, 'bob_rec');
      const bobWs = await connect(t.api, bob);
      try {
        const sent = await call(t.url, 'POST', '/api/messages/send', {
          token: alice.token,
          body: { receiverId: bob.id, content: 'recorded and delivered' },
        });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        const id = sent.body.message.id;
        const got = await bobWs.next((f) => f.type === 'message:new' && f.message.id === id);
        assert.deepEqual(got.message, sent.body.message);
        assert.deepEqual(
          t.events.map((e) => [e.type, e.message.id]),
          [['message:new', id]],
        );
      } finally {
        bobWs.ws.close();
      }
    } finally {
      await t.close();
      await ctx.cleanup();
    }
  });
});

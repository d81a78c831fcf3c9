import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { ObjectId } from 'mongodb';
import WebSocket from 'ws';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import {
  call,
  inspectMongo,
  inspectRedis,
  signupUser,
  wsUpgrade,
  type HttpAnswer,
  type TestUser,
} from '../helpers/api-harness.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

/** A JWT signed with `secret` (HS256) for `user`, expiring at `exp` (seconds since epoch). */
function sign(secret: string, user: TestUser, exp: number): Promise<string> {
  return new SignJWT({ username: user.username })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user.id)
    .setIssuedAt(exp - 3600)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}

/** A correctly signed JWT for `user` without `exp`: it would never expire. */
function signWithoutExp(secret: string, user: TestUser): Promise<string> {
  return new SignJWT({ username: user.username })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user.id)
    .setIssuedAt()
    .sign(new TextEncoder().encode(secret));
}

/** A user id and name no user has (ids are never reused). */
function ghost(): TestUser {
  return { id: new ObjectId().toHexString(), username: 'authz_ghost', token: '' };
}

/** An unsigned token (`alg: none`) that names `user`. */
function unsigned(user: TestUser): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: user.id, username: user.username, iat: now, exp: now + 3600 })}.`;
}

function assertUnauthorized(a: HttpAnswer, what: string): void {
  assert.equal(a.status, 401, `${what}: ${a.status} ${JSON.stringify(a.body)}`);
  assert.equal(a.body?.error?.code, 'UNAUTHORIZED', what);
  assert.equal(typeof a.body?.error?.message, 'string', what);
}

/** The status of a ws upgrade with `headers` (and `?token=`), or 101 when it was accepted. */
async function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  const answer = await wsUpgrade(url, headers);
  answer.ws?.terminate();
  return answer.status;
}

describe('authorization: every route and ws event refuses bad tokens and strangers', () => {
  let ctx: TestContext;
  // The real API process (its Redis pub/sub fan-out too, for the ws events).
  let api: ApiServer;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  let messageId: string;
  let badTokens: Array<[string, string | undefined]>;

  before(async () => {
    ctx = createTestContext('authz');
    api = await startApiServer(ctx.config, ctx.logger);
    await api.ready;
    alice = await signupUser(api.url, 'authz_alice');
    bob = await signupUser(api.url, 'authz_bob');
    mallory = await signupUser(api.url, 'authz_mallory');
    const sent = await call(api.url, 'POST', '/api/messages/send', {
      token: alice.token,
      body: { receiverId: bob.id, content: 'for bob only' },
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    messageId = sent.body.message.id;
    const past = Math.floor(Date.now() / 1000) - 60;
    const future = Math.floor(Date.now() / 1000) + 3600;
    badTokens = [
      ['no token', undefined],
      ['an expired token', await sign(ctx.config.auth.jwtSecret, alice, past)],
      [
        'a token signed with another secret',
        await sign(randomBytes(32).toString('hex'), alice, future),
      ],
      ['an alg:none token', unsigned(alice)],
      ['a malformed token', 'not.a.token'],
      [
        'a correctly signed token of a user that does not exist',
        await sign(ctx.config.auth.jwtSecret, ghost(), future),
      ],
      [
        'a correctly signed token without exp',
        await signWithoutExp(ctx.config.auth.jwtSecret, alice),
      ],
    ];
  });

  after(async () => {
    await api?.close();
    await ctx?.cleanup();
  });

  const routes = (): Array<[string, string, unknown]> => [
    ['GET', '/api/users', undefined],
    ['POST', '/api/messages/send', { receiverId: bob.id, content: 'sneaky' }],
    ['GET', `/api/messages/${bob.id}`, undefined],
    ['GET', `/api/messages/item/${messageId}`, undefined],
    ['PATCH', `/api/messages/item/${messageId}`, { content: 'changed' }],
    ['DELETE', `/api/messages/item/${messageId}`, undefined],
  ];

  it('refuses every route with 401 UNAUTHORIZED for each bad token, revealing nothing', async () => {
    for (const [label, token] of badTokens) {
      for (const [method, path, body] of routes()) {
        const a = await call(api.url, method, path, { token, body });
        assertUnauthorized(a, `${method} ${path} with ${label}`);
        assert.ok(!JSON.stringify(a.body).includes('for bob only'), 'content leaked');
      }
      // Another scheme with the token is no better.
      if (token) {
        const basic = await call(api.url, 'GET', '/api/users', {
          headers: { authorization: `Basic ${token}` },
        });
        assertUnauthorized(basic, `Basic scheme with ${label}`);
      }
    }
  });

  it('stores nothing for a signed token of a user that does not exist, or one without exp', async () => {
    const future = Math.floor(Date.now() / 1000) + 3600;
    const nobody = ghost();
    const tokens = [
      await sign(ctx.config.auth.jwtSecret, nobody, future),
      await signWithoutExp(ctx.config.auth.jwtSecret, alice),
    ];
    const mongo = await inspectMongo(ctx.config);
    const redis = await inspectRedis(ctx.config);
    const stored = async () => ({
      messages: await mongo.db.collection('messages').countDocuments(),
      cached: (await redis.keys(`${ctx.config.redis.keyPrefix}message:*`)).length,
    });
    try {
      const before = await stored();
      for (const token of tokens) {
        for (const receiverId of [bob.id, alice.id]) {
          const a = await call(api.url, 'POST', '/api/messages/send', {
            token,
            body: { receiverId, content: 'from nobody' },
          });
          assertUnauthorized(a, 'send');
        }
      }
      assert.deepEqual(await stored(), before);
      assert.equal(
        await mongo.db.collection('messages').countDocuments({ senderId: nobody.id }),
        0,
      );
    } finally {
      await redis.close();
      await mongo.close();
    }
  });

  it('answers the same 401 for an existing and a made-up message id', async () => {
    const real = await call(api.url, 'GET', `/api/messages/item/${messageId}`, {});
    const fake = await call(api.url, 'GET', '/api/messages/item/0123456789abcdef01234567', {});
    assert.deepEqual(real.body, fake.body);
  });

  it('refuses the ws upgrade for each bad token (header and ?token=)', async () => {
    const wsUrl = `${api.url.replace('http', 'ws')}/ws`;
    for (const [label, token] of badTokens) {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      assert.equal(await upgradeStatus(wsUrl, headers), 401, `ws upgrade with ${label}`);
      if (token) {
        const q = `${wsUrl}?token=${encodeURIComponent(token)}`;
        assert.equal(await upgradeStatus(q, {}), 401, `ws ?token= with ${label}`);
      }
    }
    assert.equal(
      await upgradeStatus(wsUrl, { authorization: `Bearer ${alice.token}` }),
      101,
      'a valid token is accepted',
    );
  });

  it("a stranger's valid token cannot read, edit or delete someone else's message (404)", async () => {
    const fake = await call(api.url, 'GET', '/api/messages/item/0123456789abcdef01234567', {
      token: mallory.token,
    });
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { content: 'changed by mallory' }],
      ['DELETE', undefined],
    ] as const) {
      const a = await call(api.url, method, `/api/messages/item/${messageId}`, {
        token: mallory.token,
        body,
      });
      assert.equal(a.status, 404, `${method} by a stranger: ${a.status}`);
      assert.equal(a.body.error.code, 'MESSAGE_NOT_FOUND');
      // Exactly what a made-up id gets: existence is not revealed.
      assert.deepEqual(a.body, fake.body, `${method} by a stranger reveals more than a made-up id`);
    }
    const still = await call(api.url, 'GET', `/api/messages/item/${messageId}`, {
      token: alice.token,
    });
    assert.equal(still.status, 200);
    assert.equal(still.body.message.content, 'for bob only');
  });

  it("the receiver may read but not edit or delete the sender's message", async () => {
    const read = await call(api.url, 'GET', `/api/messages/item/${messageId}`, {
      token: bob.token,
    });
    assert.equal(read.status, 200);
    for (const [method, body] of [
      ['PATCH', { content: 'changed by bob' }],
      ['DELETE', undefined],
    ] as const) {
      const a = await call(api.url, method, `/api/messages/item/${messageId}`, {
        token: bob.token,
        body,
      });
      assert.ok([403, 404].includes(a.status), `${method} by the receiver: ${a.status}`);
      assert.ok(['FORBIDDEN', 'MESSAGE_NOT_FOUND'].includes(a.body.error.code));
    }
    const still = await call(api.url, 'GET', `/api/messages/item/${messageId}`, {
      token: alice.token,
    });
    assert.equal(still.body.message.content, 'for bob only');
  });

  it("a stranger's conversation reads show none of alice and bob's messages", async () => {
    for (const other of [alice.id, bob.id]) {
      const a = await call(api.url, 'GET', `/api/messages/${other}`, { token: mallory.token });
      assert.equal(a.status, 200);
      assert.ok(
        !JSON.stringify(a.body).includes('for bob only'),
        `mallory's conversation with ${other} shows alice→bob`,
      );
    }
  });

  it('ws: a stranger connected gets no event of a conversation that is not hers', async () => {
    const wsUrl = `${api.url.replace('http', 'ws')}/ws`;
    const connect = async (user: TestUser) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${user.token}` } });
      const frames: Array<{ type: string; message?: { content?: string } }> = [];
      ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return { ws, frames };
    };
    const m = await connect(mallory);
    const b = await connect(bob);
    try {
      const sent = await call(api.url, 'POST', '/api/messages/send', {
        token: alice.token,
        body: { receiverId: bob.id, content: 'secret for bob' },
      });
      assert.equal(sent.status, 201);
      const got = (frames: typeof b.frames, content: string) =>
        frames.some((f) => f.type === 'message:new' && f.message?.content === content);
      await waitUntil('bob to get his message', () => got(b.frames, 'secret for bob'), 3000, 25);
      // A marker for mallory, sent after: events reach a socket in order, so once it is in,
      // a leaked alice→bob event would be too.
      const marker = await call(api.url, 'POST', '/api/messages/send', {
        token: alice.token,
        body: { receiverId: mallory.id, content: 'marker for mallory' },
      });
      assert.equal(marker.status, 201);
      await waitUntil(
        'mallory to get her marker',
        () => got(m.frames, 'marker for mallory'),
        3000,
        25,
      );
      assert.deepEqual(
        m.frames.filter((f) => JSON.stringify(f).includes('secret for bob')),
        [],
        'mallory got alice→bob',
      );
    } finally {
      m.ws.terminate();
      b.ws.terminate();
    }
  });
});

describe('authorization while Redis and MongoDB cannot be reached', () => {
  let ctx: TestContext;
  let api: ApiServer;

  before(async () => {
    // Nobody listens on port 9: both stores are down from the start.
    ctx = createTestContext('authz_down', {
      REDIS_URL: 'redis://127.0.0.1:9',
      MONGODB_URI: 'mongodb://127.0.0.1:9',
    });
    api = await startApiServer(ctx.config, ctx.logger);
  });

  after(async () => {
    await api?.close();
  });

  it('answers 503, not 401, to a good token of a user this process cannot check (REST and ws)', async function () {
    this.timeout(30000);
    const user = { ...ghost(), username: 'authz_unseen' };
    const token = await sign(ctx.config.auth.jwtSecret, user, Math.floor(Date.now() / 1000) + 600);
    const a = await call(api.url, 'GET', '/api/users', { token });
    assert.equal(a.status, 503, JSON.stringify(a.body));
    assert.equal(a.body.error.code, 'SERVICE_UNAVAILABLE');
    const wsUrl = `${api.url.replace('http', 'ws')}/ws`;
    assert.equal(await upgradeStatus(wsUrl, { authorization: `Bearer ${token}` }), 503);
    // A bad token is still a bad token.
    const forged = await sign(
      randomBytes(32).toString('hex'),
      user,
      Math.floor(Date.now() / 1000) + 600,
    );
    assertUnauthorized(await call(api.url, 'GET', '/api/users', { token: forged }), 'forged');
  });
});

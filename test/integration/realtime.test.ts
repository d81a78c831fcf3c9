import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, UnsecuredJWT, jwtVerify } from 'jose';
import { ObjectId } from 'mongodb';
import WebSocket from 'ws';
import { AppError } from '../../src/errors/app-error.js';
import { ERROR_CODES } from '../../src/errors/error-codes.js';
import { sleep, waitUntil } from '../../src/lifecycle/wait.js';
import type { EventPublisher } from '../../src/messages/message-events.js';
import type { Message } from '../../src/messages/message.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { createRedisNodeClient, type RedisNodeClient } from '../../src/redis/redis-client.js';
import { RedisEventBus } from '../../src/realtime/redis-event-bus.js';
import {
  createRealtimeServer,
  type AuthenticatedUser,
  type RealtimeServer,
  type RealtimeServerOptions,
  type SendMessage,
} from '../../src/realtime/ws-server.js';
import { ignoreOrigin } from '../helpers/contract-hook.js';
import { newMessage } from '../helpers/new-message.js';
import { TEST_JWT_SECRET, createTestContext, type TestContext } from '../helpers/test-context.js';

type Frame = Record<string, unknown> & { type: string };

const SECRET = new TextEncoder().encode(TEST_JWT_SECRET);

/** A small real HS256 check, standing in for the auth module's verifier. */
async function verifyToken(token: string): Promise<AuthenticatedUser> {
  const { payload } = await jwtVerify(token, SECRET, { algorithms: ['HS256'] });
  if (typeof payload.sub !== 'string' || typeof payload.username !== 'string') {
    throw new Error('token without sub/username');
  }
  return { id: payload.sub, username: payload.username };
}

async function tokenFor(user: AuthenticatedUser, secret = SECRET): Promise<string> {
  return new SignJWT({ username: user.username })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user.id)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(secret);
}

function newUser(username: string): AuthenticatedUser {
  return { id: new ObjectId().toHexString(), username };
}

/** The ids of the `message:new` frames a client holds, in the order they came. */
function newIds(client: { frames: Frame[] }): string[] {
  return client.frames
    .filter((f) => f.type === 'message:new')
    .map((f) => (f.message as Message).id);
}

/**
 * What the message service does after storing, without the store: builds the message,
 * publishes `message:new` to the receiver and the sender, and throws AppErrors on bad input.
 */
function fakeSendMessage(
  publisher: () => EventPublisher,
  calls: Array<{ userId: string; input: unknown; opts: { clientMsgId?: string } }> = [],
): SendMessage {
  return async (userId, input, opts) => {
    calls.push({ userId, input, opts });
    const i = input as Record<string, unknown>;
    if (i.receiverId === 'boom') throw new Error('driver exploded: secret detail');
    if (i.receiverId === 'down') {
      throw new AppError('SERVICE_UNAVAILABLE', 'mongodb at 10.0.0.3:27017 is down');
    }
    if (i.receiverId === 'slow-down') {
      throw new AppError('RATE_LIMITED', undefined, { headers: { 'Retry-After': '7' } });
    }
    if (typeof i.receiverId !== 'string' || !ObjectId.isValid(i.receiverId)) {
      throw new AppError('VALIDATION_FAILED', 'receiverId must be a user id');
    }
    const message: Message = {
      id: new ObjectId().toHexString(),
      senderId: userId,
      receiverId: i.receiverId,
      content: typeof i.content === 'string' ? i.content : null,
      imageUrl: null,
      publicId: null,
      createdAt: new Date().toISOString(),
    };
    await publisher().publish({
      type: 'message:new',
      message,
      recipients: [i.receiverId, userId],
    });
    return { message, persisted: true };
  };
}

/** A ws client that records every JSON frame and lets a test wait for one. */
class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  pings = 0;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      assert.equal(isBinary, false, 'the server sends text frames only');
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.wake();
    });
    ws.on('ping', () => {
      this.pings++;
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused with ${res.statusCode}`)),
      );
    });
    ws.on('error', () => {}); // a close code is what the tests look at
    return client;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Takes the first recorded frame matching `match`, waiting for it up to `timeoutMs`. */
  async next(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return this.until(() => {
      const i = this.frames.findIndex(match);
      return i === -1 ? undefined : this.frames.splice(i, 1)[0];
    }, timeoutMs);
  }

  /** Waits until `check` returns a value (re-checked on every frame, ping and close). */
  async until<T>(check: () => T | undefined, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = check();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out; frames so far: ${JSON.stringify(this.frames).slice(0, 500)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** An upgrade the server refused: status, headers and JSON body of the plain HTTP answer. */
async function refusal(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: unknown }> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      // 'close' of the response: the server ended the connection, not only the body.
      res.on('close', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        }),
      );
    });
  });
}

describe('realtime ws server (integration)', function () {
  let ctx: TestContext;
  let keys: RedisKeys;
  let redis: RedisNodeClient;
  const cleanups: Array<() => Promise<void>> = [];

  before(async function () {
    ctx = createTestContext('realtime');
    keys = new RedisKeys(ctx.config.redis.keyPrefix);
    redis = createRedisNodeClient(ctx.config.redis, ctx.logger, {
      name: 'test-realtime',
      failFastWhenDown: true,
    });
    await redis.connect();
  });

  afterEach(async function () {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  after(async function () {
    await redis?.close();
    await ctx?.cleanup();
  });

  /** An http server on port 0 with a realtime server attached and subscribed. */
  async function startRealtime(
    overrides: Partial<RealtimeServerOptions> = {},
    calls?: Parameters<typeof fakeSendMessage>[1],
  ): Promise<{ rt: RealtimeServer; wsUrl: string; server: http.Server }> {
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const rt: RealtimeServer = createRealtimeServer({
      ...(overrides.bus ? {} : { redis, keys }),
      server,
      logger: ctx.logger,
      verifyToken,
      // Resolved lazily: the service needs the publisher the realtime server creates.
      sendMessage: fakeSendMessage(() => rt.publisher, calls),
      ...overrides,
    });
    cleanups.push(async () => {
      await rt.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await rt.ready;
    return { rt, wsUrl: `ws://127.0.0.1:${port}/ws`, server };
  }

  async function connect(
    wsUrl: string,
    user: AuthenticatedUser,
    options: WebSocket.ClientOptions = {},
  ) {
    const client = await TestClient.open(wsUrl, {
      ...options,
      headers: { ...options.headers, Authorization: `Bearer ${await tokenFor(user)}` },
    });
    cleanups.push(async () => {
      client.ws.terminate();
    });
    return client;
  }

  describe('authentication at the upgrade', function () {
    it('answers 401 with the error body and closes, before any upgrade, without a token', async function () {
      const { rt, wsUrl } = await startRealtime();
      const r = await refusal(wsUrl);
      assert.equal(r.status, 401);
      assert.equal(r.headers['www-authenticate'], 'Bearer');
      assert.deepEqual(r.body, {
        error: { code: 'UNAUTHORIZED', message: 'A bearer token is required' },
      });
      assert.equal(rt.connections(), 0);
    });

    it('refuses a token signed with another secret, an expired one and an alg:none one', async function () {
      const { rt, wsUrl } = await startRealtime();
      const user = newUser('mallory');
      const otherSecret = new TextEncoder().encode('another-secret-another-secret-0123456789');
      const unsigned = new UnsecuredJWT({ username: user.username })
        .setSubject(user.id)
        .setIssuedAt()
        .setExpirationTime('1h')
        .encode();
      const tokens = [
        await tokenFor(user, otherSecret),
        await new SignJWT({ username: user.username })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(user.id)
          .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
          .sign(SECRET),
        unsigned,
        'not-a-jwt',
      ];
      for (const token of tokens) {
        const r = await refusal(wsUrl, { Authorization: `Bearer ${token}` });
        assert.equal(r.status, 401, token);
        assert.equal((r.body as { error: { code: string } }).error.code, 'UNAUTHORIZED');
      }
      // The same tokens in the query string (the browser way) are refused too.
      const r = await refusal(`${wsUrl}?token=${encodeURIComponent(unsigned)}`);
      assert.equal(r.status, 401);
      // A malformed Authorization header is not overridden by a good ?token=.
      const good = await tokenFor(user);
      const r2 = await refusal(`${wsUrl}?token=${good}`, { Authorization: `Basic ${good}` });
      assert.equal(r2.status, 401);
      assert.equal(rt.connections(), 0);
    });

    it('accepts a valid token in the query string (browsers cannot set headers)', async function () {
      const { rt, wsUrl } = await startRealtime();
      const user = newUser('browser');
      const client = await TestClient.open(`${wsUrl}?token=${await tokenFor(user)}`);
      cleanups.push(async () => client.ws.terminate());
      client.send({ type: 'ping' });
      await client.next((f) => f.type === 'pong');
      assert.equal(rt.connections(), 1);
    });

    it('answers 404 for another path and 503 when verifyToken reports an outage', async function () {
      const { wsUrl } = await startRealtime();
      const user = newUser('alice');
      const r = await refusal(wsUrl.replace('/ws', '/other'), {
        Authorization: `Bearer ${await tokenFor(user)}`,
      });
      assert.equal(r.status, 404);
      assert.equal((r.body as { error: { code: string } }).error.code, 'NOT_FOUND');

      const { wsUrl: url2 } = await startRealtime({
        verifyToken: async () => {
          throw new AppError('SERVICE_UNAVAILABLE', 'user store down: internal detail');
        },
      });
      const r2 = await refusal(url2, { Authorization: `Bearer ${await tokenFor(user)}` });
      assert.equal(r2.status, 503);
      assert.deepEqual(r2.body, {
        error: { code: 'SERVICE_UNAVAILABLE', message: ERROR_CODES.SERVICE_UNAVAILABLE.message },
      });
    });
  });

  describe('connections per user and Origin, checked before the handshake', function () {
    const tooMany = (limit: number) => ({
      error: {
        code: 'TOO_MANY_CONNECTIONS',
        message: `At most ${limit} open connections per user`,
      },
    });

    it('refuses the 17th socket of a user with 429 TOO_MANY_CONNECTIONS, and takes one again after a close', async function () {
      const { rt, wsUrl } = await startRealtime();
      const alice = newUser('alice');
      const sockets: TestClient[] = [];
      for (let i = 0; i < 16; i++) sockets.push(await connect(wsUrl, alice));
      const auth = { Authorization: `Bearer ${await tokenFor(alice)}` };
      const r = await refusal(wsUrl, auth);
      assert.equal(r.status, 429);
      assert.deepEqual(r.body, tooMany(16));
      // The limit is per user: another user still connects.
      await connect(wsUrl, newUser('bob'));
      assert.equal(rt.connections(), 17);

      sockets[0]?.ws.close();
      await sockets[0]?.closed;
      // The slot is free once the server has seen the socket close.
      await waitUntil('the server saw the close', () => rt.connections() === 16, 5000, 10);
      const again = await connect(wsUrl, alice);
      again.send({ type: 'ping' });
      await again.next((f) => f.type === 'pong');
      assert.equal((await refusal(wsUrl, auth)).status, 429);
    });

    it('counts concurrent upgrades of one user while their tokens are being checked', async function () {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const checking: string[] = [];
      const { rt, wsUrl } = await startRealtime({
        maxConnectionsPerUser: 3,
        verifyToken: async (token) => {
          checking.push(token);
          await gate;
          return verifyToken(token);
        },
      });
      const alice = newUser('alice');
      const headers = { Authorization: `Bearer ${await tokenFor(alice)}` };
      const attempts = Array.from({ length: 8 }, () =>
        TestClient.open(wsUrl, { headers }).then(
          (client) => {
            cleanups.push(async () => client.ws.terminate());
            return 'open';
          },
          (err: Error) => err.message,
        ),
      );
      // Every upgrade is past the path and waiting for its token check.
      await waitUntil('8 token checks', () => checking.length === 8, 5000, 10);
      release();
      const outcomes = await Promise.all(attempts);
      assert.equal(outcomes.filter((o) => o === 'open').length, 3, outcomes.join());
      assert.equal(
        outcomes.filter((o) => o === 'upgrade refused with 429').length,
        5,
        outcomes.join(),
      );
      assert.equal(rt.connections(), 3);
    });

    it('frees the slot of an upgrade whose handshake ws aborts', async function () {
      const { wsUrl } = await startRealtime({ maxConnectionsPerUser: 1 });
      const alice = newUser('alice');
      const token = await tokenFor(alice);
      // A valid token but no Sec-WebSocket-Key: ws answers 400 after the slot was taken.
      const port = Number(new URL(wsUrl).port);
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({
          port,
          host: '127.0.0.1',
          path: '/ws',
          headers: {
            Connection: 'Upgrade',
            Upgrade: 'websocket',
            'Sec-WebSocket-Version': '13',
            Authorization: `Bearer ${token}`,
          },
        });
        req.on('response', (res) => {
          res.resume();
          res.on('close', () => resolve(res.statusCode ?? 0));
        });
        req.on('upgrade', () => reject(new Error('upgraded without a key')));
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 400);
      // Its slot is given back when the connection closes: the one allowed socket opens.
      await waitUntil(
        'a socket of alice is accepted',
        async () => {
          const client = await TestClient.open(wsUrl, {
            headers: { Authorization: `Bearer ${token}` },
          }).catch(() => undefined);
          if (client) cleanups.push(async () => client.ws.terminate());
          return client !== undefined;
        },
        5000,
        20,
      );
    });

    it('accepts no Origin and the own origin, refuses another with 403 FORBIDDEN before the token', async function () {
      const { rt, wsUrl } = await startRealtime();
      const alice = newUser('alice');
      const auth = { Authorization: `Bearer ${await tokenFor(alice)}` };
      const own = `http://127.0.0.1:${new URL(wsUrl).port}`;
      await connect(wsUrl, alice); // no Origin: not a browser
      await connect(wsUrl, alice, { headers: { Origin: own } });
      // The same host under https (behind a TLS proxy) is the same site.
      await connect(wsUrl, alice, { headers: { Origin: own.replace('http', 'https') } });
      assert.equal(rt.connections(), 3);
      for (const origin of [
        'https://evil.example',
        'http://127.0.0.1:1',
        `${own}.evil.example`,
        'null',
      ]) {
        const r = await refusal(wsUrl, { ...auth, Origin: origin });
        assert.equal(r.status, 403, origin);
        assert.deepEqual(r.body, {
          error: {
            code: 'FORBIDDEN',
            message: 'Pages of this origin may not open a WebSocket here',
          },
        });
      }
      // Refused before the token is looked at: no 401 tells a foreign page about tokens.
      assert.equal((await refusal(wsUrl, { Origin: 'https://evil.example' })).status, 403);
      assert.equal(rt.connections(), 3);
    });

    it('accepts the listed origins, or any with ["*"]', async function () {
      const alice = newUser('alice');
      const auth = { Authorization: `Bearer ${await tokenFor(alice)}` };
      const listed = await startRealtime({ allowedOrigins: ['https://chat.example.com'] });
      await connect(listed.wsUrl, alice, { headers: { Origin: 'https://chat.example.com' } });
      assert.equal(
        (await refusal(listed.wsUrl, { ...auth, Origin: 'https://other.example.com' })).status,
        403,
      );
      const any = await startRealtime({ allowedOrigins: ['*'] });
      await connect(any.wsUrl, alice, { headers: { Origin: 'https://other.example.com' } });
      assert.equal(any.rt.connections(), 1);
    });
  });

  describe('messages', function () {
    it('delivers message:new to the receiver and every connection of the sender, and acks', async function () {
      const calls: Parameters<typeof fakeSendMessage>[1] = [];
      const { rt, wsUrl } = await startRealtime({}, calls);
      const alice = newUser('alice');
      const bob = newUser('bob');
      const a1 = await connect(wsUrl, alice);
      const a2 = await connect(wsUrl, alice);
      const b = await connect(wsUrl, bob);
      assert.equal(rt.connections(), 3);

      a1.send({ type: 'message:send', receiverId: bob.id, content: 'hi bob', clientMsgId: 'c-1' });
      const isNew = (f: Frame) => f.type === 'message:new';
      const atB = await b.next(isNew, 1000);
      const msg = atB.message as Message;
      assert.equal(msg.senderId, alice.id);
      assert.equal(msg.receiverId, bob.id);
      assert.equal(msg.content, 'hi bob');
      assert.deepEqual(Object.keys(atB).sort(), ['message', 'type']);
      assert.deepEqual((await a2.next(isNew, 1000)).message, msg);
      assert.deepEqual((await a1.next(isNew, 1000)).message, msg);

      const ack = await a1.next((f) => f.type === 'message:ack');
      assert.deepEqual(ack, {
        type: 'message:ack',
        clientMsgId: 'c-1',
        message: msg,
        persisted: true,
      });
      // The service gets the sender from the token and the fields without the envelope.
      assert.deepEqual(calls, [
        {
          userId: alice.id,
          input: { receiverId: bob.id, content: 'hi bob' },
          opts: { clientMsgId: 'c-1' },
        },
      ]);
      // Exactly one copy each.
      assert.equal(b.frames.length, 0);
      assert.equal(a2.frames.length, 0);
    });

    it('answers bad frames with an error and keeps the connection open', async function () {
      const { wsUrl } = await startRealtime();
      const alice = newUser('alice');
      const bob = newUser('bob');
      const a = await connect(wsUrl, alice);
      const isError = (f: Frame) => f.type === 'error';

      a.send('{not json');
      assert.deepEqual(await a.next(isError), {
        type: 'error',
        code: 'BAD_JSON',
        message: 'The frame is not valid JSON',
      });
      a.send('[1,2]');
      assert.equal((await a.next(isError)).code, 'VALIDATION_FAILED');
      a.send('"text"');
      assert.equal((await a.next(isError)).code, 'VALIDATION_FAILED');
      a.send({ type: 'message:teleport', clientMsgId: 'c-9' });
      assert.deepEqual(await a.next(isError), {
        type: 'error',
        code: 'UNKNOWN_TYPE',
        message: 'Unknown frame type "message:teleport"',
        clientMsgId: 'c-9',
      });
      a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      assert.equal((await a.next(isError)).code, 'VALIDATION_FAILED');
      a.send({ type: 'message:send', receiverId: bob.id, clientMsgId: 42 });
      assert.equal((await a.next(isError)).code, 'VALIDATION_FAILED');

      assert.equal(a.ws.readyState, WebSocket.OPEN);
      a.send({
        type: 'message:send',
        receiverId: bob.id,
        content: 'still here',
        clientMsgId: 'ok',
      });
      const ack = await a.next((f) => f.type === 'message:ack');
      assert.equal((ack.message as Message).content, 'still here');
      a.send({ type: 'ping' });
      await a.next((f) => f.type === 'pong');
    });

    it('passes AppErrors of the service on, and hides other errors behind INTERNAL', async function () {
      const { wsUrl } = await startRealtime();
      const a = await connect(wsUrl, newUser('alice'));
      const isError = (f: Frame) => f.type === 'error';

      a.send({ type: 'message:send', receiverId: 'nobody', content: 'x', clientMsgId: 'v' });
      assert.deepEqual(await a.next(isError), {
        type: 'error',
        code: 'VALIDATION_FAILED',
        message: 'receiverId must be a user id',
        clientMsgId: 'v',
      });
      a.send({ type: 'message:send', receiverId: 'boom', content: 'x', clientMsgId: 'b' });
      assert.deepEqual(await a.next(isError), {
        type: 'error',
        code: 'INTERNAL',
        message: 'Internal error',
        clientMsgId: 'b',
      });
      a.send({ type: 'message:send', receiverId: 'down', content: 'x', clientMsgId: 'd' });
      assert.deepEqual(await a.next(isError), {
        type: 'error',
        code: 'SERVICE_UNAVAILABLE',
        message: ERROR_CODES.SERVICE_UNAVAILABLE.message,
        clientMsgId: 'd',
      });
      a.send({ type: 'message:send', receiverId: 'slow-down', content: 'x' });
      assert.deepEqual(await a.next(isError), {
        type: 'error',
        code: 'RATE_LIMITED',
        message: 'Too many requests',
        retryAfterSeconds: 7,
      });
    });

    it('acks a client’s sends in the order they were sent', async function () {
      const { wsUrl } = await startRealtime();
      const a = await connect(wsUrl, newUser('alice'));
      const bob = newUser('bob');
      for (let i = 0; i < 20; i++) {
        a.send({
          type: 'message:send',
          receiverId: bob.id,
          content: `m${i}`,
          clientMsgId: `c${i}`,
        });
      }
      await a.until(() =>
        a.frames.filter((f) => f.type === 'message:ack').length === 20 ? true : undefined,
      );
      const acks = a.frames.filter((f) => f.type === 'message:ack').map((f) => f.clientMsgId);
      assert.deepEqual(
        acks,
        Array.from({ length: 20 }, (_, i) => `c${i}`),
      );
    });

    it('answers RATE_LIMITED instead of queueing more than maxQueuedFrames', async function () {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const bob = newUser('bob');
      const { wsUrl } = await startRealtime({
        maxQueuedFrames: 2,
        sendMessage: async (userId, _input, opts) => {
          await gate;
          const message: Message = {
            id: new ObjectId().toHexString(),
            senderId: userId,
            receiverId: bob.id,
            content: opts.clientMsgId ?? null,
            imageUrl: null,
            publicId: null,
            createdAt: new Date().toISOString(),
          };
          return { message, persisted: false };
        },
      });
      const a = await connect(wsUrl, newUser('alice'));
      for (const id of ['c1', 'c2', 'c3']) {
        a.send({ type: 'message:send', receiverId: bob.id, content: 'x', clientMsgId: id });
      }
      // c1 is being handled and c2 waits: c3 is refused at once.
      const refused = await a.next((f) => f.type === 'error');
      assert.equal(refused.code, 'RATE_LIMITED');
      assert.equal(refused.clientMsgId, 'c3');
      release();
      assert.equal((await a.next((f) => f.type === 'message:ack')).clientMsgId, 'c1');
      const second = await a.next((f) => f.type === 'message:ack');
      assert.equal(second.clientMsgId, 'c2');
      assert.equal(second.persisted, false);
    });

    it('accepts a frame of exactly maxPayload bytes and closes with 1009 above it', async function () {
      const { rt, wsUrl } = await startRealtime();
      const a = await connect(wsUrl, newUser('alice'));
      const envelope = JSON.stringify({ type: 'ping', pad: '' });
      a.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(64 * 1024 - envelope.length) }));
      await a.next((f) => f.type === 'pong');
      a.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(64 * 1024 - envelope.length + 1) }));
      assert.equal((await a.closed).code, 1009);
      await waitUntil('the server to forget the socket', () => rt.connections() === 0, 5000, 10);
    });

    it('closes with 1007 on a text frame that is not valid UTF-8 (RFC 6455)', async function () {
      const { rt, wsUrl } = await startRealtime();
      const a = await connect(wsUrl, newUser('alice'));
      a.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
      assert.equal((await a.closed).code, 1007);
      await waitUntil('the server to forget the socket', () => rt.connections() === 0, 5000, 10);
    });

    it('ignores malformed payloads on the events channel', async function () {
      const { wsUrl } = await startRealtime();
      const bob = newUser('bob');
      const b = await connect(wsUrl, bob);
      await redis.publish(keys.eventsChannel, 'not json');
      await redis.publish(keys.eventsChannel, JSON.stringify({ type: 'message:new' }));
      await redis.publish(
        keys.eventsChannel,
        JSON.stringify({ type: 'message:exploded', message: { id: 'x' }, recipients: [bob.id] }),
      );
      // A batch of another process with a bad event in it: only that one is dropped.
      const first = newMessage(new ObjectId().toHexString(), bob.id, 'first');
      const second = newMessage(new ObjectId().toHexString(), bob.id, 'second');
      await redis.publish(
        keys.eventsChannel,
        JSON.stringify({
          origin: 'another-process',
          events: [
            { type: 'message:new', message: first, recipients: [bob.id] },
            { type: 'message:new', message: { id: 'no-parties' }, recipients: [bob.id] },
            'not an event',
            { type: 'message:updated', message: second, recipients: [bob.id] },
          ],
        }),
      );
      // The format of earlier versions (one event, no origin), through the channel too, so
      // it comes after the others: anything malformed let through would come first.
      const message = newMessage(new ObjectId().toHexString(), bob.id, 'valid');
      await redis.publish(
        keys.eventsChannel,
        JSON.stringify({ type: 'message:updated', message, recipients: [bob.id] }),
      );
      assert.deepEqual(await b.next(() => true), { type: 'message:new', message: first });
      assert.deepEqual(await b.next(() => true), { type: 'message:updated', message: second });
      assert.deepEqual(await b.next(() => true), { type: 'message:updated', message });
      assert.equal(b.ws.readyState, WebSocket.OPEN);
      assert.equal(b.frames.length, 0);
    });
  });

  describe('across API processes', function () {
    it('delivers a message sent through server 1 to a receiver connected to server 2', async function () {
      const redis2 = createRedisNodeClient(ctx.config.redis, ctx.logger, {
        name: 'test-realtime-2',
      });
      await redis2.connect();
      cleanups.push(async () => {
        await redis2.close();
      });
      const one = await startRealtime();
      // The second process builds its bus first (as the lead would, for the message service).
      const bus2 = new RedisEventBus({ redis: redis2, keys, logger: ctx.logger });
      const two = await startRealtime({ bus: bus2 });
      assert.equal(two.rt.publisher, bus2);

      const alice = newUser('alice');
      const bob = newUser('bob');
      const a = await connect(one.wsUrl, alice);
      const aOnTwo = await connect(two.wsUrl, alice);
      const b = await connect(two.wsUrl, bob);

      a.send({ type: 'message:send', receiverId: bob.id, content: 'cross', clientMsgId: 'x1' });
      const atB = await b.next((f) => f.type === 'message:new', 1000);
      assert.equal((atB.message as Message).content, 'cross');
      await aOnTwo.next((f) => f.type === 'message:new', 1000);
      const ack = await a.next((f) => f.type === 'message:ack');
      assert.deepEqual(ack.message, atB.message);

      // And back: sent through server 2, received on server 1.
      b.send({ type: 'message:send', receiverId: alice.id, content: 'back' });
      // `a` also holds its own copy of 'cross' (the sender is a recipient).
      const cross = await a.next((f) => f.type === 'message:new', 1000);
      assert.deepEqual(cross.message, atB.message);
      const atA = await a.next((f) => f.type === 'message:new', 1000);
      assert.equal((atA.message as Message).content, 'back');
    });
    it('drops other processes’ events unparsed while no event is wanted (no socket here)', async function () {
      const listening = new RedisEventBus({ redis, keys, logger: ctx.logger });
      // Asked once per payload: the first is unwanted, the next wanted.
      let asked = 0;
      const got: string[] = [];
      await listening.start((event) => got.push((event.message as Message).content ?? ''), {
        wanted: () => ++asked > 1,
      });
      cleanups.push(() => listening.close());
      const other = new RedisEventBus({ redis, keys, logger: ctx.logger });
      const bob = newUser('bob');
      for (const content of ['unwanted', 'wanted']) {
        const message = newMessage(bob.id, 'x', content);
        await other.publish({ type: 'message:new', message, recipients: [bob.id] });
      }
      await waitUntil('the wanted event', () => got.length > 0, 5000, 10);
      assert.deepEqual(got, ['wanted']);
      assert.equal(asked, 2);
    });

    it('resubscribes after the subscriber connection is dropped', async function () {
      const { wsUrl } = await startRealtime();
      const bob = newUser('bob');
      const b = await connect(wsUrl, bob);
      const numsub = async () =>
        Number((await redis.pubSubNumSub(keys.eventsChannel))[keys.eventsChannel] ?? 0);
      assert.equal(await numsub(), 1);
      // Kill only this server's subscriber connection (by the name the bus gave it).
      const list = await redis.clientList();
      const sub = list.find((c) => c.name === 'test-realtime:events');
      assert.ok(sub, 'the subscriber connection is named after the command client');
      await redis.sendCommand(['CLIENT', 'KILL', 'ID', String(sub.id)]);
      await waitUntil(
        'the subscriber to come back',
        async () => {
          const clients = await redis.clientList();
          const again = clients.find((c) => c.name === 'test-realtime:events');
          return again !== undefined && again.id !== sub.id && (await numsub()) === 1;
        },
        10000,
        20,
      );
      const message: Message = {
        id: new ObjectId().toHexString(),
        senderId: new ObjectId().toHexString(),
        receiverId: bob.id,
        content: 'after reconnect',
        imageUrl: null,
        publicId: null,
        createdAt: new Date().toISOString(),
      };
      // From another process (a bus that is not started only publishes): it can only come
      // through the channel, not by this server's local delivery.
      const other = new RedisEventBus({ redis, keys, logger: ctx.logger });
      await other.publish({ type: 'message:new', message, recipients: [bob.id] });
      assert.deepEqual(await b.next(() => true), { type: 'message:new', message });
    });

    it('gives every socket each event exactly once and in order, on the publishing process and on another', async function () {
      const redis2 = createRedisNodeClient(ctx.config.redis, ctx.logger, {
        name: 'test-realtime-2',
      });
      await redis2.connect();
      cleanups.push(async () => {
        await redis2.close();
      });
      const one = await startRealtime();
      const two = await startRealtime({
        bus: new RedisEventBus({ redis: redis2, keys, logger: ctx.logger }),
      });
      const alice = newUser('alice');
      const bob = newUser('bob');
      const aliceOnOne = [await connect(one.wsUrl, alice), await connect(one.wsUrl, alice)];
      const aliceOnTwo = await connect(two.wsUrl, alice);
      const bobOnOne = await connect(one.wsUrl, bob);
      const bobOnTwo = await connect(two.wsUrl, bob);
      const all = [...aliceOnOne, aliceOnTwo, bobOnOne, bobOnTwo];

      // 30 events in one tick (one batch on the channel, one write per socket), then 10 one
      // by one; recipients listed twice still get one copy.
      const sent: Message[] = [];
      const publish = (content: string) => {
        const message = newMessage(alice.id, bob.id, content);
        sent.push(message);
        return one.rt.publisher.publish({
          type: 'message:new',
          message,
          recipients: [bob.id, alice.id, bob.id],
        });
      };
      await Promise.all(Array.from({ length: 30 }, (_, i) => publish(`burst ${i}`)));
      for (let i = 0; i < 10; i++) await publish(`single ${i}`);
      // Server 1 hears its own PUBLISHes before this later one of server 2 (one connection,
      // in order): once the marker is in, any echo delivered twice would be too.
      const marker = newMessage(bob.id, alice.id, 'marker');
      await two.rt.publisher.publish({
        type: 'message:updated',
        message: marker,
        recipients: [alice.id, bob.id],
      });
      for (const client of all) {
        await client.next((f) => f.type === 'message:updated', 5000);
        assert.deepEqual(
          newIds(client),
          sent.map((m) => m.id),
        );
        assert.deepEqual(client.frames[0], { type: 'message:new', message: sent[0] });
      }
      // Nothing more comes later either (real delay: a negative check).
      await sleep(100);
      for (const client of all) assert.equal(client.frames.length, sent.length);
    });

    it('publishes the events of one tick as one payload, and one event in the format of earlier versions', async function () {
      const listener = redis.duplicate();
      await listener.connect();
      cleanups.push(async () => {
        await listener.close();
      });
      const payloads: string[] = [];
      await listener.subscribe(keys.eventsChannel, (raw: string) => payloads.push(raw));
      const bus = new RedisEventBus({ redis, keys, logger: ctx.logger });
      const bob = newUser('bob');
      const burst = Array.from({ length: 5 }, (_, i) => newMessage(bob.id, 'x', `m${i}`));
      await Promise.all(
        burst.map((message) =>
          bus.publish({ type: 'message:new', message, recipients: ['x', bob.id] }),
        ),
      );
      const single = newMessage(bob.id, 'x', 'alone');
      await bus.publish({ type: 'message:deleted', message: single, recipients: ['x'] });
      await waitUntil('both payloads', () => payloads.length >= 2, 5000, 10);
      assert.equal(payloads.length, 2);
      const batch = JSON.parse(payloads[0] ?? '') as { origin: string; events: unknown[] };
      assert.equal(typeof batch.origin, 'string');
      assert.deepEqual(
        batch.events,
        burst.map((message) => ({ recipients: ['x', bob.id], type: 'message:new', message })),
      );
      // What an earlier version reads: type, message and recipients at the top.
      const one = JSON.parse(payloads[1] ?? '') as Record<string, unknown>;
      assert.deepEqual(one, {
        origin: batch.origin,
        recipients: ['x'],
        type: 'message:deleted',
        message: single,
      });
    });

    it('delivers to local sockets even when the PUBLISH fails, and rejects', async function () {
      const redis3 = createRedisNodeClient(ctx.config.redis, ctx.logger, {
        name: 'test-realtime-3',
        failFastWhenDown: true,
      });
      await redis3.connect();
      const { rt, wsUrl } = await startRealtime({
        bus: new RedisEventBus({ redis: redis3, keys, logger: ctx.logger }),
      });
      const bob = newUser('bob');
      const b = await connect(wsUrl, bob);
      // The command connection is gone; the subscriber (its own connection) stays.
      redis3.destroy();
      const message = newMessage(new ObjectId().toHexString(), bob.id, 'local only');
      await assert.rejects(
        rt.publisher.publish({ type: 'message:new', message, recipients: [bob.id] }),
      );
      assert.deepEqual(await b.next(() => true), { type: 'message:new', message });
    });
  });

  describe('liveness and flow control', function () {
    it('terminates a client that does not answer pings, and keeps one that does', async function () {
      const { rt, wsUrl } = await startRealtime({ heartbeatMs: 200 });
      const silent = await connect(wsUrl, newUser('silent'), { autoPong: false });
      const lively = await connect(wsUrl, newUser('lively'));
      const { code } = await silent.closed;
      assert.equal(code, 1006, 'terminated without a close handshake');
      await lively.until(() => (lively.pings >= 3 ? true : undefined));
      assert.equal(lively.ws.readyState, WebSocket.OPEN);
      assert.equal(rt.connections(), 1);
    });

    it('closes with 1013 a client that does not read its events', async function () {
      this.timeout(40000);
      const { rt, wsUrl } = await startRealtime({ maxBufferedBytes: 16 * 1024 });
      const bob = newUser('bob');
      const b = await connect(wsUrl, bob);
      b.ws.pause(); // stop reading: kernel buffers fill, then the server's own buffer grows
      const message: Message = {
        id: new ObjectId().toHexString(),
        senderId: new ObjectId().toHexString(),
        receiverId: bob.id,
        content: 'x'.repeat(60_000),
        imageUrl: null,
        publicId: null,
        createdAt: new Date().toISOString(),
      };
      const deadline = Date.now() + 30000;
      let sent = 0;
      while (rt.connections() > 0) {
        assert.ok(Date.now() < deadline, `still connected after ${sent} events`);
        await Promise.all(
          Array.from({ length: 20 }, () =>
            rt.publisher.publish({ type: 'message:new', message, recipients: [bob.id] }),
          ),
        );
        sent += 20;
        // Real delay: paces the flood so the server's writes and buffer checks run between batches.
        await sleep(20);
      }
      b.ws.resume();
      const { code } = await b.closed;
      assert.equal(code, 1013);
      assert.ok(b.frames.length > 0 && b.frames.length < sent, 'events stopped once too slow');
    });

    it('keeps a client that reads, however many events one tick holds for it', async function () {
      const { rt, wsUrl } = await startRealtime({ maxBufferedBytes: 16 * 1024 });
      const bob = newUser('bob');
      const b = await connect(wsUrl, bob);
      // 64 KiB in one tick, 4× the bound: written out as it grows, not judged as unread.
      const sent = Array.from({ length: 16 }, () =>
        newMessage(new ObjectId().toHexString(), bob.id, 'x'.repeat(4000)),
      );
      await Promise.all(
        sent.map((message) =>
          rt.publisher.publish({ type: 'message:new', message, recipients: [bob.id] }),
        ),
      );
      await b.until(() => (b.frames.length === sent.length ? true : undefined));
      assert.deepEqual(
        newIds(b),
        sent.map((m) => m.id),
      );
      assert.equal(b.ws.readyState, WebSocket.OPEN);
      assert.equal(rt.connections(), 1);
    });

    it('close() closes every client with 1001 and stops accepting upgrades', async function () {
      const { rt, wsUrl } = await startRealtime();
      const a = await connect(wsUrl, newUser('alice'));
      const b = await connect(wsUrl, newUser('bob'));
      await rt.close();
      assert.equal((await a.closed).code, 1001);
      assert.equal((await b.closed).code, 1001);
      assert.equal(rt.connections(), 0);
      // With the realtime server closed, the upgrade reaches this test's bare http server
      // (its bodiless 404), not the API: not a contract answer.
      const unignore = ignoreOrigin(wsUrl);
      try {
        await assert.rejects(
          TestClient.open(wsUrl, {
            headers: { Authorization: `Bearer ${await tokenFor(newUser('late'))}` },
          }),
        );
      } finally {
        unignore();
      }
      await rt.close(); // idempotent
    });
  });
});

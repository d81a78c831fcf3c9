import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import {
  ChatApiError,
  ChatClient,
  type FetchLike,
  type RealtimeConnection,
  type RealtimeEvents,
} from '../../client/index.js';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { sleep, waitUntil } from '../../src/lifecycle/wait.js';
import { freePort } from '../../src/local/port-probe.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

const PASSWORD = 'correct horse';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the proxy does with the next send after forwarding it to the API. */
type Fault = 'answer-503' | 'drop-connection';

/**
 * An HTTP proxy in front of the API that forwards every request and, for the sends queued
 * in {@link faults}, loses the API's answer after the API has handled it: answers 503
 * instead (as a gateway whose upstream timed out would), or drops the connection.
 */
class LossyProxy {
  readonly faults: Fault[] = [];
  /** Every send forwarded: its Idempotency-Key and the API's status and body. */
  readonly sends: Array<{ key: string | undefined; status: number; body: string }> = [];
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<LossyProxy> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const proxy = new LossyProxy(server, `http://127.0.0.1:${port}`);
    server.on('request', (req, res) => void proxy.forward(target, req, res));
    return proxy;
  }

  private async forward(
    target: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'idempotency-key', 'accept']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    });
    const body = await answer.text();
    const isSend = req.url === '/api/messages/send';
    if (isSend) {
      this.sends.push({ key: headers['idempotency-key'], status: answer.status, body });
    }
    const fault = isSend ? this.faults.shift() : undefined;
    if (fault === 'drop-connection') {
      req.socket.destroy();
      return;
    }
    if (fault === 'answer-503') {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'upstream lost' } }));
      return;
    }
    const out: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)) {
        out[name] = value;
      }
    });
    res.writeHead(answer.status, out);
    res.end(body);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The ws package's WebSocket, reading a refused handshake's answer to its end (as a browser
 * does; ws alone aborts at the status line) before it fails and closes.
 */
class DrainingWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    this.once('unexpected-response', (req, res) => {
      res.resume();
      res.once('end', () => req.destroy(new Error(`handshake refused: ${res.statusCode}`)));
    });
  }
}

/** Waits for the next `event` of `rt` (for `timeoutMs` at most). */
function nextEvent<E extends keyof RealtimeEvents>(
  rt: RealtimeConnection,
  event: E,
  pred: (payload: RealtimeEvents[E]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<RealtimeEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = rt.on(event, (payload) => {
      if (!pred(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

describe('the typed client (client/) against a real API', function () {
  this.timeout(30000);
  let ctx: TestContext;
  let api: ApiServer;
  let alice: ChatClient;
  let bob: ChatClient;
  let aliceId: string;
  let bobId: string;
  const suffix = Math.random().toString(36).slice(2, 8);

  before(async () => {
    ctx = createTestContext('chatclient');
    api = await startApiServer(ctx.config, ctx.logger);
    await api.ready;
    alice = new ChatClient({ baseUrl: api.url });
    bob = new ChatClient({ baseUrl: api.url });
    aliceId = (await alice.signup({ username: `alice_${suffix}`, password: PASSWORD })).user.id;
    bobId = (await bob.signup({ username: `bob_${suffix}`, password: PASSWORD })).user.id;
  });
  after(async () => {
    await api?.close();
    await ctx?.cleanup();
  });

  it('calls every route once, typed from the contract', async () => {
    const tokens: Array<string | null> = [];
    const carol = new ChatClient({ baseUrl: `${api.url}/`, onToken: (t) => tokens.push(t) });
    const signedUp = await carol.signup({ username: `carol_${suffix}`, password: PASSWORD });
    assert.equal(signedUp.user.username, `carol_${suffix}`);
    carol.setToken(null);
    const loggedIn = await carol.login({ username: `carol_${suffix}`, password: PASSWORD });
    assert.equal(loggedIn.user.id, signedUp.user.id);
    assert.deepEqual(tokens, [signedUp.token, null, loggedIn.token]);
    assert.equal(carol.token, loggedIn.token);

    const users = await carol.users();
    assert.ok(users.some((u) => u.id === aliceId) && users.some((u) => u.id === bobId));
    assert.ok(!users.some((u) => u.id === signedUp.user.id), 'not the caller');

    const sent = await alice.send({ receiverId: bobId, content: 'hello bob' });
    assert.equal(sent.status, 201);
    assert.match(sent.idempotencyKey, UUID_RE);
    assert.equal(sent.persisted, true);
    assert.equal(sent.message.content, 'hello bob');

    assert.deepEqual(await bob.message(sent.message.id), sent.message);
    const edited = await alice.edit(sent.message.id, 'hello bob (edited)');
    assert.equal(edited.content, 'hello bob (edited)');
    assert.ok(edited.updatedAt);

    const second = await alice.send({ receiverId: bobId, content: 'second' });
    const first = await bob.conversation(aliceId);
    assert.deepEqual(
      first.messages.map((m) => m.content),
      ['hello bob (edited)', 'second'],
    );
    assert.equal(first.cache, 'MISS');
    const again = await bob.conversation(aliceId);
    assert.equal(again.cache, 'HIT');
    const older = await bob.conversation(aliceId, { before: second.message.id, limit: 1 });
    assert.deepEqual(
      older.messages.map((m) => m.id),
      [sent.message.id],
    );

    await alice.delete(sent.message.id);
    const gone = await bob.message(sent.message.id).catch((err: unknown) => err);
    assert.ok(gone instanceof ChatApiError);
    assert.equal(gone.status, 404);
    assert.equal(gone.code, 'MESSAGE_NOT_FOUND');

    // The figures are aggregated every few seconds: only their shape is certain here.
    const stats = await alice.stats();
    assert.ok(Number.isInteger(stats.sends) && Number.isInteger(stats.backlog));
    assert.equal((await alice.health()).status, 'ok');
    assert.equal((await alice.ready()).status, 'ok');
    assert.deepEqual(await alice.live(), { status: 'ok' });

    const refused = await new ChatClient({ baseUrl: api.url })
      .login({ username: `carol_${suffix}`, password: 'not the password' })
      .catch((err: unknown) => err);
    assert.ok(refused instanceof ChatApiError);
    assert.equal(refused.status, 401);
    assert.equal(refused.code, 'INVALID_CREDENTIALS');
  });

  it('retries a send with the same idempotency key when the answer is lost (503, dropped connection): stored once', async () => {
    const proxy = await LossyProxy.start(api.url);
    try {
      const client = new ChatClient({
        baseUrl: proxy.url,
        token: alice.token,
        retryBackoff: { initialMs: 20, maxMs: 50 },
      });
      for (const fault of ['answer-503', 'drop-connection'] as const) {
        proxy.sends.length = 0;
        proxy.faults.push(fault);
        const content = `lost answer: ${fault}`;
        const outcome = await client.send({ receiverId: bobId, content });
        assert.equal(proxy.sends.length, 2, fault);
        const [lost, retry] = proxy.sends;
        assert.equal(lost!.status, 201, `${fault}: the API stored it the first time`);
        assert.equal(retry!.status, 200, `${fault}: the retry is answered with the first message`);
        assert.equal(lost!.key, outcome.idempotencyKey);
        assert.equal(retry!.key, outcome.idempotencyKey);
        assert.equal(outcome.status, 200);
        const stored = JSON.parse(lost!.body) as { message: { id: string } };
        assert.equal(outcome.message.id, stored.message.id);
        const page = await bob.conversation(aliceId, { limit: 100 });
        assert.equal(page.messages.filter((m) => m.content === content).length, 1, fault);
      }
      // A key given by the caller is the one sent.
      const given = await client.send(
        { receiverId: bobId, content: 'with my key' },
        { idempotencyKey: `k-${suffix}` },
      );
      assert.equal(given.idempotencyKey, `k-${suffix}`);
      assert.equal(proxy.sends.at(-1)?.key, `k-${suffix}`);
    } finally {
      await proxy.close();
    }
  });

  it('waits for Retry-After before retrying a rate-limited send', async function () {
    const limited = await startApiServer(
      ctx.configWith({ RATE_LIMIT_SENDS: '2', RATE_LIMIT_WINDOW_SECONDS: '2' }),
      ctx.logger,
    );
    try {
      await limited.ready;
      const log: Array<{ at: number; status: number; retryAfter: string | null }> = [];
      const recording: FetchLike = async (url, init) => {
        const res = await fetch(url, init);
        log.push({
          at: performance.now(),
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
        });
        return res;
      };
      const dave = new ChatClient({ baseUrl: limited.url, fetch: recording });
      await dave.signup({ username: `dave_${suffix}`, password: PASSWORD });
      const starts: number[] = [];
      const client = new ChatClient({
        baseUrl: limited.url,
        token: dave.token,
        fetch: (url, init) => {
          starts.push(performance.now());
          return recording(url, init);
        },
      });
      log.length = 0;
      for (let i = 0; i < 3; i++) {
        const sent = await client.send({ receiverId: bobId, content: `limited ${i}` });
        assert.equal(sent.status, 201);
      }
      const limitedAt = log.findIndex((r) => r.status === 429);
      assert.ok(limitedAt >= 0, `a send was rate-limited: ${JSON.stringify(log)}`);
      for (const [i, r] of log.entries()) {
        if (r.status !== 429) continue;
        assert.match(r.retryAfter ?? '', /^[1-9]\d*$/);
        const waited = starts[i + 1]! - r.at;
        assert.ok(
          waited >= Number(r.retryAfter) * 1000,
          `retried ${waited.toFixed(0)} ms after a 429 with Retry-After: ${r.retryAfter}`,
        );
      }

      // A Retry-After longer than the client will wait is the caller's: thrown at once.
      const impatient = new ChatClient({
        baseUrl: limited.url,
        token: dave.token,
        maxRetryAfterMs: 100,
      });
      await impatient.send({ receiverId: bobId, content: 'fill' }).catch(() => undefined);
      await impatient.send({ receiverId: bobId, content: 'fill' }).catch(() => undefined);
      const err = await impatient
        .send({ receiverId: bobId, content: 'over' })
        .catch((e: unknown) => e);
      assert.ok(err instanceof ChatApiError, String(err));
      assert.equal(err.code, 'RATE_LIMITED');
      assert.ok((err.retryAfterMs ?? 0) >= 1000);
    } finally {
      await limited.close();
    }
  });

  it('realtime: typed events, a send over ws, and reconnection after the server closes the socket', async () => {
    const port = await freePort();
    const config = ctx.configWith({ PORT: String(port) });
    let server = await startApiServer(config, ctx.logger);
    await server.ready;
    const bobRt = new ChatClient({ baseUrl: server.url, token: bob.token }).realtime({
      WebSocket,
      backoff: { initialMs: 50, maxMs: 400 },
    });
    const aliceRt = new ChatClient({ baseUrl: server.url, token: alice.token }).realtime({
      WebSocket,
    });
    const closes: RealtimeEvents['close'][] = [];
    bobRt.on('close', (info) => closes.push(info));
    try {
      const firstOpen = nextEvent(bobRt, 'open');
      bobRt.connect();
      assert.deepEqual(await firstOpen, { reconnected: false });
      aliceRt.connect();
      await aliceRt.opened();

      const got = nextEvent(bobRt, 'message:new', (f) => f.message.content === 'over ws');
      const ack = await aliceRt.sendMessage({ receiverId: bobId, content: 'over ws' });
      assert.equal(ack.type, 'message:ack');
      assert.match(ack.clientMsgId ?? '', UUID_RE);
      assert.equal((await got).message.id, ack.message.id);

      // An error frame is a ChatApiError with the contract's code.
      const err = await aliceRt
        .sendMessage({ receiverId: aliceId, content: 'to myself' })
        .catch((e: unknown) => e);
      assert.ok(err instanceof ChatApiError);
      assert.equal(err.code, 'VALIDATION_FAILED');

      // The server goes away (closing its sockets with 1001) and comes back on the same port.
      const reopened = nextEvent(bobRt, 'open', (e) => e.reconnected, 15000);
      await server.close();
      await waitUntil('bob to see the close', () => closes.length > 0, 5000);
      assert.equal(closes[0]!.wasOpen, true);
      assert.ok(closes[0]!.reconnectInMs !== null);
      assert.equal(bobRt.send({ type: 'ping' }), false, 'nothing is sent while down');
      await sleep(300); // a few refused attempts
      server = await startApiServer(config, ctx.logger);
      await server.ready;
      await reopened;
      const later = nextEvent(bobRt, 'message:new', (f) => f.message.content === 'after');
      await alice.send({ receiverId: bobId, content: 'after' });
      await later;
      assert.ok(closes.length >= 2, 'the refused attempts were closes too');
      assert.ok(closes.every((c) => c.reconnectInMs !== null && !c.unauthorized));
    } finally {
      bobRt.close();
      aliceRt.close();
      await server.close();
    }
  });

  it('realtime: stops reconnecting when the API refuses the token', async () => {
    const client = new ChatClient({ baseUrl: api.url, token: `${alice.token}x` });
    const rt = client.realtime({
      WebSocket: DrainingWebSocket,
      backoff: { initialMs: 20, maxMs: 50 },
    });
    let connecting = 0;
    rt.on('connecting', () => connecting++);
    const closed = nextEvent(rt, 'close');
    rt.connect();
    const info = await closed;
    assert.equal(info.wasOpen, false);
    assert.equal(info.unauthorized, true);
    assert.equal(info.reconnectInMs, null);
    await sleep(200);
    assert.equal(connecting, 1, 'no second attempt');
    await assert.rejects(rt.opened());
  });
});

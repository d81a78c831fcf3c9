import assert from 'node:assert/strict';
import http from 'node:http';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { call, signupUser, startTestApi } from '../helpers/api-harness.js';
import { createTestContext } from '../helpers/test-context.js';
import { startThrowawayMongo, startThrowawayRedis } from '../helpers/servers.js';

interface Health {
  status: number;
  body: Record<string, unknown>;
}

async function health(api: ApiServer): Promise<Health> {
  const res = await fetch(`${api.url}/health`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Polls GET /health until `ok` holds for an answer, and returns that answer. */
async function healthWhen(
  api: ApiServer,
  what: string,
  ok: (h: Health) => boolean,
  ms = 20000,
): Promise<Health> {
  let last: Health | undefined;
  await waitUntil(`/health ${what}`, async () => ok((last = await health(api))), ms, 200);
  return last as Health;
}

describe('GET /health', function () {
  this.timeout(90000);

  it('answers 200 when both servers answer, 503 naming the one that does not, 200 again after', async () => {
    const redis = await startThrowawayRedis();
    const mongo = await startThrowawayMongo();
    const ctx = createTestContext('health', {}, { redisUrl: redis.url, mongoUri: mongo.uri });
    const api = await startApiServer(ctx.config, ctx.logger);
    let redisNow = redis;
    let mongoNow = mongo;
    try {
      await api.ready;
      const ok = await health(api);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.status, 'ok');
      assert.equal((ok.body.redis as { status: string }).status, 'ok');
      assert.equal((ok.body.mongo as { status: string }).status, 'ok');

      await redis.process!.stop();
      const noRedis = await healthWhen(api, '503 without Redis', (h) => h.status === 503);
      assert.equal(noRedis.status, 503);
      assert.equal((noRedis.body.redis as { status: string }).status, 'down');
      assert.equal((noRedis.body.mongo as { status: string }).status, 'ok');

      redisNow = await redis.restart();
      const back = await healthWhen(api, '200 with Redis back', (h) => h.status === 200);
      assert.equal(back.status, 200);

      await mongo.process!.stop();
      const noMongo = await healthWhen(api, '503 without MongoDB', (h) => h.status === 503);
      assert.equal(noMongo.status, 503);
      assert.equal((noMongo.body.mongo as { status: string }).status, 'down');
      assert.equal((noMongo.body.redis as { status: string }).status, 'ok');

      mongoNow = await mongo.restart();
      const back2 = await healthWhen(api, '200 with MongoDB back', (h) => h.status === 200, 40000);
      assert.equal(back2.status, 200);
    } finally {
      await api.close();
      await redisNow.dispose();
      await mongoNow.dispose();
    }
  });

  it('answers 503 from the start when a server is missing, and the process keeps running', async () => {
    const redis = await startThrowawayRedis();
    const ctx = createTestContext(
      'health2',
      {},
      { redisUrl: redis.url, mongoUri: 'mongodb://127.0.0.1:9' },
    );
    const api = await startApiServer(ctx.config, ctx.logger);
    try {
      // The Redis client connects in the background: wait until it has, so that the 503 is
      // MongoDB's alone (right after start both may still be down).
      const h = await healthWhen(
        api,
        '503 with Redis connected',
        (v) => v.status === 503 && (v.body.redis as { status: string }).status === 'ok',
      );
      assert.equal(h.status, 503);
      assert.equal((h.body.mongo as { status: string }).status, 'down');
      assert.equal((h.body.redis as { status: string }).status, 'ok');
    } finally {
      await api.close();
      await redis.dispose();
    }
  });
});

interface Probe {
  status: number;
  /** The response's `Connection` header. */
  connection: string | undefined;
  body: Record<string, unknown>;
}

/** GET `path` with node:http (on `agent`, keep-alive), so the `Connection` header is seen. */
function probe(url: string, path: string, agent: http.Agent): Promise<Probe> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}${path}`, { agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            body: JSON.parse(text) as Record<string, unknown>,
          }),
        );
      })
      .on('error', reject);
  });
}

const statusOf = (part: unknown) => (part as { status: string }).status;

describe('GET /health/live and /health/ready', function () {
  this.timeout(120000);

  it('ready is 200 ok with both, 200 degraded without MongoDB (sends 202), 503 without Redis; live is always 200', async () => {
    const redis = await startThrowawayRedis();
    const mongo = await startThrowawayMongo();
    const ctx = createTestContext('ready', {}, { redisUrl: redis.url, mongoUri: mongo.uri });
    const t = await startTestApi(ctx.config, ctx.logger);
    const agent = new http.Agent({ keepAlive: true });
    const get = (path: string) => probe(t.url, path, agent);
    const readyWhen = async (what: string, ok: (p: Probe) => boolean, ms = 20000) => {
      let last: Probe | undefined;
      await waitUntil(
        `/health/ready ${what}`,
        async () => ok((last = await get('/health/ready'))),
        ms,
        200,
      );
      return last as Probe;
    };
    let redisNow = redis;
    let mongoNow = mongo;
    try {
      const [alice, bob] = [await signupUser(t.url, 'ready_a'), await signupUser(t.url, 'ready_b')];

      // Both up.
      assert.deepEqual(await get('/health/live'), {
        status: 200,
        connection: 'keep-alive',
        body: { status: 'ok' },
      });
      const ok = await get('/health/ready');
      assert.equal(ok.status, 200);
      assert.equal(ok.connection, 'keep-alive');
      assert.equal(ok.body.status, 'ok');
      assert.equal(ok.body.degraded, undefined);
      assert.equal(statusOf(ok.body.redis), 'ok');
      assert.equal(statusOf(ok.body.mongo), 'ok');

      // MongoDB down: still ready (sends are accepted), named as degraded; /health is 503.
      await mongo.process!.stop();
      const noMongo = await readyWhen(
        'degraded without MongoDB',
        (p) => p.body.status === 'degraded',
      );
      assert.equal(noMongo.status, 200);
      assert.deepEqual(noMongo.body.degraded, ['mongo']);
      assert.equal(statusOf(noMongo.body.mongo), 'down');
      assert.equal(statusOf(noMongo.body.redis), 'ok');
      assert.equal((await get('/health')).status, 503);
      const sent = await call(t.url, 'POST', '/api/messages/send', {
        token: alice.token,
        body: { receiverId: bob.id, content: 'while MongoDB is down' },
      });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      assert.equal(sent.body.persisted, false);
      assert.equal((await get('/health/live')).status, 200);

      mongoNow = await mongo.restart();
      const back = await readyWhen('ok with MongoDB back', (p) => p.body.status === 'ok', 40000);
      assert.equal(back.status, 200);

      // Redis down: not ready; the process still serves.
      await redis.process!.stop();
      const noRedis = await readyWhen('503 without Redis', (p) => p.status === 503);
      assert.equal(noRedis.body.status, 'unavailable');
      assert.equal(statusOf(noRedis.body.redis), 'down');
      assert.equal(statusOf(noRedis.body.mongo), 'ok');
      assert.deepEqual(await get('/health/live'), {
        status: 200,
        connection: 'keep-alive',
        body: { status: 'ok' },
      });

      // Both back.
      redisNow = await redis.restart();
      const both = await readyWhen('ok with both back', (p) => p.status === 200);
      assert.equal(both.body.status, 'ok');
      assert.equal(statusOf(both.body.redis), 'ok');
      assert.equal(statusOf(both.body.mongo), 'ok');
      assert.equal((await get('/health')).status, 200);
    } finally {
      agent.destroy();
      await t.close();
      await redisNow.dispose();
      await mongoNow.dispose();
    }
  });

  it('at shutdown, ready turns 503 while everything is still served for SHUTDOWN_DELAY_MS, then the port closes', async () => {
    const ctx = createTestContext('drain', { SHUTDOWN_DELAY_MS: '1500' });
    const t = await startTestApi(ctx.config, ctx.logger);
    const agent = new http.Agent({ keepAlive: true });
    const get = (path: string) => probe(t.url, path, agent);
    let closing: Promise<void> | undefined;
    try {
      assert.equal((await get('/health/ready')).status, 200);

      const started = Date.now();
      let closed = false;
      closing = t.close().then(() => {
        closed = true;
      });
      const ready = await get('/health/ready');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'shutting-down');
      assert.equal(statusOf(ready.body.redis), 'ok');
      assert.equal(statusOf(ready.body.mongo), 'ok');
      // Keep-alive clients are told to go elsewhere for their next request.
      assert.equal(ready.connection, 'close');
      const live = await get('/health/live');
      assert.deepEqual(live, { status: 200, connection: 'close', body: { status: 'ok' } });
      // Everything else is served as usual during the delay.
      assert.equal((await get('/health')).status, 200);
      const user = await signupUser(t.url, 'drain_a');
      assert.equal((await call(t.url, 'GET', '/api/users', { token: user.token })).status, 200);
      assert.equal(closed, false, 'the listener must stay open during SHUTDOWN_DELAY_MS');

      await closing;
      assert.ok(Date.now() - started >= 1400, `closed after ${Date.now() - started} ms`);
      await assert.rejects(fetch(`${t.url}/health/live`), (err: Error) => {
        assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED');
        return true;
      });
    } finally {
      agent.destroy();
      await (closing ?? t.close());
      await ctx.cleanup();
    }
  });
});

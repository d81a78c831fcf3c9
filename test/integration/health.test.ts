import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { createTestContext } from '../helpers/test-context.js';
import { startThrowawayMongo, startThrowawayRedis } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

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

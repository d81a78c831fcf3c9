import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { startApiServer } from '../../src/app/api-server.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import type { Logger } from '../../src/logging/logger.js';
import { createRedisClient } from '../../src/redis/redis-client.js';
import { call, signupUser } from '../helpers/api-harness.js';
import { createTestDaemon } from '../helpers/expiry-fixtures.js';
import { sharedServers, startThrowawayRedis, type ThrowawayRedis } from '../helpers/servers.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

const PASSWORD = 'chaos-redis-pass-0123456789';

/** A logger that keeps its lines, to check what an operator would read. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

describe('Redis with requirepass', function () {
  this.timeout(30_000);
  let redis: ThrowawayRedis;

  before(async () => {
    redis = await startThrowawayRedis({ extraArgs: ['--requirepass', PASSWORD] });
  });
  after(async () => {
    await redis?.dispose();
  });

  describe('with the password in REDIS_URL', () => {
    let ctx: TestContext;
    before(() => {
      ctx = createTestContext(
        'redispw',
        { PERSISTENCE_MODE: 'write-behind', CACHE_TTL_SECONDS: '1' },
        {
          redisUrl: `redis://:${PASSWORD}@127.0.0.1:${redis.port}`,
          mongoUri: sharedServers().mongoUri,
        },
      );
    });
    after(async () => {
      await ctx?.cleanup();
    });

    it('the API and the daemon work: a write-behind send reaches MongoDB', async () => {
      const api = await startApiServer(ctx.config, ctx.logger);
      const daemon = await createTestDaemon(ctx.config, ctx.logger);
      const mongo = new MongoClient(sharedServers().mongoUri);
      try {
        await api.ready;
        await daemon.daemon.start();
        const a = await signupUser(api.url, 'pw_alice');
        const b = await signupUser(api.url, 'pw_bob');
        const sent = await call(api.url, 'POST', '/api/messages/send', {
          token: a.token,
          body: { receiverId: b.id, content: 'through a password' },
        });
        assert.equal(sent.status, 201, JSON.stringify(sent.body));
        const messages = mongo.db(ctx.config.mongo.db).collection('messages');
        await waitUntil(
          'the daemon persisting the message',
          async () => (await messages.countDocuments({ content: 'through a password' })) === 1,
          15_000,
        );
      } finally {
        await daemon.close();
        await api.close();
        await mongo.close();
      }
    });
  });

  describe('without the password', () => {
    it('the API answers 503 naming Redis and logs a clear authentication error', async () => {
      const ctx = createTestContext(
        'redisnopw',
        {},
        { redisUrl: redis.url, mongoUri: sharedServers().mongoUri },
      );
      const { logger, lines } = capturingLogger();
      const api = await startApiServer(ctx.config, logger);
      try {
        await waitUntil(
          'an authentication error in the log',
          () => lines.some((l) => /NOAUTH|WRONGPASS|auth/i.test(l)),
          10_000,
        );
        const health = await call(api.url, 'GET', '/health');
        assert.equal(health.status, 503, JSON.stringify(health.body));
        assert.equal(health.body?.redis?.status, 'down', JSON.stringify(health.body));
        const line = lines.find((l) => /NOAUTH|WRONGPASS|auth/i.test(l)) ?? '';
        assert.match(line, /REDIS_PASSWORD|REDIS_URL/, `the log names what to check: ${line}`);
        assert.ok(!lines.join('\n').includes(PASSWORD), 'the password is never logged');
      } finally {
        await api.close();
      }
    });

    it('the daemon’s connection logs a clear authentication error and closes cleanly', async () => {
      const ctx = createTestContext(
        'redisnopwd',
        {},
        {
          redisUrl: `redis://:wrong-password@127.0.0.1:${redis.port}`,
          mongoUri: sharedServers().mongoUri,
        },
      );
      const { logger, lines } = capturingLogger();
      // Built as src/bin/daemon.ts builds it.
      const client = createRedisClient(ctx.config.redis, logger, { name: 'expiry-daemon-0' });
      const connecting = client.connect().catch((err: unknown) => err);
      try {
        await waitUntil(
          'an authentication error in the log',
          () => lines.some((l) => /NOAUTH|WRONGPASS|auth/i.test(l)),
          10_000,
        );
        const line = lines.find((l) => /NOAUTH|WRONGPASS|auth/i.test(l)) ?? '';
        assert.match(line, /REDIS_PASSWORD|REDIS_URL/, `the log names what to check: ${line}`);
        assert.ok(!lines.join('\n').includes('wrong-password'), 'the password is never logged');
      } finally {
        client.destroy();
        await connecting;
      }
    });
  });
});

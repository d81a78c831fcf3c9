import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { ExpiryDaemon } from '../../src/expiry/expiry-daemon.js';
import { RedisKeys } from '../../src/redis/keys.js';
import type { RedisClient } from '../../src/redis/redis-client.js';
import { daemonRecords, NO_RECORDS, seedMessages } from '../helpers/expiry-fixtures.js';
import { waitUntil } from '../helpers/wait.js';
import { sharedServers, startThrowawayRedis, type ThrowawayRedis } from '../helpers/servers.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

describe('expiry daemon: among 500,000 unrelated keys with a 1-hour TTL', function () {
  this.timeout(60000);
  let own: ThrowawayRedis;
  let ctx: TestContext;
  let redis: RedisClient;
  let daemon: ExpiryDaemon | undefined;

  before(async () => {
    // A Redis of its own: half a million keys would slow every other test's SCAN.
    own = await startThrowawayRedis();
    ctx = createTestContext('expiry-unrelated', {}, { ...sharedServers(), redisUrl: own.url });
    redis = createClient({ url: own.url }) as RedisClient;
    redis.on('error', () => {});
    await redis.connect();
    const fill = `for i = 1, tonumber(ARGV[2]) do
      redis.call('SET', ARGV[1] .. i, 'v', 'EX', 3600)
    end
    return 1`;
    for (let chunk = 0; chunk < 10; chunk++) {
      await redis.eval(fill, { keys: [], arguments: [`unrelated:${chunk}:`, '50000'] });
    }
  });

  after(async () => {
    await daemon?.stop();
    await redis.close();
    await own.dispose();
  });

  it('still processes every test message', async () => {
    assert.equal(await redis.dbSize(), 500000);
    const keys = new RedisKeys(ctx.config.redis.keyPrefix);
    const d = new ExpiryDaemon(
      { config: ctx.config, logger: ctx.logger },
      { defaultMetrics: false },
    );
    daemon = d;
    await d.start();
    const sent = await seedMessages(redis, keys, 2000, { ttlSeconds: 1, shadow: false });
    await waitUntil('2,000 processed', () => d.stats().processed.total >= 2000, 30000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(d.stats().processed.total, 2000);
    assert.equal(await redis.exists(sent.slice(0, 200).map((m) => keys.message(m.id))), 0);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    // The unrelated keys are untouched; besides them only the conversations' convgen counters
    // and the shared stats hashes remain.
    const convgens = new Set(
      sent.map((m) => keys.conversationGeneration(m.senderId, m.receiverId)),
    );
    const stats = await redis.exists([keys.statsCounters, keys.statsInstances]);
    assert.equal(await redis.dbSize(), 500000 + convgens.size + stats);
    console.log(`      ${JSON.stringify(d.stats().processed)}`);
  });
});

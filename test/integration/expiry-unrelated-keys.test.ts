import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { waitUntil } from '../../src/lifecycle/wait.js';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';
import {
  daemonRecords,
  NO_RECORDS,
  seedMessages,
  useExpiryTestbed,
} from '../helpers/expiry-fixtures.js';
import { sharedServers, startThrowawayRedis, type ThrowawayRedis } from '../helpers/servers.js';

describe('expiry daemon: among 500,000 unrelated keys with a 1-hour TTL', function () {
  this.timeout(60000);
  // A Redis of its own: half a million keys would slow every other test's SCAN.
  let own: ThrowawayRedis;
  const bed = useExpiryTestbed('expiry-unrelated', {
    servers: () => ({ ...sharedServers(), redisUrl: own.url }),
  });

  before(async () => {
    own = await startThrowawayRedis();
    const redis = createClient({ url: own.url }) as RedisNodeClient;
    redis.on('error', () => {});
    await redis.connect();
    const fill = `for i = 1, tonumber(ARGV[2]) do
      redis.call('SET', ARGV[1] .. i, 'v', 'EX', 3600)
    end
    return 1`;
    for (let chunk = 0; chunk < 10; chunk++) {
      await redis.eval(fill, { keys: [], arguments: [`unrelated:${chunk}:`, '50000'] });
    }
    await redis.close();
  });

  after(async () => {
    await own.dispose();
  });

  it('still processes every test message', async () => {
    const { redis, keys } = bed;
    assert.equal(await redis.dbSize(), 500000);
    const d = await bed.daemon();
    await d.start();
    const sent = await seedMessages(redis, keys, 2000, { ttlSeconds: 1, shadow: false });
    await waitUntil('2,000 processed', () => d.stats().processed.total >= 2000, 30000);
    await d.stop();
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

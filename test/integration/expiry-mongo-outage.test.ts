import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { createClient } from 'redis';
import { ExpiryDaemon } from '../../src/expiry/expiry-daemon.js';
import { messagesCollection } from '../../src/messages/message-store.js';
import { RedisKeys } from '../../src/redis/keys.js';
import type { RedisClient } from '../../src/redis/redis-client.js';
import {
  daemonRecords,
  NO_RECORDS,
  pendingCount,
  seedMessages,
} from '../helpers/expiry-fixtures.js';
import { waitUntil } from '../helpers/wait.js';
import { sharedServers, startThrowawayMongo, type ThrowawayMongo } from '../helpers/servers.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('expiry daemon: MongoDB outage in write-behind mode', function () {
  this.timeout(90000);
  let mongoServer: ThrowawayMongo;
  let ctx: TestContext;
  let redis: RedisClient;
  let daemon: ExpiryDaemon | undefined;

  before(async () => {
    mongoServer = await startThrowawayMongo();
    ctx = createTestContext(
      'expiry-mongo-outage',
      { PERSISTENCE_MODE: 'write-behind' },
      { redisUrl: sharedServers().redisUrl, mongoUri: mongoServer.uri },
    );
    redis = createClient({ url: ctx.config.redis.url }) as RedisClient;
    redis.on('error', () => {});
    await redis.connect();
  });

  after(async () => {
    await daemon?.stop();
    await redis.close();
    await ctx.cleanup().catch(() => {});
    await mongoServer.dispose();
  });

  it('persists every message exactly once after MongoDB was down for 10 s', async () => {
    const keys = new RedisKeys(ctx.config.redis.keyPrefix);
    daemon = new ExpiryDaemon(
      { config: ctx.config, logger: ctx.logger },
      // Small backoff, and attempts enough that a 10 s outage never dead-letters.
      {
        pollIntervalMs: 200,
        backoffBaseMs: 100,
        backoffMaxMs: 1000,
        maxAttempts: 100,
        defaultMetrics: false,
      },
    );
    await daemon.start();
    const d = daemon;
    // One message first, persisted: the daemon is connected to MongoDB before the outage.
    const sent = await seedMessages(redis, keys, 1, { ttlSeconds: 1, shadow: true });
    await waitUntil('the first message', () => d.stats().processed.total === 1, 10000);

    await mongoServer.stop();
    const downAt = Date.now();
    sent.push(...(await seedMessages(redis, keys, 2000, { ttlSeconds: 1, shadow: true })));
    await sleep(10000 - (Date.now() - downAt));
    // They expired and were claimed while MongoDB was down: none persisted, all retried.
    const during = daemon.stats();
    assert.equal(during.processed.total, 1);
    assert.ok(during.persistFailures > 0, 'persistence failed while MongoDB was down');
    assert.ok(during.retried >= 2000, 'every entry was given back with a backoff');
    assert.equal(await redis.hLen(keys.shadow), 2000);

    mongoServer = await mongoServer.restart();
    await waitUntil('2,001 processed', () => d.stats().processed.total >= 2001, 40000);
    const recoveredAfter = Date.now() - downAt;
    await sleep(500);
    assert.equal(d.stats().processed.total, 2001);
    assert.equal(d.stats().deadLettered, 0);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, sent), 0);

    const mongo = new MongoClient(mongoServer.uri);
    try {
      const coll = messagesCollection(mongo.db(ctx.config.mongo.db));
      assert.equal(await coll.countDocuments(), 2001);
      const ids = (await coll.find({}, { projection: { _id: 1 } }).toArray()).map((x) =>
        x._id.toHexString(),
      );
      assert.deepEqual(new Set(ids), new Set(sent.map((m) => m.id)));
    } finally {
      await mongo.close();
    }
    console.log(
      `      recovered ${recoveredAfter} ms after the stop; ${d.stats().persistFailures} failed batches, ${d.stats().retried} retries`,
    );
  });
});

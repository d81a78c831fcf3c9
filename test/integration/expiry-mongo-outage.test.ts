import assert from 'node:assert/strict';
import { sleep, waitUntil } from '../../src/lifecycle/wait.js';
import {
  daemonRecords,
  NO_RECORDS,
  pendingCount,
  seedMessages,
  useExpiryTestbed,
} from '../helpers/expiry-fixtures.js';
import { sharedServers, startThrowawayMongo, type ThrowawayMongo } from '../helpers/servers.js';

describe('expiry daemon: MongoDB outage in write-behind mode', function () {
  this.timeout(90000);
  let mongoServer: ThrowawayMongo;
  const bed = useExpiryTestbed('expiry-mongo-outage', {
    servers: () => ({ redisUrl: sharedServers().redisUrl, mongoUri: mongoServer.uri }),
  });

  before(async () => {
    mongoServer = await startThrowawayMongo();
  });

  after(async () => {
    await mongoServer.dispose();
  });

  it('persists every message exactly once after MongoDB was down for 10 s', async () => {
    const { redis, keys } = bed;
    // Small backoff, and attempts enough that a 10 s outage never dead-letters.
    const d = await bed.daemon({
      pollIntervalMs: 200,
      backoffBaseMs: 100,
      backoffMaxMs: 1000,
      maxAttempts: 100,
    });
    await d.start();
    // One message first, persisted: the daemon is connected to MongoDB before the outage.
    const sent = await seedMessages(redis, keys, 1, { ttlSeconds: 1, shadow: true });
    await waitUntil('the first message', () => d.stats().processed.total === 1, 10000);

    await mongoServer.stop();
    const downAt = Date.now();
    sent.push(...(await seedMessages(redis, keys, 2000, { ttlSeconds: 1, shadow: true })));
    // The outage itself: they fall due, are claimed and fail, retried with backoff, for 10 s.
    await sleep(10000 - (Date.now() - downAt));
    const during = d.stats();
    assert.equal(during.processed.total, 1);
    assert.ok(during.persistFailures > 0, 'persistence failed while MongoDB was down');
    assert.ok(during.retried >= 2000, 'every entry was given back with a backoff');
    assert.equal(await redis.hLen(keys.shadow), 2000);

    mongoServer = await mongoServer.restart();
    await waitUntil('2,001 processed', () => d.stats().processed.total >= 2001, 40000);
    const recoveredAfter = Date.now() - downAt;
    await d.stop();
    assert.equal(d.stats().processed.total, 2001);
    assert.equal(d.stats().deadLettered, 0);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, sent), 0);

    const ids = await bed.storedIds();
    assert.equal(ids.length, 2001);
    assert.deepEqual(new Set(ids), new Set(sent.map((m) => m.id)));
    console.log(
      `      recovered ${recoveredAfter} ms after the stop; ${d.stats().persistFailures} failed batches, ${d.stats().retried} retries`,
    );
  });
});

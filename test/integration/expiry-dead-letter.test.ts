import assert from 'node:assert/strict';
import { ObjectId } from 'mongodb';
import { DeadLetters } from '../../src/expiry/dead-letter.js';
import type { ExpiryDaemon } from '../../src/expiry/expiry-daemon.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import type { MessageStore } from '../../src/messages/message-store.js';
import type { MessageShadow } from '../../src/messages/message.js';
import type { RedisKeys } from '../../src/redis/keys.js';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';
import {
  daemonRecords,
  NO_RECORDS,
  pendingCount,
  seedMessages,
  useExpiryTestbed,
} from '../helpers/expiry-fixtures.js';

describe('expiry daemon: dead letters', function () {
  this.timeout(30000);
  const bed = useExpiryTestbed('expiry-dead-letter');
  let redis: RedisNodeClient;
  let keys: RedisKeys;
  let dead: DeadLetters;
  let daemon: ExpiryDaemon;
  let failing = true;

  /** The Prometheus text the daemon's `GET /metrics` would answer. */
  const scrape = () => daemon.metricsRegistry.metrics();

  beforeEach(async () => {
    ({ redis, keys } = bed);
    dead = new DeadLetters(redis, bed.space);
    failing = true;
    daemon = await bed.daemon({
      pollIntervalMs: 100,
      maxAttempts: 3,
      backoffBaseMs: 20,
      backoffMaxMs: 50,
      // MongoDB refusing the writes, until the test lets them through.
      persist: async (messages: MessageStore, shadows: MessageShadow[]) => {
        if (failing) throw new Error('injected persistence failure');
        return messages.insertMissing(shadows);
      },
    });
    await daemon.start();
  });

  it('dead-letters after maxAttempts failures, counts it, and a retry then persists it', async () => {
    const [msg] = await seedMessages(redis, keys, 1, { ttlSeconds: 1, shadow: true });
    const plain = await seedMessages(redis, keys, 1, { ttlSeconds: 1, shadow: false });
    assert.ok(msg);
    const key = keys.message(msg.id);
    await waitUntil('a dead letter', async () => (await dead.count()) === 1, 15000);
    await waitUntil('the gauge', async () => /^dead_letter_entries 1$/m.test(await scrape()), 5000);

    const s = daemon.stats();
    assert.equal(s.deadLettered, 1);
    assert.equal(s.persistFailures, 3);
    assert.equal(s.retried, 2);
    assert.equal(s.processed.total, 1, 'only the message without a shadow');
    const text = await scrape();
    assert.match(text, /^persist_failures_total 3$/m);
    const [entry, ...others] = await dead.list();
    assert.equal(others.length, 0);
    assert.equal(entry?.key, key);
    assert.equal(entry?.attempts, 3);
    assert.equal(entry?.error, 'injected persistence failure');
    assert.equal(entry?.shadow?.message.id, msg.id);
    // The shadow and the pending entry stay: the message is not lost.
    assert.deepEqual(await daemonRecords(redis, keys), {
      due: 0,
      inflight: 0,
      shadow: 1,
      attempts: 0,
      dead: 1,
    });
    assert.equal(await pendingCount(redis, keys, [msg]), 1);

    failing = false;
    assert.equal(await dead.retry(key), true);
    assert.equal(await dead.retry(key), false, 'no longer a dead letter');
    await waitUntil('processed after the retry', () => daemon.stats().processed.total === 2, 10000);
    const doc = await bed.messages.findOne({ _id: new ObjectId(msg.id) });
    assert.equal(doc?.content, msg.content);
    assert.equal(await bed.messages.countDocuments(), 1);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, [msg, ...plain]), 0);
    await waitUntil(
      'the gauge back to 0',
      async () => /^dead_letter_entries 0$/m.test(await scrape()),
      5000,
    );
  });

  it('drops a dead letter with its shadow and pending entry, and dead-letters a corrupt shadow at once', async () => {
    const [msg] = await seedMessages(redis, keys, 1, { ttlSeconds: 1, shadow: true });
    assert.ok(msg);
    // A shadow no code could persist.
    const corruptKey = keys.message(new ObjectId().toHexString());
    await redis.hSet(keys.shadow, corruptKey, '{"message":{"id":"not-an-id"}}');
    await redis.zAdd(keys.due, { score: 0, value: corruptKey });

    await waitUntil('two dead letters', async () => (await dead.count()) === 2, 15000);
    const list = await dead.list();
    const corrupt = list.find((e) => e.key === corruptKey);
    assert.equal(corrupt?.attempts, 1);
    assert.equal(corrupt?.error, 'unreadable shadow');

    assert.equal(await dead.drop(keys.message(msg.id)), true);
    assert.equal(await dead.drop(corruptKey), true);
    assert.equal(await dead.drop(corruptKey), false);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, [msg]), 0);
    assert.equal(await bed.messages.countDocuments(), 0);
  });
});

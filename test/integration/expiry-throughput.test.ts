import assert from 'node:assert/strict';
import { ObjectId } from 'mongodb';
import { waitUntil } from '../../src/lifecycle/wait.js';
import type { RedisKeys } from '../../src/redis/keys.js';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';
import {
  daemonRecords,
  NO_RECORDS,
  pendingCount,
  seedMessages,
  useExpiryTestbed,
} from '../helpers/expiry-fixtures.js';

describe('expiry daemon: throughput and exactly-once', function () {
  this.timeout(120000);
  const bed = useExpiryTestbed('expiry-throughput');
  const { daemons } = bed;
  let redis: RedisNodeClient;
  let keys: RedisKeys;

  beforeEach(() => {
    ({ keys, redis } = bed);
  });

  it('processes 10,000 expirations exactly once across 3 daemons and persists each once', async () => {
    for (let i = 0; i < 3; i++) await bed.daemon();
    await Promise.all(daemons.map((d) => d.start()));

    const started = Date.now();
    const sent = await seedMessages(redis, keys, 10000, { ttlSeconds: 1, shadow: true });
    const total = () => daemons.reduce((n, d) => n + d.stats().processed.total, 0);
    await waitUntil('10,000 processed', () => total() >= 10000, 90000);
    const elapsed = Date.now() - started;
    // Stopped daemons have settled every claim: a double processing would be counted.
    await Promise.all(daemons.map((d) => d.stop()));

    assert.equal(total(), 10000);
    const stats = daemons.map((d) => d.stats());
    assert.equal(
      stats.reduce((n, s) => n + s.persistFailures + s.deadLettered, 0),
      0,
    );
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, sent), 0);
    assert.equal(await redis.exists(sent.slice(0, 100).map((m) => keys.message(m.id))), 0);

    const ids = await bed.storedIds();
    assert.equal(ids.length, 10000);
    assert.equal(new Set(ids).size, 10000);
    assert.deepEqual(new Set(ids), new Set(sent.map((m) => m.id)));
    // A stored document is the sent message.
    const first = sent[0]!;
    const doc = await bed.messages.findOne({ _id: new ObjectId(first.id) });
    assert.equal(doc?.content, first.content);
    assert.equal(doc?.conversationId, [first.senderId, first.receiverId].sort().join(':'));
    console.log(
      `      10,000 in ${elapsed} ms; per daemon: ${stats.map((s) => `${s.processed.event} event + ${s.processed.poll} poll`).join(', ')}`,
    );
  });

  it('learns of expirations from keyevents when the poll interval is long', async () => {
    const d = await bed.daemon({ pollIntervalMs: 60000 });
    await d.start();
    // The first round (immediate) finds an empty index, so the daemon sleeps for a minute:
    // only the events can wake it.
    await waitUntil('first round', () => d.stats().rounds === 1, 5000);
    const sent = await seedMessages(redis, keys, 300, { ttlSeconds: 1, shadow: false });
    await waitUntil('300 processed', () => d.stats().processed.total >= 300, 20000);
    await d.stop();
    // Woken by an event, the daemon may claim the rest at their deadlines (a hint claim
    // schedules a round for the slot entries not yet due): either source is fine, the
    // 60 s interval never elapsed.
    const { event, total } = d.stats().processed;
    assert.equal(total, 300);
    assert.ok(event >= 1, 'no expiration came from a keyevent');
    assert.ok(['on', 'enabled'].includes(d.stats().notifications));
    assert.equal(await redis.exists(sent.map((m) => keys.message(m.id))), 0);
  });
});

import assert from 'node:assert/strict';
import { ObjectId } from 'mongodb';
import type { ExpiryDaemon, ExpiryDaemonOptions } from '../../src/expiry/expiry-daemon.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import type { Logger } from '../../src/logging/logger.js';
import type { Message } from '../../src/messages/message.js';
import type { RedisKeys } from '../../src/redis/keys.js';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';
import {
  capturingLogger,
  daemonRecords,
  NO_RECORDS,
  pendingCount,
  seedMessages,
  slowPersist,
  useExpiryTestbed,
} from '../helpers/expiry-fixtures.js';
import { dueEntryCount } from '../helpers/due-index.js';
import type { TestContext } from '../helpers/test-context.js';

describe('expiry daemon: overlapped persistence', function () {
  this.timeout(60000);
  const bed = useExpiryTestbed('expiry-pipeline');
  const { daemons, storedIds } = bed;
  let ctx: TestContext;
  let redis: RedisNodeClient;
  let keys: RedisKeys;

  const daemon = (opts: ExpiryDaemonOptions = {}, logger?: Logger): Promise<ExpiryDaemon> =>
    bed.daemon({ batchSize: 100, ...opts }, logger);
  const stopAll = () => Promise.all(daemons.map((d) => d.stop()));

  beforeEach(() => {
    ({ ctx, keys, redis } = bed);
  });

  it('persists each message once across 2 daemons while their bulk writes overlap', async () => {
    const slow = [slowPersist(40), slowPersist(40)];
    const both = await Promise.all(
      slow.map(({ persist }) => daemon({ persist, persistConcurrency: 2 })),
    );
    await Promise.all(both.map((d) => d.start()));
    const sent = await seedMessages(redis, keys, 3000, { atMs: Date.now() + 1500, shadow: true });
    const total = () => daemons.reduce((n, d) => n + d.stats().processed.total, 0);
    await waitUntil('3,000 processed', () => total() >= 3000, 40000);
    // Stopped daemons have settled every claim: a double processing would be counted.
    await stopAll();

    assert.equal(total(), 3000);
    assert.equal(
      slow.reduce((n, s) => n + s.log.shadows, 0),
      3000,
      'every shadow was handed to a bulk write exactly once',
    );
    for (const { log } of slow) assert.ok(log.maxRunning <= 2, `${log.maxRunning} writes at once`);
    assert.ok(
      slow.some(({ log }) => log.maxRunning === 2),
      'a daemon had two bulk writes in flight',
    );
    const ids = await storedIds();
    assert.equal(ids.length, 3000);
    assert.deepEqual(new Set(ids), new Set(sent.map((m) => m.id)));
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, sent), 0);
  });

  it('stop() waits for every batch in flight, and a next daemon takes the rest', async () => {
    const slow = slowPersist(300);
    const first = await daemon({
      persist: slow.persist,
      persistConcurrency: 2,
      subscribe: false,
    });
    await first.start();
    const sent = await seedMessages(redis, keys, 1000, { atMs: Date.now() + 500, shadow: true });
    await waitUntil('two bulk writes in flight', () => slow.log.running === 2, 10000);
    await first.stop();

    // Nothing claimed is left behind: every claim was persisted and acked before stop().
    const done = first.stats().processed.total;
    assert.equal(await redis.zCard(keys.inflight), 0);
    assert.ok(done >= 200, `${done} processed by the first daemon`);
    assert.ok(done < 1000, 'it stopped mid-burst');
    assert.equal(slow.log.shadows, done);
    assert.equal((await storedIds()).length, done);
    assert.equal(await dueEntryCount(redis, keys), 1000 - done);
    assert.equal(await redis.zCard(keys.due), 0, 'message deadlines are in the slots');
    assert.equal(await redis.hLen(keys.shadow), 1000 - done);

    const second = await daemon();
    await second.start();
    await waitUntil(
      'the rest processed',
      () => second.stats().processed.total >= 1000 - done,
      20000,
    );
    await second.stop();
    assert.equal(second.stats().processed.total, 1000 - done);
    const ids = await storedIds();
    assert.equal(ids.length, 1000);
    assert.deepEqual(new Set(ids), new Set(sent.map((m) => m.id)));
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, sent), 0);
  });

  it('claims and acks batches larger than one Lua chunk (1,000 arguments)', async () => {
    // Seeded first: the daemon's first round then schedules the next at the deadline.
    const sent = await seedMessages(redis, keys, 3000, { atMs: Date.now() + 1000, shadow: true });
    const d = await daemon({ batchSize: 2500 });
    await d.start();
    await waitUntil('3,000 processed', () => d.stats().processed.total >= 3000, 30000);
    await d.stop();
    assert.deepEqual(d.stats().processed, { event: 0, poll: 3000, total: 3000 });
    const ids = await storedIds();
    assert.equal(ids.length, 3000);
    assert.deepEqual(new Set(ids), new Set(sent.map((m) => m.id)));
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, sent), 0);
    assert.equal(await redis.exists(sent.slice(0, 100).map((m) => keys.message(m.id))), 0);
  });

  it('claims large batches of hinted keys, each once', async () => {
    // A long interval: after its first round (an empty index) only the hints wake it.
    const d = await daemon({ pollIntervalMs: 60000, hintBatchSize: 2000, hintWindowMs: 100 });
    await d.start();
    await waitUntil('first round', () => d.stats().rounds === 1, 5000);
    const sent = await seedMessages(redis, keys, 1500, { atMs: Date.now() + 1000, shadow: true });
    await waitUntil('1,500 processed', () => d.stats().processed.total >= 1500, 30000);
    await d.stop();
    assert.deepEqual(d.stats().processed, { event: 1500, poll: 0, total: 1500 });
    assert.equal((await storedIds()).length, 1500);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    assert.equal(await pendingCount(redis, keys, sent), 0);
  });

  it('acks conversation lists and messages already in MongoDB, writing nothing', async () => {
    const d = await daemon();
    await d.start();
    // Cached conversation lists (as a read leaves them: message JSON, oldest first); the
    // sends below extend them and record their deadlines too.
    const pairs = [
      ['u0', 'u1'],
      ['u1', 'u2'],
      ['u2', 'u3'],
    ] as const;
    for (const [a, b] of pairs) {
      const old: Message = {
        id: new ObjectId().toHexString(),
        senderId: a,
        receiverId: b,
        content: 'older',
        imageUrl: null,
        publicId: null,
        createdAt: new Date(Date.now() - 60000).toISOString(),
      };
      await redis.rPush(keys.conversation(a, b), JSON.stringify(old));
    }
    const sent = await seedMessages(redis, keys, 60, { ttlSeconds: 1, shadow: false, users: 4 });
    const scores = await Promise.all(
      pairs.map(([a, b]) => redis.zScore(keys.due, keys.conversation(a, b))),
    );
    const lists = scores.filter((score) => score !== null).length;
    assert.ok(lists > 0, 'some conversation list got a deadline');
    await waitUntil('all processed', () => d.stats().processed.total >= 60 + lists, 20000);
    await d.stop();
    assert.equal(d.stats().processed.total, 60 + lists);
    assert.equal(d.stats().persisted, 0);
    assert.equal((await storedIds()).length, 0);
    assert.equal(await redis.exists(pairs.map(([a, b]) => keys.conversation(a, b))), 0);
    assert.equal(await redis.exists(sent.map((m) => keys.message(m.id))), 0);
    assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
  });

  it('claims no keyevent hints while the poll works through a backlog', async () => {
    // Count the `expired` events Redis publishes for this test's keys: the hints exist.
    const sub = redis.duplicate();
    sub.on('error', () => {});
    await sub.connect();
    let published = 0;
    await sub.subscribe(`__keyevent@${ctx.config.redis.db}__:expired`, (key) => {
      if (key.startsWith(keys.message(''))) published++;
    });
    try {
      const lines: Array<{ msg?: string }> = [];
      const slow = slowPersist(60);
      const d = await daemon({ persist: slow.persist }, capturingLogger(lines));
      await d.start();
      const sent = await seedMessages(redis, keys, 2000, { atMs: Date.now() + 1500, shadow: true });
      await waitUntil('2,000 processed', () => d.stats().processed.total >= 2000, 30000);
      await d.stop();

      assert.ok(published > 0, 'Redis published expired events during the burst');
      assert.deepEqual(d.stats().processed, { event: 0, poll: 2000, total: 2000 });
      assert.equal(lines.filter((l) => l.msg === 'claimed hinted keys').length, 0);
      // The required line, once per message, at info level.
      const deleted = lines
        .map((l) => l.msg ?? '')
        .filter((msg) => msg.startsWith('Deleted from cache: '));
      assert.equal(deleted.length, 2000);
      assert.deepEqual(
        new Set(deleted),
        new Set(sent.map((m) => `Deleted from cache: message:${m.id}`)),
      );
      assert.equal((await storedIds()).length, 2000);
      assert.deepEqual(await daemonRecords(redis, keys), NO_RECORDS);
    } finally {
      await sub.close();
    }
  });
});

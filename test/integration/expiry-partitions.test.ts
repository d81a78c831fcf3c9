import assert from 'node:assert/strict';
import { runCacheCli, type CliIo } from '../../src/cli/cache-cli.js';
import { EXIT } from '../../src/cli/cli-error.js';
import { DeadLetters } from '../../src/expiry/dead-letter.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import type { Message, MessageShadow } from '../../src/messages/message.js';
import type { MessageStore } from '../../src/messages/message-store.js';
import { readStats, SharedStats } from '../../src/metrics/shared-stats.js';
import type { KeySpace } from '../../src/redis/key-space.js';
import { dueEntryCount } from '../helpers/due-index.js';
import {
  capturingLogger,
  daemonRecords,
  NO_RECORDS,
  pendingCount,
  seedMessages,
  slowPersist,
  useExpiryTestbed,
} from '../helpers/expiry-fixtures.js';

/** The partitions the conversations of `messages` live in. */
function partitionsOf(space: KeySpace, messages: Message[]): Set<number> {
  return new Set(messages.map((m) => space.partitionOf(m.senderId, m.receiverId)));
}

describe('expiry daemon: 4 partitions on one Redis node', function () {
  this.timeout(60000);
  const bed = useExpiryTestbed('expiry-partitions', { env: { REDIS_PARTITIONS: '4' } });

  /** Runs the cache CLI on the test's config; resolves to its exit code and output. */
  async function cli(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      confirm: async () => false,
    };
    const code = await runCacheCli(args, { config: bed.ctx.config, logger: bed.ctx.logger, io });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('routes keyevents to the loop of their partition: every message logged, persisted once, acked', async () => {
    const { redis, space } = bed;
    assert.equal(space.partitions.length, 4);
    const lines: Array<{ msg?: string }> = [];
    const slow = slowPersist(0);
    // A long interval: after the first rounds (empty indexes) only the events wake the loops.
    const d = await bed.daemon(
      { pollIntervalMs: 60000, persist: slow.persist },
      capturingLogger(lines),
    );
    await d.start();
    await waitUntil('a first round per partition', () => d.stats().rounds >= 4, 5000);
    const sent = await seedMessages(redis, space, 800, {
      atMs: Date.now() + 1000,
      shadow: true,
      users: 40,
    });
    assert.equal(partitionsOf(space, sent).size, 4, 'the messages span every partition');
    for (const keys of space.partitions) {
      assert.ok((await dueEntryCount(redis, keys)) > 0, `${keys.prefix} has due entries`);
    }

    await waitUntil('800 processed', () => d.stats().processed.total >= 800, 20000);
    await d.stop();
    const { processed } = d.stats();
    assert.equal(processed.total, 800);
    assert.ok(processed.event > 0, 'woken by the keyevents, not the 60 s poll');
    assert.equal(slow.log.shadows, 800, 'every shadow was handed to a bulk write once');
    const deleted = lines
      .map((l) => l.msg ?? '')
      .filter((msg) => msg.startsWith('Deleted from cache: '));
    assert.deepEqual(
      deleted.sort(),
      sent.map((m) => `Deleted from cache: message:${m.id}`).sort(),
      'one line per message, with its name relative to its partition',
    );
    assert.deepEqual(new Set(await bed.storedIds()), new Set(sent.map((m) => m.id)));
    assert.equal(await bed.messages.countDocuments(), 800);
    assert.deepEqual(await daemonRecords(redis, space), NO_RECORDS);
    assert.equal(await pendingCount(redis, space, sent), 0);
    const cacheKeys = sent.map((m) => space.forMessage(m.id).message(m.id));
    assert.equal(await redis.exists(cacheKeys), 0);
  });

  it('polls every partition for what fell due while no daemon ran, within one bound on bulk writes', async () => {
    const { redis, space } = bed;
    const sent = await seedMessages(redis, space, 2000, { ttlSeconds: 1, shadow: true, users: 40 });
    assert.equal(partitionsOf(space, sent).size, 4);
    const cacheKeys = sent.map((m) => space.forMessage(m.id).message(m.id));
    await waitUntil('all 2,000 expired', async () => (await redis.exists(cacheKeys)) === 0, 5000);

    const slow = slowPersist(40);
    const d = await bed.daemon({
      subscribe: false,
      batchSize: 100,
      persistConcurrency: 2,
      persist: slow.persist,
    });
    await d.start();
    await waitUntil('2,000 processed', () => d.stats().processed.total >= 2000, 30000);
    await d.stop();
    assert.deepEqual(d.stats().processed, { event: 0, poll: 2000, total: 2000 });
    assert.equal(slow.log.shadows, 2000);
    assert.ok(slow.log.maxRunning <= 2, `${slow.log.maxRunning} bulk writes at once`);
    assert.equal(slow.log.maxRunning, 2, 'the partitions shared the two slots');
    assert.deepEqual(new Set(await bed.storedIds()), new Set(sent.map((m) => m.id)));
    assert.deepEqual(await daemonRecords(redis, space), NO_RECORDS);
    assert.equal(await pendingCount(redis, space, sent), 0);
    // The gauges of the last rounds, summed over the partitions.
    assert.deepEqual(d.stats().backlog, { indexed: 0, due: 0, deadLetters: 0 });
  });

  it('lists, retries and drops the dead letters of two partitions (API and CLI)', async () => {
    const { redis, space } = bed;
    let failing = true;
    const d = await bed.daemon({
      pollIntervalMs: 100,
      maxAttempts: 1,
      persist: async (messages: MessageStore, shadows: MessageShadow[]) => {
        if (failing) throw new Error('injected persistence failure');
        return messages.insertMissing(shadows);
      },
    });
    await d.start();
    const sent = await seedMessages(redis, space, 8, { ttlSeconds: 1, shadow: true, users: 40 });
    const dead = new DeadLetters(redis, space);
    await waitUntil('8 dead letters', async () => (await dead.count()) === 8, 15000);
    await waitUntil('the summed gauge', () => d.stats().backlog.deadLetters === 8, 5000);

    const entries = await dead.list();
    assert.deepEqual(
      new Set(entries.map((e) => e.key)),
      new Set(sent.map((m) => space.forMessage(m.id).message(m.id))),
    );
    const byPartition = new Map<number, Message[]>();
    for (const m of sent) {
      const p = space.partitionOf(m.senderId, m.receiverId);
      byPartition.set(p, [...(byPartition.get(p) ?? []), m]);
    }
    assert.ok(byPartition.size >= 2, `the dead letters span ${byPartition.size} partitions`);
    const [first, second] = [...byPartition.values()];
    const retried = first![0]!;
    const dropped = second![0]!;

    const listed = await cli(['dead-letter', 'list', '--json']);
    assert.equal(listed.code, EXIT.OK, listed.err);
    const rows = (JSON.parse(listed.out) as { deadLetters: Array<{ key: string }> }).deadLetters;
    assert.deepEqual(
      new Set(rows.map((r) => r.key)),
      new Set(sent.map((m) => `message:${m.id}`)),
      'names relative to their partition',
    );

    failing = false;
    const retry = await cli(['dead-letter', 'retry', `message:${retried.id}`]);
    assert.equal(retry.code, EXIT.OK, retry.err);
    await waitUntil('the retried one processed', () => d.stats().processed.total === 1, 10000);
    assert.deepEqual(await bed.storedIds(), [retried.id]);
    assert.equal(
      (await cli(['dead-letter', 'retry', `message:${retried.id}`])).code,
      EXIT.NOT_FOUND,
      'no longer a dead letter',
    );

    const drop = await cli(['dead-letter', 'drop', `message:${dropped.id}`, '--yes']);
    assert.equal(drop.code, EXIT.OK, drop.err);
    assert.equal(
      (await cli(['dead-letter', 'drop', `message:${dropped.id}`, '--yes'])).code,
      EXIT.NOT_FOUND,
    );
    assert.equal(await dead.count(), 6);
    assert.equal(await pendingCount(redis, space, [dropped]), 0);

    assert.equal(await dead.retryAll(), 6);
    await waitUntil('the rest processed', () => d.stats().processed.total === 7, 10000);
    await d.stop();
    assert.equal(await bed.messages.countDocuments(), 7);
    assert.deepEqual(await daemonRecords(redis, space), NO_RECORDS);
    assert.equal(await pendingCount(redis, space, sent), 0);
  });

  it('sums the shared stats over the partitions (readStats and the CLI)', async () => {
    const { redis, space } = bed;
    const sent = await seedMessages(redis, space, 60, { ttlSeconds: 60, shadow: false, users: 40 });
    assert.equal(partitionsOf(space, sent).size, 4);
    for (const keys of space.partitions.slice(0, 2)) {
      const record = JSON.stringify({ error: 'boom', attempts: 8, at: Date.now() });
      await redis.hSet(keys.dead, keys.message('0123456789abcdef01234567'), record);
    }
    const counters = new SharedStats(redis, space.shared, () => ({ role: 'api' }), {
      flushMs: 60000,
    });
    counters.count('sends', 60);
    await counters.flush();

    let indexed = 0;
    for (const keys of space.partitions) indexed += await dueEntryCount(redis, keys);
    assert.equal(indexed, 60);
    const stats = await readStats(redis, space);
    assert.equal(stats.backlog, 60);
    assert.equal(stats.deadLetter, 2);
    assert.equal(stats.sends, 60);
    assert.equal(stats.instances.api, 1);

    const r = await cli(['stats', '--json']);
    assert.equal(r.code, EXIT.OK, r.err);
    const s = JSON.parse(r.out) as {
      keys: { message: number; conversation: number };
      backlog: number;
      deadLetter: number;
      sends: number;
    };
    assert.deepEqual(s.keys, { message: 60, conversation: 0 });
    assert.equal(s.backlog, 60);
    assert.equal(s.deadLetter, 2);
    assert.equal(s.sends, 60);
    await counters.close();
  });
});

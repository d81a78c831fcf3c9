import { sleep } from '../../src/lifecycle/wait.js';
import { messageJson } from '../../src/messages/message.js';
import type { KeySpace } from '../../src/redis/key-space.js';
import type { ScriptRunner } from '../../src/redis/lua-script.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import { benchMessage, benchUsers } from './burst-seeder.js';

/** Where a burst goes: a Redis (one node or a cluster) and the key space the daemons use on it. */
export interface BurstTarget {
  redis: ScriptRunner;
  space: KeySpace;
  /** The same layout under the prefix `calibration:` (no daemon polls it). */
  calibrationSpace: KeySpace;
  /** Deletes every key under `prefix`. */
  dropPrefix(prefix: string): Promise<void>;
}

/**
 * How much longer than the measured pace seeding is allowed before the burst's deadline
 * (the machine is shared: the pace varies).
 */
const SEED_MARGIN = 2;

/**
 * Seeds `count` messages (write-through: no shadow) that all fall due at `deadlineMs`,
 * through the send path's own script, as bench/lib/burst-seeder.ts does, but spread over
 * every partition of `space`: 100 users make ~5,000 conversations, and each message id
 * carries its conversation's partition as the API's ids do. `concurrency` scripts in flight.
 */
export async function seedPartitionedBurst(
  redis: ScriptRunner,
  space: KeySpace,
  opts: { count: number; deadlineMs: number; concurrency?: number },
): Promise<void> {
  const users = benchUsers(100);
  const base = Date.now();
  const records = new MessageCacheRecords(redis, space);
  const ttl = { atMs: opts.deadlineMs };
  const step = opts.concurrency ?? 1000;
  for (let i = 0; i < opts.count; i += step) {
    const batch = Array.from({ length: Math.min(step, opts.count - i) }, (_, j) => {
      const m = benchMessage(i + j, users, base + i + j);
      return { ...m, id: space.newMessageId(m.senderId, m.receiverId) };
    });
    await Promise.all(
      batch.map((m) => records.send(m, { json: messageJson(m), ttl, listSize: 100 })),
    );
  }
}

/**
 * Entries left in a partition: its due index (per-key part, the slots' counter, the slot
 * index itself) and its in-flight set, read in one script (the keys share the partition's
 * slot), so that polling 16 partitions costs 16 commands.
 */
const LEFT_SCRIPT = `return redis.call('ZCARD', KEYS[1]) + tonumber(redis.call('GET', KEYS[2]) or '0')
  + redis.call('ZCARD', KEYS[3]) + redis.call('EXISTS', KEYS[4])`;

async function partitionDrained(redis: ScriptRunner, space: KeySpace, i: number): Promise<boolean> {
  const p = space.partitions[i]!;
  const keys = [p.due, p.dueSlotCount, p.inflight, p.dueSlots];
  return Number(await redis.eval(LEFT_SCRIPT, { keys, arguments: [] })) === 0;
}

/**
 * Waits until the daemons have acknowledged every expiration of every partition, polling
 * every 10 ms, and returns the local time it saw that. A partition found empty is not
 * asked again (nothing is added during a burst): the polling should not load the cluster
 * it measures. Bounded by `timeoutMs` (throws).
 */
export async function waitPartitionsDrained(
  redis: ScriptRunner,
  space: KeySpace,
  timeoutMs: number,
): Promise<number> {
  const end = Date.now() + timeoutMs;
  let left = space.partitions.map((_, i) => i);
  while (Date.now() < end) {
    const drained = await Promise.all(left.map((i) => partitionDrained(redis, space, i)));
    left = left.filter((_, k) => !drained[k]);
    if (left.length === 0) return Date.now();
    await sleep(10);
  }
  throw new Error(
    `expirations not drained within ${timeoutMs} ms (partitions ${left.join(', ')} not empty)`,
  );
}

/** Times `seed(count)` on a small sample: the pace of seeding on this machine now, ms per item. */
async function msPerItem(seed: (count: number) => Promise<void>, count = 2000): Promise<number> {
  const start = performance.now();
  await seed(count);
  return (performance.now() - start) / count;
}

/**
 * One burst of `n` expirations due in the same millisecond on `target`, processed by the
 * daemons already running on it: expirations per second from the deadline until every
 * partition is drained. The deadline is set after the measured seeding pace (× 2), so that
 * the daemons start only once the last message is written.
 */
export async function partitionedBurstRound(target: BurstTarget, n: number): Promise<number> {
  const pace = await msPerItem((count) =>
    seedPartitionedBurst(target.redis, target.calibrationSpace, {
      count,
      deadlineMs: Date.now() + 3600_000,
    }),
  );
  await target.dropPrefix(target.calibrationSpace.prefix);
  const deadline = Math.round(Date.now() + 1000 + n * pace * SEED_MARGIN);
  await seedPartitionedBurst(target.redis, target.space, { count: n, deadlineMs: deadline });
  if (Date.now() >= deadline) throw new Error('seeding overran the burst deadline');
  await sleep(Math.max(0, deadline - Date.now()));
  const done = await waitPartitionsDrained(target.redis, target.space, 120000);
  return n / ((done - deadline) / 1000);
}

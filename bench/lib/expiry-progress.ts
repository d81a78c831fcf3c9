import { sleep } from '../../src/lifecycle/wait.js';
import { RedisKeys } from '../../src/redis/keys.js';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';

const keys = new RedisKeys('');

/** Entries left in the due index (per-key part + the slots' counter) and in flight. */
async function left(
  redis: RedisNodeClient,
): Promise<{ due: number; slotted: number; inflight: number }> {
  const [due, slotted, inflight] = await Promise.all([
    redis.zCard(keys.due),
    redis.get(keys.dueSlotCount),
    redis.zCard(keys.inflight),
  ]);
  return { due, slotted: Number(slotted ?? 0), inflight };
}

/**
 * Waits until the daemons have acknowledged every expiration (due index, its slots and the
 * in-flight set all empty), polling every 10 ms, and returns the local time it saw that.
 * Bounded by `timeoutMs` (throws).
 */
export async function waitExpiryDrained(
  redis: RedisNodeClient,
  timeoutMs: number,
): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const l = await left(redis);
    if (l.due + l.slotted + l.inflight === 0 && (await redis.exists(keys.dueSlots)) === 0) {
      return Date.now();
    }
    await sleep(10);
  }
  throw new Error(
    `expirations not drained within ${timeoutMs} ms (${JSON.stringify(await left(redis))})`,
  );
}

/** Waits until BullMQ queue `name` has no delayed, waiting or active job; returns the time. */
export async function waitBullmqDrained(
  redis: RedisNodeClient,
  name: string,
  timeoutMs: number,
): Promise<number> {
  const end = Date.now() + timeoutMs;
  const k = (s: string) => `bull:${name}:${s}`;
  const left = async () => {
    const [delayed, wait, active, prioritized] = await Promise.all([
      redis.zCard(k('delayed')),
      redis.lLen(k('wait')),
      redis.lLen(k('active')),
      redis.zCard(k('prioritized')),
    ]);
    return delayed + wait + active + prioritized;
  };
  while (Date.now() < end) {
    if ((await left()) === 0) return Date.now();
    await sleep(10);
  }
  throw new Error(`BullMQ queue ${name} not drained within ${timeoutMs} ms (${await left()} left)`);
}

import { RedisKeys } from '../../src/redis/keys.js';
import type { RedisClient } from '../../src/redis/redis-client.js';
import { sleep } from './sleep.js';

const keys = new RedisKeys('');

/**
 * Waits until the daemons have acknowledged every expiration (due index and in-flight set
 * both empty), polling every 10 ms, and returns the local time it saw that. Bounded by
 * `timeoutMs` (throws).
 */
export async function waitExpiryDrained(redis: RedisClient, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const [due, inflight] = await Promise.all([redis.zCard(keys.due), redis.zCard(keys.inflight)]);
    if (due + inflight === 0) return Date.now();
    await sleep(10);
  }
  const [due, inflight] = await Promise.all([redis.zCard(keys.due), redis.zCard(keys.inflight)]);
  throw new Error(
    `expirations not drained within ${timeoutMs} ms (due ${due}, inflight ${inflight})`,
  );
}

/** Waits until BullMQ queue `name` has no delayed, waiting or active job; returns the time. */
export async function waitBullmqDrained(
  redis: RedisClient,
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

import { KeySpace } from '../../src/redis/key-space.js';
import type { RedisKeys } from '../../src/redis/keys.js';
import type { ScriptRunner } from '../../src/redis/lua-script.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';

/** The reads the helpers below need (a client, or the chaos stack's inspection client). */
export interface DueReader {
  zCard(key: string): Promise<number>;
  zRange(key: string, start: number, stop: number): Promise<string[]>;
  zScore(key: string, member: string): Promise<number | null>;
}

/**
 * Entries of the whole due index of one partition, counted from the sets themselves (not from the slots'
 * counter): the per-key index plus every slot (src/redis/scripts/lib/due-slots.lua).
 */
export async function dueEntryCount(redis: DueReader, keys: RedisKeys): Promise<number> {
  const slots = await redis.zRange(keys.dueSlots, 0, -1);
  const sizes = await Promise.all([keys.due, ...slots].map((k) => redis.zCard(k)));
  return sizes.reduce((a, b) => a + b, 0);
}

/** The deadline the due index holds for `key` (per-key index or a slot), or null. */
export async function dueDeadline(
  redis: DueReader,
  keys: RedisKeys,
  key: string,
): Promise<number | null> {
  const perKey = await redis.zScore(keys.due, key);
  if (perKey !== null) return perKey;
  for (const slot of await redis.zRange(keys.dueSlots, 0, -1)) {
    const score = await redis.zScore(slot, key);
    if (score !== null) return score;
  }
  return null;
}

/** Removes whatever the due index holds for `key` (a test standing in for a claim). */
export async function dropDueEntry(
  redis: DueReader & { zRem(key: string, member: string): Promise<number> },
  keys: RedisKeys,
  key: string,
): Promise<void> {
  for (const k of [keys.due, ...(await redis.zRange(keys.dueSlots, 0, -1))]) {
    await redis.zRem(k, key);
  }
}

/**
 * A cache entry's value as the API reads it (a message entry's pointer followed), or null.
 * `key` is a full name, so the records need no key space of the test's.
 */
export async function cachedValue(redis: ScriptRunner, key: string): Promise<string | null> {
  return new MessageCacheRecords(redis, KeySpace.single()).read(key);
}

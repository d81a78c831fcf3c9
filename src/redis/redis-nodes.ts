import { keySlot } from './key-space.js';
import { isClusterClient, type RedisClient, type RedisNodeClient } from './redis-client.js';

/**
 * Commands that address servers rather than keys: on one node they run there; on a
 * cluster they run on every master (SCAN, INFO), or split a multi-key command by slot.
 */

/** The node clients of every master (the one node when not on a cluster). */
export async function masterClients(redis: RedisClient): Promise<RedisNodeClient[]> {
  if (!isClusterClient(redis)) return [redis];
  return Promise.all(redis.masters.map((m) => redis.nodeClient(m)));
}

/** Every key matching `MATCH`, in batches, by SCAN on every master (never KEYS). */
export async function* scanKeys(
  redis: RedisClient,
  opts: { MATCH: string; COUNT: number },
): AsyncGenerator<string[]> {
  for (const node of await masterClients(redis)) yield* node.scanIterator(opts);
}

/** UNLINKs `keys`: one command on one node, one per hash slot on a cluster. @returns how many existed. */
export async function unlinkKeys(redis: RedisClient, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!isClusterClient(redis)) return redis.unlink(keys);
  const bySlot = new Map<number, string[]>();
  for (const key of keys) {
    const slot = keySlot(key);
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), key]);
  }
  const counts = await Promise.all([...bySlot.values()].map((group) => redis.unlink(group)));
  return counts.reduce((a, b) => a + b, 0);
}

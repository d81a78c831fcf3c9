import { readStats } from '../metrics/shared-stats.js';
import { isClusterClient, type RedisClient } from '../redis/redis-client.js';
import { masterClients, scanKeys } from '../redis/redis-nodes.js';
import type { CacheCommand } from './cache-command.js';

/**
 * `stats`: cache entries by kind, Redis memory, and the processes' shared counters, over
 * every partition.
 */
export const statsCommand: CacheCommand = () => async (ctx) => {
  const { redis, space } = ctx;
  const stats = await readStats(redis, space);
  const [messageKeys, conversationKeys] = await Promise.all([
    countKeys(redis, space.match('message:*')),
    countKeys(redis, space.match('messages:*')),
  ]);
  let used: number | undefined;
  for (const node of await masterClients(redis)) {
    const bytes = /used_memory:(\d+)/.exec(await node.info('memory'))?.[1];
    if (bytes !== undefined) used = (used ?? 0) + Number(bytes);
  }
  const data = {
    keys: { message: messageKeys, conversation: conversationKeys },
    memoryBytes: used ?? null,
    ...stats,
  };
  ctx.print(
    [
      `cache entries   message: ${messageKeys}  conversation: ${conversationKeys}`,
      `memory          ${used === undefined ? '?' : `${(used / 1048576).toFixed(1)} MiB`} (whole server${isClusterClient(redis) ? 's, masters' : ''})`,
      `hit rate        ${stats.hitRate === null ? '-' : `${(stats.hitRate * 100).toFixed(1)}%`} (${stats.cacheHits} hits, ${stats.cacheMisses} misses)`,
      `sends           ${stats.sends}`,
      `expirations     event: ${stats.expirations.event}  poll: ${stats.expirations.poll}`,
      `lag             p50 ${stats.lag.p50Ms ?? '-'} ms  p99 ${stats.lag.p99Ms ?? '-'} ms`,
      `backlog         ${stats.backlog} (due index)`,
      `dead-letter     ${stats.deadLetter}`,
      `processes       api: ${stats.instances.api}  daemon: ${stats.instances.daemon}`,
    ].join('\n'),
    data,
  );
};

async function countKeys(redis: RedisClient, match: string): Promise<number> {
  let n = 0;
  for await (const batch of scanKeys(redis, { MATCH: match, COUNT: 1000 })) n += batch.length;
  return n;
}

import { readStats } from '../metrics/shared-stats.js';
import { escapeGlob } from '../redis/keys.js';
import type { RedisClient } from '../redis/redis-client.js';
import type { CacheCommand } from './cache-command.js';

/** `stats`: cache entries by kind, Redis memory, and the processes' shared counters. */
export const statsCommand: CacheCommand = () => async (ctx) => {
  const { redis, keys } = ctx;
  const stats = await readStats(redis, keys);
  const [messageKeys, conversationKeys] = await Promise.all([
    countKeys(redis, `${escapeGlob(keys.prefix)}message:*`),
    countKeys(redis, `${escapeGlob(keys.prefix)}messages:*`),
  ]);
  const info = await redis.info('memory');
  const used = /used_memory:(\d+)/.exec(info)?.[1];
  const data = {
    keys: { message: messageKeys, conversation: conversationKeys },
    memoryBytes: used ? Number(used) : null,
    ...stats,
  };
  ctx.print(
    [
      `cache entries   message: ${messageKeys}  conversation: ${conversationKeys}`,
      `memory          ${used ? `${(Number(used) / 1048576).toFixed(1)} MiB` : '?'} (whole server)`,
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
  for await (const batch of redis.scanIterator({ MATCH: match, COUNT: 1000 })) n += batch.length;
  return n;
}

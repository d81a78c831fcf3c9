import type { CacheCommand } from './cache-command.js';
import { checkCacheKey } from './cli-args.js';
import { CliError, EXIT } from './cli-error.js';

/** `del <key>`: deletes one cache entry (message:* or messages:*). */
export const delCommand: CacheCommand = (args) => {
  const key = checkCacheKey(args.positionals[0]);
  return async (ctx) => {
    const removed = await ctx.cache.deleteCache(key);
    if (!removed) throw new CliError(`no such key: ${key}`, EXIT.NOT_FOUND);
    ctx.print(`Deleted from cache: ${key}`, { key, deleted: true });
  };
};

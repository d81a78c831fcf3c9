import type { CacheCommand } from './cache-command.js';
import { CliError, EXIT } from './cli-error.js';

/** `clear [--yes]`: deletes every cache entry of this application, once confirmed. */
export const clearCommand: CacheCommand = () => async (ctx) => {
  if (!ctx.yes) {
    const ok = await ctx.io.confirm(
      `Delete every cache entry (message:*, messages:*) under prefix "${ctx.keys.prefix}" on ${ctx.config.redis.url}?`,
    );
    if (!ok) throw new CliError('not confirmed; nothing deleted (use --yes)', EXIT.ABORTED);
  }
  const removed = await ctx.cache.clearAll();
  ctx.print(`Cleared ${removed} cache entries`, { removed });
};

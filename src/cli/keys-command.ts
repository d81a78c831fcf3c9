import type { CacheCommand } from './cache-command.js';
import { checkPattern } from './cli-args.js';

/** `keys <pattern> [--page N]`: cache keys matching a glob under the prefix, paged. */
export const keysCommand: CacheCommand = (args) => {
  const pattern = checkPattern(args.positionals[0]);
  const { page, pageSize } = args;
  return async (ctx) => {
    // SCAN pages are of uneven size; collect, sort and cut pages of our own.
    const all = (await ctx.cache.getKeysByPattern(pattern)).sort();
    const slice = all.slice((page - 1) * pageSize, page * pageSize);
    const pages = Math.max(1, Math.ceil(all.length / pageSize));
    ctx.print(
      `${slice.join('\n')}${slice.length ? '\n' : ''}(page ${page} of ${pages}, ${all.length} keys)`,
      { keys: slice, page, pages, total: all.length },
    );
  };
};

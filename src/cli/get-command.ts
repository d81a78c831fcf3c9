import type { CacheCommand, CommandContext } from './cache-command.js';
import { checkCacheKey } from './cli-args.js';
import { CliError, EXIT } from './cli-error.js';

/** First character of a message entry that points into its conversation list. */
const POINTER = '@';

/** `get <key>`: a cache entry as the API reads it, with its TTL. */
export const getCommand: CacheCommand = (args) => {
  const key = checkCacheKey(args.positionals[0]);
  return async (ctx) => {
    const { redis, space } = ctx;
    const full = space.full(key);
    const type = await redis.type(full);
    if (type === 'none') throw new CliError(`no such key: ${key}`, EXIT.NOT_FOUND);
    const ttl = await redis.ttl(full);
    let value: unknown;
    let storedIn: string | undefined;
    if (type === 'string') {
      const entry = await readStringEntry(ctx, key);
      value = entry.value;
      storedIn = entry.storedIn;
    } else if (type === 'list') value = (await redis.lRange(full, 0, -1)).map(parseMaybe);
    else value = `(${type})`;
    const where = storedIn === undefined ? '' : `, stored in ${storedIn}`;
    ctx.print(`${JSON.stringify(value, null, 2)}\n(ttl ${ttl} s${where})`, {
      key,
      type,
      ttl,
      value,
      ...(storedIn === undefined ? {} : { storedIn }),
    });
  };
};

/**
 * A string entry as the API reads it (`CacheService.readRaw`): a message that sits in its
 * cached conversation list is read from there, and `storedIn` names that list.
 * @throws CliError NOT_FOUND when the key is gone, or points into a list that no longer has it.
 */
async function readStringEntry(
  { redis, cache, space }: CommandContext,
  key: string,
): Promise<{ value: unknown; storedIn?: string }> {
  // The pointer itself only says where the message is; its value comes from the read path.
  const stored = await redis.get(space.full(key));
  const raw = await cache.readRaw(key);
  const list = stored?.startsWith(POINTER) ? stored.slice(POINTER.length) : undefined;
  const pointer = list === undefined ? undefined : (space.relative(list) ?? list);
  if (raw === null) {
    throw new CliError(
      pointer === undefined
        ? `no such key: ${key}`
        : `${key} points into ${pointer}, which no longer holds it (the API reads it as a cache miss)`,
      EXIT.NOT_FOUND,
    );
  }
  return pointer === undefined
    ? { value: parseMaybe(raw) }
    : { value: parseMaybe(raw), storedIn: pointer };
}

function parseMaybe(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

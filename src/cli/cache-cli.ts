import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { CacheService } from '../cache/cache-service.js';
import { readStats } from '../metrics/shared-stats.js';
import { escapeGlob, RedisKeys } from '../redis/keys.js';
import { createRedisClient, type RedisClient } from '../redis/redis-client.js';
import { CliError, EXIT } from './cli-error.js';

export const USAGE = `Usage: npm run cache -- <command> [options]

Commands:
  stats                         keys by kind, memory, hit rate, backlog, dead-letter
  keys <pattern> [--page N]     cache keys matching a glob under the prefix (SCAN, paged)
  get <key>                     show a cache entry as the API reads it (e.g. message:<id>)
  del <key>                     delete a cache entry (message:* or messages:*)
  clear [--yes]                 delete every cache entry of this application
  dead-letter list|retry|drop [<key>|--all]
                                expirations whose processing kept failing
  warm [--since 1h]             load recent conversations into the cache

Options:
  --json                        machine-readable output
  --yes                         do not ask for confirmation
  --page-size N                 keys per page (default 100)
Exit codes: 0 ok, 1 failure (e.g. Redis unreachable), 2 bad usage, 3 not found, 4 aborted.`;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Asks a yes/no question; resolves false when there is no terminal to ask on. */
  confirm(question: string): Promise<boolean>;
}

export interface CliDeps {
  config: Config;
  logger: Logger;
  io: CliIo;
}

/** Commands that need more than Redis get their extra parts from here (set by bin/cache.ts). */
export interface CliExtensions {
  deadLetter?: (ctx: CommandContext, args: string[]) => Promise<unknown>;
  warm?: (ctx: CommandContext, since: number) => Promise<unknown>;
}

export interface CommandContext {
  config: Config;
  logger: Logger;
  io: CliIo;
  redis: RedisClient;
  keys: RedisKeys;
  json: boolean;
  yes: boolean;
}

// Control characters, spaces and quotes in a key are almost always a shell mistake.
const KEY_RE = /^[\x21-\x7e]{1,512}$/;

/** Checks a key given on the command line: printable, and one of this application's. */
export function checkCacheKey(key: string | undefined): string {
  if (!key) throw new CliError('a key is required, e.g. message:<id>', EXIT.USAGE);
  if (!KEY_RE.test(key)) {
    throw new CliError(`bad key ${JSON.stringify(key)}: printable ASCII, no spaces`, EXIT.USAGE);
  }
  if (!/^messages?:/.test(key)) {
    throw new CliError(
      `bad key ${JSON.stringify(key)}: cache keys start with message: or messages: ` +
        '(the daemon records are handled by dead-letter)',
      EXIT.USAGE,
    );
  }
  return key;
}

/** Checks a SCAN glob: printable, balanced brackets, not ending in a lone backslash. */
export function checkPattern(pattern: string | undefined): string {
  if (!pattern) throw new CliError('a pattern is required, e.g. "message:*"', EXIT.USAGE);
  if (!KEY_RE.test(pattern)) {
    throw new CliError(`bad pattern ${JSON.stringify(pattern)}: printable ASCII`, EXIT.USAGE);
  }
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      if (i === pattern.length - 1) {
        throw new CliError(`bad pattern ${JSON.stringify(pattern)}: ends in \\`, EXIT.USAGE);
      }
      i++;
    } else if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
  }
  if (depth !== 0) {
    throw new CliError(`bad pattern ${JSON.stringify(pattern)}: unclosed [`, EXIT.USAGE);
  }
  return pattern;
}

/** Parses `1h`, `30m`, `2d`, `45s` into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  if (!m)
    throw new CliError(`bad duration ${JSON.stringify(text)}: use e.g. 30m, 1h, 2d`, EXIT.USAGE);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/**
 * Connects with a bounded retry: a CLI must say "unreachable" within seconds, not retry
 * forever like the services.
 */
async function connectForCli(config: Config, logger: Logger): Promise<RedisClient> {
  const client = createRedisClient(config.redis, logger, { name: 'cache-cli' });
  const connecting = client.connect();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () =>
        reject(
          new CliError(
            `Redis unreachable at ${config.redis.url}: check that it runs (redis-cli ping should ` +
              'answer PONG) and REDIS_URL / REDIS_HOST / REDIS_PORT.',
            EXIT.FAILURE,
          ),
        ),
      3000,
    ).unref(),
  );
  try {
    await Promise.race([connecting, timeout]);
  } catch (err) {
    client.destroy();
    throw err;
  }
  return client;
}

/** Runs one CLI invocation; resolves to the exit code. */
export async function runCacheCli(
  argv: string[],
  deps: CliDeps,
  ext: CliExtensions = {},
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        yes: { type: 'boolean', short: 'y', default: false },
        since: { type: 'string', default: '1h' },
        page: { type: 'string', default: '1' },
        'page-size': { type: 'string', default: '100' },
        all: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    deps.io.err(`${(err as Error).message}\n\n${USAGE}`);
    return EXIT.USAGE;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  const json = values.json;
  const print = (human: string, data: unknown) => deps.io.out(json ? JSON.stringify(data) : human);

  if (values.help || !command) {
    deps.io.out(USAGE);
    return command || values.help ? EXIT.OK : EXIT.USAGE;
  }
  const known = ['stats', 'keys', 'get', 'del', 'clear', 'dead-letter', 'warm'];
  if (!known.includes(command)) {
    deps.io.err(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return EXIT.USAGE;
  }

  let redis: RedisClient | undefined;
  try {
    // Validate arguments before connecting, so usage errors are immediate.
    const page = Number(values.page);
    const pageSize = Number(values['page-size']);
    if (!Number.isInteger(page) || page < 1) throw new CliError('--page must be ≥ 1', EXIT.USAGE);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10000) {
      throw new CliError('--page-size must be 1 to 10000', EXIT.USAGE);
    }
    const key = command === 'get' || command === 'del' ? checkCacheKey(rest[0]) : undefined;
    const pattern = command === 'keys' ? checkPattern(rest[0]) : undefined;
    const since = command === 'warm' ? parseDuration(values.since) : 0;

    redis = await connectForCli(deps.config, deps.logger);
    const keys = new RedisKeys(deps.config.redis.keyPrefix);
    const cache = new CacheService({
      redis,
      keys,
      logger: deps.logger,
      defaultTtlSeconds: deps.config.cache.ttlSeconds,
    });
    const ctx: CommandContext = { ...deps, redis, keys, json, yes: values.yes };

    switch (command) {
      case 'stats': {
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
        print(
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
        return EXIT.OK;
      }
      case 'keys': {
        // SCAN pages are of uneven size; collect, sort and cut pages of our own.
        const all = (await cache.getKeysByPattern(pattern!)).sort();
        const slice = all.slice((page - 1) * pageSize, page * pageSize);
        const pages = Math.max(1, Math.ceil(all.length / pageSize));
        print(
          `${slice.join('\n')}${slice.length ? '\n' : ''}(page ${page} of ${pages}, ${all.length} keys)`,
          { keys: slice, page, pages, total: all.length },
        );
        return EXIT.OK;
      }
      case 'get': {
        const full = `${keys.prefix}${key!}`;
        const type = await redis.type(full);
        if (type === 'none') throw new CliError(`no such key: ${key}`, EXIT.NOT_FOUND);
        const ttl = await redis.ttl(full);
        let value: unknown;
        let storedIn: string | undefined;
        if (type === 'string') {
          const entry = await readStringEntry(redis, cache, keys, key!);
          value = entry.value;
          storedIn = entry.storedIn;
        } else if (type === 'list') value = (await redis.lRange(full, 0, -1)).map(parseMaybe);
        else value = `(${type})`;
        const where = storedIn === undefined ? '' : `, stored in ${storedIn}`;
        print(`${JSON.stringify(value, null, 2)}\n(ttl ${ttl} s${where})`, {
          key,
          type,
          ttl,
          value,
          ...(storedIn === undefined ? {} : { storedIn }),
        });
        return EXIT.OK;
      }
      case 'del': {
        const removed = await cache.deleteCache(key!);
        if (!removed) throw new CliError(`no such key: ${key}`, EXIT.NOT_FOUND);
        print(`Deleted from cache: ${key}`, { key, deleted: true });
        return EXIT.OK;
      }
      case 'clear': {
        if (!values.yes) {
          const ok = await deps.io.confirm(
            `Delete every cache entry (message:*, messages:*) under prefix "${keys.prefix}" on ${deps.config.redis.url}?`,
          );
          if (!ok) throw new CliError('not confirmed; nothing deleted (use --yes)', EXIT.ABORTED);
        }
        const removed = await cache.clearAll();
        print(`Cleared ${removed} cache entries`, { removed });
        return EXIT.OK;
      }
      case 'dead-letter': {
        if (!ext.deadLetter) throw new CliError('dead-letter is not available', EXIT.FAILURE);
        await ext.deadLetter(ctx, rest.concat(values.all ? ['--all'] : []));
        return EXIT.OK;
      }
      case 'warm': {
        if (!ext.warm) throw new CliError('warm is not available', EXIT.FAILURE);
        await ext.warm(ctx, since);
        return EXIT.OK;
      }
    }
    return EXIT.USAGE;
  } catch (err) {
    const code = err instanceof CliError ? err.exitCode : EXIT.FAILURE;
    const message = err instanceof Error ? err.message : String(err);
    if (json) deps.io.out(JSON.stringify({ error: { message, exitCode: code } }));
    else deps.io.err(`error: ${message}`);
    return code;
  } finally {
    if (redis) await redis.close().catch(() => redis?.destroy());
  }
}

/** First character of a message entry that points into its conversation list. */
const POINTER = '@';

/**
 * A string entry as the API reads it (`CacheService.readRaw`): a message that sits in its
 * cached conversation list is read from there, and `storedIn` names that list.
 * @throws CliError NOT_FOUND when the key is gone, or points into a list that no longer has it.
 */
async function readStringEntry(
  redis: RedisClient,
  cache: CacheService,
  keys: RedisKeys,
  key: string,
): Promise<{ value: unknown; storedIn?: string }> {
  // The pointer itself only says where the message is; its value comes from the read path.
  const stored = await redis.get(`${keys.prefix}${key}`);
  const raw = await cache.readRaw(key);
  const list = stored?.startsWith(POINTER) ? stored.slice(POINTER.length) : undefined;
  const pointer = list?.startsWith(keys.prefix) ? list.slice(keys.prefix.length) : list;
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

async function countKeys(redis: RedisClient, match: string): Promise<number> {
  let n = 0;
  for await (const batch of redis.scanIterator({ MATCH: match, COUNT: 1000 })) n += batch.length;
  return n;
}

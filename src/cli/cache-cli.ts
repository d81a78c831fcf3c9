import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { CacheService } from '../cache/cache-service.js';
import { keySpaceOf } from '../redis/key-space.js';
import { createRedisClient, type RedisClient } from '../redis/redis-client.js';
import type { CliIo } from './cache-command.js';
import { CliError, EXIT } from './cli-error.js';
import { COMMANDS } from './commands.js';

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

export type { CliIo };

export interface CliDeps {
  config: Config;
  logger: Logger;
  io: CliIo;
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
export async function runCacheCli(argv: string[], deps: CliDeps): Promise<number> {
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
  const [name, ...rest] = positionals;
  const json = values.json;

  if (values.help || !name) {
    deps.io.out(USAGE);
    return name || values.help ? EXIT.OK : EXIT.USAGE;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    deps.io.err(`unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
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
    const run = command({
      positionals: rest,
      page,
      pageSize,
      since: values.since,
      all: values.all,
    });

    redis = await connectForCli(deps.config, deps.logger);
    const space = keySpaceOf(deps.config.redis);
    const cache = new CacheService({
      redis,
      space,
      logger: deps.logger,
      defaultTtlSeconds: deps.config.cache.ttlSeconds,
    });
    await run({
      ...deps,
      redis,
      space,
      keys: space.shared,
      cache,
      json,
      yes: values.yes,
      print: (human, data) => deps.io.out(json ? JSON.stringify(data) : human),
    });
    return EXIT.OK;
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

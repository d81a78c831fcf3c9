import { createClient } from 'redis';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';

/** The node-redis client type every module takes. */
export type RedisClient = ReturnType<typeof createRedisClient>;

export interface RedisClientOptions {
  /** Shown in logs and as CLIENT SETNAME, to tell connections apart. */
  name: string;
  /**
   * Fail commands at once while disconnected instead of queueing them until the
   * reconnect. The API wants this (answer 503 now, not hang); the daemon does not.
   * @defaultValue false
   */
  failFastWhenDown?: boolean;
}

/** A PING this often on every connection (node-redis `pingInterval`). */
export const PING_INTERVAL_MS = 1000;
/** A connection with no traffic for this long (pings included) is dropped and reconnected. */
export const SOCKET_IDLE_TIMEOUT_MS = 5000;

/** Backoff between reconnect attempts: 100 ms doubling to 5 s, with jitter. Never gives up. */
export function reconnectDelay(retries: number): number {
  const base = Math.min(100 * 2 ** Math.min(retries, 10), 5000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * Creates (does not connect) a node-redis client for `config.redis`, with a reconnect
 * strategy that retries forever with backoff and an `'error'` listener that says which
 * server could not be reached and what to check. Subscribers must use `client.duplicate()`
 * and attach their own listener through {@link watchRedisErrors}.
 */
export function createRedisClient(
  redis: Config['redis'],
  logger: Logger,
  opts: RedisClientOptions,
) {
  const client = createClient({
    url: redis.url,
    username: redis.username,
    password: redis.password,
    database: redis.db,
    name: opts.name,
    disableOfflineQueue: opts.failFastWhenDown ?? false,
    // No per-command timeout: node-redis would arm an AbortSignal.timeout for every command,
    // a cost on every cache hit (BENCHMARKS.md, read-hit). Stalls are caught per connection
    // instead: a PING every second keeps
    // a healthy connection (subscribers too) busy, so 5 s without any traffic means a dead
    // or stalled server, and the socket is dropped and reconnected (pending commands fail);
    // the API also bounds each request (REQUEST_TIMEOUT_MS, src/http/middleware/request-deadline.ts).
    commandOptions: { timeout: 0 },
    pingInterval: PING_INTERVAL_MS,
    socket: {
      connectTimeout: 5000,
      socketTimeout: SOCKET_IDLE_TIMEOUT_MS,
      reconnectStrategy: (retries: number) => reconnectDelay(retries),
    },
  });
  watchRedisErrors(client, redis.url, logger, opts.name);
  return client;
}

/**
 * Logs connection trouble once per outage (not once per retry) with the URL and the
 * guide's advice, and logs the recovery. Every client and duplicate needs one: an
 * `'error'` event without a listener would crash the process.
 */
export function watchRedisErrors(
  client: { on(event: string, fn: (...args: unknown[]) => void): unknown },
  url: string,
  logger: Logger,
  name: string,
): void {
  let down = false;
  let failures = 0;
  client.on('error', (err: unknown) => {
    failures++;
    const message = err instanceof Error ? err.message : String(err);
    if (!down || failures % 50 === 0) {
      logger.error(
        { redis: url, client: name, err: message, failures },
        `Redis unreachable at ${url} (${message}); retrying with backoff. ` +
          'Check that the server runs: `redis-cli ping` should answer PONG; ' +
          'check REDIS_URL / REDIS_HOST / REDIS_PORT / REDIS_PASSWORD.',
      );
    }
    down = true;
  });
  client.on('ready', () => {
    if (down) logger.info({ redis: url, client: name, failures }, 'Redis connection restored');
    down = false;
    failures = 0;
  });
}

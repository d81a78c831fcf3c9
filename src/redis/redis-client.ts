import { createClient, createCluster } from 'redis';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';

/** A client of one Redis node (subscribers, per-node commands such as SCAN and INFO). */
export type RedisNodeClient = ReturnType<typeof createNodeClient>;
/** node-redis's Redis Cluster client: routes each command by its first key's slot. */
export type RedisClusterClient = ReturnType<typeof createClusterClient>;
/** The client every module takes: one node, or a cluster (REDIS_CLUSTER_NODES). */
export type RedisClient = RedisNodeClient | RedisClusterClient;

/** Whether `client` (a client, or anything that runs scripts) is a cluster client. */
export function isClusterClient(client: object): client is RedisClusterClient {
  return 'masters' in client;
}

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

/** Backoff between reconnect attempts: 100 ms doubling to `maxMs`, with jitter. Never gives up. */
export function reconnectDelay(retries: number, maxMs = 5000): number {
  const base = Math.min(100 * 2 ** Math.min(retries, 10), maxMs);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * A cluster client re-reads the slot map this long into a node's reconnect attempts, and again
 * as long as they last (node-redis waits 5 s); it only looks on an attempt, so the attempts of
 * a cluster node are capped at the same pace. A failover (cluster-node-timeout + ~1 s) is then
 * followed within about this long after it happened (an attempt to a host that does not
 * answer at all waits for the connect timeout first). The cost, only while a node is down: a
 * connect attempt and a CLUSTER SLOTS per client and interval.
 */
export const CLUSTER_TOPOLOGY_REFRESH_MS = 100;

/** While a cluster node stays unreachable, its error is logged again this often. */
const CLUSTER_NODE_ERROR_LOG_MS = 30_000;

/**
 * Creates (does not connect) a node-redis client for `config.redis` — a cluster client when
 * REDIS_CLUSTER_NODES is set — with a reconnect strategy that retries forever with backoff
 * and an `'error'` listener that says which server could not be reached and what to check.
 * Subscribers must use their own connections and attach a listener through
 * {@link watchRedisErrors}.
 */
export function createRedisClient(
  redis: Config['redis'],
  logger: Logger,
  opts: RedisClientOptions,
): RedisClient {
  if (!redis.clusterNodes) return createRedisNodeClient(redis, logger, opts);
  const cluster = createClusterClient(redis, redis.clusterNodes, opts);
  watchRedisErrors(cluster, redis.url, logger, opts.name);
  watchClusterNodes(cluster, logger, opts.name);
  return cluster;
}

/** {@link createRedisClient} of one node (`redis.url`), whatever REDIS_CLUSTER_NODES says. */
export function createRedisNodeClient(
  redis: Config['redis'],
  logger: Logger,
  opts: RedisClientOptions,
): RedisNodeClient {
  const client = createNodeClient(redis, opts);
  watchRedisErrors(client, redis.url, logger, opts.name);
  return client;
}

/**
 * The options of every connection, to one node or to each node of a cluster (whose node
 * clients serve direct calls: src/redis/slot-routed-scripts.ts). No per-command timeout:
 * node-redis would arm an AbortSignal.timeout for every command, a cost on every cache
 * hit. Stalls are caught per connection instead: a PING every second keeps a healthy
 * connection busy, so 5 s without any traffic means a dead or stalled server, and the
 * socket is dropped and reconnected (pending commands fail); the API also bounds each
 * request (REQUEST_TIMEOUT_MS).
 */
export function connectionOptions(redis: Config['redis'], opts: RedisClientOptions) {
  return {
    username: redis.username,
    password: redis.password,
    name: opts.name,
    disableOfflineQueue: opts.failFastWhenDown ?? false,
    pingInterval: PING_INTERVAL_MS,
    commandOptions: { timeout: 0 },
    socket: {
      connectTimeout: 5000,
      socketTimeout: SOCKET_IDLE_TIMEOUT_MS,
      reconnectStrategy: (retries: number) => reconnectDelay(retries),
    },
  };
}

function createNodeClient(redis: Config['redis'], opts: RedisClientOptions) {
  return createClient({
    ...connectionOptions(redis, opts),
    url: redis.url,
    database: redis.db,
  });
}

/** The options of each node connection of a cluster (TLS when a seed is `rediss://`). */
export function clusterNodeOptions(redis: Config['redis'], opts: RedisClientOptions) {
  const tls = (redis.clusterNodes ?? []).some((url) => url.startsWith('rediss:'));
  const defaults = connectionOptions(redis, opts);
  const reconnectStrategy = (retries: number) =>
    reconnectDelay(retries, CLUSTER_TOPOLOGY_REFRESH_MS);
  return { ...defaults, socket: { ...defaults.socket, tls, reconnectStrategy } };
}

function createClusterClient(
  redis: Config['redis'],
  nodes: readonly string[],
  opts: RedisClientOptions,
) {
  return createCluster({
    rootNodes: nodes.map((url) => ({ url })),
    defaults: clusterNodeOptions(redis, opts),
    commandOptions: { timeout: 0 },
    topologyRefreshOnReconnectionAttemptStrategy: CLUSTER_TOPOLOGY_REFRESH_MS,
  });
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

/**
 * A cluster client reports a node's trouble as `node-error` (not `error`): logged when a
 * node's outage starts and every 30 s while it lasts, with the node's address, and its
 * recovery on `node-ready`.
 */
function watchClusterNodes(cluster: RedisClusterClient, logger: Logger, name: string): void {
  /** Per node: failed attempts of this outage, and when the last line was logged (ms). */
  const failures = new Map<string, { count: number; loggedAt: number }>();
  const address = (node: unknown) => {
    const n = node as { host?: string; port?: number } | undefined;
    return `${n?.host ?? '?'}:${n?.port ?? '?'}`;
  };
  cluster.on('node-error', (err: unknown, node: unknown) => {
    const at = address(node);
    const now = Date.now();
    const seen = failures.get(at) ?? { count: 0, loggedAt: 0 };
    seen.count++;
    failures.set(at, seen);
    // Attempts come every CLUSTER_TOPOLOGY_REFRESH_MS: a line per attempt would flood the log.
    if (now - seen.loggedAt >= CLUSTER_NODE_ERROR_LOG_MS) {
      seen.loggedAt = now;
      const message = err instanceof Error ? err.message : String(err);
      logger.error(
        { redis: at, client: name, err: message, failures: seen.count },
        `Redis cluster node ${at} unreachable (${message}); the cluster client retries ` +
          'and follows a failover. Check the node, and REDIS_CLUSTER_NODES / REDIS_PASSWORD.',
      );
    }
  });
  cluster.on('node-ready', (node: unknown) => {
    const at = address(node);
    const seen = failures.get(at);
    if (seen === undefined) return;
    failures.delete(at);
    logger.info(
      { redis: at, client: name, failures: seen.count },
      'Redis cluster node reachable again',
    );
  });
}

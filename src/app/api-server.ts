import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MongoClient } from 'mongodb';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { checkHealth } from '../health/health-check.js';
import { Readiness } from '../health/readiness.js';
import { createHttpApp } from '../http/app.js';
import type { EventPublisher } from '../messages/message-events.js';
import { connectMongoWithRetry, createMongoClient } from '../mongo/mongo-client.js';
import { createRedisClient, isClusterClient, type RedisClient } from '../redis/redis-client.js';
import { createApiMetrics, httpMetricsMiddleware } from '../metrics/api-metrics.js';
import { SharedStats } from '../metrics/shared-stats.js';
import { serveMetrics } from '../metrics/metrics-server.js';
import { keySpaceOf } from '../redis/key-space.js';
import { claimKeyLayout } from '../redis/key-layout.js';
import { RedisEventBus } from '../realtime/redis-event-bus.js';
import { ShardedEventBus } from '../realtime/sharded-event-bus.js';
import { createRealtimeServer, type RealtimeServer } from '../realtime/ws-server.js';
import { createApiRouters } from './api-routers.js';
import { createApiServices, type ApiServices } from './api-services.js';

export interface ApiServer {
  server: http.Server;
  redis: RedisClient;
  mongo: MongoClient;
  /** The domain services (for the ws server: `messageService`, `verifyToken`). */
  services: ApiServices;
  /** The ws endpoint `/ws` on the same server. */
  realtime: RealtimeServer;
  /** This process's counters since start (for `pm2 monit`). */
  localStats(): { cacheHits: number; cacheMisses: number; sends: number; wsConnections: number };
  /** Resolves when Redis and MongoDB were reached once and the indexes exist. */
  ready: Promise<void>;
  url: string;
  /** `http://host:port/metrics`: this process's Prometheus text, on its own listener. */
  metricsUrl: string;
  /**
   * Marks the instance draining (`/health/ready` answers 503, HTTP answers carry
   * `Connection: close`), keeps serving for `SHUTDOWN_DELAY_MS`, then stops accepting,
   * finishes in-flight requests and closes the clients.
   */
  close(): Promise<void>;
}

/**
 * Builds and starts the API process: clients, Koa app, HTTP server. It listens at once and
 * connects to Redis and MongoDB in the background (retrying with backoff), so `/health`
 * answers 503 naming what is missing instead of the process crash-looping.
 */
export interface ApiServerOptions {
  /**
   * Fans message events out to ws clients. Default: the Redis pub/sub bus of the realtime
   * module, which reaches every API process; tests may pass a recording one.
   */
  publisher?: EventPublisher;
  /**
   * Port of the metrics listener (0: any free port). Default `config.metrics.port`;
   * src/bin/api.ts adds the PM2 instance number.
   */
  metricsPort?: number;
}

export async function startApiServer(
  config: Config,
  logger: Logger,
  opts: ApiServerOptions = {},
): Promise<ApiServer> {
  const redis = createRedisClient(config.redis, logger, { name: 'api', failFastWhenDown: true });
  // WAIT blocks its connection: the sends that wait for replicas get one of their own.
  const durableRedis =
    config.redis.waitReplicas.count > 0
      ? createRedisClient(config.redis, logger, { name: 'api-durable', failFastWhenDown: true })
      : undefined;
  const mongo = createMongoClient(config.mongo, logger, { appName: 'chat-api' });
  const abort = new AbortController();
  const space = keySpaceOf(config.redis);
  const keys = space.shared;
  const bus = isClusterClient(redis)
    ? new ShardedEventBus({ redis, keys, logger })
    : new RedisEventBus({ redis, keys, logger });

  // The realtime server is created below (it needs the HTTP server); metrics read its
  // connection count lazily.
  const ref: { realtime?: RealtimeServer } = {};
  const wsCount = () => ref.realtime?.connections() ?? 0;
  const metrics = createApiMetrics(wsCount);
  const local = { cacheHits: 0, cacheMisses: 0, sends: 0 };
  // The `mode` label of a send accepted into Redis only (made once, not per send).
  const pendingMode = `${config.persistenceMode}:pending`;
  const stats = new SharedStats(redis, keys, () => ({
    role: 'api',
    wsConnections: wsCount(),
  }));
  const services = createApiServices({
    config,
    logger,
    redis,
    durableRedis,
    mongo,
    publisher: opts.publisher ?? bus,
    observer: {
      cacheLookup(kind, hit) {
        metrics.countCacheLookup(kind, hit);
        stats.count(hit ? 'cacheHits' : 'cacheMisses');
        local[hit ? 'cacheHits' : 'cacheMisses']++;
      },
      sent(persisted, transport) {
        metrics.countSend(persisted ? 'write-through' : pendingMode, transport);
        stats.count('sends');
        local.sends++;
      },
    },
  });
  const check = () => checkHealth({ redis, mongo, mongoDb: config.mongo.db });
  const readiness = new Readiness(check);
  const routers = createApiRouters({
    messageService: services.messageService,
    auth: services.auth,
    verifyToken: services.verifyToken,
    check,
    readiness,
    redis,
    space,
  });
  const app = createHttpApp({
    logger,
    routers,
    before: [httpMetricsMiddleware(metrics)],
    requestTimeoutMs: config.requestTimeoutMs,
    trustProxyHops: config.http.trustProxyHops,
  });
  const handle = app.callback();
  const server = http.createServer(
    {
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.receiveTimeoutMs,
      // Node checks those timeouts every 30 s by default: a half-sent request would live on
      // for up to 30 s past them.
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      // Draining: keep-alive clients should take their next request to another instance.
      if (readiness.draining) res.setHeader('Connection', 'close');
      void handle(req, res);
    },
  );
  const rt = createRealtimeServer({
    server,
    bus,
    logger,
    verifyToken: services.verifyToken,
    maxConnectionsPerUser: config.realtime.maxConnectionsPerUser,
    allowedOrigins: config.realtime.allowedOrigins,
    sendMessage: (userId, input, o) =>
      services.messageService.send(userId, input, { ...o, transport: 'ws' }),
  });
  ref.realtime = rt;
  const metricsServer = await serveMetrics(
    metrics.registry,
    config.metrics.host,
    opts.metricsPort ?? config.metrics.port,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (err) {
    await metricsServer.close();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  logger.info(
    { url, metricsUrl: metricsServer.url, redis: config.redis.url, mongo: config.mongo.safeUri },
    'API listening',
  );

  const ready = Promise.all([
    redis
      .connect()
      .then(() => claimKeyLayout(redis, space))
      .then(async () => {
        await durableRedis?.connect();
      })
      .then(() => rt.ready)
      // MongoDB is not waited for: without it sends are still accepted (degraded).
      .then(() => readiness.started()),
    connectMongoWithRetry(mongo, config.mongo, logger, abort.signal),
  ])
    .then(() => ensureIndexesWithRetry(services, logger, abort.signal))
    .then(() => logger.info('API connected to Redis and MongoDB'));
  ready.catch(() => {});

  return {
    server,
    redis,
    mongo,
    services,
    realtime: rt,
    localStats: () => ({ ...local, wsConnections: wsCount() }),
    ready,
    url,
    metricsUrl: metricsServer.url,
    async close() {
      readiness.drain();
      // Still serving everything: a load balancer polling /health/ready takes this instance
      // out before its connections are refused.
      if (config.shutdownDelayMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
      }
      abort.abort();
      // ws first: upgraded sockets would keep server.close() waiting.
      await rt.close();
      await stats.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await metricsServer.close();
      await redis.close().catch(() => redis.destroy());
      await durableRedis?.close().catch(() => durableRedis.destroy());
      await mongo.close();
    },
  };
}

/** Index creation right after connecting; MongoDB may blip, so retry rather than give up. */
async function ensureIndexesWithRetry(
  services: ApiServices,
  logger: Logger,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await services.ensureIndexes();
      return;
    } catch (err) {
      if (signal.aborted || attempt >= 20) throw err;
      logger.error({ err: (err as Error).message, attempt }, 'creating MongoDB indexes failed');
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5000)));
    }
  }
}

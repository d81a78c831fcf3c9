import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Router from '@koa/router';
import type { MongoClient } from 'mongodb';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { checkHealth } from '../health/health-check.js';
import { createHttpApp } from '../http/app.js';
import { healthRoutes } from '../http/routes/health-routes.js';
import { connectMongoWithRetry, createMongoClient } from '../mongo/mongo-client.js';
import { createRedisClient, type RedisClient } from '../redis/redis-client.js';

export interface ApiServer {
  server: http.Server;
  redis: RedisClient;
  mongo: MongoClient;
  /** Resolves when Redis and MongoDB were reached once. */
  ready: Promise<void>;
  url: string;
  /** Stops accepting, finishes in-flight requests, closes the clients. */
  close(): Promise<void>;
}

/**
 * Builds and starts the API process: clients, Koa app, HTTP server. It listens at once and
 * connects to Redis and MongoDB in the background (retrying with backoff), so `/health`
 * answers 503 naming what is missing instead of the process crash-looping.
 */
export async function startApiServer(config: Config, logger: Logger): Promise<ApiServer> {
  const redis = createRedisClient(config.redis, logger, { name: 'api', failFastWhenDown: true });
  const mongo = createMongoClient(config.mongo, logger, { appName: 'chat-api' });
  const abort = new AbortController();

  const routers: Router[] = [
    healthRoutes(() => checkHealth({ redis, mongo, mongoDb: config.mongo.db })),
  ];
  const app = createHttpApp({ logger, routers });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  logger.info({ url, redis: config.redis.url, mongo: config.mongo.safeUri }, 'API listening');

  const ready = Promise.all([
    redis.connect().then(() => undefined),
    connectMongoWithRetry(mongo, config.mongo, logger, abort.signal),
  ]).then(() => logger.info('API connected to Redis and MongoDB'));
  ready.catch(() => {});

  return {
    server,
    redis,
    mongo,
    ready,
    url,
    async close() {
      abort.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await redis.close().catch(() => redis.destroy());
      await mongo.close();
    },
  };
}

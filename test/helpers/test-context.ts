import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createLogger, type Logger } from '../../src/logging/logger.js';
import { escapeGlob } from '../../src/redis/keys.js';
import { createRedisClient } from '../../src/redis/redis-client.js';
import { scanKeys, unlinkKeys } from '../../src/redis/redis-nodes.js';
import { sharedServers } from './servers.js';

/**
 * Per-test-file isolation on the shared servers: a unique Redis key prefix and MongoDB
 * database, a Config pointing at them, and cleanup of both.
 */
export interface TestContext {
  id: string;
  config: Config;
  logger: Logger;
  /** Builds a Config for this context with extra variables (e.g. PERSISTENCE_MODE). */
  configWith(env: Record<string, string>): Config;
  cleanup(): Promise<void>;
}

const silent = createLogger({ level: 'silent', name: 'test-cleanup' });

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';

export function createTestContext(
  name: string,
  env: Record<string, string> = {},
  servers:
    | { redisUrl: string; mongoUri: string }
    | { clusterNodes: string; mongoUri: string } = sharedServers(),
): TestContext {
  const redisVar =
    'clusterNodes' in servers
      ? { REDIS_CLUSTER_NODES: servers.clusterNodes }
      : { REDIS_URL: servers.redisUrl };
  const id = `${name.replace(/[^a-z0-9]/gi, '').slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  const base = {
    NODE_ENV: 'test',
    PORT: '0',
    ...redisVar,
    MONGODB_URI: servers.mongoUri,
    MONGODB_DB: `t_${id}`,
    REDIS_KEY_PREFIX: `t:${id}:`,
    JWT_SECRET: TEST_JWT_SECRET,
    DAEMON_METRICS_PORT: '0',
    METRICS_PORT: '0',
    // Every test signs up and logs in from 127.0.0.1; throttling tests set their own limits.
    AUTH_RATE_LIMIT_ATTEMPTS: '1000',
    AUTH_RATE_LIMIT_ADDRESS_ATTEMPTS: '100000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  };
  const configWith = (extra: Record<string, string>) => loadConfig({ ...base, ...env, ...extra });
  const config = configWith({});
  return {
    id,
    config,
    logger: createLogger({ level: config.logLevel, name: `test:${name}` }),
    configWith,
    async cleanup() {
      // The servers' own Redis: `env` may point the context's config elsewhere (a dead port).
      const redis = createRedisClient(loadConfig(base).redis, silent, { name: 'test-cleanup' });
      await redis.connect();
      const match = `${escapeGlob(config.redis.keyPrefix)}*`;
      for await (const keys of scanKeys(redis, { MATCH: match, COUNT: 1000 })) {
        await unlinkKeys(redis, keys);
      }
      await redis.close();
      const mongo = new MongoClient(servers.mongoUri);
      await mongo.db(config.mongo.db).dropDatabase();
      await mongo.close();
    },
  };
}

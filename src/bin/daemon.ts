import { CONFIG_EXIT_CODE, ConfigError } from '../config/config.js';
import { ExpiryDaemon } from '../expiry/expiry-daemon.js';
import type { PersistShadows } from '../expiry/persist-pipeline.js';
import { onShutdown } from '../lifecycle/shutdown.js';
import { MessageStore } from '../messages/message-store.js';
import { serveMetrics, type MetricsServer } from '../metrics/metrics-server.js';
import { registerPm2Metrics } from '../metrics/pm2-metrics.js';
import { connectMongoWithRetry, createMongoClient } from '../mongo/mongo-client.js';
import { keySpaceOf } from '../redis/key-space.js';
import { claimKeyLayout } from '../redis/key-layout.js';
import { createRedisClient } from '../redis/redis-client.js';
import { boot } from './boot.js';

const { config, logger } = boot('expiry-daemon', 'daemon');

// PM2 runs any number of instances (fork mode) and numbers them in NODE_APP_INSTANCE; on one
// host each needs its own metrics port. Port 0 means any free port (logged at start).
const instance = Number(process.env.NODE_APP_INSTANCE ?? 0) || 0;
const basePort = config.expiry.metricsPort;
const metricsPort = basePort === 0 ? 0 : basePort + instance;
const name = `expiry-daemon-${instance}`;
const daemonLogger = logger.child({ instance, component: name });

// Commands queue while Redis is down (no fail-fast): a round just waits.
const redis = createRedisClient(config.redis, daemonLogger, { name });
const space = keySpaceOf(config.redis);
const mongo = createMongoClient(config.mongo, daemonLogger, { appName: name });
const mongoAbort = new AbortController();
let mongoConnected = false;
const persist: PersistShadows = async (messages, shadows) => {
  // Until then shadows are nacked with a backoff; entries without one need no MongoDB.
  if (!mongoConnected) throw new Error('MongoDB is not connected yet');
  return messages.insertMissing(shadows);
};
const daemon = new ExpiryDaemon(
  {
    config,
    space,
    logger: daemonLogger,
    redis,
    messages: MessageStore.fromDb(mongo.db(config.mongo.db)),
  },
  { persist },
);
// Served once Redis is reached; a shutdown before that has none to close.
const metrics: { server?: MetricsServer } = {};

// Registered before the connects so that a signal during a slow start (Redis down) still stops it.
onShutdown(logger, [
  { name: 'expiry-daemon', run: () => daemon.stop() },
  { name: 'metrics', run: async () => metrics.server?.close() },
  {
    name: 'redis',
    run: async () => {
      if (redis.isOpen) await redis.close().catch(() => redis.destroy());
    },
  },
  {
    name: 'mongo',
    run: async () => {
      mongoAbort.abort();
      await mongo.close().catch(() => {});
    },
  },
]);

await redis.connect();
// On another layout the daemon would poll indexes no API writes, stranding their records.
await claimKeyLayout(redis, space).catch(async (err: unknown) => {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  await redis.close().catch(() => redis.destroy());
  process.exit(CONFIG_EXIT_CODE);
});
// Not left to the driver's connect-on-first-use: when that first connect fails, the client
// stays closed ("Topology is closed"). Once connected, the driver rides out outages itself.
connectMongoWithRetry(mongo, config.mongo, daemonLogger, mongoAbort.signal).then(
  () => {
    mongoConnected = true;
  },
  () => {
    // Aborted by the shutdown.
  },
);
metrics.server = await serveMetrics(daemon.metricsRegistry, config.expiry.metricsHost, metricsPort);
const { address, port } = metrics.server.address;
daemonLogger.info({ host: address, port }, 'expiry metrics at /metrics');
await daemon.start();

// pm2 monit / pm2 show: expirations/s, lag p99, backlog, dead letters; and two actions:
//   pm2 trigger expiry-daemon "flush dead-letter to the index"
//   pm2 trigger expiry-daemon "print stats"
let lastProcessed = 0;
let perSecond = 0;
setInterval(() => {
  const { total } = daemon.stats().processed;
  perSecond = total - lastProcessed;
  lastProcessed = total;
}, 1000).unref();
registerPm2Metrics(
  logger,
  [
    { name: 'expirations processed/s', value: () => perSecond },
    { name: 'expiration lag p99', unit: 'ms', value: () => daemon.recentLag().p99 ?? 0 },
    { name: 'due index backlog', value: () => daemon.stats().backlog.indexed },
    { name: 'dead letters', value: () => daemon.stats().backlog.deadLetters },
  ],
  [
    {
      name: 'flush dead-letter to the index',
      run: async () => ({ retried: await daemon.deadLetters().retryAll() }),
    },
    {
      name: 'print stats',
      run: async () => {
        const stats = { ...daemon.stats(), lagMs: daemon.recentLag() };
        logger.info(stats, 'stats');
        return stats;
      },
    },
  ],
);

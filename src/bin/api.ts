import { startApiServer } from '../app/api-server.js';
import { CONFIG_EXIT_CODE, ConfigError } from '../config/config.js';
import { onShutdown } from '../lifecycle/shutdown.js';
import { registerPm2Metrics } from '../metrics/pm2-metrics.js';
import { boot } from './boot.js';

const { config, logger } = boot('api', 'api');
// PM2 numbers the instances in NODE_APP_INSTANCE; on one host each needs its own metrics
// port (instance n: METRICS_PORT + n). Port 0 means any free port (logged at start).
const instance = Number(process.env.NODE_APP_INSTANCE ?? 0) || 0;
const metricsPort = config.metrics.port === 0 ? 0 : config.metrics.port + instance;
const api = await startApiServer(config, logger, { metricsPort });
// close() first keeps serving for SHUTDOWN_DELAY_MS (readiness 503), then has the usual 10 s.
onShutdown(logger, [{ name: 'api', run: () => api.close() }], config.shutdownDelayMs + 10000);
api.ready.catch(async (err: unknown) => {
  if (!(err instanceof ConfigError)) return;
  // A configuration only Redis could check: the same one line and exit code as any other.
  process.stderr.write(`${err.message}\n`);
  await api.close().catch(() => {});
  process.exit(CONFIG_EXIT_CODE);
});

// pm2 monit / pm2 show: cache hits/misses, hit rate, sends/s, ws connections.
let lastSends = 0;
let sendsPerSecond = 0;
setInterval(() => {
  const { sends } = api.localStats();
  sendsPerSecond = sends - lastSends;
  lastSends = sends;
}, 1000).unref();
registerPm2Metrics(
  logger,
  [
    { name: 'cache hits', value: () => api.localStats().cacheHits },
    { name: 'cache misses', value: () => api.localStats().cacheMisses },
    {
      name: 'cache hit rate',
      unit: '%',
      value: () => {
        const { cacheHits: h, cacheMisses: m } = api.localStats();
        return h + m === 0 ? 0 : Math.round((h / (h + m)) * 1000) / 10;
      },
    },
    { name: 'messages sent/s', value: () => sendsPerSecond },
    { name: 'ws connections', value: () => api.localStats().wsConnections },
  ],
  [],
);

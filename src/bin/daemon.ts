import { ExpiryDaemon } from '../expiry/expiry-daemon.js';
import { onShutdown } from '../lifecycle/shutdown.js';
import { registerPm2Metrics } from '../metrics/pm2-metrics.js';
import { boot } from './boot.js';

const { config, logger } = boot('expiry-daemon', 'daemon');

// PM2 runs any number of instances (fork mode) and numbers them in NODE_APP_INSTANCE; on one
// host each needs its own metrics port. Port 0 means any free port (logged at start).
const instance = Number(process.env.NODE_APP_INSTANCE ?? 0) || 0;
const basePort = config.expiry.metricsPort;
const metricsPort = basePort === 0 ? 0 : basePort + instance;

const daemon = new ExpiryDaemon(
  { config, logger: logger.child({ instance }) },
  { metricsPort, name: `expiry-daemon-${instance}` },
);
// Registered before start() so that a signal during a slow start (Redis down) still stops it.
onShutdown(logger, [{ name: 'expiry-daemon', run: () => daemon.stop() }]);
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

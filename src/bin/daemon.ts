import { ExpiryDaemon } from '../expiry/expiry-daemon.js';
import { onShutdown } from '../lifecycle/shutdown.js';
import { boot } from './boot.js';

const { config, logger } = boot('expiry-daemon');

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

import type { Logger } from '../logging/logger.js';

/**
 * Runs `steps` in order once, on the first SIGINT or SIGTERM (PM2 sends SIGINT, then
 * SIGKILL after its kill_timeout), then exits 0. A second signal or `timeoutMs` without
 * finishing forces exit 1, so a stuck close never leaves a half-dead process. The API
 * passes `SHUTDOWN_DELAY_MS` + 10000 (its close first waits out the delay); PM2's
 * kill_timeout (ecosystem.config.js) is 2 s longer still.
 */
export function onShutdown(
  logger: Logger,
  steps: Array<{ name: string; run: () => Promise<unknown> }>,
  timeoutMs = 10000,
): { trigger: (reason: string) => Promise<void> } {
  let started = false;
  const trigger = async (reason: string) => {
    if (started) {
      logger.warn({ reason }, 'second shutdown request; exiting now');
      process.exit(1);
    }
    started = true;
    logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    for (const step of steps) {
      try {
        await step.run();
      } catch (err) {
        logger.warn({ step: step.name, err }, 'shutdown step failed');
      }
    }
    logger.info('shutdown complete');
    process.exit(0);
  };
  process.on('SIGINT', () => void trigger('SIGINT'));
  process.on('SIGTERM', () => void trigger('SIGTERM'));
  return { trigger };
}

/** Logs and exits on an unhandled rejection or exception: state is unknown afterwards. */
export function exitOnFatal(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection');
    process.exit(1);
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
}

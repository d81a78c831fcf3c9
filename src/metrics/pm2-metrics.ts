import io from '@pm2/io';
import type { Logger } from '../logging/logger.js';

export interface Pm2Gauge {
  name: string;
  unit?: string;
  value: () => number;
}

export interface Pm2Action {
  /** Shown by `pm2 trigger <app> "<name>"`. */
  name: string;
  run: () => Promise<unknown>;
}

/** True when this process was started by PM2 (it sets pm_id in the environment). */
export function underPm2(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.pm_id !== undefined;
}

/**
 * Publishes gauges to `pm2 monit` / `pm2 show` and registers `pm2 trigger` actions. Does
 * nothing outside PM2. @pm2/io is started without its HTTP instrumentation, profiling and
 * exception capture: it would patch `http`, and our own handlers already log and exit on
 * fatal errors.
 * @returns a function that counts an event into a per-second meter, by name.
 */
export function registerPm2Metrics(
  logger: Logger,
  gauges: Pm2Gauge[],
  actions: Pm2Action[],
  meters: string[] = [],
): (meter: string) => void {
  if (!underPm2()) return () => {};
  io.init({
    catchExceptions: false,
    profiling: false,
    metrics: { http: false, network: false, v8: true, eventLoop: true, runtime: true },
  });
  for (const g of gauges) io.metric({ name: g.name, unit: g.unit, value: g.value });
  const byName = new Map(meters.map((name) => [name, io.meter({ name })]));
  for (const a of actions) {
    io.action(a.name, (reply: (data: unknown) => void) => {
      a.run().then(
        (data) => reply({ success: true, data }),
        (err: unknown) => {
          logger.warn({ err, action: a.name }, 'pm2 action failed');
          reply({ success: false, error: String(err) });
        },
      );
    });
  }
  return (meter) => byName.get(meter)?.mark();
}

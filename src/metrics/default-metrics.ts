import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * Node's default process metrics on `registry`. The event-loop-lag histogram samples every
 * second rather than prom-client's default 10 ms: that timer alone costs an idle process
 * ~7.5 ms CPU per second (measured by the seed-poll-cost benchmark), 25× the rest of it.
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 });
}

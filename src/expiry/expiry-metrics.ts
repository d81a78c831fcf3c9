import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../metrics/default-metrics.js';

/** Where an expiration was learnt of: a keyevent hint or the deadline poll. */
export type ExpirySource = 'event' | 'poll';

/**
 * The expiry daemon's Prometheus metrics, in a registry of its own (not prom-client's
 * global one), so that several daemons in one process (tests) do not collide. The process
 * serves it (src/metrics/metrics-server.ts).
 */
export class ExpiryMetrics {
  readonly registry = new Registry();
  readonly processed: Counter<'source'>;
  readonly lag: Histogram;
  readonly persistFailures: Counter;
  readonly deadLetters: Gauge;
  readonly backlog: Gauge<'state'>;

  constructor(opts: { defaultMetrics: boolean; labels?: Record<string, string> }) {
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    const registers = [this.registry];
    this.processed = new Counter({
      name: 'expirations_processed_total',
      help: 'Expirations processed (acknowledged), by how the daemon learnt of them',
      labelNames: ['source'],
      registers,
    });
    // Pre-create both series so a scrape shows 0 rather than nothing.
    this.processed.inc({ source: 'event' }, 0);
    this.processed.inc({ source: 'poll' }, 0);
    this.lag = new Histogram({
      name: 'expiration_lag_seconds',
      help: 'Time from the deadline (Redis clock) to the acknowledged processing',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.persistFailures = new Counter({
      name: 'persist_failures_total',
      help: 'Batches of message shadows whose persistence to MongoDB failed',
      registers,
    });
    this.deadLetters = new Gauge({
      name: 'dead_letter_entries',
      help: 'Entries in the dead-letter hash (expiry:dead)',
      registers,
    });
    this.backlog = new Gauge({
      name: 'expiry_index_backlog',
      help: 'Entries of the due index: state="indexed" all of them, state="due" those already due',
      labelNames: ['state'],
      registers,
    });
    if (opts.defaultMetrics) collectProcessMetrics(this.registry);
  }
}

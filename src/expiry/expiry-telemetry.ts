import type { Registry } from 'prom-client';
import { RollingPercentiles } from '../metrics/rolling-percentiles.js';
import { SharedStats } from '../metrics/shared-stats.js';
import type { RedisKeys } from '../redis/keys.js';
import type { RedisClient } from '../redis/redis-client.js';
import { ExpiryMetrics, type ExpirySource } from './expiry-metrics.js';
import type { IndexPeek } from '../redis/records/expiry-scripts.js';
import type { NotificationState } from './keyevent-subscriber.js';

/** Counters of one daemon since start (for tests, the CLI and logs). */
export interface ExpiryDaemonStats {
  /** Expirations acknowledged by this daemon (a matching ack), by source. */
  processed: { event: number; poll: number; total: number };
  /** Messages written to MongoDB by this daemon. */
  persisted: number;
  /** Batches whose persistence failed. */
  persistFailures: number;
  /** Entries given back to the due index with a backoff. */
  retried: number;
  /** Entries this daemon moved to `expiry:dead`. */
  deadLettered: number;
  /** Poll rounds completed (over all partitions). */
  rounds: number;
  /** Rounds or hint claims that failed (Redis errors); the loop backs off and goes on. */
  errors: number;
  notifications: NotificationState | 'not-subscribed';
  /**
   * From the last round of each partition, summed: the due index size, how many of them
   * were already due, dead letters.
   */
  backlog: Backlog;
}

/** The gauges a round's peek reads, of one partition or summed over all. */
export interface Backlog {
  indexed: number;
  due: number;
  deadLetters: number;
}

/** Lag percentiles (ms) over the last 10 s; undefined when nothing was processed. */
export interface RecentLag {
  p50: number | undefined;
  p99: number | undefined;
}

/**
 * Everything one daemon reports, fed by one call per event: its Prometheus metrics, the
 * rolling lag percentiles of live displays, the cluster-wide figures in Redis (dashboard,
 * cache CLI) and the counters of {@link ExpiryDaemonStats}.
 */
export class ExpiryTelemetry {
  private readonly metrics: ExpiryMetrics;
  private readonly lagWindow = new RollingPercentiles(10_000);
  private readonly shared: SharedStats;
  private readonly counters = {
    event: 0,
    poll: 0,
    persisted: 0,
    persistFailures: 0,
    retried: 0,
    deadLettered: 0,
    rounds: 0,
    errors: 0,
  };
  private backlog: Backlog = { indexed: 0, due: 0, deadLetters: 0 };
  /** The last peek of each partition, by partition index (what `backlog` sums). */
  private readonly lastPeeks: Array<Backlog | undefined> = [];

  /** `sharedKeys`: where the cluster-wide figures live (`KeySpace.shared`). */
  constructor(redis: RedisClient, sharedKeys: RedisKeys, opts: { defaultMetrics: boolean }) {
    this.metrics = new ExpiryMetrics(opts);
    this.shared = new SharedStats(redis, sharedKeys, () => ({
      role: 'daemon',
      lagP50Ms: this.lagWindow.percentile(50),
      lagP99Ms: this.lagWindow.percentile(99),
    }));
  }

  /** The Prometheus registry, for `GET /metrics`. */
  get registry(): Registry {
    return this.metrics.registry;
  }

  /** Expirations of one batch acked at `now` (local clock), each with its lag. */
  processed(source: ExpirySource, lagsMs: number[], now: number): void {
    if (lagsMs.length === 0) return;
    for (const lagMs of lagsMs) {
      this.metrics.lag.observe(lagMs / 1000);
      this.lagWindow.add(lagMs, now);
    }
    this.counters[source] += lagsMs.length;
    this.metrics.processed.inc({ source }, lagsMs.length);
    this.shared.count(`expirations:${source}`, lagsMs.length);
  }

  persisted(messages: number): void {
    this.counters.persisted += messages;
  }

  persistFailed(): void {
    this.counters.persistFailures++;
    this.metrics.persistFailures.inc();
    this.shared.count('persistFailures');
  }

  retried(): void {
    this.counters.retried++;
  }

  deadLettered(): void {
    this.counters.deadLettered++;
    this.metrics.deadLetters.inc();
  }

  /** A poll round of partition `partition` ended with `peek`; the gauges show the sums. */
  roundDone(partition: number, peek: IndexPeek): void {
    this.counters.rounds++;
    const now: Backlog = { indexed: peek.indexed, due: peek.due, deadLetters: peek.deadLetters };
    const before = this.lastPeeks[partition] ?? { indexed: 0, due: 0, deadLetters: 0 };
    this.lastPeeks[partition] = now;
    // Running sums: a round costs the same however many partitions there are.
    const b = this.backlog;
    const sum: Backlog = {
      indexed: b.indexed - before.indexed + now.indexed,
      due: b.due - before.due + now.due,
      deadLetters: b.deadLetters - before.deadLetters + now.deadLetters,
    };
    this.backlog = sum;
    this.metrics.backlog.set({ state: 'indexed' }, sum.indexed);
    this.metrics.backlog.set({ state: 'due' }, sum.due);
    this.metrics.deadLetters.set(sum.deadLetters);
  }

  /** A step of the loop or a batch failed (a Redis error). */
  failed(): void {
    this.counters.errors++;
  }

  stats(notifications: ExpiryDaemonStats['notifications']): ExpiryDaemonStats {
    const c = this.counters;
    return {
      processed: { event: c.event, poll: c.poll, total: c.event + c.poll },
      persisted: c.persisted,
      persistFailures: c.persistFailures,
      retried: c.retried,
      deadLettered: c.deadLettered,
      rounds: c.rounds,
      errors: c.errors,
      notifications,
      backlog: { ...this.backlog },
    };
  }

  recentLag(): RecentLag {
    return { p50: this.lagWindow.percentile(50), p99: this.lagWindow.percentile(99) };
  }

  /** Flushes the shared figures one last time and withdraws this daemon's report. */
  async close(): Promise<void> {
    await this.shared.close();
  }
}

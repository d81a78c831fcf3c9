import type { Metric, Registry } from 'prom-client';

/** One labelled series: `observe` is a bucket search and three additions. */
export interface HistogramSeries {
  observe(value: number): void;
}

interface SeriesState extends HistogramSeries {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last slot is above every bound (+Inf). */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A value of the exposition in prom-client's shape: for the text, the series' labels go in
 * `sharedLabels` (the registry prints `labels` first, so `le` leads, as with its Histogram).
 */
interface ExposedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
}

/** What prom-client's registry reads of a metric. */
interface Exposition {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: ExposedValue[];
}

/**
 * A Prometheus histogram whose series are bound once and then observed for the cost of a
 * bucket search: what prom-client's `Histogram` does not offer. Its `observe`, even through
 * `labels(...)`, builds, validates and hashes the label object on every call, which for
 * the request-duration histogram was ~1% of the API's busy time on
 * `POST /api/messages/send` (with the string keys the caller built to find its child,
 * ~2.5%).
 *
 * It registers itself in prom-client registries like any metric: the registry reads a
 * metric through `get()` (name, help, type, aggregator and values), and this `get()` gives
 * the values in the shape and order of prom-client's `Histogram` (per series: the cumulative
 * `_bucket` lines with `le`, `+Inf`, then `_sum` and `_count`), so the text (and cluster
 * aggregation) is the same as before. test/unit/lean-histogram.test.ts compares the two.
 */
export class LeanHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: readonly number[];
  private series_: SeriesState[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    opts: { buckets: readonly number[]; registers?: Registry[] },
  ) {
    this.bounds = [...opts.buckets].sort((a, b) => a - b);
    // prom-client's Registry type names its own metric classes, but what it uses of a
    // metric is the interface above (registerMetric stores it; metrics() calls get()).
    for (const registry of opts.registers ?? []) {
      registry.registerMetric(this as unknown as Metric);
    }
  }

  /**
   * A new series with these label values (the caller keeps it: two calls with the same
   * labels give two series, which the exposition would repeat).
   */
  series(labels: Record<string, string>): HistogramSeries {
    const bounds = this.bounds;
    const state: SeriesState = {
      labels: { ...labels },
      counts: new Float64Array(bounds.length + 1),
      sum: 0,
      count: 0,
      observe(value: number) {
        let i = 0;
        while (i < bounds.length && value > (bounds[i] as number)) i++;
        state.counts[i]! += 1;
        state.sum += value;
        state.count += 1;
      },
    };
    this.series_.push(state);
    return state;
  }

  /**
   * The values with each series' labels merged into `labels`, as prom-client's `get()`
   * gives them (`registry.getMetricsAsJSON()`, cluster aggregation).
   */
  async get(): Promise<Exposition> {
    return this.exposition(false);
  }

  /** The values for the text format, which prom-client's registry prefers to `get()`. */
  async getForPromString(): Promise<Exposition> {
    return this.exposition(true);
  }

  /** A series appears once observed, and no more after a reset, as in prom-client. */
  private exposition(shared: boolean): Exposition {
    const values: ExposedValue[] = [];
    const bucket = `${this.name}_bucket`;
    const value = (
      series: SeriesState,
      extra: { le: number | string } | null,
      v: number,
      metricName: string,
    ): ExposedValue =>
      shared
        ? { labels: extra ?? {}, sharedLabels: series.labels, value: v, metricName }
        : { labels: { ...extra, ...series.labels }, value: v, metricName };
    for (const s of this.series_) {
      if (s.count === 0) continue;
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push(value(s, { le }, cumulative, bucket));
      });
      values.push(value(s, { le: '+Inf' }, s.count, bucket));
      values.push(value(s, null, s.sum, `${this.name}_sum`));
      values.push(value(s, null, s.count, `${this.name}_count`));
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  /** Zeroes every series (prom-client's `registry.resetMetrics()`). */
  reset(): void {
    for (const s of this.series_) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

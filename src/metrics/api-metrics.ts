import type { Context, Next } from 'koa';
import { Counter, Gauge, Registry } from 'prom-client';
import { collectProcessMetrics } from './default-metrics.js';
import { LeanHistogram, type HistogramSeries } from './lean-histogram.js';

/** Prometheus metrics of one API process (its own registry: no global state). */
export interface ApiMetrics {
  registry: Registry;
  /** `http_request_duration_seconds` by method, route and status. */
  httpDuration: LeanHistogram;
  cacheHits: Counter<'kind'>;
  cacheMisses: Counter<'kind'>;
  sends: Counter<'mode' | 'transport'>;
  wsConnections: Gauge;
  /** Counts one accepted send in `sends` (cheaply: see {@link PlainCounts}). */
  countSend(mode: string, transport: 'rest' | 'ws'): void;
  /** Counts one cache lookup in `cacheHits` / `cacheMisses` (cheaply: see {@link PlainCounts}). */
  countCacheLookup(kind: 'message' | 'conversation', hit: boolean): void;
}

/**
 * Counts by label set kept in plain numbers and added to a prom-client counter when it is
 * read (from the counter's collect hook, which runs before every read): its `inc` — also
 * through a child from `labels()` — hashes and validates the label object on every call,
 * and these counts are on the send and read hot paths. Keyed by the label object itself:
 * callers pass the same few objects every time.
 */
class PlainCounts<L extends string> {
  private readonly counts = new Map<Record<L, string>, number>();

  add(labels: Record<L, string>): void {
    this.counts.set(labels, (this.counts.get(labels) ?? 0) + 1);
  }

  flushTo(counter: Counter<L>): void {
    for (const [labels, n] of this.counts) counter.inc(labels, n);
    this.counts.clear();
  }
}

/**
 * Creates the API's metrics. `wsConnections` is read when scraped, from `countWs`, so the
 * ws server needs no metrics code of its own.
 */
export function createApiMetrics(countWs: () => number = () => 0): ApiMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry);
  const sent = new PlainCounts<'mode' | 'transport'>();
  const hits = new PlainCounts<'kind'>();
  const misses = new PlainCounts<'kind'>();
  // The label objects, made once: by mode (a few strings), and by kind.
  const sendLabels = new Map<string, Record<'rest' | 'ws', Record<'mode' | 'transport', string>>>();
  const kindLabels = { message: { kind: 'message' }, conversation: { kind: 'conversation' } };
  return {
    registry,
    httpDuration: new LeanHistogram(
      'http_request_duration_seconds',
      'HTTP request duration by route and status',
      {
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry],
      },
    ),
    cacheHits: new Counter({
      name: 'cache_hits_total',
      help: 'Cache hits by kind of entry (message, conversation)',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        hits.flushTo(this);
      },
    }),
    cacheMisses: new Counter({
      name: 'cache_misses_total',
      help: 'Cache misses by kind of entry (message, conversation)',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        misses.flushTo(this);
      },
    }),
    sends: new Counter({
      name: 'messages_sent_total',
      help: 'Messages accepted, by persistence mode used and transport',
      labelNames: ['mode', 'transport'],
      registers: [registry],
      collect() {
        sent.flushTo(this);
      },
    }),
    wsConnections: new Gauge({
      name: 'ws_connections',
      help: 'Open WebSocket connections on this process',
      registers: [registry],
      collect() {
        this.set(countWs());
      },
    }),
    countSend(mode, transport) {
      let labels = sendLabels.get(mode);
      if (!labels) {
        labels = { rest: { mode, transport: 'rest' }, ws: { mode, transport: 'ws' } };
        sendLabels.set(mode, labels);
      }
      sent.add(labels[transport]);
    },
    countCacheLookup(kind, hit) {
      (hit ? hits : misses).add(kindLabels[kind]);
    },
  };
}

/**
 * Records each request's duration under its route *pattern* (`/api/messages/:receiverId`),
 * never the raw path, so ids do not explode the label set.
 */
export function httpMetricsMiddleware(metrics: ApiMetrics) {
  // One series per (method, route, status), bound once (few exist: routes are patterns,
  // methods and statuses are HTTP's), found through nested maps rather than one keyed by a
  // joined string: the method and route are the same string objects every time (Node's
  // method table, the router's layer), whose hashes V8 keeps, so nothing is built per request.
  const series = new Map<string, Map<string, Map<number, HistogramSeries>>>();
  return async function recordHttp(ctx: Context, next: Next): Promise<void> {
    const start = performance.now();
    try {
      await next();
    } finally {
      const matched = (ctx as Context & { _matchedRoute?: string | RegExp })._matchedRoute;
      const route = typeof matched === 'string' ? matched : 'unmatched';
      const { method, status } = ctx;
      let byRoute = series.get(method);
      if (!byRoute) series.set(method, (byRoute = new Map()));
      let byStatus = byRoute.get(route);
      if (!byStatus) byRoute.set(route, (byStatus = new Map()));
      let one = byStatus.get(status);
      if (!one) {
        one = metrics.httpDuration.series({ method, route, status: String(status) });
        byStatus.set(status, one);
      }
      one.observe((performance.now() - start) / 1000);
    }
  };
}

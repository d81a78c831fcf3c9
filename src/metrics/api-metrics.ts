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
  /** Counts one accepted send in `sends` (cheaply: see {@link createApiMetrics}). */
  countSend(mode: string, transport: 'rest' | 'ws'): void;
}

/**
 * Creates the API's metrics. `wsConnections` is read when scraped, from `countWs`, so the
 * ws server needs no metrics code of its own.
 */
export function createApiMetrics(countWs: () => number = () => 0): ApiMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry);
  // Sends not yet added to `sends`, by mode: counted in plain numbers and added when the
  // counter is read (its collect hook runs before every read), because `inc(labels)` hashes
  // and validates the label object each time and a send is write-behind's hot path.
  const uncounted = new Map<string, { rest: number; ws: number }>();
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
    }),
    cacheMisses: new Counter({
      name: 'cache_misses_total',
      help: 'Cache misses by kind of entry (message, conversation)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    sends: new Counter({
      name: 'messages_sent_total',
      help: 'Messages accepted, by persistence mode used and transport',
      labelNames: ['mode', 'transport'],
      registers: [registry],
      collect() {
        for (const [mode, n] of uncounted) {
          if (n.rest > 0) this.inc({ mode, transport: 'rest' }, n.rest);
          if (n.ws > 0) this.inc({ mode, transport: 'ws' }, n.ws);
        }
        uncounted.clear();
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
      let n = uncounted.get(mode);
      if (!n) uncounted.set(mode, (n = { rest: 0, ws: 0 }));
      n[transport]++;
    },
  };
}

/**
 * Counts one cache lookup, through children bound to their label once (the lookup is on
 * the hot read path; `inc({ kind })` would hash the label object every time).
 */
export function cacheLookupCounter(
  metrics: ApiMetrics,
): (kind: 'message' | 'conversation', hit: boolean) => void {
  const bound = (counter: Counter<'kind'>) => ({
    message: counter.labels('message'),
    conversation: counter.labels('conversation'),
  });
  const hits = bound(metrics.cacheHits);
  const misses = bound(metrics.cacheMisses);
  return (kind, hit) => (hit ? hits : misses)[kind].inc();
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

import type { Context, Next } from 'koa';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from './default-metrics.js';

/** Prometheus metrics of one API process (its own registry: no global state). */
export interface ApiMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  cacheHits: Counter<'kind'>;
  cacheMisses: Counter<'kind'>;
  sends: Counter<'mode' | 'transport'>;
  wsConnections: Gauge;
}

/**
 * Creates the API's metrics. `wsConnections` is read when scraped, from `countWs`, so the
 * ws server needs no metrics code of its own.
 */
export function createApiMetrics(countWs: () => number = () => 0): ApiMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry);
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
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
    }),
    wsConnections: new Gauge({
      name: 'ws_connections',
      help: 'Open WebSocket connections on this process',
      registers: [registry],
      collect() {
        this.set(countWs());
      },
    }),
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
  // One child per (method, route, status), made once: observing through a child skips
  // prom-client's hashing of the label object on every request. Few combinations exist:
  // routes are patterns, methods and statuses are HTTP's.
  const children = new Map<string, { observe(seconds: number): void }>();
  return async function recordHttp(ctx: Context, next: Next): Promise<void> {
    const start = performance.now();
    try {
      await next();
    } finally {
      const matched = (ctx as Context & { _matchedRoute?: string | RegExp })._matchedRoute;
      const route = typeof matched === 'string' ? matched : 'unmatched';
      const status = String(ctx.status);
      const key = `${ctx.method} ${route} ${status}`;
      let child = children.get(key);
      if (!child) {
        child = metrics.httpDuration.labels({ method: ctx.method, route, status });
        children.set(key, child);
      }
      child.observe((performance.now() - start) / 1000);
    }
  };
}

/**
 * HTTP load process: autocannon against one target, with a short warm-up run first (JIT,
 * connection pools, caches) that is not counted; the parent is told when the measured run
 * starts ('measuring'), so that it can read CPU counters over that run alone. The request
 * list comes from the parent; each connection cycles through it (so the load rotates over
 * users and conversations).
 * Env: URL, CONNECTIONS, SECONDS, WARMUP_SECONDS.
 */
import autocannon from 'autocannon';
import { env, runWorker, tell } from './worker-ipc.js';

/** One request of the cycle. */
export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What the parent gets back. */
export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  total: number;
  non2xx: number;
  errors: number;
}

function run(
  url: string,
  requests: LoadRequest[],
  connections: number,
  seconds: number,
): Promise<autocannon.Result> {
  return autocannon({
    url,
    connections,
    duration: seconds,
    requests,
    // One request in flight per connection, as a browser-like client does.
    pipelining: 1,
  });
}

runWorker(async () => {
  const requests = await new Promise<LoadRequest[]>((resolve) => {
    process.once('message', (m: { requests: LoadRequest[] }) => resolve(m.requests));
    tell({ type: 'ready' });
  });
  const url = env('URL');
  const connections = Number(env('CONNECTIONS'));
  const warmup = Number(env('WARMUP_SECONDS'));
  if (warmup > 0) await run(url, requests, connections, warmup);
  tell({ type: 'measuring' });
  const r = await run(url, requests, connections, Number(env('SECONDS')));
  const result: LoadResult = {
    requestsPerSecond: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
  };
  tell({ type: 'result', data: result });
});

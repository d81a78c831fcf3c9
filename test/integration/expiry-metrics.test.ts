import assert from 'node:assert/strict';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { serveMetrics } from '../../src/metrics/metrics-server.js';
import { ignoreOrigin } from '../helpers/contract-hook.js';
import { seedMessages, useExpiryTestbed } from '../helpers/expiry-fixtures.js';

/** The value of one sample line, e.g. `name{label="x"} 12`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} is exposed`);
  return Number(line.slice(series.length + 1));
}

describe('expiry daemon: metrics endpoint', function () {
  this.timeout(30000);
  const bed = useExpiryTestbed('expiry-metrics');

  it('serves the named metrics in the Prometheus text format', async () => {
    const daemon = await bed.daemon({ defaultMetrics: true });
    // Served as src/bin/daemon.ts serves it.
    const server = await serveMetrics(daemon.metricsRegistry, '127.0.0.1', 0);
    // Its own listener, not the API: its 404 at / is not the API's.
    const unignore = ignoreOrigin(server.url);
    try {
      await daemon.start();
      await seedMessages(bed.redis, bed.keys, 100, { ttlSeconds: 1, shadow: false });
      await waitUntil('100 processed', () => daemon.stats().processed.total === 100, 15000);
      // The gauges are set at the end of a round: one that ends now peeked after every claim.
      const rounds = daemon.stats().rounds;
      await waitUntil('a round after the last claim', () => daemon.stats().rounds > rounds, 5000);

      const res = await fetch(server.url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await res.text();
      const { event, poll } = daemon.stats().processed;
      assert.equal(sample(text, 'expirations_processed_total{source="event"}'), event);
      assert.equal(sample(text, 'expirations_processed_total{source="poll"}'), poll);
      assert.equal(sample(text, 'expiration_lag_seconds_count'), 100);
      assert.equal(sample(text, 'expiration_lag_seconds_bucket{le="60"}'), 100);
      assert.equal(sample(text, 'expiration_lag_seconds_bucket{le="0.001"}') <= 100, true);
      assert.equal(sample(text, 'persist_failures_total'), 0);
      assert.equal(sample(text, 'dead_letter_entries'), 0);
      assert.equal(sample(text, 'expiry_index_backlog{state="indexed"}'), 0);
      assert.equal(sample(text, 'expiry_index_backlog{state="due"}'), 0);
      assert.match(text, /^process_cpu_user_seconds_total /m);
      assert.match(text, /^nodejs_eventloop_lag_seconds /m);

      const missing = await fetch(new URL('/', server.url));
      assert.equal(missing.status, 404);
      await missing.text();
    } finally {
      unignore();
      await server.close();
    }
  });
});

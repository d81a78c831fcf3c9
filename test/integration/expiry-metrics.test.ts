import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { ExpiryDaemon } from '../../src/expiry/expiry-daemon.js';
import { RedisKeys } from '../../src/redis/keys.js';
import type { RedisClient } from '../../src/redis/redis-client.js';
import { seedMessages } from '../helpers/expiry-fixtures.js';
import { waitUntil } from '../helpers/wait.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

/** The value of one sample line, e.g. `name{label="x"} 12`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} is exposed`);
  return Number(line.slice(series.length + 1));
}

describe('expiry daemon: metrics endpoint', function () {
  this.timeout(30000);
  let ctx: TestContext;
  let redis: RedisClient;
  let daemon: ExpiryDaemon;

  before(async () => {
    ctx = createTestContext('expiry-metrics');
    redis = createClient({ url: ctx.config.redis.url }) as RedisClient;
    redis.on('error', () => {});
    await redis.connect();
    daemon = new ExpiryDaemon({ config: ctx.config, logger: ctx.logger }, { metricsPort: 0 });
    await daemon.start();
  });

  after(async () => {
    await daemon.stop();
    await redis.close();
    await ctx.cleanup();
  });

  it('serves the named metrics in the Prometheus text format', async () => {
    const keys = new RedisKeys(ctx.config.redis.keyPrefix);
    await seedMessages(redis, keys, 100, { ttlSeconds: 1, shadow: false });
    await waitUntil('100 processed', () => daemon.stats().processed.total === 100, 15000);
    // The gauges are refreshed at the end of a round.
    await new Promise((r) => setTimeout(r, 1200));

    const port = daemon.metricsAddress?.port;
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
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

    const missing = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(missing.status, 404);
    await missing.text();
  });
});

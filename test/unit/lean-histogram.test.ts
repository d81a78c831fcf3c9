import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { LeanHistogram } from '../../src/metrics/lean-histogram.js';

/** The same observations through prom-client's Histogram and a LeanHistogram. */
function both(observations: Array<[Record<string, string>, number]>) {
  const buckets = [0.001, 0.01, 0.1, 1];
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({
    name: 'req_seconds',
    help: 'Request duration',
    labelNames: ['method', 'route', 'status'],
    buckets,
    registers: [theirs],
  });
  const lean = new LeanHistogram('req_seconds', 'Request duration', { buckets, registers: [ours] });
  const series = new Map<string, ReturnType<LeanHistogram['series']>>();
  for (const [labels, value] of observations) {
    reference.labels(labels).observe(value);
    const key = JSON.stringify(labels);
    let one = series.get(key);
    if (!one) series.set(key, (one = lean.series(labels)));
    one.observe(value);
  }
  return { theirs, ours, lean, reference };
}

describe('LeanHistogram', function () {
  const post = { method: 'POST', route: '/api/messages/send', status: '201' };
  const get = { method: 'GET', route: '/api/messages/:receiverId', status: '200' };
  const observations: Array<[Record<string, string>, number]> = [
    [post, 0.0004],
    [post, 0.001], // on a bound: counted in that bucket (le)
    [post, 0.05],
    [get, 0.002],
    [post, 3], // above every bound: only +Inf
    [get, 0.2],
  ];

  it('writes the same Prometheus text as prom-client’s Histogram', async function () {
    const { theirs, ours } = both(observations);
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics());
    assert.match(
      text,
      /req_seconds_bucket\{le="0.001",method="POST",route="\/api\/messages\/send",status="201"\} 2/,
    );
    assert.match(
      text,
      /req_seconds_count\{method="POST",route="\/api\/messages\/send",status="201"\} 4/,
    );
  });

  it('gives the same JSON (cluster aggregation) as prom-client’s Histogram', async function () {
    const { theirs, ours } = both(observations);
    // prom-client's bucket values carry `exemplar: null` (exemplars are off): not a difference.
    const plain = (json: unknown) =>
      JSON.parse(JSON.stringify(json, (k, v: unknown) => (k === 'exemplar' ? undefined : v)));
    assert.deepEqual(plain(await ours.getMetricsAsJSON()), plain(await theirs.getMetricsAsJSON()));
  });

  it('shows a series only once observed, and none after a reset', async function () {
    const { theirs, ours, lean } = both([]);
    const unused = lean.series(post);
    assert.equal(await ours.metrics(), await theirs.metrics());
    unused.observe(0.5);
    assert.match(await ours.metrics(), /req_seconds_sum\{method="POST".*\} 0.5/);
    ours.resetMetrics();
    assert.doesNotMatch(await ours.metrics(), /req_seconds_sum/);
  });
});

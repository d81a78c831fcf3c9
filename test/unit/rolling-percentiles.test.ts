import assert from 'node:assert/strict';
import { RollingPercentiles } from '../../src/metrics/rolling-percentiles.js';

describe('RollingPercentiles', () => {
  it('gives nearest-rank percentiles of the samples in the window', () => {
    const r = new RollingPercentiles(1000, 1000);
    for (let v = 1; v <= 100; v++) r.add(v, 5000);
    assert.equal(r.percentile(50, 5000), 50);
    assert.equal(r.percentile(99, 5000), 99);
    assert.equal(r.percentile(100, 5000), 100);
  });

  it('forgets samples older than the window', () => {
    const r = new RollingPercentiles(1000, 1000);
    r.add(500, 0);
    r.add(7, 1500);
    assert.equal(r.percentile(99, 1600), 7);
    assert.equal(r.percentile(99, 5000), undefined);
  });

  it('keeps only the newest maxSamples', () => {
    const r = new RollingPercentiles(10_000, 3);
    for (const v of [100, 100, 1, 2, 3]) r.add(v, 0);
    assert.equal(r.percentile(100, 0), 3);
  });
});

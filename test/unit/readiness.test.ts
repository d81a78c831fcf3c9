import assert from 'node:assert/strict';
import type { HealthReport } from '../../src/health/health-check.js';
import { isReady, Readiness } from '../../src/health/readiness.js';

// The readiness states from given dependency reports (the checks themselves run against
// real servers in test/integration/health.test.ts).

const up = { status: 'ok' as const, latencyMs: 1 };
const down = { status: 'down' as const, error: 'no answer within 1000 ms' };

function readinessOf(report: Omit<HealthReport, 'status'>): Readiness {
  return new Readiness(async () => ({
    status: report.redis.status === 'ok' && report.mongo.status === 'ok' ? 'ok' : 'degraded',
    ...report,
  }));
}

describe('Readiness', () => {
  it('is starting (503) until the start is done, then ok', async () => {
    const r = readinessOf({ redis: up, mongo: up });
    const before = await r.report();
    assert.equal(before.status, 'starting');
    assert.equal(isReady(before), false);
    r.started();
    const after = await r.report();
    assert.equal(after.status, 'ok');
    assert.equal(isReady(after), true);
  });

  it('is degraded but ready without MongoDB, unavailable without Redis', async () => {
    const noMongo = readinessOf({ redis: up, mongo: down });
    noMongo.started();
    const degraded = await noMongo.report();
    assert.deepEqual(
      [degraded.status, degraded.degraded, isReady(degraded)],
      ['degraded', ['mongo'], true],
    );
    const noRedis = readinessOf({ redis: down, mongo: up });
    noRedis.started();
    const unavailable = await noRedis.report();
    assert.deepEqual([unavailable.status, isReady(unavailable)], ['unavailable', false]);
  });

  it('answers shutting-down once draining, even for a check that began before', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const r = new Readiness(async () => {
      await gate;
      return { status: 'ok', redis: up, mongo: up };
    });
    r.started();
    const pending = r.report();
    r.drain();
    release();
    const report = await pending;
    assert.equal(report.status, 'shutting-down');
    assert.equal(isReady(report), false);
    assert.equal(r.draining, true);
  });
});

import assert from 'node:assert/strict';
import { KeyeventSubscriber } from '../../src/expiry/keyevent-subscriber.js';
import { PersistSlots } from '../../src/expiry/persist-slots.js';
import { retryBackoff } from '../../src/expiry/retry-backoff.js';

describe('expiry helpers', () => {
  it('merges only the missing notification flags', () => {
    assert.equal(KeyeventSubscriber.missingFlags(''), 'Ex');
    assert.equal(KeyeventSubscriber.missingFlags('xE'), '');
    assert.equal(KeyeventSubscriber.missingFlags('AE'), '');
    assert.equal(KeyeventSubscriber.missingFlags('AK'), 'E');
    assert.equal(KeyeventSubscriber.missingFlags('Kg'), 'Ex');
    assert.equal(KeyeventSubscriber.missingFlags('Eg'), 'x');
  });

  it('backs off exponentially from the base, capped, with 50-100 % jitter', () => {
    for (let i = 0; i < 200; i++) {
      const first = retryBackoff(1, 500, 60000);
      assert.ok(first >= 250 && first <= 500, `first ${first}`);
      const fourth = retryBackoff(4, 500, 60000);
      assert.ok(fourth >= 2000 && fourth <= 4000, `fourth ${fourth}`);
      const late = retryBackoff(40, 500, 60000);
      assert.ok(late >= 30000 && late <= 60000, `late ${late}`);
    }
  });

  it('shares persist slots among waiters, first come first served', async () => {
    const slots = new PersistSlots(2);
    assert.equal(slots.tryAcquire(), true);
    assert.equal(slots.tryAcquire(), true);
    assert.equal(slots.tryAcquire(), false);
    const served: string[] = [];
    const a = slots.acquire().then(() => served.push('a'));
    const b = slots.acquire().then(() => served.push('b'));
    slots.release();
    await a;
    assert.deepEqual(served, ['a']);
    assert.equal(slots.tryAcquire(), false, 'a waiter is still queued');
    slots.release();
    await b;
    assert.deepEqual(served, ['a', 'b']);
    assert.equal(slots.inUse, 2);
    slots.release();
    slots.release();
    assert.equal(slots.inUse, 0);
    assert.throws(() => new PersistSlots(0), TypeError);
  });
});

import assert from 'node:assert/strict';
import { KeyeventSubscriber } from '../../src/expiry/keyevent-subscriber.js';
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
});

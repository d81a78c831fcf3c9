import assert from 'node:assert/strict';
import { OutageBreaker } from '../../src/mongo/outage-breaker.js';

describe('OutageBreaker', () => {
  it('lets every write try MongoDB while it is up', () => {
    const breaker = new OutageBreaker(1000, () => 0);
    assert.equal(breaker.shouldTry(), true);
    assert.equal(breaker.shouldTry(), true);
    assert.equal(breaker.isDown, false);
  });

  it('after a failure lets one probe per interval through, and closes on a success', () => {
    let now = 5000;
    const breaker = new OutageBreaker(1000, () => now);
    assert.equal(breaker.failed(), true, 'the first failure starts the outage');
    assert.equal(breaker.failed(), false, 'a concurrent failure does not start another');
    assert.equal(breaker.shouldTry(), false);
    now = 5999;
    assert.equal(breaker.shouldTry(), false);
    now = 6000;
    assert.equal(breaker.shouldTry(), true, 'the probe');
    assert.equal(breaker.shouldTry(), false, 'one probe per interval');
    now = 6500;
    assert.equal(breaker.succeeded(), true, 'the probe reached MongoDB: the outage ends');
    assert.equal(breaker.shouldTry(), true);
    assert.equal(breaker.succeeded(), false);
  });

  it('counts the interval from the last failure, so a slow probe is not followed at once', () => {
    let now = 0;
    const breaker = new OutageBreaker(1000, () => now);
    breaker.failed();
    now = 1000;
    assert.equal(breaker.shouldTry(), true);
    now = 3000; // the probe waited out server selection
    breaker.failed();
    now = 3500;
    assert.equal(breaker.shouldTry(), false);
    now = 4000;
    assert.equal(breaker.shouldTry(), true);
  });
});

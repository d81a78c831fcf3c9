import assert from 'node:assert/strict';
import { HintBuffer } from '../../src/expiry/hint-buffer.js';

describe('HintBuffer', () => {
  it('opens a window with the first hint and is due when it closes', () => {
    const hints = new HintBuffer(3, 5);
    assert.equal(hints.isDue(1000), false);
    assert.equal(hints.windowEnd, undefined);
    assert.equal(hints.add('a', 1000), 'wake');
    assert.equal(hints.add('b', 1003), 'buffered');
    assert.equal(hints.windowEnd, 1005, 'a later hint does not move the window');
    assert.equal(hints.isDue(1004), false);
    assert.equal(hints.isDue(1005), true);
  });

  it('is due at once with a full batch, and takes one batch, oldest first', () => {
    const hints = new HintBuffer(2, 100);
    hints.add('a', 0);
    assert.equal(hints.add('b', 1), 'wake', 'a full batch wakes the loop');
    assert.equal(hints.add('c', 2), 'buffered');
    assert.equal(hints.add('a', 3), 'buffered');
    assert.equal(hints.isDue(4), true);
    assert.deepEqual(hints.take(4), ['b', 'c'], 'a key hinted again moved to the end');
    assert.equal(hints.windowEnd, 4, 'what is left over is due at once');
    assert.deepEqual(hints.take(5), ['a']);
    assert.equal(hints.size, 0);
  });

  it('drops the hints that arrived up to a given arrival', () => {
    const hints = new HintBuffer(10, 5);
    hints.add('a', 0);
    hints.add('b', 0);
    const seen = hints.arrivals;
    hints.add('c', 1);
    hints.add('a', 2);
    hints.dropThrough(seen);
    assert.deepEqual(hints.take(3), ['c', 'a'], 'a re-hinted key has a new arrival');
  });

  it('keeps at most 20 batches and reports the overflow', () => {
    const hints = new HintBuffer(2, 5);
    for (let i = 0; i < 40; i++) assert.notEqual(hints.add(`k${i}`, 0), 'overflow');
    assert.equal(hints.add('one-more', 0), 'overflow');
    assert.equal(hints.size, 40);
    hints.clear();
    assert.equal(hints.size, 0);
    assert.equal(hints.isDue(10), false);
  });
});

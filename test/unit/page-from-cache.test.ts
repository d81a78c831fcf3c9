import assert from 'node:assert/strict';
import { pageFromCache, uniqueSorted } from '../../src/messages/conversation-cache.js';
import type { Message } from '../../src/messages/message.js';

function msg(i: number, content = `m${i}`): Message {
  return {
    id: i.toString(16).padStart(24, '0'),
    senderId: 'a',
    receiverId: 'b',
    content,
    imageUrl: null,
    publicId: null,
    createdAt: new Date(1_700_000_000_000 + i * 1000).toISOString(),
  };
}

const ids = (ms: Message[] | null) => ms?.map((m) => m.content);

describe('conversation page from the cached list', function () {
  const list = [3, 4, 5, 6, 7].map((i) => msg(i));

  it('serves the latest page when the list holds enough, or all there is', function () {
    assert.deepEqual(ids(pageFromCache(list, false, 3)), ['m5', 'm6', 'm7']);
    assert.equal(pageFromCache(list, false, 6), null);
    assert.deepEqual(ids(pageFromCache(list, true, 50)), ['m3', 'm4', 'm5', 'm6', 'm7']);
  });

  it('serves a before-page only when it lies inside the window', function () {
    assert.deepEqual(ids(pageFromCache(list, false, 2, msg(6).id)), ['m4', 'm5']);
    assert.equal(pageFromCache(list, false, 3, msg(4).id), null);
    assert.deepEqual(ids(pageFromCache(list, true, 3, msg(4).id)), ['m3']);
    assert.equal(pageFromCache(list, true, 3, msg(1).id), null, 'cursor outside the list');
  });

  it('merges lists in conversation order, each id once, the later list winning', function () {
    const merged = uniqueSorted([msg(2), msg(1, 'old')], [msg(1, 'edited'), msg(0)]);
    assert.deepEqual(ids(merged), ['m0', 'edited', 'm2']);
  });
});

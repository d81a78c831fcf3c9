import assert from 'node:assert/strict';
import { shadowJson, type Message, type MessageShadow } from '../../src/messages/message.js';

describe('shadowJson', function () {
  const message: Message = {
    id: '0123456789abcdef01234567',
    senderId: 'aaaaaaaaaaaaaaaaaaaaaaaa',
    receiverId: 'bbbbbbbbbbbbbbbbbbbbbbbb',
    content: 'quote " backslash \\ newline \n and ✓',
    imageUrl: null,
    publicId: null,
    createdAt: '2026-11-25T12:00:00.000Z',
  };

  it('is JSON.stringify of the shadow, with and without a clientMsgId', function () {
    for (const shadow of [{ message }, { message, clientMsgId: 'retry-1_A' }] as MessageShadow[]) {
      const text = shadowJson(JSON.stringify(message), shadow.clientMsgId);
      assert.equal(text, JSON.stringify(shadow));
      assert.deepEqual(JSON.parse(text), shadow);
    }
  });
});

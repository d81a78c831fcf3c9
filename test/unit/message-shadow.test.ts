import assert from 'node:assert/strict';
import {
  messageJson,
  shadowJson,
  type Message,
  type MessageShadow,
} from '../../src/messages/message.js';

describe('message JSON made once (messageJson, shadowJson)', function () {
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

  it('messageJson is JSON.stringify of the message, made once per object', function () {
    const json = messageJson(message);
    assert.equal(json, JSON.stringify(message));
    assert.equal(messageJson(message), json);
    const edited = { ...message, content: 'edited' };
    assert.equal(messageJson(edited), JSON.stringify(edited), 'a new object, its own JSON');
  });
});

import assert from 'node:assert/strict';
import { AppError } from '../../src/errors/app-error.js';
import { parseInput } from '../../src/errors/parse-input.js';
import {
  conversationQuerySchema,
  credentialsSchema,
  editMessageSchema,
  sendMessageSchema,
} from '../../src/contract/http-schemas.js';
import { assertObjectId } from '../../src/messages/message-validation.js';

const RID = '507f1f77bcf86cd799439011';

function failure(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    return err;
  }
  assert.fail('expected a validation error');
}

describe('input validation', function () {
  it('accepts a text, an image, or both', function () {
    assert.deepEqual(parseInput(sendMessageSchema, { receiverId: RID, content: 'hi' }), {
      receiverId: RID,
      content: 'hi',
    });
    const img = parseInput(sendMessageSchema, { receiverId: RID, imageUrl: 'http://a.b/c.png' });
    assert.equal(img.imageUrl, 'http://a.b/c.png');
  });

  it('names the unknown field, including __proto__ and constructor', function () {
    const proto = failure(() =>
      parseInput(
        sendMessageSchema,
        JSON.parse(`{"receiverId":"${RID}","content":"x","__proto__":{"a":1}}`),
      ),
    );
    assert.equal(proto.code, 'VALIDATION_FAILED');
    assert.match(proto.message, /"__proto__"/);
    const ctor = failure(() =>
      parseInput(sendMessageSchema, { receiverId: RID, content: 'x', constructor: 1 }),
    );
    assert.match(ctor.message, /"constructor"/);
  });

  it('names the field of a wrong type, an operator object included', function () {
    const e = failure(() =>
      parseInput(sendMessageSchema, { receiverId: { $ne: null }, content: 'x' }),
    );
    assert.equal(e.code, 'VALIDATION_FAILED');
    assert.match(e.message, /^receiverId: /);
    assert.match(
      failure(() => parseInput(sendMessageSchema, { receiverId: RID, content: 5 })).message,
      /^content: /,
    );
  });

  it('requires content or imageUrl, limits content to 5000 characters, imageUrl to http(s)', function () {
    assert.match(
      failure(() => parseInput(sendMessageSchema, { receiverId: RID })).message,
      /content or imageUrl/,
    );
    parseInput(sendMessageSchema, { receiverId: RID, content: 'x'.repeat(5000) });
    failure(() => parseInput(sendMessageSchema, { receiverId: RID, content: 'x'.repeat(5001) }));
    for (const url of [
      'ftp://a.b/c',
      'javascript:alert(1)',
      'not a url',
      'data:image/png;base64,AA',
    ]) {
      assert.match(
        failure(() => parseInput(sendMessageSchema, { receiverId: RID, imageUrl: url })).message,
        /imageUrl/,
      );
    }
  });

  it('counts content in code points; limits imageUrl to 2048 and publicId to 1–256 characters', function () {
    // 5000 emoji are 10000 UTF-16 code units but 5000 code points: the README's measure.
    parseInput(sendMessageSchema, { receiverId: RID, content: '😀'.repeat(5000) });
    failure(() => parseInput(sendMessageSchema, { receiverId: RID, content: '😀'.repeat(5001) }));
    const url = (n: number) => `https://a.b/${'x'.repeat(n - 'https://a.b/'.length)}`;
    parseInput(sendMessageSchema, { receiverId: RID, imageUrl: url(2048) });
    assert.match(
      failure(() => parseInput(sendMessageSchema, { receiverId: RID, imageUrl: url(2049) }))
        .message,
      /^imageUrl: /,
    );
    const img = { receiverId: RID, imageUrl: url(100) };
    parseInput(sendMessageSchema, { ...img, publicId: 'p'.repeat(256) });
    for (const publicId of ['', 'p'.repeat(257)]) {
      assert.match(
        failure(() => parseInput(sendMessageSchema, { ...img, publicId })).message,
        /^publicId: /,
      );
    }
  });

  it('names an unknown query parameter as such', function () {
    assert.equal(
      failure(() => parseInput(conversationQuerySchema, { sort: 'desc' }, 'query parameter'))
        .message,
      'unknown query parameter "sort"',
    );
  });

  it('refuses non-objects', function () {
    for (const v of [null, [], 'x', 3]) failure(() => parseInput(sendMessageSchema, v));
  });

  it('checks ids: 24 lowercase hex, else INVALID_ID', function () {
    assert.equal(assertObjectId(RID, 'id'), RID);
    for (const v of ['', 'abc', RID.toUpperCase(), `${RID}0`, { $gt: '' }, undefined]) {
      assert.equal(failure(() => assertObjectId(v, 'id')).code, 'INVALID_ID');
    }
  });

  it('validates edits and conversation queries', function () {
    failure(() => parseInput(editMessageSchema, { content: '' }));
    failure(() => parseInput(editMessageSchema, { content: 'x', extra: 1 }));
    assert.deepEqual(parseInput(conversationQuerySchema, { limit: '100' }), { limit: 100 });
    for (const limit of ['0', '101', '-1', '1.5', 'ten', ['1', '2']]) {
      failure(() => parseInput(conversationQuerySchema, { limit }));
    }
    failure(() => parseInput(conversationQuerySchema, { page: '2' }));
  });

  it('validates credentials', function () {
    parseInput(credentialsSchema, { username: 'abc_123', password: '12345678' });
    for (const body of [
      { username: 'ab', password: '12345678' },
      { username: 'ABC', password: '12345678' },
      { username: 'abc', password: '1234567' },
      { username: 'abc', password: 'x'.repeat(129) },
    ]) {
      failure(() => parseInput(credentialsSchema, body));
    }
  });
});

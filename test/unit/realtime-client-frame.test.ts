import assert from 'node:assert/strict';
import { AppError } from '../../src/errors/app-error.js';
import { ERROR_CODES } from '../../src/errors/error-codes.js';
import { parseClientFrame } from '../../src/realtime/parse-client-frame.js';

const text = (s: string) => parseClientFrame(Buffer.from(s), false);

function errorOf(r: ReturnType<typeof parseClientFrame>) {
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.error instanceof AppError);
  return r;
}

describe('parseClientFrame', function () {
  it('reads message:send, separating the envelope from what the service validates', function () {
    const r = text(
      JSON.stringify({ type: 'message:send', receiverId: 'b', content: 'hi', clientMsgId: 'c1' }),
    );
    assert.deepEqual(r, {
      ok: true,
      frame: { type: 'message:send', clientMsgId: 'c1', input: { receiverId: 'b', content: 'hi' } },
    });
  });

  it('leaves clientMsgId out when the client gave none', function () {
    const r = text(JSON.stringify({ type: 'message:send', receiverId: 'b' }));
    assert.deepEqual(r, { ok: true, frame: { type: 'message:send', input: { receiverId: 'b' } } });
  });

  it('reads ping, also from fragmented and ArrayBuffer data', function () {
    assert.deepEqual(parseClientFrame([Buffer.from('{"ty'), Buffer.from('pe":"ping"}')], false), {
      ok: true,
      frame: { type: 'ping' },
    });
    const ab = new TextEncoder().encode('{"type":"ping"}').buffer as ArrayBuffer;
    assert.deepEqual(parseClientFrame(ab, false), { ok: true, frame: { type: 'ping' } });
  });

  it('answers BAD_JSON for text that is not JSON', function () {
    assert.equal(errorOf(text('{"type":')).error.code, 'BAD_JSON');
  });

  it('answers VALIDATION_FAILED for binary frames, non-objects and a missing type', function () {
    assert.equal(
      errorOf(parseClientFrame(Buffer.from('{}'), true)).error.code,
      'VALIDATION_FAILED',
    );
    for (const s of ['null', '[]', '"x"', '3', '{}', '{"type":7}']) {
      assert.equal(errorOf(text(s)).error.code, 'VALIDATION_FAILED', s);
    }
  });

  it('answers VALIDATION_FAILED for a clientMsgId that is not a non-empty string', function () {
    for (const id of [42, '', null, {}]) {
      const r = errorOf(text(JSON.stringify({ type: 'message:send', clientMsgId: id })));
      assert.equal(r.error.code, 'VALIDATION_FAILED');
      assert.equal(r.clientMsgId, undefined);
    }
  });

  it('answers UNKNOWN_TYPE (400), echoing clientMsgId', function () {
    const r = errorOf(text(JSON.stringify({ type: 'typing', clientMsgId: 'c2' })));
    assert.equal(r.error.code, 'UNKNOWN_TYPE');
    assert.equal(r.error.status, 400);
    assert.equal(r.clientMsgId, 'c2');
    assert.equal(ERROR_CODES.UNKNOWN_TYPE.status, 400);
  });
});

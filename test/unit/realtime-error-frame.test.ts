import assert from 'node:assert/strict';
import { AppError, clientMessage } from '../../src/errors/app-error.js';
import { ERROR_CODES } from '../../src/errors/error-codes.js';
import { errorFrame } from '../../src/realtime/frame-handler.js';

describe('errorFrame', function () {
  it('shows a client error its own message and echoes clientMsgId', function () {
    const err = new AppError('VALIDATION_FAILED', 'receiverId must be a user id');
    assert.deepEqual(errorFrame(err, 'c1'), {
      type: 'error',
      code: 'VALIDATION_FAILED',
      message: 'receiverId must be a user id',
      clientMsgId: 'c1',
    });
  });

  it('gives a server error only the text of its code, the one REST gives too', function () {
    const err = new AppError('SERVICE_UNAVAILABLE', 'mongo at 10.0.0.7 refused');
    const frame = errorFrame(err, undefined);
    assert.deepEqual(frame, {
      type: 'error',
      code: 'SERVICE_UNAVAILABLE',
      message: ERROR_CODES.SERVICE_UNAVAILABLE.message,
    });
    assert.equal(clientMessage(err), ERROR_CODES.SERVICE_UNAVAILABLE.message);
  });

  it('turns anything but an AppError into INTERNAL without detail', function () {
    assert.deepEqual(errorFrame(new Error('secret stack'), 'c2'), {
      type: 'error',
      code: 'INTERNAL',
      message: ERROR_CODES.INTERNAL.message,
      clientMsgId: 'c2',
    });
  });

  it('passes a valid Retry-After on as retryAfterSeconds, and drops an invalid one', function () {
    const limited = new AppError('RATE_LIMITED', undefined, { headers: { 'Retry-After': '7' } });
    assert.deepEqual(errorFrame(limited, undefined), {
      type: 'error',
      code: 'RATE_LIMITED',
      message: ERROR_CODES.RATE_LIMITED.message,
      retryAfterSeconds: 7,
    });
    const bad = new AppError('RATE_LIMITED', undefined, { headers: { 'Retry-After': 'soon' } });
    assert.equal('retryAfterSeconds' in errorFrame(bad, undefined), false);
  });
});

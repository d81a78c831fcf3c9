import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ObjectId } from 'mongodb';
import { AppError } from '../../src/errors/app-error.js';
import {
  IdempotentSend,
  idempotencyKeyOf,
  type SendAttempt,
  type Stored,
} from '../../src/messages/idempotent-send.js';
import type { Message } from '../../src/messages/message.js';
import type { IdempotencyClaim, SendIdempotency } from '../../src/messages/send-idempotency.js';

const message = (id: string): Message => ({
  id,
  senderId: 'aaaaaaaaaaaaaaaaaaaaaaaa',
  receiverId: 'bbbbbbbbbbbbbbbbbbbbbbbb',
  content: 'hi',
  imageUrl: null,
  publicId: null,
  createdAt: '2026-11-25T12:00:00.000Z',
});

/** The records' answers in turn, and every call the protocol made on them. */
function records(claims: IdempotencyClaim[], opts: { doneFails?: boolean } = {}) {
  const calls: string[] = [];
  const idempotency = {
    async claim(_user: string, _key: string, id: string) {
      calls.push('claim');
      const next = claims.length > 1 ? claims.shift() : claims[0];
      return next?.state === 'claimed' ? { ...next, id } : next;
    },
    async done(_user: string, _key: string, m: Message, persisted: boolean) {
      calls.push(`done ${m.id} ${persisted}`);
      if (opts.doneFails) throw new Error('Redis gone');
    },
    async release(_user: string, _key: string, id: string) {
      calls.push(`release ${id}`);
    },
    async abandon(_user: string, _key: string, id: string) {
      calls.push(`abandon ${id}`);
      throw new Error('Redis gone');
    },
  };
  return { calls, idempotency: idempotency as unknown as SendIdempotency };
}

/** An attempt whose steps are recorded in `calls`; `fail` makes one step throw. */
function attempt(
  calls: string[],
  fail: { admit?: Error; write?: Error; findStored?: Error } = {},
  stored: Stored | null = null,
): SendAttempt {
  return {
    newId: () => new ObjectId().toHexString(),
    async admit() {
      calls.push('admit');
      if (fail.admit) throw fail.admit;
    },
    async write(id) {
      calls.push(`write ${id}`);
      if (fail.write) throw fail.write;
      return { message: message(id), persisted: true, status: 201 };
    },
    async findStored(id) {
      calls.push(`findStored ${id}`);
      if (fail.findStored) throw fail.findStored;
      return stored;
    },
  };
}

const ID = '0123456789abcdef01234567';
const logger = pino({ level: 'silent' });
const bodyHash = () => 'h';

describe('the idempotency protocol of a send (IdempotentSend)', function () {
  it('without a key admits and writes under a fresh id, touching no record', async function () {
    const { calls, idempotency } = records([]);
    const send = new IdempotentSend({ idempotency, logger });
    // Hashed only for a key: a send without one does not pay for it.
    const unhashed = () => assert.fail('the body was hashed without a key');
    const result = await send.run('u', undefined, unhashed, attempt(calls));
    assert.match(result.message.id, /^[0-9a-f]{24}$/);
    assert.deepEqual(calls, ['admit', `write ${result.message.id}`]);
    assert.equal(result.replayed, false);
    assert.equal(result.status, 201);
  });

  it('claims, admits, writes under the claimed id and records it done', async function () {
    const { calls, idempotency } = records([{ state: 'claimed', id: '' }]);
    const result = await new IdempotentSend({ idempotency, logger }).run(
      'u',
      'k',
      bodyHash,
      attempt(calls),
    );
    const { id } = result.message;
    assert.deepEqual(calls, ['claim', 'admit', `write ${id}`, `done ${id} true`]);
    assert.equal(result.replayed, false);
  });

  it('answers a finished send again with 200, writing nothing', async function () {
    const { calls, idempotency } = records([
      { state: 'done', id: ID, message: message(ID), persisted: false },
    ]);
    const result = await new IdempotentSend({ idempotency, logger }).run(
      'u',
      'k',
      bodyHash,
      attempt(calls),
    );
    assert.deepEqual(result, {
      message: message(ID),
      persisted: false,
      status: 200,
      replayed: true,
    });
    assert.deepEqual(calls, ['claim']);
  });

  it('waits for a busy key, then answers 409 IDEMPOTENCY_IN_PROGRESS with Retry-After', async function () {
    const { calls, idempotency } = records([{ state: 'busy', id: ID }]);
    const send = new IdempotentSend({ idempotency, logger, waitMs: 200 });
    await assert.rejects(send.run('u', 'k', bodyHash, attempt(calls)), (err: AppError) => {
      assert.equal(err.code, 'IDEMPOTENCY_IN_PROGRESS');
      assert.equal(err.headers['Retry-After'], '1');
      return true;
    });
    assert.deepEqual(calls, ['claim', 'claim', 'claim']);
  });

  it('goes on once a busy key is free, and refuses another body with IDEMPOTENCY_CONFLICT', async function () {
    const free = records([
      { state: 'busy', id: ID },
      { state: 'claimed', id: '' },
    ]);
    await new IdempotentSend({ idempotency: free.idempotency, logger }).run(
      'u',
      'k',
      bodyHash,
      attempt(free.calls),
    );
    assert.deepEqual(free.calls.slice(0, 3), ['claim', 'claim', 'admit']);

    const { calls, idempotency } = records([{ state: 'conflict' }]);
    await assert.rejects(
      new IdempotentSend({ idempotency, logger }).run('u', 'k', bodyHash, attempt(calls)),
      { code: 'IDEMPOTENCY_CONFLICT' },
    );
    assert.deepEqual(calls, ['claim']);
  });

  it('a takeover answers what the stopped send stored, or writes under the same id', async function () {
    const stored = { message: message(ID), persisted: true };
    const found = records([{ state: 'takeover', id: ID }]);
    const replay = await new IdempotentSend({ idempotency: found.idempotency, logger }).run(
      'u',
      'k',
      bodyHash,
      attempt(found.calls, {}, stored),
    );
    assert.equal(replay.status, 200);
    assert.deepEqual(found.calls, ['claim', `findStored ${ID}`, `done ${ID} true`]);

    const lost = records([{ state: 'takeover', id: ID }]);
    const sent = await new IdempotentSend({ idempotency: lost.idempotency, logger }).run(
      'u',
      'k',
      bodyHash,
      attempt(lost.calls),
    );
    assert.equal(sent.message.id, ID);
    assert.deepEqual(lost.calls, [
      'claim',
      `findStored ${ID}`,
      'admit',
      `write ${ID}`,
      `done ${ID} true`,
    ]);
  });

  it('releases the key when the send is refused before any write', async function () {
    const refused = new AppError('RATE_LIMITED');
    for (const fail of [{ admit: refused }, { admit: new Error('down') }, { write: refused }]) {
      const { calls, idempotency } = records([{ state: 'takeover', id: ID }]);
      const send = new IdempotentSend({ idempotency, logger });
      await assert.rejects(
        send.run('u', 'k', bodyHash, attempt(calls, fail)),
        fail.admit ?? refused,
      );
      assert.equal(calls.at(-1), `release ${ID}`);
    }
  });

  it('abandons the claim when a write failed midway, rethrowing the write error', async function () {
    const { calls, idempotency } = records([{ state: 'takeover', id: ID }]);
    const failure = new Error('MongoDB said no');
    await assert.rejects(
      new IdempotentSend({ idempotency, logger }).run(
        'u',
        'k',
        bodyHash,
        attempt(calls, { write: failure }),
      ),
      failure,
    );
    assert.equal(calls.at(-1), `abandon ${ID}`);
  });

  it('abandons a takeover that could not tell what was stored, so the next retry need not wait a lease', async function () {
    const { calls, idempotency } = records([{ state: 'takeover', id: ID }]);
    const down = new Error('the shard is failing over');
    await assert.rejects(
      new IdempotentSend({ idempotency, logger }).run(
        'u',
        'k',
        bodyHash,
        attempt(calls, { findStored: down }),
      ),
      down,
    );
    assert.deepEqual(calls, ['claim', `findStored ${ID}`, `abandon ${ID}`]);
  });

  it('answers a written message even when recording it done fails', async function () {
    const { calls, idempotency } = records([{ state: 'takeover', id: ID }], { doneFails: true });
    const result = await new IdempotentSend({ idempotency, logger }).run(
      'u',
      'k',
      bodyHash,
      attempt(calls),
    );
    assert.equal(result.status, 201);
    assert.equal(calls.at(-1), `done ${ID} true`);
  });
});

describe('the idempotency key of a send (idempotencyKeyOf)', function () {
  it('is the one key given, in any of its places, or none', function () {
    assert.equal(idempotencyKeyOf([['Idempotency-Key', undefined]]), undefined);
    assert.equal(
      idempotencyKeyOf([
        ['Idempotency-Key', 'k-1'],
        ['clientMsgId', undefined],
        ['clientMsgId', 'k-1'],
      ]),
      'k-1',
    );
  });

  it('refuses a malformed key or two different ones, naming where', function () {
    assert.throws(() => idempotencyKeyOf([['Idempotency-Key', 'a b']]), {
      code: 'VALIDATION_FAILED',
      message: /^Idempotency-Key: must be 1 to 64 characters/,
    });
    assert.throws(
      () =>
        idempotencyKeyOf([
          ['Idempotency-Key', 'k-1'],
          ['clientMsgId', 'k-2'],
        ]),
      { code: 'VALIDATION_FAILED', message: 'clientMsgId: differs from the other idempotency key' },
    );
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { IDEMPOTENCY_KEY_RE } from '../contract/http-schemas.js';
import { AppError, isAppError } from '../errors/app-error.js';
import type { Logger } from '../logging/logger.js';
import type { Message } from './message.js';
import type { IdempotencyClaim, SendIdempotency } from './send-idempotency.js';

/** What a send answers. */
export interface SendResult {
  message: Message;
  /** True when the message is in MongoDB; false while only Redis holds it. */
  persisted: boolean;
  /**
   * HTTP status to answer: 201 stored now; 202 accepted into Redis because MongoDB was
   * down in write-through mode; 200 a retry of an earlier send (same idempotency key).
   */
  status: 200 | 201 | 202;
  /** True when this was a retry answered with the earlier message. */
  replayed: boolean;
}

/** A new message as written: see {@link SendAttempt.write}. */
export type Written = Omit<SendResult, 'status' | 'replayed'> & { status: 201 | 202 };

/** What an earlier attempt with the same id had stored. */
export interface Stored {
  message: Message;
  persisted: boolean;
}

/** The steps of one send, as {@link IdempotentSend.run} calls them. */
export interface SendAttempt {
  /** A fresh id for the message (it names the message's partition of the key space). */
  newId(): string;
  /** Refuses the send before anything is written (e.g. the rate limit). */
  admit(): Promise<void>;
  /**
   * Writes the message under `id`.
   * @throws AppError RATE_LIMITED when it refused the send with nothing written.
   */
  write(id: string): Promise<Written>;
  /** What an earlier attempt with `id` stored, or null when nothing (a takeover). */
  findStored(id: string): Promise<Stored | null>;
}

export interface IdempotentSendDeps {
  idempotency: SendIdempotency;
  logger: Logger;
  /** How long a retry waits for a concurrent request with its key to finish. @defaultValue 3000 */
  waitMs?: number;
}

/**
 * The idempotency protocol of a send (records: {@link SendIdempotency}). Without a key the
 * attempt just runs. With one, the key is claimed for a fresh id; a retry of a finished
 * send gets its message again (200); a retry of a send still in flight waits for it a
 * little, then gets a retryable 409; a retry taking over a send that stopped midway
 * answers what that send stored, or writes the message itself under the same id.
 */
export class IdempotentSend {
  private readonly idempotency: SendIdempotency;
  private readonly logger: Logger;
  private readonly waitMs: number;

  constructor(deps: IdempotentSendDeps) {
    this.idempotency = deps.idempotency;
    this.logger = deps.logger;
    this.waitMs = deps.waitMs ?? 3000;
  }

  /**
   * Runs `attempt` once per (user, key): `bodyHash` ({@link SendIdempotency.bodyHash}) tells
   * a retry from another request with the same key; it is called only when there is a key.
   * @throws AppError IDEMPOTENCY_CONFLICT, IDEMPOTENCY_IN_PROGRESS, or what `attempt` throws
   */
  async run(
    userId: string,
    key: string | undefined,
    bodyHash: () => string,
    attempt: SendAttempt,
  ): Promise<SendResult> {
    const proposedId = attempt.newId();
    if (key === undefined) {
      await attempt.admit();
      return { ...(await attempt.write(proposedId)), replayed: false };
    }

    const claim = await this.claim(userId, key, proposedId, bodyHash());
    if (claim.state === 'done') return replay(claim);
    const { id } = claim;
    if (claim.state === 'takeover') {
      let stored: Stored | null;
      try {
        stored = await attempt.findStored(id);
      } catch (err) {
        // Could not tell (a backend down): the next retry may take over at once, not after a lease.
        await this.idempotency.abandon(userId, key, id).catch(() => undefined);
        throw err;
      }
      if (stored) {
        await this.idempotency.done(userId, key, stored.message, stored.persisted);
        return replay(stored);
      }
    }

    try {
      await attempt.admit();
    } catch (err) {
      await this.idempotency.release(userId, key, id);
      throw err;
    }
    let written: Written;
    try {
      written = await attempt.write(id);
    } catch (err) {
      if (isAppError(err) && err.code === 'RATE_LIMITED') {
        await this.idempotency.release(userId, key, id);
      } else {
        // A write may have happened: keep the id for the retry, but let it take over now.
        await this.idempotency.abandon(userId, key, id).catch(() => undefined);
      }
      throw err;
    }
    // If this fails, a retry takes over after the lease and finds the message stored.
    await this.idempotency
      .done(userId, key, written.message, written.persisted)
      .catch((err: unknown) => {
        this.logger.warn({ err, id }, 'could not record an idempotent send as done');
      });
    return { ...written, replayed: false };
  }

  /** Claims `key`, polling while a concurrent request holds it, up to `waitMs`. */
  private async claim(
    userId: string,
    key: string,
    proposedId: string,
    bodyHash: string,
  ): Promise<Exclude<IdempotencyClaim, { state: 'conflict' | 'busy' }>> {
    let claim = await this.idempotency.claim(userId, key, proposedId, bodyHash);
    for (let waited = 0; claim.state === 'busy' && waited < this.waitMs; waited += 100) {
      await sleep(100);
      claim = await this.idempotency.claim(userId, key, proposedId, bodyHash);
    }
    if (claim.state === 'conflict') throw new AppError('IDEMPOTENCY_CONFLICT');
    if (claim.state === 'busy') {
      // Retryable, unlike IDEMPOTENCY_CONFLICT: the first request may still finish, or its
      // lease runs out (a crashed process) and the retry takes over.
      throw new AppError('IDEMPOTENCY_IN_PROGRESS', undefined, {
        headers: { 'Retry-After': '1' },
      });
    }
    return claim;
  }
}

/** The one idempotency key among the places a client may give it (all equal, or a 400). */
export function idempotencyKeyOf(
  candidates: Array<[name: string, value: string | undefined]>,
): string | undefined {
  let key: string | undefined;
  for (const [name, value] of candidates) {
    if (value === undefined) continue;
    if (!IDEMPOTENCY_KEY_RE.test(value)) {
      throw new AppError(
        'VALIDATION_FAILED',
        `${name}: must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -`,
      );
    }
    if (key !== undefined && key !== value) {
      throw new AppError('VALIDATION_FAILED', `${name}: differs from the other idempotency key`);
    }
    key = value;
  }
  return key;
}

function replay(stored: Stored): SendResult {
  return { message: stored.message, persisted: stored.persisted, status: 200, replayed: true };
}

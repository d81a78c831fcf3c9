import type { RedisKeys } from '../keys.js';
import { LuaScript, type ScriptRunner } from '../lua-script.js';
import { replyArray, replyFlag, unexpected } from './script-reply.js';

/** What a claim of an idempotency key found (`claim-idempotency-1.lua`). */
export type IdempotencyRecord =
  | { state: 'claimed' | 'takeover' | 'busy'; id: string }
  | { state: 'conflict' }
  | { state: 'done'; id: string; messageJson: string; persisted: boolean };

/** A new claim: the message id it proposes and what makes a retry the same request. */
export interface ClaimRequest {
  id: string;
  bodyHash: string;
  /** How long the record is kept. */
  ttlSeconds: number;
  /** How long a pending claim blocks retries before one may take over. */
  leaseMs: number;
}

/** How a claim ends (`settle-idempotency-1.lua`). */
export type Settlement =
  { action: 'done'; messageJson: string; persisted: boolean } | { action: 'release' | 'abandon' };

const scripts = {
  claim: LuaScript.load('claim-idempotency-1'),
  settle: LuaScript.load('settle-idempotency-1'),
};

/**
 * Typed calls of the idempotency scripts on `idem:{userId}:{key}` records: their key and
 * arguments, and their replies checked, in one place.
 */
export class IdempotencyRecords {
  constructor(
    private readonly redis: ScriptRunner,
    private readonly keys: RedisKeys,
  ) {}

  async claim(userId: string, key: string, request: ClaimRequest): Promise<IdempotencyRecord> {
    const reply = await scripts.claim.run(
      this.redis,
      [this.keys.idempotency(userId, key)],
      [request.id, request.bodyHash, request.ttlSeconds, request.leaseMs],
    );
    const [state, id, messageJson, persisted] = replyArray(reply, scripts.claim.name);
    if (state === 'conflict') return { state };
    if (typeof id === 'string') {
      if (state === 'done' && typeof messageJson === 'string') {
        return { state, id, messageJson, persisted: persisted === '1' };
      }
      if (state === 'claimed' || state === 'takeover' || state === 'busy') return { state, id };
    }
    throw unexpected(reply, scripts.claim.name);
  }

  /**
   * Settles the claim of message `id`. @returns false when the record is gone or is
   * another message's (nothing changed).
   */
  async settle(userId: string, key: string, id: string, how: Settlement): Promise<boolean> {
    const done = how.action === 'done';
    const reply = await scripts.settle.run(
      this.redis,
      [this.keys.idempotency(userId, key)],
      [how.action, id, done ? how.messageJson : '', done && how.persisted ? '1' : '0'],
    );
    return replyFlag(reply, scripts.settle.name);
  }
}

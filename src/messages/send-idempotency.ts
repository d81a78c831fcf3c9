import { createHash } from 'node:crypto';
import type { RedisKeys } from '../redis/keys.js';
import { LuaScript } from '../redis/lua-script.js';
import type { RedisClient } from '../redis/redis-client.js';
import type { Message } from './message.js';

/** What an idempotency claim found; see claim-idempotency-1.lua. */
export type IdempotencyClaim =
  | { state: 'claimed' | 'takeover' | 'busy'; id: string }
  | { state: 'conflict' }
  | { state: 'done'; id: string; message: Message; persisted: boolean };

export interface SendIdempotencyOptions {
  redis: RedisClient;
  keys: RedisKeys;
  /** How long a key is remembered. @defaultValue 86400 (24 h) */
  ttlSeconds?: number;
  /**
   * How long a pending claim makes retries wait before one may take over (longer than a
   * send can take: MongoDB server selection is 2 s). @defaultValue 10000
   */
  leaseMs?: number;
}

/**
 * Idempotency records of sends, in Redis (`idem:{userId}:{key}`, 24 h TTL).
 *
 * The first request claims the key with a fresh message id and a hash of its body; every
 * retry reuses that id, so the writes themselves are idempotent (MongoDB `_id`, shadow
 * field, cache key). A request that dies between claim and write leaves a pending claim:
 * after the lease a retry takes over and finishes the send with the same id (or finds it
 * already stored); before the lease a retry is told to wait (409). Limits: the record lives
 * in Redis, so it is lost with a Redis restart without persistence, or an eviction (it has
 * a TTL, so `volatile-lru` may evict it under memory pressure).
 */
export class SendIdempotency {
  private static readonly claimScript = LuaScript.load('claim-idempotency-1');
  private static readonly settleScript = LuaScript.load('settle-idempotency-1');
  private readonly ttlSeconds: number;
  readonly leaseMs: number;

  constructor(private readonly opts: SendIdempotencyOptions) {
    this.ttlSeconds = opts.ttlSeconds ?? 86400;
    this.leaseMs = opts.leaseMs ?? 10000;
  }

  /** A stable hash of what makes two sends "the same request". */
  static bodyHash(body: {
    receiverId: string;
    content: string | null;
    imageUrl: string | null;
    publicId: string | null;
  }): string {
    const canonical = JSON.stringify([body.receiverId, body.content, body.imageUrl, body.publicId]);
    return createHash('sha256').update(canonical).digest('base64url');
  }

  async claim(
    userId: string,
    key: string,
    proposedId: string,
    bodyHash: string,
  ): Promise<IdempotencyClaim> {
    const res = (await SendIdempotency.claimScript.run(
      this.opts.redis,
      [this.opts.keys.idempotency(userId, key)],
      [proposedId, bodyHash, this.ttlSeconds, this.leaseMs],
    )) as Array<string | null>;
    const [state, id, message, persisted] = res;
    if (state === 'conflict') return { state };
    if (state === 'done' && id && message) {
      return { state, id, message: JSON.parse(message) as Message, persisted: persisted === '1' };
    }
    if ((state === 'claimed' || state === 'takeover' || state === 'busy') && id) {
      return { state, id };
    }
    throw new Error(`unexpected idempotency claim answer ${JSON.stringify(res)}`);
  }

  /** Remembers the stored message for retries. */
  async done(userId: string, key: string, message: Message, persisted: boolean): Promise<void> {
    await this.settle(
      userId,
      key,
      'done',
      message.id,
      JSON.stringify(message),
      persisted ? '1' : '0',
    );
  }

  /** Forgets a claim whose request was refused before writing anything. */
  async release(userId: string, key: string, id: string): Promise<void> {
    await this.settle(userId, key, 'release', id, '', '0');
  }

  /** Ends the lease of a claim whose write failed midway: a retry takes over at once. */
  async abandon(userId: string, key: string, id: string): Promise<void> {
    await this.settle(userId, key, 'abandon', id, '', '0');
  }

  private async settle(
    userId: string,
    key: string,
    action: 'done' | 'release' | 'abandon',
    id: string,
    message: string,
    persisted: string,
  ): Promise<void> {
    await SendIdempotency.settleScript.run(
      this.opts.redis,
      [this.opts.keys.idempotency(userId, key)],
      [action, id, message, persisted],
    );
  }
}

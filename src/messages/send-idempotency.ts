import { createHash } from 'node:crypto';
import type { RedisKeys } from '../redis/keys.js';
import {
  IdempotencyRecords,
  type IdempotencyRecord,
} from '../redis/records/idempotency-records.js';
import type { RedisClient } from '../redis/redis-client.js';
import type { Message } from './message.js';

/** What an idempotency claim found (see IdempotencyRecords.claim), its message parsed. */
export type IdempotencyClaim =
  | Exclude<IdempotencyRecord, { state: 'done' }>
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
  private readonly records: IdempotencyRecords;
  private readonly ttlSeconds: number;
  readonly leaseMs: number;

  constructor(opts: SendIdempotencyOptions) {
    this.records = new IdempotencyRecords(opts.redis, opts.keys);
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
    const found = await this.records.claim(userId, key, {
      id: proposedId,
      bodyHash,
      ttlSeconds: this.ttlSeconds,
      leaseMs: this.leaseMs,
    });
    if (found.state !== 'done') return found;
    const message = JSON.parse(found.messageJson) as Message;
    return { state: 'done', id: found.id, message, persisted: found.persisted };
  }

  /** Remembers the stored message for retries. */
  async done(userId: string, key: string, message: Message, persisted: boolean): Promise<void> {
    await this.records.settle(userId, key, message.id, {
      action: 'done',
      messageJson: JSON.stringify(message),
      persisted,
    });
  }

  /** Forgets a claim whose request was refused before writing anything. */
  async release(userId: string, key: string, id: string): Promise<void> {
    await this.records.settle(userId, key, id, { action: 'release' });
  }

  /** Ends the lease of a claim whose write failed midway: a retry takes over at once. */
  async abandon(userId: string, key: string, id: string): Promise<void> {
    await this.records.settle(userId, key, id, { action: 'abandon' });
  }
}

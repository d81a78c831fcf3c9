import type { MessageShadow } from '../messages/message.js';
import { conversationId, type RedisKeys } from '../redis/keys.js';
import type { RedisClient } from '../redis/redis-client.js';
import { ExpiryScripts } from '../redis/records/expiry-scripts.js';

/** One entry of `expiry:dead`: an expiration whose processing failed `attempts` times. */
export interface DeadLetterEntry {
  /** The cache key, full name. */
  key: string;
  /** The last error. */
  error: string;
  attempts: number;
  /** When it was dead-lettered (ms since the epoch, Redis clock). */
  at: number;
  /** The message still to persist (its shadow stays until retried or dropped), if any. */
  shadow: MessageShadow | undefined;
}

/**
 * The expiry daemon's dead letters (`expiry:dead`), for operators (the CLI): list them,
 * retry one (back into the due index, due now, attempts reset: a running daemon picks it up
 * on its next round) or drop one for good (with its shadow and pending entry: the message
 * is then lost, so only for messages known to be unwanted or persisted by other means).
 */
export class DeadLetters {
  private readonly scripts: ExpiryScripts;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.scripts = new ExpiryScripts(redis, keys);
  }

  /** Number of dead letters. */
  async count(): Promise<number> {
    return this.redis.hLen(this.keys.dead);
  }

  /** Every dead letter, oldest first (HGETALL: meant for an operator's look, not a hot path). */
  async list(): Promise<DeadLetterEntry[]> {
    const all = await this.redis.hGetAll(this.keys.dead);
    const keys = Object.keys(all);
    if (keys.length === 0) return [];
    const shadows = await this.redis.hmGet(this.keys.shadow, keys);
    const out = keys.map((key, i): DeadLetterEntry => {
      const record = parseJson(all[key]) as Partial<{
        error: string;
        attempts: number;
        at: number;
      }>;
      const shadow = parseJson(shadows[i] ?? null) as MessageShadow | undefined;
      return {
        key,
        error: String(record?.error ?? ''),
        attempts: Number(record?.attempts ?? 0),
        at: Number(record?.at ?? 0),
        shadow,
      };
    });
    return out.sort((a, b) => a.at - b.at || (a.key < b.key ? -1 : 1));
  }

  /** Moves `key` back to the due index; false when it is not a dead letter. */
  async retry(key: string): Promise<boolean> {
    return this.scripts.retryDead(key);
  }

  /** Retries every dead letter; returns how many moved back. */
  async retryAll(): Promise<number> {
    let moved = 0;
    for (const key of await this.redis.hKeys(this.keys.dead)) {
      if (await this.retry(key)) moved++;
    }
    return moved;
  }

  /** Forgets `key` with its shadow and pending entry; false when it is not a dead letter. */
  async drop(key: string): Promise<boolean> {
    const shadow = parseJson(await this.redis.hGet(this.keys.shadow, key)) as
      MessageShadow | undefined;
    const m = shadow?.message;
    const pending =
      m && typeof m.senderId === 'string' && typeof m.receiverId === 'string'
        ? {
            pendingKey: this.keys.pendingByConversation(conversationId(m.senderId, m.receiverId)),
            messageId: String(m.id),
          }
        : undefined;
    return this.scripts.dropDead(key, pending);
  }
}

function parseJson(text: string | null | undefined): unknown {
  if (text == null) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

import type { MessageShadow } from '../messages/message.js';
import type { KeySpace } from '../redis/key-space.js';
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
 * The expiry daemon's dead letters (`expiry:dead` of every partition), for operators (the
 * CLI): list them, retry one (back into its partition's due index, due now, attempts
 * reset: a running daemon picks it up on its next round) or drop one for good (with its
 * shadow and pending entry: the message is then lost, so only for messages known to be
 * unwanted or persisted by other means). Each call touches one partition's keys at a time.
 */
export class DeadLetters {
  private readonly scripts = new Map<RedisKeys, ExpiryScripts>();

  constructor(
    private readonly redis: RedisClient,
    private readonly space: KeySpace,
  ) {
    for (const keys of space.partitions) this.scripts.set(keys, new ExpiryScripts(redis, keys));
  }

  /** Number of dead letters. */
  async count(): Promise<number> {
    const counts = await Promise.all(this.space.partitions.map((k) => this.redis.hLen(k.dead)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Every dead letter, oldest first (HGETALL: meant for an operator's look, not a hot path). */
  async list(): Promise<DeadLetterEntry[]> {
    const parts = await Promise.all(this.space.partitions.map((k) => this.listOf(k)));
    return parts.flat().sort((a, b) => a.at - b.at || (a.key < b.key ? -1 : 1));
  }

  /**
   * The full name of the dead letter `relative` names (a key without its partition's
   * prefix, as `KeySpace.relative` gives it); undefined when there is none. With one
   * partition, the name is not looked up.
   */
  async find(relative: string): Promise<string | undefined> {
    const names = this.space.partitions.map((k) => `${k.prefix}${relative}`);
    if (names.length === 1) return names[0];
    const held = await Promise.all(
      this.space.partitions.map((k, i) => this.redis.hExists(k.dead, names[i]!)),
    );
    const i = held.findIndex(Boolean);
    return i < 0 ? undefined : names[i];
  }

  /** Moves `key` back to its due index; false when it is not a dead letter. */
  async retry(key: string): Promise<boolean> {
    const keys = this.space.forKey(key);
    return keys ? this.scriptsOf(keys).retryDead(key) : false;
  }

  /** Retries every dead letter; returns how many moved back. */
  async retryAll(): Promise<number> {
    let moved = 0;
    for (const keys of this.space.partitions) {
      const scripts = this.scriptsOf(keys);
      for (const key of await this.redis.hKeys(keys.dead)) {
        if (await scripts.retryDead(key)) moved++;
      }
    }
    return moved;
  }

  /** Forgets `key` with its shadow and pending entry; false when it is not a dead letter. */
  async drop(key: string): Promise<boolean> {
    const keys = this.space.forKey(key);
    if (!keys) return false;
    const shadow = parseJson(await this.redis.hGet(keys.shadow, key)) as MessageShadow | undefined;
    const m = shadow?.message;
    const pending =
      m && typeof m.senderId === 'string' && typeof m.receiverId === 'string'
        ? {
            pendingKey: keys.pendingByConversation(conversationId(m.senderId, m.receiverId)),
            messageId: String(m.id),
          }
        : undefined;
    return this.scriptsOf(keys).dropDead(key, pending);
  }

  private async listOf(keys: RedisKeys): Promise<DeadLetterEntry[]> {
    const all = await this.redis.hGetAll(keys.dead);
    const names = Object.keys(all);
    if (names.length === 0) return [];
    const shadows = await this.redis.hmGet(keys.shadow, names);
    return names.map((key, i): DeadLetterEntry => {
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
  }

  private scriptsOf(keys: RedisKeys): ExpiryScripts {
    const scripts = this.scripts.get(keys);
    if (!scripts) throw new TypeError(`${keys.prefix} is not a partition of this key space`);
    return scripts;
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

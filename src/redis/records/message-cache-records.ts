import type { KeySpace } from '../key-space.js';
import type { RedisKeys } from '../keys.js';
import { LuaScript, type ScriptRunner } from '../lua-script.js';
import { replyArray, replyFlag, replyInteger, replyText } from './script-reply.js';

/** What names a message's keys and its place in its conversation list. */
export interface MessageRef {
  id: string;
  senderId: string;
  receiverId: string;
  /** ISO 8601 (the pending score). */
  createdAt: string;
}

/**
 * When written keys expire: a TTL in seconds from now (Redis clock), or `{ atMs }`, an
 * absolute time on that clock, with which seeders make many keys fall due together.
 */
export type Ttl = number | { atMs: number };

/**
 * The sender's rate-limit counter, as the limiter gives it for a script that counts the
 * send itself (`SendRateLimiter.scriptInput`): its key and `[limit, window ms]`.
 */
export interface SendCounter {
  keys: [string];
  args: [number, number];
}

/** A send's write (`send-message-8.lua`). */
export interface SendWrite {
  /** The message JSON, cached and served as it is. */
  json: string;
  ttl: Ttl;
  /** Messages kept in the conversation list. */
  listSize: number;
  /** The `MessageShadow` JSON the daemon persists; absent when MongoDB has the message. */
  shadow?: string;
  /**
   * Count the send on this counter first; nothing is written when it is over the limit.
   * One node only: on a cluster the counter is in another slot than the partition.
   */
  rateLimit?: SendCounter;
}

export type SendOutcome =
  | {
      sent: true;
      /** Whether the conversation's cached list got the message. */
      listUpdated: boolean;
      /** The conversation generation after the bump. */
      generation: number;
    }
  | { sent: false; retryInMs: number };

/** A condition for {@link MessageCacheRecords.cacheOne}: `key` still holds `value`. */
export interface CacheGuard {
  /** Full key name (e.g. `keys.conversationGeneration(a, b)`). */
  key: string;
  /** Expected value; null = the key must not exist. */
  value: string | null;
}

const scripts = {
  send: LuaScript.load('send-message-8'),
  drop: LuaScript.load('drop-message-cache-7'),
  fill: LuaScript.load('fill-conversation-3'),
  read: LuaScript.load('read-cache-1'),
  cacheOne: LuaScript.load('cache-message-3'),
};

/**
 * Typed calls of the scripts that write and read the message cache (each file in
 * `src/redis/scripts/` documents its KEYS, ARGV and output): the one place that knows
 * their key order and arguments and checks their replies.
 */
export class MessageCacheRecords {
  constructor(
    private readonly redis: ScriptRunner,
    private readonly space: KeySpace,
  ) {}

  /**
   * Caches a sent message: its entry, its place in the cached conversation list, both
   * deadlines, the generation bump, and the shadow + pending entry when given.
   */
  async send(message: MessageRef, write: SendWrite): Promise<SendOutcome> {
    const counter = write.rateLimit;
    const keys = this.writeKeys(message);
    // Without a counter KEYS[8] is unused: one of the partition's keys, so a cluster sees one slot.
    const reply = await scripts.send.run(
      this.redis,
      [...keys, counter ? counter.keys[0] : keys[0]!],
      [
        write.json,
        ttlArgument(write.ttl),
        write.listSize,
        write.shadow ?? '',
        message.id,
        Date.parse(message.createdAt),
        counter ? counter.args[0] : '',
        counter ? counter.args[1] : '',
      ],
    );
    const r = replyArray(reply, scripts.send.name);
    const status = replyInteger(r[0], scripts.send.name);
    const value = replyInteger(r[1], scripts.send.name);
    if (status === -1) return { sent: false, retryInMs: value };
    return { sent: true, listUpdated: status === 1, generation: value };
  }

  /**
   * After an edit or delete reached MongoDB: drops every cached copy of the message, its
   * shadow and pending entry, and bumps the generation, which it returns.
   */
  async drop(message: Omit<MessageRef, 'createdAt'>): Promise<number> {
    const reply = await scripts.drop.run(this.redis, this.writeKeys(message), [message.id]);
    return replyInteger(reply, scripts.drop.name);
  }

  /**
   * Replaces the cached list of the conversation of `a` and `b` with `messages` (JSON,
   * oldest first), unless it was written since `generation` was read (null: it did not
   * exist). @returns whether the list was written (never for no messages).
   */
  async fill(
    a: string,
    b: string,
    generation: string | null,
    messages: string[],
    ttl: Ttl,
  ): Promise<boolean> {
    if (messages.length === 0) return false; // Redis has no empty lists.
    const k = this.space.forConversation(a, b);
    const reply = await scripts.fill.run(
      this.redis,
      [k.conversation(a, b), k.conversationGeneration(a, b), k.due],
      [generation ?? '', ttlArgument(ttl), k.message(''), ...messages],
    );
    return replyFlag(reply, scripts.fill.name);
  }

  /**
   * A cache entry's value as readers see it (a message entry's pointer into its list
   * followed); null when absent, or when the pointer leads nowhere. `key` is a full name.
   */
  async read(key: string): Promise<string | null> {
    return replyText(await scripts.read.run(this.redis, [key], []), scripts.read.name);
  }

  /**
   * Sets one cache entry (`key`, a full name; not a conversation list) with its deadline in
   * the due index. @returns false only when `guard` was given and had changed.
   */
  async cacheOne(key: string, value: string, ttl: Ttl, guard?: CacheGuard): Promise<boolean> {
    const reply = await scripts.cacheOne.run(
      this.redis,
      [key, this.partitionOf(key).dueSlots, guard ? guard.key : key],
      [value, ttlArgument(ttl), guard ? '1' : '0', guard?.value ?? ''],
    );
    return replyFlag(reply, scripts.cacheOne.name);
  }

  /** The partition of a full key name; a key outside the key space is a caller's bug. */
  private partitionOf(key: string): RedisKeys {
    const keys = this.space.forKey(key);
    if (!keys) throw new TypeError(`not a key of this application: ${key}`);
    return keys;
  }

  /**
   * The keys a write of one message touches, in the KEYS order of the send and drop
   * scripts: entry, conversation list, generation, due index, shadows, pending, due slots.
   */
  private writeKeys(m: Omit<MessageRef, 'createdAt'>): string[] {
    const k = this.space.forConversation(m.senderId, m.receiverId);
    return [
      k.message(m.id),
      k.conversation(m.senderId, m.receiverId),
      k.conversationGeneration(m.senderId, m.receiverId),
      k.due,
      k.shadow,
      k.pending(m.senderId, m.receiverId),
      k.dueSlots,
    ];
  }
}

/** A {@link Ttl} as the scripts take it (lib/clock.lua's `deadlineOf`). */
function ttlArgument(ttl: Ttl): string | number {
  return typeof ttl === 'number' ? ttl : `at:${Math.round(ttl.atMs)}`;
}

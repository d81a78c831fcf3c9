import { RESP_TYPES } from 'redis';
import type { KeySpace } from '../redis/key-space.js';
import { MessageCacheRecords } from '../redis/records/message-cache-records.js';
import type { RedisClient } from '../redis/redis-client.js';
import { compareMessages, type Message, type MessageShadow } from './message.js';

/** A conversation's cached list, parsed. */
export interface CachedConversation {
  /** Oldest first, each id once. */
  messages: Message[];
  /**
   * True when the list holds the whole conversation: it is shorter than the cache size, so
   * neither a fill nor LTRIM cut anything off.
   */
  complete: boolean;
}

export interface ConversationCacheOptions {
  redis: RedisClient;
  space: KeySpace;
  /** TTL of the list (config.cache.ttlSeconds). */
  ttlSeconds: number;
  /** Messages kept in a list (config.cache.conversationSize). */
  size: number;
}

/** The latest messages of a cached list, as the JSON text of an array (oldest first). */
export interface CachedPage {
  /**
   * `[m1,m2,…]` in UTF-8, in pieces to concatenate (`[`, m1, `,`, m2, …, `]`): the cached
   * strings as Redis sent them, never decoded, copied once where the answer is made.
   */
  json: Buffer[];
  /** How many messages `json` holds. */
  count: number;
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/**
 * The Redis side of conversation reads: the cached list (`messages:{a}:{b}`), its
 * generation counter (`convgen:{a}:{b}`), and the messages still pending persistence
 * (`pending:{a}:{b}` + `expiry:shadow`).
 */
export class ConversationCache {
  /** The same connection, answering strings as Buffers: pages go out as Redis sent them. */
  private readonly raw;
  private readonly records: MessageCacheRecords;

  constructor(private readonly opts: ConversationCacheOptions) {
    this.raw = opts.redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    this.records = new MessageCacheRecords(opts.redis, opts.space);
  }

  /**
   * The latest `limit` messages as JSON text, straight from the cached list (which the send
   * and fill scripts keep sorted and unique): the hot read path, one `LRANGE`, nothing
   * parsed. Null when the list is not cached, or holds fewer than `limit` while it may lack
   * older ones (it is full: LTRIM or the fill may have cut some off).
   */
  async readLatest(a: string, b: string, limit: number): Promise<CachedPage | null> {
    const items = await this.raw.lRange(
      this.opts.space.forConversation(a, b).conversation(a, b),
      -limit,
      -1,
    );
    const count = items.length;
    if (count === 0 || (count < limit && count >= this.opts.size)) return null;
    const parts: Buffer[] = [OPEN];
    for (const item of items) {
      if (parts.length > 1) parts.push(COMMA);
      parts.push(item);
    }
    parts.push(CLOSE);
    return { json: parts, count };
  }

  /** The cached list, or null when it is not cached. */
  async read(a: string, b: string): Promise<CachedConversation | null> {
    const raw = await this.opts.redis.lRange(
      this.opts.space.forConversation(a, b).conversation(a, b),
      0,
      -1,
    );
    if (raw.length === 0) return null;
    const messages = uniqueSorted(raw.map((s) => JSON.parse(s) as Message));
    return { messages, complete: raw.length < this.opts.size };
  }

  /** The generation to pass to {@link fill}; read it before reading MongoDB. */
  async generation(a: string, b: string): Promise<string | null> {
    return this.opts.redis.get(this.opts.space.forConversation(a, b).conversationGeneration(a, b));
  }

  /**
   * Caches the latest `size` of `messages` (oldest first) as the conversation's list, unless
   * the conversation was written since `generation` was read.
   * @returns whether the list was written.
   */
  async fill(
    a: string,
    b: string,
    generation: string | null,
    messages: Message[],
  ): Promise<boolean> {
    const latest = messages.slice(-this.opts.size).map((m) => JSON.stringify(m));
    return this.records.fill(a, b, generation, latest, this.opts.ttlSeconds);
  }

  /**
   * The conversation's messages not yet in MongoDB, oldest first. Read them BEFORE MongoDB:
   * a message the daemon persists in between is then in one or both, never in neither.
   */
  async pending(a: string, b: string): Promise<Message[]> {
    const { redis } = this.opts;
    const keys = this.opts.space.forConversation(a, b);
    const ids = await redis.zRange(keys.pending(a, b), 0, -1);
    if (ids.length === 0) return [];
    const shadows = await redis.hmGet(
      keys.shadow,
      ids.map((id) => keys.message(id)),
    );
    const out: Message[] = [];
    for (const s of shadows) {
      // No shadow: acked by the daemon meanwhile, so it is in MongoDB now.
      if (s) out.push((JSON.parse(s) as MessageShadow).message);
    }
    return out.sort(compareMessages);
  }

  /** The shadow of one message still pending persistence, if any. */
  async shadow(id: string): Promise<Message | null> {
    const keys = this.opts.space.forMessage(id);
    const s = await this.opts.redis.hGet(keys.shadow, keys.message(id));
    return s ? (JSON.parse(s) as MessageShadow).message : null;
  }
}

/**
 * Sorts messages into conversation order, keeping each id once; on a duplicate the later
 * argument wins (pass MongoDB's after the pending ones so an edit wins over a shadow).
 */
export function uniqueSorted(...lists: Message[][]): Message[] {
  const byId = new Map<string, Message>();
  for (const list of lists) for (const m of list) byId.set(m.id, m);
  return [...byId.values()].sort(compareMessages);
}

/**
 * A page served from the cached list when it lies entirely inside it; null otherwise.
 * Without `before`: the last `limit` (the list must hold that many, or all there is).
 * With `before`: the `limit` messages before it, if `before` is in the list and the list
 * reaches back far enough (or is the whole conversation).
 */
export function pageFromCache(
  list: Message[],
  complete: boolean,
  limit: number,
  before?: string,
): Message[] | null {
  if (before === undefined) {
    return list.length >= limit || complete ? list.slice(-limit) : null;
  }
  const i = list.findIndex((m) => m.id === before);
  if (i < 0) return null;
  if (i >= limit) return list.slice(i - limit, i);
  return complete ? list.slice(0, i) : null;
}

import { ObjectId } from 'mongodb';
import { MAX_REDIS_PARTITIONS, type Config } from '../config/config.js';
import { conversationId, escapeGlob, RedisKeys } from './keys.js';

/** Hash slots of Redis Cluster. */
const SLOTS = 16384;

/**
 * Where each key lives (docs/redis-data-model.md, "Partitions"): the shared keys under the
 * prefix, and every key of a conversation — entries, list, generation, pending set, shadows
 * and its part of the due index — in one of `count` partitions. A partition's keys start
 * with `{prefix}{tag}:`, so Redis Cluster puts them in one hash slot and a script that
 * builds a key from another of that partition's keys stays in that slot. The tags are
 * chosen so that partition i hashes into the i-th of `count` equal slot ranges.
 *
 * A single untagged partition is the prefix itself: the key names of a single Redis node.
 */
export class KeySpace {
  /** Keys not tied to a conversation: stats, users, rate limits, idempotency, channels. */
  readonly shared: RedisKeys;
  readonly partitions: readonly RedisKeys[];
  private readonly byTag = new Map<string, RedisKeys>();

  constructor(
    readonly prefix: string,
    readonly count: number,
    /** Tag the partitions even when there is one (a cluster). */
    tagged: boolean,
  ) {
    if (!Number.isInteger(count) || count < 1 || count > MAX_REDIS_PARTITIONS) {
      throw new RangeError(`partition count must be 1 to ${MAX_REDIS_PARTITIONS}, got ${count}`);
    }
    this.shared = new RedisKeys(prefix);
    if (count === 1 && !tagged) {
      this.partitions = [this.shared];
      return;
    }
    this.partitions = partitionTags(count).map((tag) => {
      const keys = new RedisKeys(`${prefix}{${tag}}:`);
      this.byTag.set(tag, keys);
      return keys;
    });
  }

  /** One untagged partition: the key names of a single Redis node under `prefix`. */
  static single(prefix = ''): KeySpace {
    return new KeySpace(prefix, 1, false);
  }

  /** The partition of the conversation of `a` and `b`. */
  partitionOf(a: string, b: string): number {
    return conversationBucket(a, b, this.count);
  }

  forConversation(a: string, b: string): RedisKeys {
    return this.partitions[this.partitionOf(a, b)]!;
  }

  /**
   * The partition a message id names ({@link newMessageId}). An id made before the
   * deployment had its partitions names one at random: its entry is then not found and
   * the message is read from MongoDB.
   */
  forMessage(id: string): RedisKeys {
    return this.partitions[this.partitionOfId(id)]!;
  }

  /** The partition of a user's records that many processes read (the known-users set). */
  forUser(id: string): RedisKeys {
    return this.partitions[this.count === 1 ? 0 : fnv1a(id) % this.count]!;
  }

  /** The partition a full key name belongs to; undefined when it is not under the prefix. */
  forKey(key: string): RedisKeys | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    if (this.byTag.size === 0) return this.shared;
    const rest = key.slice(this.prefix.length);
    const end = rest.indexOf('}:');
    if (!rest.startsWith('{') || end < 0) return undefined;
    return this.byTag.get(rest.slice(1, end));
  }

  /**
   * The full name of a key given relative to its partition (`message:<id>`,
   * `messages:<a>:<b>`, or any other name, which is spread by its hash), as the cache
   * service and the CLI take keys.
   */
  full(relative: string): string {
    return this.forRelative(relative).prefix + relative;
  }

  /** A full key name without its partition's prefix; undefined when it is not ours. */
  relative(key: string): string | undefined {
    const keys = this.forKey(key);
    return keys ? key.slice(keys.prefix.length) : undefined;
  }

  /** The SCAN MATCH pattern of a relative glob `pattern` in every partition. */
  match(pattern: string): string {
    return this.byTag.size === 0
      ? `${escapeGlob(this.prefix)}${pattern}`
      : `${escapeGlob(this.prefix)}{*}:${pattern}`;
  }

  private forRelative(relative: string): RedisKeys {
    if (this.count === 1) return this.partitions[0]!;
    if (relative.startsWith('message:')) return this.forMessage(relative.slice(8));
    const conversation = /^messages:([^:]+):([^:]+)$/.exec(relative);
    if (conversation) return this.forConversation(conversation[1]!, conversation[2]!);
    return this.partitions[fnv1a(relative) % this.count]!;
  }

  /**
   * A new message id (an ObjectId, so MongoDB orders by it) for the conversation of `a`
   * and `b`, carrying its partition in bytes 7–8, which the driver fills with a per-process
   * random value; the timestamp and the counter stay as they are.
   */
  newMessageId(a: string, b: string): string {
    const id = new ObjectId().toHexString();
    if (this.count === 1) return id;
    const partition = this.partitionOf(a, b).toString(16).padStart(4, '0');
    return id.slice(0, 14) + partition + id.slice(18);
  }

  private partitionOfId(id: string): number {
    if (this.count === 1) return 0;
    const n = Number.parseInt(id.slice(14, 18), 16);
    return Number.isNaN(n) ? 0 : n % this.count;
  }
}

/** Which of `count` buckets the conversation of `a` and `b` falls in: partitions, shard channels. */
export function conversationBucket(a: string, b: string, count: number): number {
  return count === 1 ? 0 : fnv1a(conversationId(a, b)) % count;
}

/** The key space of a configured deployment (untagged on one node with one partition). */
export function keySpaceOf(redis: Config['redis']): KeySpace {
  return new KeySpace(redis.keyPrefix, redis.partitions, redis.clusterNodes !== undefined);
}

/**
 * For each partition i of `count`, the shortest decimal tag whose hash slot falls in the
 * i-th of `count` equal slot ranges, so partitions spread over masters as slots do.
 */
export function partitionTags(count: number): string[] {
  const tags: Array<string | undefined> = new Array<string | undefined>(count);
  let found = 0;
  for (let n = 0; found < count; n++) {
    const tag = String(n);
    const i = Math.floor((crc16(tag) % SLOTS) / (SLOTS / count));
    if (tags[i] === undefined) {
      tags[i] = tag;
      found++;
    }
  }
  return tags as string[];
}

/** The hash slot of a key name, as Redis Cluster computes it (hash tag included). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16(key.slice(open + 1, close)) % SLOTS;
  }
  return crc16(key) % SLOTS;
}

/** CRC16-CCITT (XMODEM), the hash of Redis Cluster's key slots, over the UTF-8 bytes. */
function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/**
 * 32-bit FNV-1a with murmur3's finalizer: FNV-1a alone spreads the low bits poorly (ids
 * that differ in their last digits would share a few partitions), and `mod n` reads them.
 */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

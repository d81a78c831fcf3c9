import type { Logger } from '../logging/logger.js';
import type { KeySpace } from '../redis/key-space.js';
import { scanKeys, unlinkKeys } from '../redis/redis-nodes.js';
import { MessageCacheRecords, type CacheGuard } from '../redis/records/message-cache-records.js';
import type { RedisClient } from '../redis/redis-client.js';

export type { CacheGuard };

export interface CacheServiceOptions {
  redis: RedisClient;
  space: KeySpace;
  logger: Logger;
  /** TTL used when `setCache` is given none. @defaultValue 5 */
  defaultTtlSeconds?: number;
  /** COUNT hint of each SCAN step. @defaultValue 500 */
  scanCount?: number;
}

/**
 * The guide's cache service on Redis. Keys given to and returned by it are relative to the
 * configured key prefix (`message:<id>`), which it adds itself, and are logged that way:
 * `Cached: message:<id> (TTL: 5s)`, `Cache hit: …`, `Cache miss: …`, `Deleted from cache: …`.
 *
 * Every entry it sets also gets its deadline in the expiry daemon's due index (same
 * script), so the daemon sees every expiration. It never touches the daemon's records:
 * `deleteCache` and `clearAll` remove cache entries only, and a due entry left behind is
 * harmless (the daemon finds the key gone and acks it), whereas dropping one could strand
 * the shadow of a message not yet in MongoDB.
 */
export class CacheService {
  private readonly redis: RedisClient;
  private readonly space: KeySpace;
  private readonly logger: Logger;
  private readonly scanCount: number;
  private readonly records: MessageCacheRecords;
  /** TTL of `setCache` without one. */
  readonly defaultTtlSeconds: number;

  constructor(opts: CacheServiceOptions) {
    const ttl = opts.defaultTtlSeconds ?? 5;
    if (!Number.isInteger(ttl) || ttl < 1) {
      throw new TypeError(`defaultTtlSeconds must be a whole number ≥ 1, got ${ttl}`);
    }
    this.redis = opts.redis;
    this.space = opts.space;
    this.records = new MessageCacheRecords(opts.redis, opts.space);
    this.logger = opts.logger;
    this.defaultTtlSeconds = ttl;
    this.scanCount = opts.scanCount ?? 500;
  }

  /**
   * Stores `data` as JSON under `key` for `ttl` seconds (default: the TTL given at
   * construction) and records its deadline in the due index, atomically.
   * @returns false only when a `guard` was given and had changed (nothing written).
   */
  async setCache(
    key: string,
    data: unknown,
    ttl: number = this.defaultTtlSeconds,
    opts: { guard?: CacheGuard } = {},
  ): Promise<boolean> {
    if (!Number.isInteger(ttl) || ttl < 1) throw new TypeError(`ttl must be ≥ 1 s, got ${ttl}`);
    if (await this.records.cacheOne(this.full(key), JSON.stringify(data), ttl, opts.guard)) {
      this.logger.debug({ key, ttl }, `Cached: ${key} (TTL: ${ttl}s)`);
      return true;
    }
    this.logger.debug({ key }, `Not cached (changed meanwhile): ${key}`);
    return false;
  }

  /**
   * The parsed JSON under `key`, or null when absent (or not JSON). A message entry that
   * points into its conversation list is read from there (`read-cache-1.lua`).
   */
  async getCache<T = unknown>(key: string): Promise<T | null> {
    const raw = await this.readRaw(key);
    if (raw === null) {
      this.logger.debug({ key }, `Cache miss: ${key}`);
      return null;
    }
    try {
      const value = JSON.parse(raw) as T;
      this.logger.debug({ key }, `Cache hit: ${key}`);
      return value;
    } catch {
      // Not ours or corrupted: treat as a miss, the caller reloads from MongoDB.
      this.logger.warn({ key }, `Cache miss (unparseable entry): ${key}`);
      return null;
    }
  }

  /**
   * The string under `key` as every read sees it, unparsed: a message entry that points into
   * its conversation list gives that list's element (`read-cache-1.lua`). Null when absent,
   * or when the pointer leads nowhere (the list is gone).
   */
  async readRaw(key: string): Promise<string | null> {
    return this.records.read(this.full(key));
  }

  /** Removes `key`; true when it existed. */
  async deleteCache(key: string): Promise<boolean> {
    const n = await this.redis.unlink(this.full(key));
    if (n > 0) this.logger.debug({ key }, `Deleted from cache: ${key}`);
    return n > 0;
  }

  /**
   * Keys (relative to the prefix) matching a Redis glob `pattern` under the prefix, found
   * with SCAN (never KEYS, which blocks the server). A key may be reported twice by SCAN;
   * the result has each once.
   */
  async getKeysByPattern(pattern: string): Promise<string[]> {
    const found = new Set<string>();
    for await (const batch of scanKeys(this.redis, {
      MATCH: this.space.match(pattern),
      COUNT: this.scanCount,
    })) {
      for (const k of batch) {
        const relative = this.space.relative(k);
        if (relative !== undefined) found.add(relative);
      }
    }
    return [...found];
  }

  /**
   * Removes every cache entry of this application (`message:*` and `messages:*` under the
   * prefix) with SCAN + UNLINK; never FLUSHDB/FLUSHALL, and never the daemon's records.
   * @returns how many keys were removed.
   */
  async clearAll(): Promise<number> {
    let removed = 0;
    for (const pattern of ['message:*', 'messages:*']) {
      for await (const batch of scanKeys(this.redis, {
        MATCH: this.space.match(pattern),
        COUNT: this.scanCount,
      })) {
        removed += await unlinkKeys(this.redis, batch);
      }
    }
    this.logger.info({ removed }, `Cache cleared: ${removed} entries`);
    return removed;
  }

  private full(key: string): string {
    return this.space.full(key);
  }
}

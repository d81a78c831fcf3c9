import { MongoClient, ObjectId } from 'mongodb';
import { createClient } from 'redis';
import type { ExpiryDaemon } from '../../src/expiry/expiry-daemon.js';
import { messageJson, shadowJson, type Message } from '../../src/messages/message.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import type { RedisClient } from '../../src/redis/redis-client.js';
import { dueEntryCount } from './due-index.js';
import { createTestContext, type TestContext } from './test-context.js';

/**
 * How {@link seedMessages} sends: a TTL, or `atMs`, one time (ms, Redis clock = this
 * machine's) at which every message falls due: a burst.
 */
export type SeedOptions = ({ ttlSeconds: number } | { atMs: number }) & {
  /** Leave a shadow + pending entry, as write-behind does. */
  shadow: boolean;
  /** Users the messages are spread over (conversations = pairs). @defaultValue 10 */
  users?: number;
  /** Requests in flight at once (node-redis pipelines them). @defaultValue 500 */
  concurrency?: number;
};

/**
 * Sends `count` messages into the cache exactly as the API's send path does, through the
 * same typed call (entry, due index, shadow and pending entry when `shadow`), and returns
 * them.
 */
export async function seedMessages(
  redis: RedisClient,
  keys: RedisKeys,
  count: number,
  opts: SeedOptions,
): Promise<Message[]> {
  const users = opts.users ?? 10;
  const messages: Message[] = [];
  const base = Date.now();
  for (let i = 0; i < count; i++) {
    const sender = `u${i % users}`;
    const receiver = `u${(i + 1 + (i % 3)) % users}`;
    messages.push({
      id: new ObjectId().toHexString(),
      senderId: sender,
      receiverId: receiver === sender ? `u${(i + 1) % users}` : receiver,
      content: `message ${i}`,
      imageUrl: null,
      publicId: null,
      createdAt: new Date(base + i).toISOString(),
    });
  }
  const records = new MessageCacheRecords(redis, keys);
  const ttl = 'atMs' in opts ? { atMs: opts.atMs } : opts.ttlSeconds;
  const sendOne = (m: Message) => {
    const json = messageJson(m);
    const shadow = opts.shadow ? shadowJson(json, undefined) : undefined;
    return records.send(m, { json, ttl, listSize: 100, shadow });
  };
  const concurrency = opts.concurrency ?? 500;
  for (let i = 0; i < messages.length; i += concurrency) {
    await Promise.all(messages.slice(i, i + concurrency).map(sendOne));
  }
  return messages;
}

/** What {@link daemonRecords} answers once every expiration was processed. */
export const NO_RECORDS = { due: 0, inflight: 0, shadow: 0, attempts: 0, dead: 0 };

/** Sizes of the daemon's records: all zero once every expiration was processed. */
export async function daemonRecords(redis: RedisClient, keys: RedisKeys) {
  const [due, inflight, shadow, attempts, dead] = await Promise.all([
    dueEntryCount(redis, keys),
    redis.zCard(keys.inflight),
    redis.hLen(keys.shadow),
    redis.hLen(keys.attempts),
    redis.hLen(keys.dead),
  ]);
  return { due, inflight, shadow, attempts, dead };
}

/** Entries left in the `pending:{a}:{b}` sets of the conversations of `messages`. */
export async function pendingCount(
  redis: RedisClient,
  keys: RedisKeys,
  messages: Message[],
): Promise<number> {
  const pendingKeys = new Set(messages.map((m) => keys.pending(m.senderId, m.receiverId)));
  const sizes = await Promise.all([...pendingKeys].map((k) => redis.zCard(k)));
  return sizes.reduce((a, b) => a + b, 0);
}

/** What {@link useExpiryTestbed} sets up before each test (fields are valid inside tests). */
export interface ExpiryTestbed {
  ctx: TestContext;
  keys: RedisKeys;
  /** A plain client on the test's Redis (no key prefix: use `keys`). */
  redis: RedisClient;
  /** A client on the test's MongoDB server. */
  mongo: MongoClient;
  /** Daemons a test started: all stopped after it. */
  daemons: ExpiryDaemon[];
}

/**
 * The per-test setup of the daemon tests: a fresh write-behind test context, a Redis and a
 * MongoDB client, and the daemons to stop afterwards; everything is closed and cleaned up
 * after each test. Call it inside a `describe`.
 */
export function useExpiryTestbed(name: string): ExpiryTestbed {
  const bed = { daemons: [] as ExpiryDaemon[] } as ExpiryTestbed;
  beforeEach(async () => {
    bed.ctx = createTestContext(name, { PERSISTENCE_MODE: 'write-behind' });
    bed.keys = new RedisKeys(bed.ctx.config.redis.keyPrefix);
    bed.redis = createClient({ url: bed.ctx.config.redis.url }) as RedisClient;
    bed.redis.on('error', () => {});
    await bed.redis.connect();
    bed.mongo = new MongoClient(bed.ctx.config.mongo.uri);
  });
  afterEach(async () => {
    await Promise.all(bed.daemons.map((d) => d.stop()));
    bed.daemons.length = 0;
    await bed.redis.close();
    await bed.mongo.close();
    await bed.ctx.cleanup();
  });
  return bed;
}

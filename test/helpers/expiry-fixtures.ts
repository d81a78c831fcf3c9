import { Writable } from 'node:stream';
import { MongoClient, type Collection } from 'mongodb';
import { pino } from 'pino';
import { createClient } from 'redis';
import type { Config } from '../../src/config/config.js';
import { ExpiryDaemon, type ExpiryDaemonOptions } from '../../src/expiry/expiry-daemon.js';
import type { PersistShadows } from '../../src/expiry/persist-pipeline.js';
import { sleep } from '../../src/lifecycle/wait.js';
import type { Logger } from '../../src/logging/logger.js';
import {
  messageJson,
  shadowJson,
  type Message,
  type MessageDoc,
} from '../../src/messages/message.js';
import { MessageStore } from '../../src/messages/message-store.js';
import { createMongoClient } from '../../src/mongo/mongo-client.js';
import { KeySpace, keySpaceOf } from '../../src/redis/key-space.js';
import type { RedisKeys } from '../../src/redis/keys.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import { createRedisClient, type RedisNodeClient } from '../../src/redis/redis-client.js';
import { dueEntryCount, type DueReader } from './due-index.js';
import { sharedServers, startThrowawayRedis, type ThrowawayRedis } from './servers.js';
import { createTestContext, type TestContext } from './test-context.js';

/**
 * Where the fixtures' keys live: a key space, or the keys of one untagged partition (the
 * default deployment), which is the key space of that prefix.
 */
export type FixtureKeys = KeySpace | RedisKeys;

function spaceOf(keys: FixtureKeys): KeySpace {
  return keys instanceof KeySpace ? keys : KeySpace.single(keys.prefix);
}

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
 * same typed call (entry, due index, shadow and pending entry when `shadow`, each in the
 * partition of its conversation), and returns them.
 */
export async function seedMessages(
  redis: RedisNodeClient,
  keys: FixtureKeys,
  count: number,
  opts: SeedOptions,
): Promise<Message[]> {
  const space = spaceOf(keys);
  const users = opts.users ?? 10;
  const messages: Message[] = [];
  const base = Date.now();
  for (let i = 0; i < count; i++) {
    const sender = `u${i % users}`;
    const other = `u${(i + 1 + (i % 3)) % users}`;
    const receiver = other === sender ? `u${(i + 1) % users}` : other;
    messages.push({
      id: space.newMessageId(sender, receiver),
      senderId: sender,
      receiverId: receiver,
      content: `message ${i}`,
      imageUrl: null,
      publicId: null,
      createdAt: new Date(base + i).toISOString(),
    });
  }
  const records = new MessageCacheRecords(redis, space);
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

/** Sizes of the daemon's records, summed over the partitions: all zero once every expiration was processed. */
export async function daemonRecords(
  redis: DueReader & { hLen(key: string): Promise<number> },
  keys: FixtureKeys,
) {
  const sums = { ...NO_RECORDS };
  for (const p of spaceOf(keys).partitions) {
    const [due, inflight, shadow, attempts, dead] = await Promise.all([
      dueEntryCount(redis, p),
      redis.zCard(p.inflight),
      redis.hLen(p.shadow),
      redis.hLen(p.attempts),
      redis.hLen(p.dead),
    ]);
    sums.due += due;
    sums.inflight += inflight;
    sums.shadow += shadow;
    sums.attempts += attempts;
    sums.dead += dead;
  }
  return sums;
}

/** Entries left in the `pending:{a}:{b}` sets of the conversations of `messages`. */
export async function pendingCount(
  redis: RedisNodeClient,
  keys: FixtureKeys,
  messages: Message[],
): Promise<number> {
  const space = spaceOf(keys);
  const pendingKeys = new Set(
    messages.map((m) =>
      space.forConversation(m.senderId, m.receiverId).pending(m.senderId, m.receiverId),
    ),
  );
  const sizes = await Promise.all([...pendingKeys].map((k) => redis.zCard(k)));
  return sizes.reduce((a, b) => a + b, 0);
}

/** What {@link slowPersist} saw: calls, shadows, and the most bulk writes at once. */
export interface PersistLog {
  calls: number;
  shadows: number;
  running: number;
  maxRunning: number;
}

/** The real persistence, `delayMs` slower, logging how many writes overlap. */
export function slowPersist(delayMs: number): { persist: PersistShadows; log: PersistLog } {
  const log: PersistLog = { calls: 0, shadows: 0, running: 0, maxRunning: 0 };
  const persist: PersistShadows = async (messages, shadows) => {
    log.calls++;
    log.shadows += shadows.length;
    log.running++;
    log.maxRunning = Math.max(log.maxRunning, log.running);
    try {
      // Holds the bulk write open long enough for writes of one daemon to overlap.
      await sleep(delayMs);
      return await messages.insertMissing(shadows);
    } finally {
      log.running--;
    }
  };
  return { persist, log };
}

/** A debug-level logger whose lines (parsed) land in `lines`. */
export function capturingLogger(lines: Array<{ msg?: string }>): Logger {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) {
          if (line) lines.push(JSON.parse(line) as { msg?: string });
        }
        cb();
      },
    }),
  );
}

/** A logger at `warn` that keeps each log line as it was written (JSON text) in `lines`. */
export function warnLineLogger(lines: string[]): Logger {
  return pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
}

/** A daemon with the clients it works on. */
export interface TestDaemon {
  daemon: ExpiryDaemon;
  /** Stops the daemon, then closes its clients. */
  close(): Promise<void>;
}

/**
 * A daemon, not started, on a Redis and a MongoDB client of its own, built and connected as
 * src/bin/daemon.ts builds them.
 */
export async function createTestDaemon(
  config: Config,
  logger: Logger,
  options: ExpiryDaemonOptions = {},
): Promise<TestDaemon> {
  const redis = createRedisClient(config.redis, logger, { name: 'expiry-daemon' });
  const mongo = createMongoClient(config.mongo, logger, { appName: 'expiry-daemon' });
  await Promise.all([redis.connect(), mongo.connect()]);
  const messages = MessageStore.fromDb(mongo.db(config.mongo.db));
  const daemon = new ExpiryDaemon({ config, logger, redis, messages }, options);
  return {
    daemon,
    async close() {
      await daemon.stop();
      await redis.close().catch(() => redis.destroy());
      await mongo.close();
    },
  };
}

/** Where a file's daemon tests run. */
export interface ExpiryTestbedOptions {
  /** Variables of the test's config (e.g. `REDIS_PARTITIONS`). */
  env?: Record<string, string>;
  /**
   * Servers of the file's own, read before each test (so servers a `before` hook started
   * are up by then). @defaultValue the shared servers
   */
  servers?: () => { redisUrl: string; mongoUri: string };
}

/** What {@link useExpiryTestbed} sets up before each test (fields are valid inside tests). */
export interface ExpiryTestbed {
  ctx: TestContext;
  /** The test's key space (`keySpaceOf` its config). */
  space: KeySpace;
  /** The shared keys; with one partition (the default), also that partition's. */
  keys: RedisKeys;
  /** A plain client on the test's Redis (no key prefix: use `keys`). */
  redis: RedisNodeClient;
  /** The test's messages collection, on a client of the test's own. */
  messages: Collection<MessageDoc>;
  /** Daemons of the test (made by {@link ExpiryTestbed.daemon}): all stopped after it. */
  daemons: ExpiryDaemon[];
  /**
   * A daemon, not started, from {@link createTestDaemon} (`defaultMetrics` false unless
   * given); `logger` defaults to the context's.
   */
  daemon(options?: ExpiryDaemonOptions, logger?: Logger): Promise<ExpiryDaemon>;
  /** Moves the test onto a throwaway Redis started with `args`; call it before any daemon. */
  useOwnRedis(args: string[]): Promise<void>;
  /** Ids of the messages in the test's MongoDB. */
  storedIds(): Promise<string[]>;
}

/**
 * The per-test setup of the daemon tests: a fresh write-behind test context, a Redis and a
 * MongoDB client, and the daemons to stop afterwards; everything is closed and cleaned up
 * after each test. Call it inside a `describe`.
 */
export function useExpiryTestbed(name: string, opts: ExpiryTestbedOptions = {}): ExpiryTestbed {
  const servers = opts.servers ?? sharedServers;
  const started: TestDaemon[] = [];
  let mongo: MongoClient;
  let ownRedis: ThrowawayRedis | undefined;

  async function open(on: { redisUrl: string; mongoUri: string }): Promise<void> {
    bed.ctx = createTestContext(name, { PERSISTENCE_MODE: 'write-behind', ...opts.env }, on);
    bed.space = keySpaceOf(bed.ctx.config.redis);
    bed.keys = bed.space.shared;
    bed.redis = createClient({ url: bed.ctx.config.redis.url }) as RedisNodeClient;
    bed.redis.on('error', () => {});
    await bed.redis.connect();
    mongo = new MongoClient(bed.ctx.config.mongo.uri);
    bed.messages = MessageStore.fromDb(mongo.db(bed.ctx.config.mongo.db)).collection;
  }

  async function close(): Promise<void> {
    bed.daemons.length = 0;
    await Promise.all(started.splice(0).map((d) => d.close()));
    await bed.redis.close();
    await mongo.close();
    await bed.ctx.cleanup();
    await ownRedis?.dispose();
    ownRedis = undefined;
  }

  const bed = {
    daemons: [] as ExpiryDaemon[],
    async daemon(options: ExpiryDaemonOptions = {}, logger = bed.ctx.logger) {
      const made = await createTestDaemon(bed.ctx.config, logger, {
        defaultMetrics: false,
        ...options,
      });
      started.push(made);
      bed.daemons.push(made.daemon);
      return made.daemon;
    },
    async useOwnRedis(args: string[]) {
      await close();
      ownRedis = await startThrowawayRedis({ extraArgs: args });
      await open({ ...servers(), redisUrl: ownRedis.url });
    },
    async storedIds() {
      const docs = await bed.messages.find({}, { projection: { _id: 1 } }).toArray();
      return docs.map((d) => d._id.toHexString());
    },
  } as ExpiryTestbed;

  beforeEach(() => open(servers()));
  afterEach(close);
  return bed;
}

import type { Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { MessageStore } from '../messages/message-store.js';
import { keySpaceOf, type KeySpace } from '../redis/key-space.js';
import type { RedisKeys } from '../redis/keys.js';
import { clusterNodeOptions, isClusterClient, type RedisClient } from '../redis/redis-client.js';
import { ClaimLoop } from './claim-loop.js';
import { DeadLetters } from './dead-letter.js';
import { ExpiryScripts } from '../redis/records/expiry-scripts.js';
import { ExpiryTelemetry, type ExpiryDaemonStats, type RecentLag } from './expiry-telemetry.js';
import { HintBuffer } from './hint-buffer.js';
import { ClusterKeyeventSubscriber } from './cluster-keyevent-subscriber.js';
import { KeyeventSubscriber, type ExpiryHints } from './keyevent-subscriber.js';
import { PersistPipeline, type PersistShadows } from './persist-pipeline.js';
import { PersistSlots } from './persist-slots.js';

/** What an {@link ExpiryDaemon} works on; the caller connects these and closes them after stop(). */
export interface ExpiryDaemonDeps {
  /** redis (db, url, keyPrefix, partitions) and the expiry.* defaults. */
  config: Config;
  /** Where the keys live. @defaultValue `keySpaceOf(config.redis)` */
  space?: KeySpace;
  logger: Logger;
  /**
   * The main Redis connection (claims, acks, shared stats; the subscription takes a
   * duplicate). Queueing commands while Redis is down (no fail-fast) makes a round wait.
   */
  redis: RedisClient;
  /** Where message shadows are persisted. */
  messages: MessageStore;
}

/** Tuning of an {@link ExpiryDaemon}; every field is optional. */
export interface ExpiryDaemonOptions {
  /** Longest sleep between two poll rounds. @defaultValue `config.expiry.pollIntervalMs` (1000) */
  pollIntervalMs?: number;
  /** Entries claimed per script call (and persisted per bulk write). @defaultValue `config.expiry.batchSize` (500) */
  batchSize?: number;
  /** Failed attempts before an entry moves to `expiry:dead`. @defaultValue `config.expiry.maxAttempts` (8) */
  maxAttempts?: number;
  /** How long a claim is held before another daemon may take it over. @defaultValue `config.expiry.leaseMs` (30000) */
  leaseMs?: number;
  /** Delay before the first retry of a failed entry; doubles per attempt, with jitter. @defaultValue 500 */
  backoffBaseMs?: number;
  /** Cap of the retry delay. @defaultValue 60000 */
  backoffMaxMs?: number;
  /**
   * How long keyevent hints are gathered before one claim, and the shortest sleep between
   * poll rounds (so entries due a millisecond apart are claimed together). @defaultValue 5
   */
  hintWindowMs?: number;
  /** Hints claimed per call; a full buffer is claimed at once. @defaultValue 500 */
  hintBatchSize?: number;
  /**
   * Batches persisted (bulk writes in flight) at once, by the whole daemon whatever the
   * number of partitions. The loops claim and prepare the next batches while they run, so
   * their own work and Redis round trips hide behind MongoDB's.
   * @defaultValue 2
   */
  persistConcurrency?: number;
  /** Subscribe to `expired` keyevents; false runs on the poll alone. @defaultValue true */
  subscribe?: boolean;
  /** Also collect prom-client's default Node process metrics. @defaultValue true */
  defaultMetrics?: boolean;
  /** How shadows are written to MongoDB. @defaultValue {@link MessageStore.insertMissing} */
  persist?: PersistShadows;
}

/**
 * The expiry daemon (docs/redis-data-model.md): learns of due cache entries from Redis's
 * `expired` keyevents (a fast hint, see {@link KeyeventSubscriber}) and from its durable
 * due index (the record), claims them atomically so that each is processed by exactly one
 * of any number of daemons ({@link ClaimLoop}), logs `Deleted from cache: <key>`, persists
 * the message shadows (write-behind) to MongoDB and acks, or nacks with a backoff and
 * finally dead-letters when persistence fails ({@link PersistPipeline}); what it did is
 * reported through {@link ExpiryTelemetry}. Each partition of the key space has its own
 * loop and pipeline (a script touches one partition's keys); the keyevent hints are routed
 * to the loop of their key's partition, and the bulk writes of all of them share one bound
 * ({@link PersistSlots}).
 */
export class ExpiryDaemon {
  private readonly space: KeySpace;
  private readonly logger: Logger;
  private readonly redis: RedisClient;
  private readonly telemetry: ExpiryTelemetry;
  /** One per partition, in the order of `space.partitions`. */
  private readonly loops: ClaimLoop[];
  private readonly loopOf = new Map<RedisKeys, ClaimLoop>();
  private readonly subscriber: ExpiryHints | undefined;
  /** Logged at start. */
  private readonly tuning: { pollIntervalMs: number; batchSize: number; partitions: number };
  private state: 'new' | 'running' | 'stopped' = 'new';
  private stopped: Promise<void> | undefined;

  constructor(deps: ExpiryDaemonDeps, options: ExpiryDaemonOptions = {}) {
    const { config, redis } = deps;
    const pollIntervalMs = options.pollIntervalMs ?? config.expiry.pollIntervalMs;
    const batchSize = options.batchSize ?? config.expiry.batchSize;
    const hintBatchSize = options.hintBatchSize ?? 500;
    const hintWindowMs = options.hintWindowMs ?? 5;
    const persistConcurrency = options.persistConcurrency ?? 2;
    const maxAttempts = options.maxAttempts ?? config.expiry.maxAttempts;
    if (batchSize < 1 || hintBatchSize < 1 || persistConcurrency < 1) {
      throw new TypeError('batchSize, hintBatchSize and persistConcurrency must be at least 1');
    }
    if (maxAttempts < 1) throw new TypeError('maxAttempts must be at least 1');
    this.logger = deps.logger;
    this.redis = redis;
    this.space = deps.space ?? keySpaceOf(config.redis);
    this.tuning = { pollIntervalMs, batchSize, partitions: this.space.partitions.length };
    this.telemetry = new ExpiryTelemetry(redis, this.space.shared, {
      defaultMetrics: options.defaultMetrics ?? true,
    });
    const slots = new PersistSlots(persistConcurrency);
    const many = this.space.partitions.length > 1;
    this.loops = this.space.partitions.map((keys, partition) => {
      const logger = many ? this.logger.child({ partition }) : this.logger;
      const scripts = new ExpiryScripts(redis, keys);
      const pipeline = new PersistPipeline({
        scripts,
        keys,
        logger,
        telemetry: this.telemetry,
        messages: deps.messages,
        persist: options.persist ?? ((messages, shadows) => messages.insertMissing(shadows)),
        slots,
        maxAttempts,
        backoffBaseMs: options.backoffBaseMs ?? 500,
        backoffMaxMs: options.backoffMaxMs ?? 60000,
        onError: (what, err) => loop.failed(what, err),
        onRetry: (delayMs) => loop.retryIn(delayMs),
      });
      const loop = new ClaimLoop({
        partition,
        keys,
        scripts,
        hints: new HintBuffer(hintBatchSize, hintWindowMs),
        pipeline,
        telemetry: this.telemetry,
        logger,
        pollIntervalMs,
        batchSize,
        hintBatchSize,
        hintWindowMs,
        leaseMs: options.leaseMs ?? config.expiry.leaseMs,
      });
      this.loopOf.set(keys, loop);
      return loop;
    });
    if (options.subscribe ?? true) {
      const handlers = {
        onExpired: (key: string) => this.hint(key),
        // Events published while a subscription was down are lost: poll now.
        onReconnect: () => {
          for (const loop of this.loops) loop.requestPoll();
        },
      };
      this.subscriber = isClusterClient(redis)
        ? new ClusterKeyeventSubscriber({
            cluster: redis,
            logger: this.logger,
            nodeOptions: clusterNodeOptions(config.redis, { name: 'expiry-subscriber' }),
            ...handlers,
          })
        : new KeyeventSubscriber({
            redis,
            db: config.redis.db,
            url: config.redis.url,
            logger: this.logger,
            ...handlers,
          });
    }
  }

  /**
   * Checks keyspace notifications and subscribes, then starts the loops, each with an
   * immediate round (entries that fell due while no daemon ran are claimed at once).
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('ExpiryDaemon.start() may be called once');
    this.state = 'running';
    await this.subscriber?.start();
    for (const loop of this.loops) loop.start();
    this.logger.info(
      { ...this.tuning, notifications: this.notifications },
      'expiry daemon started',
    );
  }

  /**
   * Graceful stop: no new claims (unsubscribes, drops unclaimed hints), waits for every
   * claimed batch of every partition to be persisted and acked, flushes the shared stats.
   * Entries left unclaimed stay in the due index for the next daemon. Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    if (this.state === 'running') {
      const drained = Promise.all(this.loops.map((loop) => loop.stop()));
      await this.subscriber?.stop();
      await drained;
    }
    this.state = 'stopped';
    await this.telemetry.close();
    this.logger.info(this.stats().processed, 'expiry daemon stopped');
  }

  /** Counters since start. */
  stats(): ExpiryDaemonStats {
    return this.telemetry.stats(this.notifications);
  }

  /** Lag percentiles (ms) over the last 10 s, for live displays; undefined when idle. */
  recentLag(): RecentLag {
    return this.telemetry.recentLag();
  }

  /** The Prometheus metrics of this daemon, for the process's `GET /metrics`. */
  get metricsRegistry(): Registry {
    return this.telemetry.registry;
  }

  /** The dead letters of every partition, on this daemon's connection (for operator actions). */
  deadLetters(): DeadLetters {
    return new DeadLetters(this.redis, this.space);
  }

  /** An expired key, to the loop of its partition; a key of no partition is not ours. */
  private hint(key: string): void {
    const keys = this.space.forKey(key);
    if (keys) this.loopOf.get(keys)?.hint(key);
  }

  private get notifications(): ExpiryDaemonStats['notifications'] {
    return this.subscriber?.notifications ?? 'not-subscribed';
  }
}

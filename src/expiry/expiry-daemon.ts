import type { AddressInfo } from 'node:net';
import type { Collection, MongoClient } from 'mongodb';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { MessageDoc, MessageShadow } from '../messages/message.js';
import { messagesCollection } from '../messages/message-store.js';
import { connectMongoWithRetry, createMongoClient } from '../mongo/mongo-client.js';
import { conversationId, RedisKeys } from '../redis/keys.js';
import { createRedisClient, type RedisClient } from '../redis/redis-client.js';
import { RollingPercentiles } from '../metrics/rolling-percentiles.js';
import { SharedStats } from '../metrics/shared-stats.js';
import { DeadLetters } from './dead-letter.js';
import { ExpiryMetrics, type ExpirySource } from './expiry-metrics.js';
import {
  ExpiryScripts,
  NackOutcome,
  type AckItem,
  type Claim,
  type ClaimedEntry,
} from './expiry-scripts.js';
import { insertMissingMessages } from '../messages/message-store.js';
import { KeyeventSubscriber, type NotificationState } from './keyevent-subscriber.js';
import { retryBackoff } from './retry-backoff.js';

/** Writes message shadows to MongoDB, idempotently (same signature as `insertMissingMessages`). */
export type PersistShadows = (
  collection: Collection<MessageDoc>,
  shadows: MessageShadow[],
) => Promise<unknown>;

/** Tuning of an {@link ExpiryDaemon}; every field is optional when constructing one. */
export interface ExpiryDaemonOptions {
  /** Longest sleep between two poll rounds. @defaultValue `config.expiry.pollIntervalMs` (1000) */
  pollIntervalMs: number;
  /** Entries claimed per script call (and persisted per bulk write). @defaultValue `config.expiry.batchSize` (500) */
  batchSize: number;
  /** Failed attempts before an entry moves to `expiry:dead`. @defaultValue `config.expiry.maxAttempts` (8) */
  maxAttempts: number;
  /** How long a claim is held before another daemon may take it over. @defaultValue `config.expiry.leaseMs` (30000) */
  leaseMs: number;
  /** Delay before the first retry of a failed entry; doubles per attempt, with jitter. @defaultValue 500 */
  backoffBaseMs: number;
  /** Cap of the retry delay. @defaultValue 60000 */
  backoffMaxMs: number;
  /**
   * How long keyevent hints are gathered before one claim, and the shortest sleep between
   * poll rounds (so entries due a millisecond apart are claimed together). @defaultValue 5
   */
  hintWindowMs: number;
  /** Hints claimed per call; a full buffer is claimed at once. @defaultValue 500 */
  hintBatchSize: number;
  /** Subscribe to `expired` keyevents; false runs on the poll alone. @defaultValue true */
  subscribe: boolean;
  /** Port of `GET /metrics`; undefined serves none, 0 takes any free port. @defaultValue undefined */
  metricsPort: number | undefined;
  /** Interface of the metrics server. @defaultValue `config.expiry.metricsHost` ('127.0.0.1') */
  metricsHost: string;
  /** Also collect prom-client's default Node process metrics. @defaultValue true */
  defaultMetrics: boolean;
  /** How shadows are written to MongoDB. @defaultValue {@link insertMissingMessages} */
  persist: PersistShadows;
  /** Shown in logs and as the Redis client name. @defaultValue 'expiry-daemon' */
  name: string;
}

/** What an {@link ExpiryDaemon} is built from. */
export interface ExpiryDaemonDeps {
  /** redis (url, db, keyPrefix), mongo, expiry.* defaults. */
  config: Config;
  logger: Logger;
  /** Main Redis connection; when absent the daemon creates one and closes it on stop(). */
  redis?: RedisClient;
  /** Messages collection; when absent the daemon creates a MongoDB client and closes it on stop(). */
  messages?: Collection<MessageDoc>;
}

/** Counters of one daemon since start (for tests, the CLI and logs). */
export interface ExpiryDaemonStats {
  /** Expirations acknowledged by this daemon (a matching ack), by source. */
  processed: { event: number; poll: number; total: number };
  /** Messages written to MongoDB by this daemon. */
  persisted: number;
  /** Batches whose persistence failed. */
  persistFailures: number;
  /** Entries given back to the due index with a backoff. */
  retried: number;
  /** Entries this daemon moved to `expiry:dead`. */
  deadLettered: number;
  /** Poll rounds completed. */
  rounds: number;
  /** Rounds or hint claims that failed (Redis errors); the loop backs off and goes on. */
  errors: number;
  notifications: NotificationState | 'not-subscribed';
  /** From the last round: the due index size, how many of them were already due, dead letters. */
  backlog: { indexed: number; due: number; deadLetters: number };
}

/** Hints kept at most while a round runs; beyond it the poll (which finds them all) is asked for. */
const HINT_BUFFER_LIMIT_FACTOR = 20;

/**
 * The expiry daemon (docs/redis-data-model.md): learns of due cache entries from Redis's
 * `expired` keyevents (a fast hint) and from its durable due index (the record, polled at
 * the earliest deadline and at least every `pollIntervalMs`), claims them atomically so
 * that each is processed by exactly one of any number of daemons, logs
 * `Deleted from cache: <key>`, persists the message shadows (write-behind) to MongoDB, and
 * acks — or nacks with a backoff, and finally dead-letters, when persistence fails.
 *
 * All claiming and processing of one daemon runs in a single loop, so rounds never
 * overlap; errors are logged and backed off, never thrown out of the loop.
 */
export class ExpiryDaemon {
  readonly options: Readonly<ExpiryDaemonOptions>;
  readonly keys: RedisKeys;
  private readonly config: Config;
  private readonly logger: Logger;
  private readonly redis: RedisClient;
  private readonly ownsRedis: boolean;
  private readonly mongo: MongoClient | undefined;
  /** False until an owned MongoDB client connected (an injected collection is assumed ready). */
  private mongoReady: boolean;
  private readonly mongoAbort = new AbortController();
  private readonly messages: Collection<MessageDoc>;
  private readonly scripts: ExpiryScripts;
  private readonly metrics: ExpiryMetrics;
  private readonly subscriber: KeyeventSubscriber | undefined;
  /** Cluster-wide figures for the dashboard and the cache CLI (flushed once a second). */
  private readonly shared: SharedStats;
  private readonly lagWindow = new RollingPercentiles(10_000);

  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private loop: Promise<void> | undefined;
  /** The loop's one timer, and the function that ends its sleep early. */
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** Local clock (ms) of the next poll round. */
  private nextPollAt = 0;
  private readonly hints = new Set<string>();
  private hintsDueAt = 0;
  private errorStreak = 0;
  private address: AddressInfo | undefined;
  private readonly counters = {
    event: 0,
    poll: 0,
    persisted: 0,
    persistFailures: 0,
    retried: 0,
    deadLettered: 0,
    rounds: 0,
    errors: 0,
  };
  private backlog = { indexed: 0, due: 0, deadLetters: 0 };

  constructor(deps: ExpiryDaemonDeps, options: Partial<ExpiryDaemonOptions> = {}) {
    const { config } = deps;
    const opts: ExpiryDaemonOptions = {
      pollIntervalMs: config.expiry.pollIntervalMs,
      batchSize: config.expiry.batchSize,
      maxAttempts: config.expiry.maxAttempts,
      leaseMs: config.expiry.leaseMs,
      backoffBaseMs: 500,
      backoffMaxMs: 60000,
      hintWindowMs: 5,
      hintBatchSize: 500,
      subscribe: true,
      metricsPort: undefined,
      metricsHost: config.expiry.metricsHost,
      defaultMetrics: true,
      persist: insertMissingMessages,
      name: 'expiry-daemon',
      ...stripUndefined(options),
    };
    if (opts.batchSize < 1 || opts.hintBatchSize < 1) {
      throw new TypeError('batchSize and hintBatchSize must be at least 1');
    }
    if (opts.maxAttempts < 1) throw new TypeError('maxAttempts must be at least 1');
    this.options = Object.freeze(opts);
    this.config = config;
    this.logger = deps.logger.child({ component: opts.name });
    this.keys = new RedisKeys(config.redis.keyPrefix);

    this.ownsRedis = !deps.redis;
    // The daemon queues commands while Redis is down (no fail-fast): a round just waits.
    this.redis = deps.redis ?? createRedisClient(config.redis, this.logger, { name: opts.name });
    this.mongoReady = deps.messages !== undefined;
    if (deps.messages) {
      this.messages = deps.messages;
    } else {
      this.mongo = createMongoClient(config.mongo, this.logger, { appName: opts.name });
      this.messages = messagesCollection(this.mongo.db(config.mongo.db));
    }
    this.scripts = new ExpiryScripts(this.redis, this.keys);
    this.metrics = new ExpiryMetrics({ defaultMetrics: opts.defaultMetrics });
    this.shared = new SharedStats(this.redis, this.keys, () => ({
      role: 'daemon',
      lagP50Ms: this.lagWindow.percentile(50),
      lagP99Ms: this.lagWindow.percentile(99),
    }));
    if (opts.subscribe) {
      this.subscriber = new KeyeventSubscriber({
        redis: this.redis,
        db: config.redis.db,
        url: config.redis.url,
        logger: this.logger,
        onExpired: (key) => this.hint(key),
        // Events published while the subscription was down are lost: poll now.
        onReconnect: () => this.requestPoll(),
      });
    }
  }

  /**
   * Connects (when it owns its clients), checks keyspace notifications, subscribes, serves
   * metrics, and starts the loop with an immediate round (entries that fell due while no
   * daemon ran are claimed at once).
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('ExpiryDaemon.start() may be called once');
    this.state = 'running';
    if (this.ownsRedis) await this.redis.connect();
    if (this.mongo) {
      // In the background: entries without a shadow need no MongoDB, and shadows wait
      // (nack + backoff) until it is there. Not left to the driver's connect-on-first-use:
      // when that first connect fails, the client stays closed ("Topology is closed").
      // Once connected, the driver rides out later outages by itself.
      const mongo = this.mongo;
      connectMongoWithRetry(mongo, this.config.mongo, this.logger, this.mongoAbort.signal).then(
        () => {
          this.mongoReady = true;
        },
        () => {
          // Aborted by stop().
        },
      );
    }
    if (this.options.metricsPort !== undefined) {
      this.address = await this.metrics.listen(this.options.metricsHost, this.options.metricsPort);
      this.logger.info(
        { host: this.address.address, port: this.address.port },
        'expiry metrics at /metrics',
      );
    }
    await this.subscriber?.start();
    this.loop = this.run().catch((err: unknown) => {
      // run() catches per step; this is a last resort so no rejection goes unhandled.
      this.logger.fatal({ err }, 'expiry loop ended unexpectedly');
    });
    this.logger.info(
      {
        pollIntervalMs: this.options.pollIntervalMs,
        batchSize: this.options.batchSize,
        notifications: this.subscriber?.notifications ?? 'not-subscribed',
      },
      'expiry daemon started',
    );
  }

  /**
   * Graceful stop: no new claims (unsubscribes, clears the timer, drops unclaimed hints),
   * waits for the claimed batch to be persisted and acked, then closes the metrics server
   * and the connections it owns. Entries left unclaimed stay in the due index for the next
   * daemon. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') {
      await this.loop;
      return;
    }
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    if (wasRunning) {
      await this.subscriber?.stop();
      this.hints.clear();
      this.wake?.();
      await this.loop;
      await this.metrics.close();
    }
    await this.shared.close();
    if (this.ownsRedis && this.redis.isOpen) {
      await this.redis.close().catch(() => this.redis.destroy());
    }
    this.mongoAbort.abort();
    await this.mongo?.close().catch(() => {});
    this.state = 'stopped';
    this.logger.info(this.stats().processed, 'expiry daemon stopped');
  }

  /** Counters since start. */
  stats(): ExpiryDaemonStats {
    const c = this.counters;
    return {
      processed: { event: c.event, poll: c.poll, total: c.event + c.poll },
      persisted: c.persisted,
      persistFailures: c.persistFailures,
      retried: c.retried,
      deadLettered: c.deadLettered,
      rounds: c.rounds,
      errors: c.errors,
      notifications: this.subscriber?.notifications ?? 'not-subscribed',
      backlog: { ...this.backlog },
    };
  }

  /** The dead letters, on this daemon's connection (for operator actions). */
  deadLetters(): DeadLetters {
    return new DeadLetters(this.redis, this.keys);
  }

  /** Lag percentiles (ms) over the last 10 s, for live displays; undefined when idle. */
  recentLag(): { p50: number | undefined; p99: number | undefined } {
    return { p50: this.lagWindow.percentile(50), p99: this.lagWindow.percentile(99) };
  }

  /** The metrics server's address (after start(), when `metricsPort` was given). */
  get metricsAddress(): AddressInfo | undefined {
    return this.address;
  }

  /** The Prometheus text this daemon exposes (what `GET /metrics` answers). */
  async metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }

  /** Asks for a poll round as soon as the current step is done. */
  requestPoll(): void {
    this.nextPollAt = 0;
    this.wake?.();
  }

  // ---- the loop ---------------------------------------------------------------------

  /** The one scheduler: claims hints when their window closed, polls when due, else sleeps. */
  private async run(): Promise<void> {
    while (this.state === 'running') {
      const now = Date.now();
      if (
        this.hints.size > 0 &&
        (this.hints.size >= this.options.hintBatchSize || now >= this.hintsDueAt)
      ) {
        await this.step('hints', () => this.claimHints());
      } else if (now >= this.nextPollAt) {
        await this.step('poll', () => this.pollRound());
      } else {
        await this.sleepUntil(
          this.hints.size > 0 ? Math.min(this.nextPollAt, this.hintsDueAt) : this.nextPollAt,
        );
      }
    }
  }

  private sleepUntil(at: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      this.timer = setTimeout(done, Math.max(0, at - Date.now()));
    });
  }

  /** Runs one step; a failure is logged and backs the next poll off (100 ms doubling to 5 s). */
  private async step(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
      this.errorStreak = 0;
    } catch (err) {
      this.counters.errors++;
      this.errorStreak++;
      const delay = Math.min(100 * 2 ** Math.min(this.errorStreak - 1, 6), 5000);
      this.nextPollAt = Date.now() + delay;
      this.logger.error(
        { err, step: what, retryInMs: delay, failures: this.errorStreak },
        'expiry round failed; retrying with backoff (claimed entries are taken back when their lease expires)',
      );
    }
  }

  /** A keyevent hint: buffered for `hintWindowMs`, then claimed in one call. */
  private hint(key: string): void {
    if (this.state !== 'running') return;
    if (this.keys.parse(key) === undefined) return;
    if (this.hints.size >= this.options.hintBatchSize * HINT_BUFFER_LIMIT_FACTOR) {
      // Falling behind: the poll finds every due entry, hinted or not.
      this.requestPoll();
      return;
    }
    if (this.hints.size === 0) this.hintsDueAt = Date.now() + this.options.hintWindowMs;
    this.hints.add(key);
    if (this.hints.size === 1 || this.hints.size === this.options.hintBatchSize) this.wake?.();
  }

  private async claimHints(): Promise<void> {
    const batch: string[] = [];
    for (const key of this.hints) {
      batch.push(key);
      this.hints.delete(key);
      if (batch.length >= this.options.hintBatchSize) break;
    }
    if (this.hints.size > 0) this.hintsDueAt = Date.now();
    const claim = await this.scripts.claimKeys(this.options.leaseMs, batch);
    this.logger.debug(
      {
        hinted: batch.length,
        claimed: claim.entries.length,
        notYetDue: claim.notYetDue,
        now: claim.now,
      },
      'claimed hinted keys',
    );
    if (claim.notYetDue !== undefined) {
      // Redis expired a key a moment before its recorded deadline: poll at the deadline.
      const at = Date.now() + Math.max(claim.notYetDue - claim.now, this.options.hintWindowMs);
      this.nextPollAt = Math.min(this.nextPollAt, at);
    }
    await this.process(claim, 'event');
  }

  /**
   * Claims every due entry (and expired lease) in batches, then schedules the next round at
   * the earliest deadline in the index, capped by the poll interval, so that the lag does not
   * depend on the interval.
   */
  private async pollRound(): Promise<void> {
    // Until this round schedules the next one, a failure falls back to the interval.
    this.nextPollAt = Date.now() + this.options.pollIntervalMs;
    for (;;) {
      const claim = await this.scripts.claimDue(this.options.leaseMs, this.options.batchSize);
      await this.process(claim, 'poll');
      if (claim.entries.length < this.options.batchSize || this.state !== 'running') break;
    }
    const peek = await this.scripts.peek();
    this.backlog = { indexed: peek.indexed, due: peek.due, deadLetters: peek.deadLetters };
    this.metrics.backlog.set({ state: 'indexed' }, peek.indexed);
    this.metrics.backlog.set({ state: 'due' }, peek.due);
    this.metrics.deadLetters.set(peek.deadLetters);
    let delay = this.options.pollIntervalMs;
    for (const at of [peek.earliestDue, peek.earliestLease]) {
      if (at !== undefined)
        delay = Math.min(delay, Math.max(at - peek.now, this.options.hintWindowMs));
    }
    this.nextPollAt = Date.now() + delay;
    this.counters.rounds++;
    this.logger.debug({ ...this.backlog, nextPollInMs: delay, now: peek.now }, 'poll round done');
  }

  // ---- processing ---------------------------------------------------------------------

  /** Logs, persists the shadows of one claim in one bulk write, then acks (or nacks). */
  private async process(claim: Claim, source: ExpirySource): Promise<void> {
    if (claim.entries.length === 0) return;
    const claimedAt = Date.now();
    const plain: ClaimedEntry[] = [];
    const withShadow: Array<{ entry: ClaimedEntry; shadow: MessageShadow }> = [];
    const corrupt: ClaimedEntry[] = [];
    const prefixLength = this.keys.prefix.length;
    for (const entry of claim.entries) {
      this.logger.info(
        { key: entry.key, lagMs: claim.now - entry.deadline, source, attempts: entry.attempts },
        `Deleted from cache: ${entry.key.slice(prefixLength)}`,
      );
      if (entry.shadow === null) {
        // A conversation list, or a message already in MongoDB (write-through): nothing to write.
        plain.push(entry);
        continue;
      }
      const shadow = parseShadow(entry.shadow);
      if (shadow) withShadow.push({ entry, shadow });
      else corrupt.push(entry);
    }

    let failure: string | undefined;
    if (withShadow.length > 0) {
      try {
        if (!this.mongoReady) throw new Error('MongoDB is not connected yet');
        await this.options.persist(
          this.messages,
          withShadow.map((s) => s.shadow),
        );
        this.counters.persisted += withShadow.length;
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
        this.counters.persistFailures++;
        this.metrics.persistFailures.inc();
        this.shared.count('persistFailures');
        this.logger.error(
          { err: failure, entries: withShadow.length },
          'persisting message shadows to MongoDB failed; retrying them with backoff',
        );
      }
    }

    const acks: Array<{ item: AckItem; entry: ClaimedEntry }> = plain.map((entry) => ({
      item: { key: entry.key },
      entry,
    }));
    if (failure === undefined) {
      for (const { entry, shadow } of withShadow) {
        const m = shadow.message;
        acks.push({
          entry,
          item: {
            key: entry.key,
            pendingKey: this.keys.pendingByConversation(conversationId(m.senderId, m.receiverId)),
            messageId: m.id,
          },
        });
      }
    }
    const matched = await this.scripts.ack(
      claim.token,
      acks.map((a) => a.item),
    );
    // Lag on Redis's clock: the claim's time plus what elapsed here since.
    const processedAt = claim.now + (Date.now() - claimedAt);
    matched.forEach((ok, i) => {
      const entry = acks[i]?.entry;
      if (!ok || !entry) return;
      const lagMs = Math.max(0, processedAt - entry.deadline);
      this.counters[source]++;
      this.metrics.processed.inc({ source });
      this.metrics.lag.observe(lagMs / 1000);
      this.shared.count(`expirations:${source}`);
      this.lagWindow.add(lagMs);
    });

    const nacks = [
      ...(failure === undefined ? [] : withShadow.map((s) => s.entry)).map((entry) => ({
        key: entry.key,
        backoffMs: retryBackoff(
          entry.attempts + 1,
          this.options.backoffBaseMs,
          this.options.backoffMaxMs,
        ),
      })),
      ...corrupt.map((entry) => ({ key: entry.key, backoffMs: -1 })),
    ];
    if (nacks.length === 0) return;
    if (corrupt.length > 0) {
      this.logger.error({ keys: corrupt.map((e) => e.key) }, 'unreadable shadow; dead-lettered');
    }
    const outcomes = await this.scripts.nack(
      claim.token,
      this.options.maxAttempts,
      failure ?? 'unreadable shadow',
      nacks,
    );
    outcomes.forEach((outcome, i) => {
      if (outcome === NackOutcome.retry) this.counters.retried++;
      if (outcome === NackOutcome.dead) {
        this.counters.deadLettered++;
        this.metrics.deadLetters.inc();
        this.logger.error(
          { key: nacks[i]?.key, maxAttempts: this.options.maxAttempts },
          'expiration moved to the dead letters (expiry:dead) after repeated failures',
        );
      }
    });
  }
}

/** A shadow as the send path writes it, or undefined when it cannot be persisted. */
function parseShadow(json: string): MessageShadow | undefined {
  try {
    const s = JSON.parse(json) as Partial<MessageShadow> | null;
    const m = s?.message;
    if (
      !m ||
      typeof m.id !== 'string' ||
      !/^[0-9a-f]{24}$/i.test(m.id) ||
      typeof m.senderId !== 'string' ||
      typeof m.receiverId !== 'string' ||
      typeof m.createdAt !== 'string' ||
      Number.isNaN(Date.parse(m.createdAt))
    ) {
      return undefined;
    }
    return s as MessageShadow;
  } catch {
    return undefined;
  }
}

/** Options given as `undefined` keep their default. */
function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

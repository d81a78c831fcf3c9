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
  /**
   * Batches persisted (bulk writes in flight) at once. The loop claims and prepares the next
   * batch while they run, so its own work and Redis round trips hide behind MongoDB's.
   * @defaultValue 2
   */
  persistConcurrency: number;
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

/** A claimed entry whose shadow is to be persisted, with its ack prepared. */
interface ShadowEntry {
  entry: ClaimedEntry;
  shadow: MessageShadow;
  ack: AckItem;
}

/** One claim, logged and split by what its entries need (see {@link ExpiryDaemon.prepare}). */
interface PreparedBatch {
  claim: Claim;
  source: ExpirySource;
  /** Local clock when the claim's reply arrived (the lag is `claim.now` + time since). */
  claimedAt: number;
  /** Nothing to write (conversation lists, messages already in MongoDB): acked at once. */
  plain: ClaimedEntry[];
  /** Shadows to persist in one bulk write, then acked (or nacked with a backoff). */
  withShadow: ShadowEntry[];
  /** Unreadable shadows: dead-lettered at once. */
  corrupt: ClaimedEntry[];
}

/**
 * The expiry daemon (docs/redis-data-model.md): learns of due cache entries from Redis's
 * `expired` keyevents (a fast hint) and from its durable due index (the record, polled at
 * the earliest deadline and at least every `pollIntervalMs`), claims them atomically so
 * that each is processed by exactly one of any number of daemons, logs
 * `Deleted from cache: <key>`, persists the message shadows (write-behind) to MongoDB, and
 * acks — or nacks with a backoff, and finally dead-letters, when persistence fails.
 *
 * All claiming of one daemon runs in a single loop, so rounds never overlap. Persisting a
 * claimed batch and acking it run behind the loop, at most `persistConcurrency` batches at
 * once: the loop claims and prepares the next batch meanwhile (one claim ahead at most),
 * and acks match each claim's own lease token, so exactly-once is as without the overlap.
 * Errors are logged and backed off, never thrown out of the loop.
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
  /** Buffered hints: cache key → arrival number (a Map keeps arrival order). */
  private readonly hints = new Map<string, number>();
  /** Arrival number of the last hint buffered. */
  private hintSeq = 0;
  private hintsDueAt = 0;
  /**
   * True from a full poll claim until the end of its round: the round goes on until a claim
   * is not full, so it claims every key that was due when such a hint arrived (one that
   * turns out not yet due is in the index the round's peek reads); hints are dropped on
   * arrival meanwhile.
   */
  private backlogged = false;
  /** Batches whose bulk write is in flight (at most `persistConcurrency`). */
  private persisting = 0;
  /** Ends the loop's wait for a free persist slot (only the loop submits batches). */
  private slotFreed: (() => void) | undefined;
  /** Every batch being persisted or acked; the loop waits for them before it ends. */
  private readonly settling = new Set<Promise<void>>();
  /** Earliest retry a nack scheduled during the current poll round (local clock). */
  private retryPollAt = Infinity;
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
      persistConcurrency: 2,
      subscribe: true,
      metricsPort: undefined,
      metricsHost: config.expiry.metricsHost,
      defaultMetrics: true,
      persist: insertMissingMessages,
      name: 'expiry-daemon',
      ...stripUndefined(options),
    };
    if (opts.batchSize < 1 || opts.hintBatchSize < 1 || opts.persistConcurrency < 1) {
      throw new TypeError('batchSize, hintBatchSize and persistConcurrency must be at least 1');
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
   * waits for every claimed batch to be persisted and acked, then closes the metrics server
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

  /**
   * The one scheduler: polls when due (a poll claims every due entry, hinted or not), else
   * claims hints when their window closed, else sleeps. Once stopped, it waits for the
   * batches still being persisted and acked.
   */
  private async run(): Promise<void> {
    while (this.state === 'running') {
      const now = Date.now();
      if (now >= this.nextPollAt) {
        await this.step('poll', () => this.pollRound());
      } else if (
        this.hints.size > 0 &&
        (this.hints.size >= this.options.hintBatchSize || now >= this.hintsDueAt)
      ) {
        await this.step('hints', () => this.claimHints());
      } else {
        await this.sleepUntil(
          this.hints.size > 0 ? Math.min(this.nextPollAt, this.hintsDueAt) : this.nextPollAt,
        );
      }
    }
    await this.drain();
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

  /** Runs one step of the loop; a failure backs the next poll off (see {@link failed}). */
  private async step(what: string, fn: () => Promise<void>): Promise<void> {
    const errors = this.counters.errors;
    try {
      await fn();
      // A batch that failed behind the loop meanwhile keeps the streak going.
      if (this.counters.errors === errors) this.errorStreak = 0;
    } catch (err) {
      this.failed(what, err);
    }
  }

  /** Counts and logs a failed step or batch; the next poll backs off (100 ms doubling to 5 s). */
  private failed(what: string, err: unknown): void {
    this.counters.errors++;
    this.errorStreak++;
    const delay = Math.min(100 * 2 ** Math.min(this.errorStreak - 1, 6), 5000);
    this.nextPollAt = Date.now() + delay;
    this.logger.error(
      { err, step: what, retryInMs: delay, failures: this.errorStreak },
      'expiry round failed; retrying with backoff (claimed entries are taken back when their lease expires)',
    );
    this.wake?.();
  }

  /**
   * Moves the next poll forward to `at` (local clock) if it is later, and keeps `at` for the
   * poll round under way, whose peek may have read the index before a retry went back.
   */
  private pollNoLaterThan(at: number): void {
    this.retryPollAt = Math.min(this.retryPollAt, at);
    if (at >= this.nextPollAt) return;
    this.nextPollAt = at;
    this.wake?.();
  }

  /**
   * A keyevent hint: buffered for `hintWindowMs`, then claimed in one call. Dropped while
   * the poll is backlogged: the round under way claims the key anyway.
   */
  private hint(key: string): void {
    if (this.state !== 'running' || this.backlogged) return;
    if (this.keys.parse(key) === undefined) return;
    if (this.hints.size >= this.options.hintBatchSize * HINT_BUFFER_LIMIT_FACTOR) {
      // Falling behind: the poll finds every due entry, hinted or not.
      this.requestPoll();
      return;
    }
    if (this.hints.size === 0) this.hintsDueAt = Date.now() + this.options.hintWindowMs;
    // A key hinted again (cached anew and expired again) moves to the end.
    this.hints.delete(key);
    this.hints.set(key, ++this.hintSeq);
    if (this.hints.size === 1 || this.hints.size === this.options.hintBatchSize) this.wake?.();
  }

  /** Drops the buffered hints that arrived up to arrival number `seq`. */
  private dropHintsThrough(seq: number): void {
    for (const [key, arrival] of this.hints) {
      if (arrival > seq) break;
      this.hints.delete(key);
    }
  }

  private async claimHints(): Promise<void> {
    const batch: string[] = [];
    for (const key of this.hints.keys()) {
      batch.push(key);
      this.hints.delete(key);
      if (batch.length >= this.options.hintBatchSize) break;
    }
    if (this.hints.size > 0) this.hintsDueAt = Date.now();
    // A hinted key not in the per-key index has its deadline in a slot: the claim then takes
    // the due slot entries, as many as a hint batch holds.
    const claim = await this.scripts.claimKeys(
      this.options.leaseMs,
      batch,
      this.options.hintBatchSize,
    );
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
      // Redis expired a key a moment before its recorded deadline, or the slots' next
      // deadline is near: poll then.
      const at = Date.now() + Math.max(claim.notYetDue - claim.now, this.options.hintWindowMs);
      this.nextPollAt = Math.min(this.nextPollAt, at);
    }
    await this.submit(this.prepare(claim, 'event'));
  }

  /**
   * Claims every due entry (and expired lease) in batches, then schedules the next round at
   * the earliest deadline in the index, capped by the poll interval, so that the lag does not
   * depend on the interval. Each claim is persisted behind the loop while the next is made.
   */
  private async pollRound(): Promise<void> {
    // Until this round schedules the next one, a failure falls back to the interval.
    this.nextPollAt = Date.now() + this.options.pollIntervalMs;
    this.retryPollAt = Infinity;
    const errors = this.counters.errors;
    let full = true;
    try {
      while (full && this.state === 'running' && this.counters.errors === errors) {
        full = await this.claimDueBatch();
      }
    } finally {
      this.backlogged = false;
    }
    // A batch of this round failed to ack behind the loop: keep the backoff it set.
    if (this.counters.errors !== errors) return;
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
    // A retry given back after the peek read the index is not in `peek`.
    this.nextPollAt = Math.min(Date.now() + delay, this.retryPollAt);
    this.counters.rounds++;
    this.logger.debug({ ...this.backlog, nextPollInMs: delay, now: peek.now }, 'poll round done');
  }

  /**
   * One claim of a poll round, handed on to be persisted (waits for a free slot). The hints
   * that arrived before the claim was sent are dropped: it claimed every key due then, or,
   * when it was full, the next claims of the round will. @returns whether it was full.
   */
  private async claimDueBatch(): Promise<boolean> {
    const seen = this.hintSeq;
    const claim = await this.scripts.claimDue(this.options.leaseMs, this.options.batchSize);
    const full = claim.entries.length >= this.options.batchSize;
    this.dropHintsThrough(seen);
    this.backlogged = full && this.state === 'running';
    await this.submit(this.prepare(claim, 'poll'));
    return full;
  }

  // ---- processing ---------------------------------------------------------------------

  /**
   * Logs each entry of a claim (`Deleted from cache: <key>`) and sorts the entries by what
   * they need: nothing to write, a shadow to persist (its ack item made here), or an
   * unreadable shadow. Runs on the loop, while earlier batches are being written.
   */
  private prepare(claim: Claim, source: ExpirySource): PreparedBatch {
    const batch: PreparedBatch = {
      claim,
      source,
      claimedAt: Date.now(),
      plain: [],
      withShadow: [],
      corrupt: [],
    };
    // The per-entry line costs an object and a string: built only when it is written.
    const logEach = this.logger.isLevelEnabled('info');
    const prefixLength = this.keys.prefix.length;
    for (const entry of claim.entries) {
      if (logEach) {
        this.logger.info(
          { key: entry.key, lagMs: claim.now - entry.deadline, source, attempts: entry.attempts },
          `Deleted from cache: ${entry.key.slice(prefixLength)}`,
        );
      }
      if (entry.shadow === null) {
        // A conversation list, or a message already in MongoDB (write-through): nothing to write.
        batch.plain.push(entry);
        continue;
      }
      const shadow = parseShadow(entry.shadow);
      if (shadow) batch.withShadow.push({ entry, shadow, ack: this.shadowAck(entry, shadow) });
      else batch.corrupt.push(entry);
    }
    return batch;
  }

  /** The ack of a persisted shadow: the key, and the conversation's pending entry. */
  private shadowAck(entry: ClaimedEntry, shadow: MessageShadow): AckItem {
    const m = shadow.message;
    return {
      key: entry.key,
      pendingKey: this.keys.pendingByConversation(conversationId(m.senderId, m.receiverId)),
      messageId: m.id,
    };
  }

  /**
   * Hands a prepared batch on to be persisted and acked behind the loop, once fewer than
   * `persistConcurrency` batches are being written (waits for a slot until then).
   */
  private async submit(batch: PreparedBatch): Promise<void> {
    if (batch.claim.entries.length === 0) return;
    while (this.persisting >= this.options.persistConcurrency) {
      await new Promise<void>((resolve) => {
        this.slotFreed = resolve;
      });
    }
    this.persisting++;
    const settled: Promise<void> = this.settle(batch)
      .catch((err: unknown) => this.failed('ack/nack', err))
      .finally(() => this.settling.delete(settled));
    this.settling.add(settled);
  }

  /** Frees a persist slot and lets a loop waiting for one go on. */
  private releaseSlot(): void {
    this.persisting--;
    const resume = this.slotFreed;
    this.slotFreed = undefined;
    resume?.();
  }

  /** Waits until every batch handed on is persisted and acked (or nacked). */
  private async drain(): Promise<void> {
    while (this.settling.size > 0) await Promise.all(this.settling);
  }

  /**
   * Persists the shadows of one batch in one bulk write (its slot is free again as soon as
   * the write is done), then acks what is done and nacks what failed.
   */
  private async settle(batch: PreparedBatch): Promise<void> {
    let failure: string | undefined;
    try {
      failure = await this.persistShadows(batch.withShadow);
    } finally {
      this.releaseSlot();
    }
    await this.ack(batch, failure);
    await this.nack(batch, failure);
  }

  /** One bulk write of shadows. @returns the error message when it failed. */
  private async persistShadows(shadows: ShadowEntry[]): Promise<string | undefined> {
    if (shadows.length === 0) return undefined;
    try {
      if (!this.mongoReady) throw new Error('MongoDB is not connected yet');
      await this.options.persist(
        this.messages,
        shadows.map((s) => s.shadow),
      );
      this.counters.persisted += shadows.length;
      return undefined;
    } catch (err) {
      const failure = err instanceof Error ? err.message : String(err);
      this.counters.persistFailures++;
      this.metrics.persistFailures.inc();
      this.shared.count('persistFailures');
      this.logger.error(
        { err: failure, entries: shadows.length },
        'persisting message shadows to MongoDB failed; retrying them with backoff',
      );
      return failure;
    }
  }

  /**
   * Acks the entries with nothing (more) to write; those whose lease still carried the
   * claim's token count as processed, with their lag.
   */
  private async ack(batch: PreparedBatch, failure: string | undefined): Promise<void> {
    const entries = [...batch.plain];
    const items: AckItem[] = batch.plain.map((entry) => ({ key: entry.key }));
    if (failure === undefined) {
      for (const s of batch.withShadow) {
        entries.push(s.entry);
        items.push(s.ack);
      }
    }
    const matched = await this.scripts.ack(batch.claim.token, items);
    const now = Date.now();
    // Lag on Redis's clock: the claim's time plus what elapsed here since.
    const processedAt = batch.claim.now + (now - batch.claimedAt);
    let count = 0;
    matched.forEach((ok, i) => {
      const entry = entries[i];
      if (!ok || !entry) return;
      const lagMs = Math.max(0, processedAt - entry.deadline);
      count++;
      this.metrics.lag.observe(lagMs / 1000);
      this.lagWindow.add(lagMs, now);
    });
    if (count === 0) return;
    const { source } = batch;
    this.counters[source] += count;
    this.metrics.processed.inc({ source }, count);
    this.shared.count(`expirations:${source}`, count);
  }

  /**
   * Gives back the shadows of a failed write, each with its backoff (dead-lettered after
   * `maxAttempts`), and dead-letters unreadable shadows at once.
   */
  private async nack(batch: PreparedBatch, failure: string | undefined): Promise<void> {
    const { backoffBaseMs, backoffMaxMs, maxAttempts } = this.options;
    const failed = failure === undefined ? [] : batch.withShadow.map((s) => s.entry);
    const nacks = [
      ...failed.map((entry) => ({
        key: entry.key,
        backoffMs: retryBackoff(entry.attempts + 1, backoffBaseMs, backoffMaxMs),
      })),
      ...batch.corrupt.map((entry) => ({ key: entry.key, backoffMs: -1 })),
    ];
    if (nacks.length === 0) return;
    if (batch.corrupt.length > 0) {
      this.logger.error(
        { keys: batch.corrupt.map((e) => e.key) },
        'unreadable shadow; dead-lettered',
      );
    }
    const outcomes = await this.scripts.nack(
      batch.claim.token,
      maxAttempts,
      failure ?? 'unreadable shadow',
      nacks,
    );
    let firstRetryMs = Infinity;
    outcomes.forEach((outcome, i) => {
      if (outcome === NackOutcome.retry) {
        this.counters.retried++;
        firstRetryMs = Math.min(firstRetryMs, nacks[i]?.backoffMs ?? Infinity);
      }
      if (outcome === NackOutcome.dead) {
        this.counters.deadLettered++;
        this.metrics.deadLetters.inc();
        this.logger.error(
          { key: nacks[i]?.key, maxAttempts },
          'expiration moved to the dead letters (expiry:dead) after repeated failures',
        );
      }
    });
    if (firstRetryMs !== Infinity) {
      this.pollNoLaterThan(Date.now() + Math.max(firstRetryMs, this.options.hintWindowMs));
    }
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

import type { Logger } from '../logging/logger.js';
import type { RedisKeys } from '../redis/keys.js';
import type { ExpiryScripts } from '../redis/records/expiry-scripts.js';
import type { ExpiryTelemetry } from './expiry-telemetry.js';
import type { HintBuffer } from './hint-buffer.js';
import type { PersistPipeline } from './persist-pipeline.js';

/** What a {@link ClaimLoop} works with; the daemon resolved every value. */
export interface ClaimLoopOptions {
  /** Index of the loop's partition in `KeySpace.partitions`. */
  partition: number;
  /** The partition's keys, and the scripts, hints and pipeline of that partition. */
  keys: RedisKeys;
  scripts: ExpiryScripts;
  hints: HintBuffer;
  pipeline: PersistPipeline;
  telemetry: ExpiryTelemetry;
  logger: Logger;
  pollIntervalMs: number;
  batchSize: number;
  hintBatchSize: number;
  /** Also the shortest sleep between poll rounds. */
  hintWindowMs: number;
  leaseMs: number;
}

/**
 * The one scheduler of the claims of a partition, so its rounds never overlap: polls the
 * partition's due index when due (a poll claims every due entry, hinted or not), else
 * claims the buffered hints when their window closed, else sleeps until the earlier of the
 * two. Each claim goes to the persist pipeline, which waits for a free slot. The next poll
 * is at the earliest deadline or lease in the index, capped by `pollIntervalMs`; errors are
 * logged and back the next poll off, never thrown out of the loop.
 */
export class ClaimLoop {
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** The loop's one timer, and the function that ends its sleep early. */
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** Local clock (ms) of the next poll round; 0 until the first, which runs at once. */
  private nextPollAt = 0;
  /** Earliest retry a nack scheduled during the current poll round (local clock). */
  private retryPollAt = Infinity;
  /**
   * True from a full poll claim until the end of its round: the round goes on until a claim
   * is not full, so it claims every key that was due when such a hint arrived (one that
   * turns out not yet due is in the index the round's peek reads); hints are dropped on
   * arrival meanwhile.
   */
  private backlogged = false;
  /** Failed steps and batches so far, to tell whether one failed during a step. */
  private failures = 0;
  private errorStreak = 0;

  constructor(private readonly opts: ClaimLoopOptions) {}

  start(): void {
    this.loop = this.run().catch((err: unknown) => {
      // run() catches per step; this is a last resort so no rejection goes unhandled.
      this.opts.logger.fatal({ err }, 'expiry loop ended unexpectedly');
    });
  }

  /**
   * Claims nothing more, drops the unclaimed hints and resolves once every claimed batch is
   * persisted and acked (or nacked).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.opts.hints.clear();
    this.wake?.();
    await this.loop;
  }

  /**
   * A keyevent hint: buffered for `hintWindowMs`, then claimed in one call. Dropped while
   * the poll is backlogged: the round under way claims the key anyway.
   */
  hint(key: string): void {
    if (this.stopping || this.backlogged) return;
    if (this.opts.keys.parse(key) === undefined) return;
    const added = this.opts.hints.add(key, Date.now());
    // Falling behind: the poll finds every due entry, hinted or not.
    if (added === 'overflow') this.requestPoll();
    else if (added === 'wake') this.wake?.();
  }

  /** Asks for a poll round as soon as the current step is done. */
  requestPoll(): void {
    this.nextPollAt = 0;
    this.wake?.();
  }

  /** A nack gave entries back, the first due in `delayMs`: poll no later than then. */
  retryIn(delayMs: number): void {
    const at = Date.now() + Math.max(delayMs, this.opts.hintWindowMs);
    // Kept for the round under way too: its peek may have read the index before the retry.
    this.retryPollAt = Math.min(this.retryPollAt, at);
    if (at >= this.nextPollAt) return;
    this.nextPollAt = at;
    this.wake?.();
  }

  /** Counts and logs a failed step or batch; the next poll backs off (100 ms doubling to 5 s). */
  failed(what: string, err: unknown): void {
    this.failures++;
    this.opts.telemetry.failed();
    this.errorStreak++;
    const delay = Math.min(100 * 2 ** Math.min(this.errorStreak - 1, 6), 5000);
    this.nextPollAt = Date.now() + delay;
    this.opts.logger.error(
      { err, step: what, retryInMs: delay, failures: this.errorStreak },
      'expiry round failed; retrying with backoff (claimed entries are taken back when their lease expires)',
    );
    this.wake?.();
  }

  private async run(): Promise<void> {
    const { hints } = this.opts;
    while (!this.stopping) {
      const now = Date.now();
      if (now >= this.nextPollAt) {
        await this.step('poll', () => this.pollRound());
      } else if (hints.isDue(now)) {
        await this.step('hints', () => this.claimHints());
      } else {
        await this.sleepUntil(Math.min(this.nextPollAt, hints.windowEnd ?? Infinity));
      }
    }
    await this.opts.pipeline.drain();
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

  private async step(what: string, fn: () => Promise<void>): Promise<void> {
    const failures = this.failures;
    try {
      await fn();
      // A batch that failed behind the loop meanwhile keeps the streak going.
      if (this.failures === failures) this.errorStreak = 0;
    } catch (err) {
      this.failed(what, err);
    }
  }

  private async claimHints(): Promise<void> {
    const { scripts, hints, leaseMs, hintBatchSize, hintWindowMs } = this.opts;
    const batch = hints.take(Date.now());
    // A hinted key not in the per-key index has its deadline in a slot: the claim then takes
    // the due slot entries, as many as a hint batch holds.
    const claim = await scripts.claimKeys(leaseMs, batch, hintBatchSize);
    this.opts.logger.debug(
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
      const at = Date.now() + Math.max(claim.notYetDue - claim.now, hintWindowMs);
      this.nextPollAt = Math.min(this.nextPollAt, at);
    }
    await this.opts.pipeline.submit(claim, 'event');
  }

  /**
   * Claims every due entry (and expired lease) in batches, then schedules the next round at
   * the earliest deadline in the index, capped by the poll interval, so that the lag does not
   * depend on the interval.
   */
  private async pollRound(): Promise<void> {
    const { scripts, pollIntervalMs, hintWindowMs } = this.opts;
    // Until this round schedules the next one, a failure falls back to the interval.
    this.nextPollAt = Date.now() + pollIntervalMs;
    this.retryPollAt = Infinity;
    const failures = this.failures;
    let full = true;
    try {
      while (full && !this.stopping && this.failures === failures) {
        full = await this.claimDueBatch();
      }
    } finally {
      this.backlogged = false;
    }
    // A batch of this round failed to ack behind the loop: keep the backoff it set.
    if (this.failures !== failures) return;
    const peek = await scripts.peek();
    let delay = pollIntervalMs;
    for (const at of [peek.earliestDue, peek.earliestLease]) {
      if (at !== undefined) delay = Math.min(delay, Math.max(at - peek.now, hintWindowMs));
    }
    // A retry given back after the peek read the index is not in `peek`.
    this.nextPollAt = Math.min(Date.now() + delay, this.retryPollAt);
    this.opts.telemetry.roundDone(this.opts.partition, peek);
    this.opts.logger.debug(
      {
        indexed: peek.indexed,
        due: peek.due,
        deadLetters: peek.deadLetters,
        nextPollInMs: delay,
        now: peek.now,
      },
      'poll round done',
    );
  }

  /**
   * One claim of a poll round. The hints that arrived before it was sent are dropped: it
   * claimed every key due then, or, when it was full, the next claims of the round will.
   * @returns whether it was full.
   */
  private async claimDueBatch(): Promise<boolean> {
    const { scripts, hints, leaseMs, batchSize } = this.opts;
    const seen = hints.arrivals;
    const claim = await scripts.claimDue(leaseMs, batchSize);
    const full = claim.entries.length >= batchSize;
    hints.dropThrough(seen);
    this.backlogged = full && !this.stopping;
    await this.opts.pipeline.submit(claim, 'poll');
    return full;
  }
}

import type { Logger } from '../logging/logger.js';
import type { MessageShadow } from '../messages/message.js';
import type { MessageStore } from '../messages/message-store.js';
import type { RedisKeys } from '../redis/keys.js';
import type { ExpirySource } from './expiry-metrics.js';
import {
  NackOutcome,
  type AckItem,
  type Claim,
  type ExpiryScripts,
} from '../redis/records/expiry-scripts.js';
import type { ExpiryTelemetry } from './expiry-telemetry.js';
import type { PersistSlots } from './persist-slots.js';
import { prepareBatch, type PreparedBatch, type ShadowEntry } from './prepared-batch.js';
import { retryBackoff } from './retry-backoff.js';

/** Writes message shadows to MongoDB, idempotently (as `MessageStore.insertMissing` does). */
export type PersistShadows = (messages: MessageStore, shadows: MessageShadow[]) => Promise<unknown>;

/** What a {@link PersistPipeline} works with; the daemon resolved every value. */
export interface PersistPipelineOptions {
  /** On the keys of the pipeline's partition. */
  scripts: ExpiryScripts;
  /** The pipeline's partition. */
  keys: RedisKeys;
  logger: Logger;
  telemetry: ExpiryTelemetry;
  messages: MessageStore;
  persist: PersistShadows;
  /** The bulk writes that may be in flight at once, shared with the daemon's other partitions. */
  slots: PersistSlots;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** A batch could not be acked or nacked (a Redis error): its leases expire and are taken back. */
  onError: (what: string, err: unknown) => void;
  /** A nack gave entries back to the due index; the first is due again in `delayMs`. */
  onRetry: (delayMs: number) => void;
}

/**
 * Persists the claimed batches of one partition behind its claiming loop, as many at once
 * as the daemon's shared {@link PersistSlots} allow: each
 * batch's shadows go to MongoDB in one bulk write, then what was written (or needed no
 * write) is acked and what failed is nacked with a backoff, or dead-lettered after
 * `maxAttempts`. Acks and nacks present each claim's own lease token, so a batch settling
 * while the loop claims the next one cannot touch entries another daemon took over.
 */
export class PersistPipeline {
  /** Every batch being persisted or acked. */
  private readonly settling = new Set<Promise<void>>();

  constructor(private readonly opts: PersistPipelineOptions) {}

  /**
   * Logs and sorts the entries of `claim`, then hands them on to be persisted and acked
   * once a persist slot is free (waits for one until then).
   */
  async submit(claim: Claim, source: ExpirySource): Promise<void> {
    const batch = prepareBatch(claim, source, this.opts.keys, this.opts.logger);
    if (claim.entries.length === 0) return;
    const { slots } = this.opts;
    if (!slots.tryAcquire()) await slots.acquire();
    const settled: Promise<void> = this.settle(batch)
      .catch((err: unknown) => this.opts.onError('ack/nack', err))
      .finally(() => this.settling.delete(settled));
    this.settling.add(settled);
  }

  /** Waits until every batch handed on is persisted and acked (or nacked). */
  async drain(): Promise<void> {
    while (this.settling.size > 0) await Promise.all(this.settling);
  }

  /** The write frees its slot as soon as it is done; the ack and nack follow. */
  private async settle(batch: PreparedBatch): Promise<void> {
    let failure: string | undefined;
    try {
      failure = await this.persistShadows(batch.withShadow);
    } finally {
      this.opts.slots.release();
    }
    await this.ack(batch, failure);
    await this.nack(batch, failure);
  }

  /** One bulk write of shadows. @returns the error message when it failed. */
  private async persistShadows(shadows: ShadowEntry[]): Promise<string | undefined> {
    if (shadows.length === 0) return undefined;
    try {
      await this.opts.persist(
        this.opts.messages,
        shadows.map((s) => s.shadow),
      );
      this.opts.telemetry.persisted(shadows.length);
      return undefined;
    } catch (err) {
      const failure = err instanceof Error ? err.message : String(err);
      this.opts.telemetry.persistFailed();
      this.opts.logger.error(
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
    const matched = await this.opts.scripts.ack(batch.claim.token, items);
    const now = Date.now();
    // Lag on Redis's clock: the claim's time plus what elapsed here since.
    const processedAt = batch.claim.now + (now - batch.claimedAt);
    const lagsMs: number[] = [];
    matched.forEach((ok, i) => {
      const entry = entries[i];
      if (ok && entry) lagsMs.push(Math.max(0, processedAt - entry.deadline));
    });
    this.opts.telemetry.processed(batch.source, lagsMs, now);
  }

  /**
   * Gives back the shadows of a failed write, each with its backoff (dead-lettered after
   * `maxAttempts`), and dead-letters unreadable shadows at once.
   */
  private async nack(batch: PreparedBatch, failure: string | undefined): Promise<void> {
    const { backoffBaseMs, backoffMaxMs, maxAttempts } = this.opts;
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
      this.opts.logger.error(
        { keys: batch.corrupt.map((e) => e.key) },
        'unreadable shadow; dead-lettered',
      );
    }
    const outcomes = await this.opts.scripts.nack(
      batch.claim.token,
      maxAttempts,
      failure ?? 'unreadable shadow',
      nacks,
    );
    let firstRetryMs = Infinity;
    outcomes.forEach((outcome, i) => {
      if (outcome === NackOutcome.retry) {
        this.opts.telemetry.retried();
        firstRetryMs = Math.min(firstRetryMs, nacks[i]?.backoffMs ?? Infinity);
      }
      if (outcome === NackOutcome.dead) {
        this.opts.telemetry.deadLettered();
        this.opts.logger.error(
          { key: nacks[i]?.key, maxAttempts },
          'expiration moved to the dead letters (expiry:dead) after repeated failures',
        );
      }
    });
    if (firstRetryMs !== Infinity) this.opts.onRetry(firstRetryMs);
  }
}

import {
  MongoBulkWriteError,
  type Collection,
  type Document,
  type OptionalUnlessRequiredId,
} from 'mongodb';
import { isDuplicateKey } from '../mongo/duplicate-key.js';

/** What became of one document given to {@link InsertCoalescer.insert}. */
export type InsertOutcome = 'inserted' | 'duplicate';

export interface InsertCoalescerOptions {
  /** Largest `insertMany`. @defaultValue 500 */
  maxBatch?: number;
  /** `insertMany` calls in flight at once. @defaultValue 2 */
  maxInFlight?: number;
}

interface Pending<T> {
  doc: OptionalUnlessRequiredId<T>;
  resolve: (outcome: InsertOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for single-document inserts: documents given while earlier inserts are in
 * flight (or in the same tick) go to MongoDB together in one unordered `insertMany`, and
 * each caller learns its own document's fate. Under concurrency this turns N round trips
 * and N server-side transactions into a few, without delaying a lone insert (it is sent at
 * once when nothing is in flight).
 *
 * Per document: resolves `'inserted'`, or `'duplicate'` when its `_id` was already there
 * (a retry of an insert that landed); rejects with its own write error, or with the call's
 * error when the whole call failed (e.g. MongoDB unreachable), which every document of that
 * call then receives.
 */
export class InsertCoalescer<T extends Document> {
  private readonly queue: Pending<T>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly collection: Collection<T>,
    opts: InsertCoalescerOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.maxInFlight = opts.maxInFlight ?? 2;
  }

  /** Inserts `doc` (with its `_id` set by the caller), batched with concurrent inserts. */
  insert(doc: OptionalUnlessRequiredId<T>): Promise<InsertOutcome> {
    return new Promise<InsertOutcome>((resolve, reject) => {
      this.queue.push({ doc, resolve, reject });
      this.schedule();
    });
  }

  /** Sends a batch on the next turn of the event loop, so a tick's inserts go together. */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight++;
    void this.write(batch).finally(() => {
      this.inFlight--;
      this.schedule();
    });
  }

  private async write(batch: Pending<T>[]): Promise<void> {
    try {
      await this.collection.insertMany(
        batch.map((p) => p.doc),
        { ordered: false },
      );
      for (const p of batch) p.resolve('inserted');
    } catch (err) {
      settleBulkError(batch, err);
    }
  }
}

/** Gives each document of a failed `insertMany` its own outcome. */
function settleBulkError<T>(batch: Pending<T>[], err: unknown): void {
  // Without per-document errors (or with a write concern error) the whole call failed.
  if (!(err instanceof MongoBulkWriteError) || err.result.getWriteConcernError()) {
    for (const p of batch) p.reject(err);
    return;
  }
  const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (writeErrors.length === 0) {
    // The call itself failed (MongoDB unreachable, …): the driver wraps that error; give each
    // caller what a single insert would have thrown.
    const cause = (err as { errorResponse?: unknown }).errorResponse;
    for (const p of batch) p.reject(cause instanceof Error ? cause : err);
    return;
  }
  // Every document not named by a write error must be counted as inserted; otherwise
  // (e.g. the connection dropped midway) the fate of those is unknown: fail them.
  if (err.result.insertedCount !== batch.length - writeErrors.length) {
    for (const p of batch) p.reject(err);
    return;
  }
  const byIndex = new Map(writeErrors.map((e) => [e.index, e]));
  batch.forEach((p, i) => {
    const e = byIndex.get(i);
    if (!e) p.resolve('inserted');
    else if (isDuplicateKey(e)) p.resolve('duplicate');
    else p.reject(Object.assign(new Error(e.errmsg ?? 'write error'), { code: e.code }));
  });
}

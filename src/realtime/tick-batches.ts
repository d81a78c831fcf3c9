/** A batch is published early rather than grow past this, to keep each PUBLISH small. */
export const MAX_BATCH_CHARS = 256 * 1024;

/** The events of one channel published in the current tick. */
interface Batch {
  /** Each event as JSON: `{"recipients":[…],"type":…,"message":…}`. */
  parts: string[];
  chars: number;
  /** Settles when the batch's publish does; every `add()` of the batch returns it. */
  sent: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The events published in one tick, per channel: each channel's events go out together as
 * one payload on the next tick, or at once when the batch would grow past
 * {@link MAX_BATCH_CHARS}; every event of a batch gets the promise of its publish.
 */
export class TickBatches {
  private readonly batches = new Map<string, Batch>();
  private queued = false;

  /** `send` publishes one channel's events (oldest first) as one payload. */
  constructor(private readonly send: (channel: string, parts: string[]) => Promise<unknown>) {}

  /** Adds an event to its channel's batch. @returns the promise of that batch's publish. */
  add(channel: string, part: string): Promise<void> {
    let batch = this.batches.get(channel);
    if (batch && batch.chars + part.length > MAX_BATCH_CHARS) {
      this.flush(channel, batch);
      batch = undefined;
    }
    if (!batch) {
      batch = newBatch();
      this.batches.set(channel, batch);
      this.queueFlush();
    }
    batch.parts.push(part);
    batch.chars += part.length;
    return batch.sent;
  }

  private queueFlush(): void {
    if (this.queued) return;
    this.queued = true;
    process.nextTick(() => {
      this.queued = false;
      for (const [channel, batch] of this.batches) this.flush(channel, batch);
    });
  }

  private flush(channel: string, batch: Batch): void {
    this.batches.delete(channel);
    let sent: Promise<unknown>;
    try {
      sent = this.send(channel, batch.parts);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(() => batch.resolve(), batch.reject);
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const sent = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers need not await publish(); those that do still see the rejection.
  sent.catch(() => {});
  return { parts: [], chars: 0, sent, resolve, reject };
}

/** Hints kept at most, in hint batches; beyond it the poll (which finds them all) is asked for. */
const LIMIT_IN_BATCHES = 20;

/**
 * What {@link HintBuffer.add} did with a hint: `buffered`; `wake`, buffered and the loop
 * should look now (the first hint opened its window, or a batch is full); `overflow`, not
 * kept (the buffer is at its limit: the loop is falling behind).
 */
export type HintAdded = 'buffered' | 'wake' | 'overflow';

/**
 * The `expired` keyevent hints waiting to be claimed, in arrival order (a key hinted again
 * moves to the end). The first hint opens a window of `windowMs`; the buffer is due for a
 * claim when that window closed or a batch is full, so that keys expiring a moment apart
 * are claimed in one call. Times are given by the caller (ms, local clock).
 */
export class HintBuffer {
  /** Cache key → arrival number (a Map keeps arrival order). */
  private readonly hints = new Map<string, number>();
  private lastArrival = 0;
  private dueAt = 0;

  constructor(
    private readonly batchSize: number,
    private readonly windowMs: number,
  ) {}

  get size(): number {
    return this.hints.size;
  }

  /** Arrival number of the last hint buffered, for {@link dropThrough}. */
  get arrivals(): number {
    return this.lastArrival;
  }

  /** When a claim of the buffered hints is due; undefined when there are none. */
  get windowEnd(): number | undefined {
    return this.hints.size > 0 ? this.dueAt : undefined;
  }

  add(key: string, now: number): HintAdded {
    if (this.hints.size >= this.batchSize * LIMIT_IN_BATCHES) return 'overflow';
    if (this.hints.size === 0) this.dueAt = now + this.windowMs;
    this.hints.delete(key);
    this.hints.set(key, ++this.lastArrival);
    return this.hints.size === 1 || this.hints.size === this.batchSize ? 'wake' : 'buffered';
  }

  /** Whether the buffered hints are to be claimed at `now`: a full batch, or the window closed. */
  isDue(now: number): boolean {
    return this.hints.size > 0 && (this.hints.size >= this.batchSize || now >= this.dueAt);
  }

  /** Takes the oldest batch out; hints left over are due at once. */
  take(now: number): string[] {
    const batch: string[] = [];
    for (const key of this.hints.keys()) {
      batch.push(key);
      this.hints.delete(key);
      if (batch.length >= this.batchSize) break;
    }
    if (this.hints.size > 0) this.dueAt = now;
    return batch;
  }

  /** Drops the hints that arrived up to arrival number `arrival` (a poll claimed their keys). */
  dropThrough(arrival: number): void {
    for (const [key, seq] of this.hints) {
      if (seq > arrival) break;
      this.hints.delete(key);
    }
  }

  clear(): void {
    this.hints.clear();
  }
}

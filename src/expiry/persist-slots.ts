/**
 * The bulk writes one daemon may have in flight at once, shared by the persist pipelines
 * of all its partitions so that MongoDB sees the same bound however many partitions there
 * are. A freed slot goes to the longest waiter, so no partition's loop starves.
 */
export class PersistSlots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new TypeError('persist slots must be an integer of at least 1');
    }
  }

  /** Takes a slot when one is free and nobody waits for it; false otherwise. */
  tryAcquire(): boolean {
    if (this.used >= this.size || this.waiting.length > 0) return false;
    this.used++;
    return true;
  }

  /** Resolves once a slot is taken (after the waiters before this one got theirs). */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Gives a slot back, handing it straight to the next waiter if there is one. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }

  /** Slots taken. */
  get inUse(): number {
    return this.used;
  }
}

/**
 * Remembers that MongoDB was just found unreachable, so that a write-through send does not
 * wait out server selection (seconds) while an outage lasts: once a write failed as
 * unreachable, one write per `probeIntervalMs` still tries MongoDB (the probe that notices
 * its return) and the others skip it at once.
 */
export class OutageBreaker {
  private down = false;
  private lastProbeAt = 0;

  constructor(
    private readonly probeIntervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether this write should try MongoDB: always while it is up, one per interval while down. */
  shouldTry(): boolean {
    if (!this.down) return true;
    const t = this.now();
    if (t - this.lastProbeAt < this.probeIntervalMs) return false;
    this.lastProbeAt = t;
    return true;
  }

  /** A write found MongoDB unreachable. @returns true when this starts an outage. */
  failed(): boolean {
    const started = !this.down;
    this.down = true;
    this.lastProbeAt = this.now();
    return started;
  }

  /** A write reached MongoDB. @returns true when this ends an outage. */
  succeeded(): boolean {
    const ended = this.down;
    this.down = false;
    return ended;
  }

  get isDown(): boolean {
    return this.down;
  }
}

/**
 * Percentiles over the samples of the last `windowMs` (e.g. expiration lag over 10 s), for
 * live displays (PM2 monit, the dashboard). Prometheus histograms stay the precise record.
 * Keeps at most `maxSamples`, dropping the oldest, so memory is bounded at any rate.
 */
export class RollingPercentiles {
  private readonly values: number[] = [];
  private readonly times: number[] = [];

  constructor(
    private readonly windowMs = 10_000,
    private readonly maxSamples = 10_000,
  ) {}

  add(value: number, now = Date.now()): void {
    this.values.push(value);
    this.times.push(now);
    if (this.values.length > this.maxSamples) {
      this.values.shift();
      this.times.shift();
    }
  }

  /** The p-th percentile (0..100) of the samples in the window, or undefined when none. */
  percentile(p: number, now = Date.now()): number | undefined {
    this.prune(now);
    if (this.values.length === 0) return undefined;
    const sorted = [...this.values].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank];
  }

  get size(): number {
    return this.values.length;
  }

  private prune(now: number): void {
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! < now - this.windowMs) drop++;
    if (drop > 0) {
      this.values.splice(0, drop);
      this.times.splice(0, drop);
    }
  }
}

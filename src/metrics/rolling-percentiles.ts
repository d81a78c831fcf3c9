/**
 * Percentiles over the samples of the last `windowMs` (e.g. expiration lag over 10 s), for
 * live displays (PM2 monit, the dashboard). Prometheus histograms stay the precise record.
 * A ring buffer of at most `maxSamples`: `add` is O(1) on the hot path, and the sort happens
 * only when someone reads (about once a second).
 */
export class RollingPercentiles {
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  private next = 0;
  private count = 0;

  constructor(
    private readonly windowMs = 10_000,
    maxSamples = 10_000,
  ) {
    this.values = new Float64Array(maxSamples);
    this.times = new Float64Array(maxSamples);
  }

  add(value: number, now = Date.now()): void {
    this.values[this.next] = value;
    this.times[this.next] = now;
    this.next = (this.next + 1) % this.values.length;
    if (this.count < this.values.length) this.count++;
  }

  /** The p-th percentile (0..100) of the samples in the window, or undefined when none. */
  percentile(p: number, now = Date.now()): number | undefined {
    const recent: number[] = [];
    for (let i = 0; i < this.count; i++) {
      if (this.times[i]! >= now - this.windowMs) recent.push(this.values[i]!);
    }
    if (recent.length === 0) return undefined;
    recent.sort((a, b) => a - b);
    const rank = Math.min(recent.length - 1, Math.max(0, Math.ceil((p / 100) * recent.length) - 1));
    return recent[rank];
  }
}

/**
 * Just enough of the Prometheus text format to read the expiry daemon's counters and its
 * `expiration_lag_seconds` histogram (cumulative buckets), and to subtract two scrapes so
 * that a round measures only itself.
 */

/** Sum of every sample of `name` (all label sets), or 0 when absent. */
export function sumSamples(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) total += Number(m[3]);
  }
  return total;
}

/** A histogram: cumulative counts per upper bound (seconds), +Inf last. */
export interface Histogram {
  bounds: number[];
  cumulative: number[];
}

/** The buckets of histogram `name` (summed over label sets). */
export function readHistogram(text: string, name: string): Histogram {
  const byBound = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{(?:[^}]*,)?le="([^"]+)"[^}]*\\}\\s+(\\S+)`).exec(line);
    if (!m) continue;
    const bound = m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]);
    byBound.set(bound, (byBound.get(bound) ?? 0) + Number(m[2]));
  }
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  return { bounds, cumulative: bounds.map((b) => byBound.get(b) ?? 0) };
}

/** `after − before`, bucket by bucket, and of several daemons added together. */
export function histogramDelta(after: Histogram[], before: Histogram[]): Histogram {
  const bounds = after[0]?.bounds ?? [];
  const cumulative = bounds.map((_, i) => {
    const a = after.reduce((s, h) => s + (h.cumulative[i] ?? 0), 0);
    const b = before.reduce((s, h) => s + (h.cumulative[i] ?? 0), 0);
    return a - b;
  });
  return { bounds, cumulative };
}

/**
 * The `q` quantile (0–1) of a histogram, interpolated linearly inside its bucket as
 * Prometheus's `histogram_quantile` does. The daemon's buckets are coarse (1, 5, 10, 25,
 * 50, 100, 250 ms…): an interpolated p99 is exact only at a bound — but "p99 ≤ 100 ms" is
 * exactly "≥ 99% in the 0.1 s bucket", which {@link fractionWithin} answers without error.
 * Returns seconds; NaN when empty.
 */
export function histogramQuantile(h: Histogram, q: number): number {
  const total = h.cumulative[h.cumulative.length - 1] ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  for (let i = 0; i < h.bounds.length; i++) {
    const c = h.cumulative[i] ?? 0;
    if (c >= rank) {
      const upper = h.bounds[i] ?? Number.POSITIVE_INFINITY;
      const lower = i === 0 ? 0 : (h.bounds[i - 1] ?? 0);
      if (!Number.isFinite(upper)) return lower;
      const prev = i === 0 ? 0 : (h.cumulative[i - 1] ?? 0);
      const inBucket = c - prev;
      return inBucket === 0 ? upper : lower + ((upper - lower) * (rank - prev)) / inBucket;
    }
  }
  return Number.NaN;
}

/** Fraction of observations ≤ `bound` seconds (a bound of the histogram). */
export function fractionWithin(h: Histogram, bound: number): number {
  const total = h.cumulative[h.cumulative.length - 1] ?? 0;
  const i = h.bounds.indexOf(bound);
  if (total === 0 || i < 0) return Number.NaN;
  return (h.cumulative[i] ?? 0) / total;
}

/** Small statistics helpers for the benchmarks (no dependency: the inputs are plain arrays). */

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

/**
 * The `p`-th percentile (0–100) by the nearest-rank method on a sorted copy: the value
 * below which `p`% of the samples lie, one of the samples themselves (no interpolation,
 * so a p99 is a latency that was really observed).
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

/** Rounds to `digits` significant digits, for tables and JSON a person reads. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

/** The smallest, median and largest of some rounds' figures. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

/** {@link Spread} of `values`, each rounded to `digits` significant digits; NaNs when empty. */
export function spread(values: readonly number[], digits = 3): Spread {
  if (values.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN };
  return {
    min: round(Math.min(...values), digits),
    median: round(median(values), digits),
    max: round(Math.max(...values), digits),
  };
}

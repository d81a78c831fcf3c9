import { median, round, spread, type Spread } from './stats.js';

/** One row of `bench/results/latest.json` and of the table in BENCHMARKS.md. */
export interface BenchResult {
  id: string;
  unit: string;
  /** The system's figure (median over rounds); null when the scenario could not run. */
  value: number | null;
  baseline: { name: string; value: number | null };
  /** How the system compares with the baseline, in the direction the goal states. */
  ratio: number | null;
  /** The goal as the issue states it. */
  goal: string;
  met: boolean | null;
  /** Latencies in ms, where a latency is involved (system and baseline). */
  p50?: number;
  p99?: number;
  baselineP50?: number;
  baselineP99?: number;
  /** Per-round figures, so that the spread is visible. */
  rounds?: { value: number; baseline: number }[];
  /**
   * Min / median / max over {@link rounds} of the system's figure and of the round's own
   * ratio (system against the baseline of the same round); set by {@link withSpread}.
   */
  spread?: { rounds: number; value: Spread; ratio?: Spread };
  /** What a reader needs to judge the figure (counts, quick mode, what limits it). */
  notes: string[];
}

/** The figures an HTTP load run yields (a subset of `LoadResult`). */
interface HttpRun {
  requestsPerSecond: number;
  p50: number;
  p99: number;
}

/**
 * A req/s row: the system's runs against a baseline's, one pair per round; medians over the
 * rounds, ratio system ÷ baseline, latencies of both.
 */
export function httpThroughputResult(opts: {
  id: string;
  baselineName: string;
  goal: string;
  /** Whether the goal is met, given the ratio. */
  met: (ratio: number) => boolean;
  runs: { system: HttpRun; baseline: HttpRun }[];
  notes: string[];
}): BenchResult {
  const m = (f: (r: (typeof opts.runs)[number]) => number) => round(median(opts.runs.map(f)));
  const value = m((r) => r.system.requestsPerSecond);
  const base = m((r) => r.baseline.requestsPerSecond);
  return {
    id: opts.id,
    unit: 'req/s',
    value,
    baseline: { name: opts.baselineName, value: base },
    ratio: round(value / base),
    goal: opts.goal,
    met: opts.met(value / base),
    p50: m((r) => r.system.p50),
    p99: m((r) => r.system.p99),
    baselineP50: m((r) => r.baseline.p50),
    baselineP99: m((r) => r.baseline.p99),
    rounds: opts.runs.map((r) => ({
      value: round(r.system.requestsPerSecond),
      baseline: round(r.baseline.requestsPerSecond),
    })),
    notes: opts.notes,
  };
}

/**
 * `result` with its {@link BenchResult.spread} filled from its rounds. The ratio of a round
 * is taken in the direction of the row's own ratio — value ÷ baseline, or baseline ÷ value
 * where the row says so (read-miss: read-hit ÷ read-miss) — told apart by which of the two
 * the row's ratio of medians is closer to.
 */
export function withSpread(result: BenchResult): BenchResult {
  const rounds = result.rounds?.filter((x) => Number.isFinite(x.value)) ?? [];
  if (result.value === null || rounds.length === 0) return result;
  // The row's own median, not that of the rounds' figures as rounded for reading.
  const value = { ...spread(rounds.map((x) => x.value)), median: result.value };
  let ratio: Spread | undefined;
  const base = median(rounds.map((x) => x.baseline));
  if (result.ratio !== null && rounds.every((x) => x.value > 0 && x.baseline > 0) && base > 0) {
    const direct = value.median / base;
    const inverted =
      Math.abs(Math.log(result.ratio * direct)) < Math.abs(Math.log(result.ratio / direct));
    ratio = spread(rounds.map((x) => (inverted ? x.baseline / x.value : x.value / x.baseline)));
  }
  return { ...result, spread: { rounds: rounds.length, value, ...(ratio ? { ratio } : {}) } };
}

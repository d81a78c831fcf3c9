import { median, round } from './stats.js';

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

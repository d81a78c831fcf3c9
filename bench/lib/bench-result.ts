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

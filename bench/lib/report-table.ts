import type { BenchResult } from './bench-result.js';

/** A figure for a table: thousands separated from 1,000 up, "—" when missing. */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(v);
}

function latency(r: BenchResult): string {
  if (r.p50 === undefined && r.p99 === undefined) return '';
  const sys = `p50 ${fmt(r.p50)} / p99 ${fmt(r.p99)} ms`;
  if (r.baselineP50 === undefined && r.baselineP99 === undefined) return sys;
  return `${sys}; baseline p50 ${fmt(r.baselineP50)} / p99 ${fmt(r.baselineP99)} ms`;
}

/** The system's figure over the rounds: `min / median / max (n)`, or the one round's. */
function roundsCell(r: BenchResult): string {
  const s = r.spread;
  if (!s) return '';
  if (s.rounds === 1) return '1 round';
  return `${fmt(s.value.min)} / ${fmt(s.value.median)} / ${fmt(s.value.max)} (${s.rounds})`;
}

/** The ratio of the medians, and the range of the rounds' own ratios beside it (a table cell). */
export function ratioCell(r: BenchResult): string {
  if (r.ratio === null) return '—';
  const range = r.spread?.ratio;
  if (!range || (r.spread?.rounds ?? 0) < 2) return `${fmt(r.ratio)}×`;
  return `${fmt(r.ratio)}× (${fmt(range.min)}–${fmt(range.max)})`;
}

/**
 * The results as a Markdown table (printed by `npm run bench` and kept in BENCHMARKS.md):
 * the medians, the spread of the system's figure over the rounds, and the ratio with the
 * range of the rounds' own ratios; "met" is judged on the medians.
 */
export function renderTable(results: readonly BenchResult[]): string {
  const lines = [
    '| id | value | rounds: min / median / max (n) | baseline | ratio (rounds: min–max) | goal | met | latency |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const met = r.met === null ? (r.value === null ? 'not run' : '—') : r.met ? 'yes' : '**NO**';
    lines.push(
      `| \`${r.id}\` | ${fmt(r.value)} ${r.unit} | ${roundsCell(r)} | ${r.baseline.name}: ${fmt(r.baseline.value)} | ${ratioCell(r)} | ${r.goal} | ${met} | ${latency(r)} |`,
    );
  }
  return lines.join('\n');
}

/** Every row's notes, as a Markdown list. */
export function renderNotes(results: readonly BenchResult[]): string {
  return results
    .filter((r) => r.notes.length > 0)
    .map((r) => `- \`${r.id}\`: ${r.notes.join('; ')}`)
    .join('\n');
}

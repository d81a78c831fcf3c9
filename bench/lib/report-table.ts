import type { BenchResult } from './bench-result.js';

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(v);
}

function latency(r: BenchResult): string {
  if (r.p50 === undefined && r.p99 === undefined) return '';
  const sys = `p50 ${fmt(r.p50)} / p99 ${fmt(r.p99)} ms`;
  if (r.baselineP50 === undefined && r.baselineP99 === undefined) return sys;
  return `${sys}; baseline p50 ${fmt(r.baselineP50)} / p99 ${fmt(r.baselineP99)} ms`;
}

/** The results as a Markdown table (printed by `npm run bench` and kept in BENCHMARKS.md). */
export function renderTable(results: readonly BenchResult[]): string {
  const lines = [
    '| id | value | baseline | ratio | goal | met | latency |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const met = r.met === null ? (r.value === null ? 'not run' : '—') : r.met ? 'yes' : '**NO**';
    lines.push(
      `| \`${r.id}\` | ${fmt(r.value)} ${r.unit} | ${r.baseline.name}: ${fmt(r.baseline.value)} | ${fmt(r.ratio)}${r.ratio === null ? '' : '×'} | ${r.goal} | ${met} | ${latency(r)} |`,
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

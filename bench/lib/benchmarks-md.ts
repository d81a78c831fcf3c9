import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import * as prettier from 'prettier';
import type { BenchResult } from './bench-result.js';
import type { MachineInfo } from './machine-info.js';
import { renderNotes, renderTable } from './report-table.js';

/** What a run reports (the content of bench/results/latest.json). */
export interface BenchReport {
  command: string;
  quick: boolean;
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  versions: Record<string, string>;
  results: BenchResult[];
}

const BEGIN =
  '<!-- bench:results:begin (written by `npm run bench`; edit outside these markers) -->';
const END = '<!-- bench:results:end -->';

/** The generated part of BENCHMARKS.md: command, machine, table, notes, chart. */
export function renderResultsSection(report: BenchReport): string {
  const m = report.machine;
  const v = report.versions;
  return [
    BEGIN,
    `## Latest full run`,
    '',
    `\`${report.command}\` — ${report.startedAt}, ${Math.round(report.durationSeconds / 60)} min.`,
    '',
    `Machine: ${m.cpuModel} × ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; load average at start ${m.loadAverage.join(' / ')} (a shared machine). ` +
      `Node ${m.node}, Redis ${m.redis}, MongoDB protocol: ${m.mongo}; bullmq ${v.bullmq}, autocannon ${v.autocannon}, koa ${v.koa}, ws ${v.ws}, redis (node) ${v.redis}, mongodb driver ${v.mongodb}.`,
    '',
    renderTable(report.results),
    '',
    renderNotes(report.results),
    '',
    '![expiration lag p50/p99: daemon vs BullMQ and the plain keyevent subscriber](docs/bench-lag.svg)',
    END,
  ].join('\n');
}

/**
 * Replaces the generated section of BENCHMARKS.md (between the markers) with this run's,
 * keeping the hand-written analysis around it; creates the file when missing. Formatted
 * with the project's Prettier config, so that `npm run lint` stays green.
 */
export async function writeBenchmarksMd(file: string, report: BenchReport): Promise<void> {
  const section = renderResultsSection(report);
  let next = `# Benchmarks\n\n${section}\n`;
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const start = text.indexOf(BEGIN);
    const end = text.indexOf(END);
    next =
      start >= 0 && end > start
        ? `${text.slice(0, start)}${section}${text.slice(end + END.length)}`
        : `${text.trimEnd()}\n\n${section}\n`;
  }
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(next, { ...options, filepath: file }));
}

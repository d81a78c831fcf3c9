import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import * as prettier from 'prettier';
import type { BenchResult } from './bench-result.js';
import { machineLine, type MachineInfo } from './machine-info.js';
import { fmt, ratioCell, renderNotes, renderTable } from './report-table.js';

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
const LATEST = '## Latest full run';
const PREVIOUS = '## Previous full run';
const CHART =
  '![expiration lag p50/p99: daemon vs BullMQ and the plain keyevent subscriber](docs/bench-lag.svg)';

/** One row of a full run's table as BENCHMARKS.md shows it (cells as text). */
interface ShownRow {
  value: string;
  ratio: string;
  goal: string;
  met: string;
}

/** A full run as read back from its block of BENCHMARKS.md. */
interface ShownRun {
  date: string;
  rows: Map<string, ShownRow>;
}

/**
 * The block of the latest full run in an earlier generated section (from its heading to the
 * next `## ` heading or the end marker), undefined when there is none.
 */
export function latestBlock(section: string): string | undefined {
  const start = section.indexOf(`${LATEST}\n`);
  if (start < 0) return undefined;
  const rest = section.slice(start + LATEST.length);
  const next = rest.search(/\n## |<!-- bench:results:end/);
  return `${LATEST}${next < 0 ? rest : rest.slice(0, next)}`.trimEnd();
}

/** Reads the date and the table of a run's block (the table as {@link renderTable} wrote it). */
function readShownRun(block: string): ShownRun {
  const date = /— (\d{4}-\d\d-\d\d)/.exec(block)?.[1] ?? 'unknown date';
  const rows = new Map<string, ShownRow>();
  const cells = (line: string) =>
    line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  const lines = block.split('\n').filter((l) => l.startsWith('|'));
  const header = cells(lines[0] ?? '');
  const col = (name: string) => header.findIndex((h) => h.startsWith(name));
  const [id, value, ratio, goal, met] = ['id', 'value', 'ratio', 'goal', 'met'].map(col);
  if (id === undefined || id < 0) return { date, rows };
  for (const line of lines.slice(1)) {
    const c = cells(line);
    if (c.every((x) => /^:?-+:?$/.test(x))) continue;
    const at = (i: number | undefined) => (i === undefined || i < 0 ? '' : (c[i] ?? ''));
    rows.set(at(id).replace(/`/g, ''), {
      value: at(value),
      ratio: at(ratio),
      goal: at(goal),
      met: at(met),
    });
  }
  return { date, rows };
}

/**
 * The goals of this run beside the previous full run's, one row per id: the ratio (the
 * figure, for a row without one) and whether it was met; a previous goal that differs is
 * named, since its ratio then measured something else.
 */
function comparisonTable(report: BenchReport, previous: ShownRun): string {
  const date = report.startedAt.slice(0, 10);
  const lines = [
    `| id | goal | this run (${date}) | met | previous run (${previous.date}) | met |`,
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const ids = [...report.results.map((r) => r.id)];
  for (const id of previous.rows.keys()) if (!ids.includes(id)) ids.push(id);
  for (const id of ids) {
    const r = report.results.find((x) => x.id === id);
    const p = previous.rows.get(id);
    const now = r
      ? r.ratio === null
        ? `${fmt(r.value)} ${r.unit}`
        : ratioCell(r)
      : 'not in this run';
    const met = r ? (r.met === null ? '—' : r.met ? 'yes' : '**NO**') : '';
    let then = p ? (p.ratio === '—' || p.ratio === '' ? p.value : p.ratio) : 'not in that run';
    if (p && r && p.goal !== r.goal) then += ` (goal then: ${p.goal})`;
    lines.push(
      `| \`${id}\` | ${r?.goal ?? p?.goal ?? ''} | ${now} | ${met} | ${then} | ${p?.met ?? ''} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The generated part of BENCHMARKS.md: this run's goals beside the previous full run's
 * (`previousBlock`, that run's block from the section being replaced), then this run in full
 * (command, machine, table, notes, chart) and the previous one as it was written.
 */
export function renderResultsSection(report: BenchReport, previousBlock?: string): string {
  const m = report.machine;
  const v = report.versions;
  const previous = previousBlock
    ?.replace(LATEST, PREVIOUS)
    .split('\n')
    .filter((line) => line.trim() !== CHART)
    .join('\n')
    .trimEnd();
  const comparison = previousBlock
    ? [
        '## The last two full runs',
        '',
        `Ratio of the medians, with the range of the rounds' own ratios; "met" on the medians.`,
        'Hosts differ between runs: compare their `redis-limit` (in each machine line below).',
        '',
        comparisonTable(report, readShownRun(previousBlock)),
        '',
      ]
    : [];
  return [
    BEGIN,
    ...comparison,
    LATEST,
    '',
    `\`${report.command}\` — ${report.startedAt}, ${Math.round(report.durationSeconds / 60)} min.`,
    '',
    `Machine: ${machineLine(m)}. ` +
      `Node ${m.node}, Redis ${m.redis}, MongoDB protocol: ${m.mongo}; bullmq ${v.bullmq}, autocannon ${v.autocannon}, koa ${v.koa}, ws ${v.ws}, redis (node) ${v.redis}, mongodb driver ${v.mongodb}.`,
    '',
    renderTable(report.results),
    '',
    renderNotes(report.results),
    '',
    CHART,
    ...(previous ? ['', previous] : []),
    END,
  ].join('\n');
}

/**
 * Replaces the generated section of BENCHMARKS.md (between the markers) with this run's,
 * the run it held as latest kept as the previous one, and the hand-written text around it
 * left as it is; creates the file when missing. The section is formatted (tables aligned)
 * with the project's Prettier config; the rest of the file is not touched.
 */
export async function writeBenchmarksMd(file: string, report: BenchReport): Promise<void> {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  const found = start >= 0 && end > start;
  const options = (await prettier.resolveConfig(file)) ?? {};
  const section = (
    await prettier.format(
      renderResultsSection(report, found ? latestBlock(text.slice(start, end)) : undefined),
      { ...options, parser: 'markdown' },
    )
  ).trimEnd();
  writeFileSync(
    file,
    found
      ? `${text.slice(0, start)}${section}${text.slice(end + END.length)}`
      : `${text.trimEnd()}\n\n${section}\n`,
  );
}

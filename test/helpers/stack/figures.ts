import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../../src/local/project-root.js';

/** The figures of one scenario run, as printed and written to test/chaos/results.json. */
export interface ScenarioFigures {
  /** Scenario name, e.g. `1 daemon kill -9 (write-behind)`. */
  scenario: string;
  /** `full` (npm run test:chaos) or `short` (npm test). */
  suite: 'full' | 'short';
  sent: number;
  acknowledged: number;
  persisted: number;
  lost: number;
  duplicated: number;
  /** Attempts answered with a 5xx (REST) or a 5xx error code (ws). */
  http5xx: number;
  /** From the end of the fault to the first acknowledged send started after it. */
  recoverMs: number | null;
  /** From the end of the load to `expiry:due` and `expiry:inflight` empty. */
  drainMs: number;
  /** Length of the scenario, load to verdict. */
  seconds: number;
  /** Anything scenario-specific (evicted keys, 202 answers, ws availability…). */
  notes: string;
  /** Cluster master kill: from the kill until a replica served the dead master's slots. */
  failoverMs?: number;
  /**
   * Cluster master kill: from the kill until the acknowledgement of the first send to the
   * dead shard, started after the kill, whose message the promoted master holds.
   */
  shardResumedMs?: number;
}

/** Where every run's figures are kept (gitignored). */
export const RESULTS_FILE = path.join(projectRoot(), 'test', 'chaos', 'results.json');

interface ResultsFile {
  updatedAt: string;
  machine: string;
  runs: Record<string, ScenarioFigures & { at: string }>;
}

/** The notes, after the failover figures when there are some. */
function notesOf(f: ScenarioFigures): string {
  const failover = [
    f.failoverMs === undefined ? '' : `failover ${f.failoverMs} ms`,
    f.shardResumedMs === undefined
      ? ''
      : `dead shard cached sends again after ${f.shardResumedMs} ms`,
  ];
  return [...failover, f.notes].filter((s) => s !== '').join('; ');
}

/** One line of figures. */
export function formatFigures(f: ScenarioFigures): string {
  const recover = f.recoverMs === null ? 'n/a' : `${f.recoverMs} ms`;
  const notes = notesOf(f);
  return (
    `[chaos:${f.suite}] ${f.scenario}: sent ${f.sent}, acknowledged ${f.acknowledged}, ` +
    `persisted ${f.persisted}, lost ${f.lost}, duplicated ${f.duplicated}, 5xx ${f.http5xx}, ` +
    `recover ${recover}, drain ${f.drainMs} ms, ${f.seconds} s${notes ? ` (${notes})` : ''}`
  );
}

/** Every scenario recorded by this process, in order (for the table printed at the end). */
export const recorded: ScenarioFigures[] = [];

/** Prints the line and merges the figures into {@link RESULTS_FILE} (keyed by suite and scenario). */
export function recordFigures(f: ScenarioFigures): void {
  console.log(formatFigures(f));
  recorded.push(f);
  let file: ResultsFile = { updatedAt: '', machine: '', runs: {} };
  if (existsSync(RESULTS_FILE)) {
    try {
      file = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as ResultsFile;
    } catch {
      // A corrupt file (an interrupted write) is replaced.
    }
  }
  const at = new Date().toISOString();
  file.updatedAt = at;
  file.machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  file.runs[`${f.suite}: ${f.scenario}`] = { ...f, at };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(file, null, 2)}\n`);
}

/** A Markdown table of figures (the README's Reliability section). */
export function formatTable(rows: ScenarioFigures[]): string {
  const head =
    '| scenario | sent | acked | persisted | lost | duplicated | 5xx | recover | drain | notes |\n' +
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |';
  const body = rows.map(
    (f) =>
      `| ${f.scenario} | ${f.sent} | ${f.acknowledged} | ${f.persisted} | ${f.lost} | ` +
      `${f.duplicated} | ${f.http5xx} | ${f.recoverMs === null ? 'n/a' : `${f.recoverMs} ms`} | ` +
      `${f.drainMs} ms | ${notesOf(f)} |`,
  );
  return [head, ...body].join('\n');
}

import type { LoadRequest, LoadResult } from '../workers/autocannon-run.js';
import { NodeChild } from './child.js';
import { cpuSecondsBetween, processCpu, type ProcessCpu } from './process-cpu.js';
import type { ScenarioContext } from './scenario.js';
import { median, round } from './stats.js';

export type { LoadRequest, LoadResult };

/** The name under which a run's own load generator (the autocannon process) is reported. */
const LOAD_GENERATOR = 'load generator';

/** A load run, with the CPU per answered request of the processes it was asked to watch. */
export interface MeasuredLoad extends LoadResult {
  /**
   * CPU time (all threads, from /proc) per request of the measured run, in µs, by name:
   * those of `cpuOf` (the sum over a name's processes) and {@link LOAD_GENERATOR}.
   */
  cpuUsPerRequest: Record<string, number>;
}

/**
 * Runs autocannon in its own process against `url` with `requests` cycled per connection
 * (a 1-second warm-up, then the measured run); throws when more than 1% of the answers were
 * not 2xx, since the figure would then measure errors. `opts.cpuOf` names processes (pids)
 * whose CPU over the measured run is read before and after it, nothing being asked of them.
 */
export async function httpLoad(
  ctx: ScenarioContext,
  url: string,
  requests: LoadRequest[],
  opts: { warmupSeconds?: number; cpuOf?: Record<string, readonly (number | undefined)[]> } = {},
): Promise<MeasuredLoad> {
  const { connections, httpSeconds } = ctx.options;
  const child = new NodeChild('autocannon', 'bench/workers/autocannon-run.ts', {
    env: {
      URL: url,
      CONNECTIONS: String(connections),
      SECONDS: String(httpSeconds),
      WARMUP_SECONDS: String(opts.warmupSeconds ?? 1),
    },
  });
  await child.next('ready', 30000);
  child.send({ requests });
  const watched: Record<string, number[]> = {};
  for (const [name, pids] of Object.entries({ [LOAD_GENERATOR]: [child.pid], ...opts.cpuOf })) {
    watched[name] = pids.filter((p): p is number => p !== undefined);
  }
  const warmupMs = (opts.warmupSeconds ?? 1) * 1000;
  await child.next('measuring', warmupMs + 30000);
  const before = readAll(watched);
  const result = await child.next<LoadResult>('result', (httpSeconds + 60) * 1000);
  const after = readAll(watched);
  await child.waitExit(10000);
  if (result.non2xx + result.errors > result.total * 0.01) {
    throw new Error(
      `${url}: ${result.non2xx} non-2xx answers and ${result.errors} errors of ${result.total}`,
    );
  }
  const cpuUsPerRequest: Record<string, number> = {};
  for (const name of Object.keys(watched)) {
    const seconds = before[name]!.reduce(
      (sum, b, i) => sum + cpuSecondsBetween(b, after[name]![i]!),
      0,
    );
    cpuUsPerRequest[name] = (seconds / Math.max(1, result.total)) * 1e6;
  }
  return { ...result, cpuUsPerRequest };
}

function readAll(watched: Record<string, number[]>): Record<string, ProcessCpu[]> {
  const out: Record<string, ProcessCpu[]> = {};
  for (const [name, pids] of Object.entries(watched)) out[name] = pids.map((p) => processCpu(p));
  return out;
}

/**
 * "CPU per request, µs (all threads; median of rounds): write-behind: API 52.1, Redis 28.3,
 * load generator 17.4; baseline: …": each side's median over its runs, by name.
 */
export function cpuPerRequestNote(
  sides: readonly { label: string; runs: readonly MeasuredLoad[] }[],
): string {
  const side = ({ label, runs }: { label: string; runs: readonly MeasuredLoad[] }) => {
    const names = Object.keys(runs[0]?.cpuUsPerRequest ?? {});
    const medians = names.map(
      (name) => `${name} ${round(median(runs.map((r) => r.cpuUsPerRequest[name] ?? Number.NaN)))}`,
    );
    return `${label}: ${medians.join(', ')}`;
  };
  return `CPU per request, µs (all threads; median of rounds): ${sides.map(side).join('; ')}`;
}

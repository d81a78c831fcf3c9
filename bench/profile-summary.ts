/**
 * `node --import tsx bench/profile-summary.ts <file.cpuprofile>… [--top=25]
 * [--stretches=1,3] [--requests=N]`: the self time of a V8 CPU profile (written by
 * `npm run bench -- --profile`) by function and by module, so that what limits a scenario
 * can be named (file, function) without opening DevTools.
 *
 * It lists the process's loaded stretches (half-second steps at least half busy, 1.5 s or
 * longer: one per load run). `--stretches` counts only the samples of those stretches (a
 * baseline process serving two routes, one after the other, is then read per route), and
 * `--requests` gives each figure in µs per request, N being the requests those stretches
 * served (the bench prints each run's rate): a system and its baseline compare directly.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './lib/child.js';
import { SYSTEM_BUILDS_DIR } from './lib/system-build.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  /** µs since the previous sample (the first: since startTime). */
  timeDeltas?: number[];
}

/** Loaded stretches are found in steps of this many µs. */
const STEP_US = 500_000;

/** [start, end) in µs of each run of ≥ 3 steps in which the process was at least half busy. */
function loadedStretches(times: number[], idle: boolean[], weights: number[]): [number, number][] {
  const steps = new Map<number, { busy: number; all: number }>();
  times.forEach((t, i) => {
    const step = Math.floor(t / STEP_US);
    const s = steps.get(step) ?? { busy: 0, all: 0 };
    s.all += weights[i]!;
    if (!idle[i]) s.busy += weights[i]!;
    steps.set(step, s);
  });
  const busy = [...steps.entries()]
    .filter(([, s]) => s.busy >= s.all / 2)
    .map(([step]) => step)
    .sort((a, b) => a - b);
  const stretches: [number, number][] = [];
  let first = busy[0];
  busy.forEach((step, i) => {
    if (busy[i + 1] === step + 1) return;
    if (first !== undefined && step - first >= 2) {
      stretches.push([first * STEP_US, (step + 1) * STEP_US]);
    }
    first = busy[i + 1];
  });
  return stretches;
}

/** A short place: `src/x/y.ts`, `node_modules/<pkg>`, `node:<mod>`, or V8's `(garbage collector)`. */
function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  // The bench's compiled copy of src/ (system-build.ts), named by its source file.
  const file = url
    .replace(/^file:\/\//, '')
    .replace(new RegExp(`^${SYSTEM_BUILDS_DIR}/build-\\d+/`), `${ROOT}/src/`)
    .replace(/\/src\/(.*)\.js$/, '/src/$1.ts');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (nm?.[1]) return `node_modules/${nm[1]}`;
  if (file.startsWith('node:')) return file;
  return path.relative(ROOT, file);
}

interface SummaryOptions {
  top: number;
  /** 1-based numbers of the loaded stretches to count; all samples when undefined. */
  stretches?: number[];
  /** Requests served in the counted samples: figures in µs per request. */
  requests?: number;
}

function summarize(file: string, opts: SummaryOptions): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const times: number[] = [];
  let t = profile.startTime;
  for (const d of deltas) times.push((t += d) - profile.startTime);
  // A sample stands for the time until the next one.
  const weights = times.map((x, i) => (times[i + 1] ?? x) - x);
  const isIdle = samples.map((id) => byId.get(id)?.callFrame.functionName === '(idle)');
  const stretches = loadedStretches(times, isIdle, weights);
  const chosen = opts.stretches?.map((k) => stretches[k - 1]);
  if (chosen?.some((x) => x === undefined)) {
    throw new Error(`${file}: it has ${stretches.length} loaded stretches`);
  }
  const counted = (x: number) =>
    !chosen || chosen.some((c) => c !== undefined && x >= c[0] && x < c[1]);

  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let busy = 0;
  let total = 0;
  samples.forEach((id, i) => {
    const w = weights[i]!;
    if (!counted(times[i]!)) return;
    total += w;
    if (isIdle[i]) return;
    busy += w;
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const mod = moduleOf(url, functionName);
    const fn = `${functionName || '(anonymous)'} ${mod}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + w);
    byModule.set(mod, (byModule.get(mod) ?? 0) + w);
  });
  const { requests } = opts;
  // Shares of the busy time (the process idles between the runs that load it), or µs per request.
  const figure = (us: number) =>
    requests
      ? `${(us / requests).toFixed(2).padStart(7)} µs`
      : `${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, opts.top)
      .map(([k, us]) => `    ${figure(us)}  ${k}`);
  const s = (us: number) => (us / 1e6).toFixed(1);
  const lines = [
    `${path.relative(ROOT, file)}: ${s(profile.endTime - profile.startTime)} s; loaded stretches (start +length s): ` +
      stretches.map(([a, b], i) => `${i + 1}: ${s(a)} +${s(b - a)}`).join(', '),
    `  counted: ${chosen ? `stretches ${opts.stretches?.join(', ')}` : 'all'}, ${s(total)} s, busy ${s(busy)} s` +
      (requests
        ? `: ${(busy / requests).toFixed(1)} µs of busy time per request (${requests} requests)`
        : '') +
      `; ${requests ? 'µs per request' : 'shares of the busy time'}:`,
    '  by module (self):',
    ...list(byModule),
    '  by function (self):',
    ...list(byFunction),
  ];
  return lines.join('\n');
}

const args = process.argv.slice(2);
const option = (name: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const stretches = option('stretches')?.split(',').map(Number);
const requests = option('requests') === undefined ? undefined : Number(option('requests'));
if (stretches?.some((k) => !Number.isInteger(k) || k < 1)) {
  throw new Error('--stretches takes stretch numbers from 1, e.g. --stretches=2,4');
}
if (requests !== undefined && !(requests > 0)) {
  throw new Error('--requests takes the number of requests the counted stretches served');
}
for (const file of args.filter((a) => !a.startsWith('--'))) {
  process.stdout.write(
    `${summarize(file, { top: Number(option('top') ?? 20), stretches, requests })}\n\n`,
  );
}

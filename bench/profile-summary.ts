/**
 * `node --import tsx bench/profile-summary.ts <file.cpuprofile>… [--top=25]`: the self time
 * of a V8 CPU profile (written by `npm run bench -- --profile`) by function and by module,
 * so that what limits a scenario can be named (file, function) without opening DevTools.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './lib/child.js';
import { SYSTEM_BUILDS_DIR } from './lib/system-build.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
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

function summarize(file: string, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const totalSamples = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const mod = moduleOf(url, functionName);
    const fn = `${functionName || '(anonymous)'} ${mod}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
    byModule.set(mod, (byModule.get(mod) ?? 0) + hits);
  }
  const idle = byModule.get('(idle)') ?? 0;
  byModule.delete('(idle)');
  byFunction.delete('(idle) (idle)');
  const busy = totalSamples - idle;
  // Shares of the busy time: the process idles between the runs that load it.
  const pct = (h: number) => `${((100 * h) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  const lines = [
    `${path.relative(ROOT, file)}: ${seconds.toFixed(1)} s, busy ${((busy / Math.max(1, totalSamples)) * seconds).toFixed(1)} s; shares of the busy time:`,
    '  by module (self):',
    ...[...byModule.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([m, h]) => `    ${pct(h)}  ${m}`),
    '  by function (self):',
    ...[...byFunction.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([f, h]) => `    ${pct(h)}  ${f}`),
  ];
  return lines.join('\n');
}

const args = process.argv.slice(2);
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 20);
for (const file of args.filter((a) => !a.startsWith('--'))) {
  process.stdout.write(`${summarize(file, top)}\n\n`);
}

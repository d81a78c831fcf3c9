import { readFileSync } from 'node:fs';
import type { NodeChild } from './child.js';

/** A process's resident set size (VmRSS of /proc/<pid>/status), in bytes. */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

/** The soft and hard open-file limits of this process (`ulimit -n`, `ulimit -Hn`); children inherit them. */
export function openFileLimit(): { soft: number; hard: number } {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const num = (v: string | undefined) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}

/**
 * `execArgv` that let the bench collect a child's garbage on request without changing the
 * program it runs: `--expose-gc`, and a preload (a `data:` module) that on `{ type: 'bench:gc' }`
 * over the IPC channel runs two full collections and answers a 'result' with
 * `process.memoryUsage()`.
 */
export const GC_ON_REQUEST_ARGS: readonly string[] = [
  '--expose-gc',
  '--import',
  `data:text/javascript,${encodeURIComponent(
    "process.on('message', (m) => { if (m?.type !== 'bench:gc') return; globalThis.gc(); globalThis.gc(); process.send({ type: 'result', data: process.memoryUsage() }); });",
  )}`,
];

/** Memory of a process after a full collection. */
export interface SettledMemory {
  /** VmRSS, bytes. */
  rss: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JS ones, including Buffers (`arrayBuffers`). */
  external: number;
}

/** Collects garbage in `child` (started with {@link GC_ON_REQUEST_ARGS}) and reads its memory. */
export async function settledMemory(child: NodeChild): Promise<SettledMemory> {
  child.send({ type: 'bench:gc' });
  const usage = await child.next<NodeJS.MemoryUsage>('result', 30000);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${child.name} has no pid`);
  return { rss: residentBytes(pid), heapUsed: usage.heapUsed, external: usage.external };
}

import { readFileSync } from 'node:fs';

/** The host's CPU time so far, from /proc/stat's `cpu` line, in clock ticks. */
export interface HostCpu {
  busy: number;
  total: number;
}

/** Reads {@link HostCpu} (Linux). */
export function hostCpu(): HostCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  // idle and iowait are the 4th and 5th fields.
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: total - idle, total };
}

/** The share (0–1) of the host's CPU that was busy between two readings (every process, ours or not). */
export function hostBusyBetween(before: HostCpu, after: HostCpu): number {
  return (after.busy - before.busy) / Math.max(1, after.total - before.total);
}

import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux). */
const USER_HZ = 100;

/**
 * CPU seconds a process has used so far, read from /proc by this process, so that reading it
 * costs the measured process nothing (a metrics scrape would make it work for its own
 * figure). The sum of its threads' `schedstat` run times (ns) is exact; /proc/<pid>/stat's
 * utime + stime also counts threads that have exited, but only in 10 ms ticks. Both are
 * returned: {@link cpuSecondsBetween} picks.
 */
export interface ProcessCpu {
  /** Σ over /proc/<pid>/task/<tid>/schedstat of the first field, in s; NaN when unreadable. */
  threads: number;
  /** (utime + stime) / USER_HZ of /proc/<pid>/stat, in s. */
  ticks: number;
}

/** Reads {@link ProcessCpu} of `pid`; throws when the process is gone (or not on Linux). */
export function processCpu(pid: number): ProcessCpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  let threads = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      threads += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    threads /= 1e9;
  } catch {
    threads = Number.NaN;
  }
  return { threads, ticks };
}

/**
 * CPU seconds used between two readings: the exact thread sum, unless it fell short of the
 * tick count by more than two ticks (a thread ended in between and took its time along).
 */
export function cpuSecondsBetween(before: ProcessCpu, after: ProcessCpu): number {
  const exact = after.threads - before.threads;
  const ticks = after.ticks - before.ticks;
  return Number.isFinite(exact) && exact >= ticks - 2 / USER_HZ ? exact : ticks;
}

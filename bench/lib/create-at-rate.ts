import { sleep } from '../../src/lifecycle/wait.js';

/**
 * Calls `create(from, to)` so that `rate` items a second are made for `seconds`, at most
 * 2,000 a call; bounded by count and by time (the window plus a second of grace when the
 * server is slow).
 * @returns how many were made, in how many seconds, and when it started (ms since the epoch).
 */
export async function createAtRate(
  rate: number,
  seconds: number,
  create: (from: number, to: number) => Promise<void>,
): Promise<{ created: number; elapsed: number; start: number }> {
  const total = Math.round(rate * seconds);
  const start = Date.now();
  let created = 0;
  while (created < total && Date.now() - start < (seconds + 1) * 1000) {
    const target = Math.min(total, Math.floor(((Date.now() - start) / 1000) * rate));
    if (target > created) {
      const to = Math.min(target, created + 2000);
      await create(created, to);
      created = to;
    } else {
      await sleep(2);
    }
  }
  return { created, elapsed: (Date.now() - start) / 1000, start };
}

/**
 * Delay before the next attempt of a failed expiration: `baseMs` doubling per failed
 * attempt, capped at `maxMs`, with jitter (a random 50-100 % of that) so that the entries of
 * a batch that failed together, and the daemons retrying them, spread out instead of
 * hitting a recovering MongoDB at the same instant.
 * @param attempt - failed attempts so far, including the one that just failed (1 = first).
 */
export function retryBackoff(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30), maxMs);
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

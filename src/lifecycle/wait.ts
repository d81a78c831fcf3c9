/** How {@link waitUntil} polls. */
export interface WaitOptions {
  /**
   * Pause between two checks.
   * @defaultValue 50
   */
  intervalMs?: number;
  /**
   * Asked after every unmet check: a reason (such as a process's exit) ends the wait at
   * once instead of at the timeout, and the error names it.
   */
  giveUpIf?: () => string | undefined;
}

/** Resolves after `ms` (at once, on the next turn, when `ms` is 0 or less). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * Polls `check` until it returns true; throws naming `what` after `timeoutMs` (one last
 * check runs after the deadline, so a slow check still gets its answer counted), or as soon
 * as `giveUpIf` gives a reason. `options` may be the interval alone (ms). A check that
 * throws fails the wait at once (wrap it to mean "not yet"). Shared by src/local/, test/ and
 * bench/ (a loop that must report what it last saw keeps its own).
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  options: number | WaitOptions = {},
): Promise<void> {
  const opts: WaitOptions = typeof options === 'number' ? { intervalMs: options } : options;
  const { intervalMs = 50, giveUpIf } = opts;
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const reason = giveUpIf?.();
    if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}`);
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

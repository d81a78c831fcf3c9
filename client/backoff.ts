/** Exponential backoff between retries. */
export interface BackoffOptions {
  /** The first delay; each later one doubles, up to `maxMs`. @defaultValue 500 */
  initialMs?: number;
  /** The longest delay. @defaultValue 15000 */
  maxMs?: number;
}

/**
 * The delay before retry number `attempt` (0 for the first): `initialMs · 2^attempt`, at most
 * `maxMs`, with jitter in its upper half, so that clients cut off together (a restarted
 * server, a dropped network) do not all come back at the same instant, and never at once.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const initial = opts.initialMs ?? 500;
  const max = opts.maxMs ?? 15_000;
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return base / 2 + Math.random() * (base / 2);
}

/**
 * A `Retry-After` header in ms: whole seconds (what this API sends) or an HTTP date;
 * undefined when absent or unreadable.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

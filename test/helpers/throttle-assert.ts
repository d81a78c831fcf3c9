import assert from 'node:assert/strict';

/** What a test saw of an answer that may be a throttle's. */
export interface ThrottleAnswer {
  status: number;
  code?: string;
  retryAfter?: string | null;
}

/** Asserts a 429 RATE_LIMITED whose Retry-After is whole seconds within the window. */
export function assertThrottled(seen: ThrottleAnswer, what: string, windowSeconds: number): void {
  assert.equal(seen.status, 429, `${what}: ${JSON.stringify(seen)}`);
  assert.equal(seen.code, 'RATE_LIMITED', what);
  const retryAfter = Number(seen.retryAfter);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSeconds,
    `${what}: Retry-After ${seen.retryAfter}`,
  );
}

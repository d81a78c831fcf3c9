/**
 * A fresh idempotency key: a UUID (36 of `0-9 a-f -`, within the API's 1–64 of
 * `A-Z a-z 0-9 _ -`). `crypto.randomUUID` needs a secure context in browsers (https or
 * localhost); elsewhere 16 random bytes in hex do the same.
 */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** MongoDB's duplicate-key error code. */
const DUPLICATE_KEY = 11000;

/**
 * True when `err` (a server error, or one entry of a bulk write's `writeErrors`) is MongoDB's
 * duplicate-key error: a unique index, `_id` included, already holds the value.
 */
export function isDuplicateKey(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { code?: unknown }).code === DUPLICATE_KEY
  );
}

import type { z } from 'zod';
import { AppError } from './app-error.js';

/**
 * Validates untrusted input (a body, query or ws frame) with a zod schema; on failure
 * throws 400 `VALIDATION_FAILED` whose message names the first field at fault, e.g.
 * `receiverId: expected string` or `unknown field "__proto__"`. `noun` names what an unknown
 * key is to the client (`query parameter` for a query string).
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  noun = 'field',
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new AppError('VALIDATION_FAILED');
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length ? ` in ${issue.path.join('.')}` : '';
    const names = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    throw new AppError(
      'VALIDATION_FAILED',
      `unknown ${noun}${issue.keys.length > 1 ? 's' : ''} ${names}${where}`,
    );
  }
  const field = issue.path.length ? issue.path.join('.') : 'body';
  throw new AppError('VALIDATION_FAILED', `${field}: ${issue.message}`);
}

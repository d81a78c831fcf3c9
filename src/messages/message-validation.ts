import { AppError } from '../errors/app-error.js';
import { OBJECT_ID_RE } from '../contract/http-schemas.js';

// The request schemas (sendMessageSchema, editMessageSchema, conversationQuerySchema) are the
// API contract's: src/contract/http-schemas.ts.

/** Checks a path or query id; 400 `INVALID_ID` naming `what` otherwise. */
export function assertObjectId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !OBJECT_ID_RE.test(value)) {
    throw new AppError('INVALID_ID', `${what} must be 24 hex characters`);
  }
  return value;
}

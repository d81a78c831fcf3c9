import type { ErrorCode } from './api-types.js';

/**
 * An error answer of the API, `{ "error": { code, message } }` with its status; also an
 * `error` frame of the ws endpoint (status 0 there). Branch on `code`, never on `message`.
 */
export class ChatApiError extends Error {
  /**
   * @param status - the HTTP status (0: an `error` frame over ws)
   * @param code - the stable code, one of the contract's `ErrorCode`s
   * @param retryAfterMs - when the API said when to retry: `Retry-After` (REST) or
   *   `retryAfterSeconds` (ws), in ms
   */
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ChatApiError';
  }
}

/**
 * No answer from the API (the connection failed, was dropped or timed out), or an answer
 * that is not the API's (a proxy's error page): `status` is 0 when there was no answer.
 */
export class ChatNetworkError extends Error {
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChatNetworkError';
  }
}

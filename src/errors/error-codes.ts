/**
 * Every error code a client can receive, with its HTTP status and default message: the one
 * text REST and ws give for a code when an error's own message is not for clients.
 * Codes are stable: clients branch on them. test/unit/error-codes.test.ts checks that
 * each one is documented in README.md.
 */
export const ERROR_CODES = {
  BAD_JSON: { status: 400, message: 'The body is not valid JSON' },
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid' },
  INVALID_ID: { status: 400, message: 'The id is not of the expected form' },
  UNKNOWN_TYPE: { status: 400, message: 'Unknown frame type' },
  UNAUTHORIZED: { status: 401, message: 'Authentication required' },
  INVALID_CREDENTIALS: { status: 401, message: 'Wrong username or password' },
  FORBIDDEN: { status: 403, message: 'Not allowed' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  USER_NOT_FOUND: { status: 404, message: 'No such user' },
  MESSAGE_NOT_FOUND: { status: 404, message: 'No such message' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed here' },
  USERNAME_TAKEN: { status: 409, message: 'That username is taken' },
  IDEMPOTENCY_CONFLICT: {
    status: 409,
    message: 'That idempotency key was used for a different request',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    message: 'A request with this idempotency key is still in progress; retry shortly',
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send application/json' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  TOO_MANY_CONNECTIONS: { status: 429, message: 'Too many open connections for this user' },
  INTERNAL: { status: 500, message: 'Internal error' },
  NOT_IMPLEMENTED: { status: 501, message: 'This method is not implemented' },
  SERVICE_UNAVAILABLE: {
    status: 503,
    message: 'A backing service is unavailable; try again shortly',
  },
  NOT_REPLICATED: {
    status: 503,
    message:
      'The message was not confirmed on the Redis replicas in time; retry with the same idempotency key',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

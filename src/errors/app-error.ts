import { ERROR_CODES, type ErrorCode } from './error-codes.js';

/**
 * The one error type the HTTP and ws layers turn into `{ error: { code, message } }`.
 * `expose` says whether `message` may be shown to a client (as Koa's `err.expose`); when
 * false, clients see only the generic text of the code.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    message?: string,
    opts: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    const def = ERROR_CODES[code];
    super(message ?? def.message, { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = def.status;
    this.expose = def.status < 500;
    this.headers = opts.headers ?? {};
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** What REST and ws tell a client: the error's own message if it may be shown, else its code's. */
export function clientMessage(err: AppError): string {
  return err.expose ? err.message : ERROR_CODES[err.code].message;
}

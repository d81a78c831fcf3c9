import type { Context, Next } from 'koa';
import { AppError, clientMessage, isAppError } from '../../errors/app-error.js';
import type { Logger } from '../../logging/logger.js';

/** Status of errors thrown by body reading (json-body.ts, co-body / raw-body) and `ctx.throw`. */
function httpStatusOf(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { status?: unknown; statusCode?: unknown };
    const s = typeof e.status === 'number' ? e.status : e.statusCode;
    if (typeof s === 'number' && s >= 400 && s < 600) return s;
  }
  return undefined;
}

/** Maps any thrown value to the AppError the client sees. */
export function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  const status = httpStatusOf(err);
  const type = (err as { type?: unknown })?.type;
  if (status === 413)
    return new AppError('PAYLOAD_TOO_LARGE', 'The body is over the 100 KiB limit');
  if (status === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE');
  if (
    status === 400 &&
    (type === 'entity.parse.failed' || (err as { body?: unknown }).body !== undefined)
  ) {
    return new AppError('BAD_JSON');
  }
  if (status === 400) return new AppError('VALIDATION_FAILED', 'The request could not be read');
  if (status === 401) return new AppError('UNAUTHORIZED');
  if (status === 404) return new AppError('NOT_FOUND');
  if (status === 405) return new AppError('METHOD_NOT_ALLOWED');
  if (status === 501) return new AppError('NOT_IMPLEMENTED');
  return new AppError('INTERNAL', undefined, { cause: err });
}

/**
 * Turns every error into `{ "error": { "code", "message" } }` with the right status, and
 * so does every error status set without a body (see {@link bodilessError}).
 * A 5xx is logged with its stack; the client sees only the code's generic message.
 */
export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.body == null && ctx.status >= 400) throw bodilessError(ctx);
    } catch (err) {
      const appErr = toAppError(err);
      // A 501 is a client's unknown method (scanners send many), not a failure of ours.
      if (appErr.status >= 500 && appErr.code !== 'NOT_IMPLEMENTED') {
        logger.error(
          { err: appErr.cause ?? appErr, method: ctx.method, path: ctx.path },
          'request failed',
        );
      }
      ctx.status = appErr.status;
      for (const [name, value] of Object.entries(appErr.headers)) ctx.set(name, value);
      ctx.body = {
        error: {
          code: appErr.code,
          message: clientMessage(appErr),
        },
      };
    }
  };
}

/**
 * The error for a status set without a body, which Koa would answer with its plain-text
 * status line: Koa's default 404 (no route matched), and @koa/router's `allowedMethods`
 * 405 (the path exists, not for this method) and 501 (a method no route knows), with the
 * `Allow` header it set (dropped when empty: no route has the path).
 */
function bodilessError(ctx: Context): AppError {
  const allow = ctx.response.get('Allow');
  if (allow === '') ctx.remove('Allow');
  switch (ctx.status) {
    case 404:
      return new AppError('NOT_FOUND', `No route for ${ctx.method} ${ctx.path}`);
    case 405:
      return new AppError(
        'METHOD_NOT_ALLOWED',
        `${ctx.method} is not allowed on ${ctx.path}; allowed: ${allow}`,
      );
    case 501:
      return new AppError('NOT_IMPLEMENTED');
    default:
      return toAppError({ status: ctx.status });
  }
}

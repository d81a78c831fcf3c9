import type { Context, Next } from 'koa';
import { AppError, isAppError } from '../../errors/app-error.js';
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
  return new AppError('INTERNAL', undefined, { cause: err });
}

/**
 * Turns every error into `{ "error": { "code", "message" } }` with the right status.
 * A 5xx is logged with its stack; the client sees only the code's generic message.
 */
export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('NOT_FOUND', `No route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const appErr = toAppError(err);
      if (appErr.status >= 500) {
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
          message: appErr.expose ? appErr.message : (ERROR_TEXT[appErr.code] ?? 'Internal error'),
        },
      };
    }
  };
}

const ERROR_TEXT: Partial<Record<string, string>> = {
  INTERNAL: 'Internal error',
  SERVICE_UNAVAILABLE: 'A backing service is unavailable; try again shortly',
};

import type { Context, Next } from 'koa';
import { AppError } from '../../errors/app-error.js';

/**
 * Answers 503 SERVICE_UNAVAILABLE (`Retry-After: 1`) when a request is not done within
 * `ms`: what a client sees when a backing service accepts connections but stops answering
 * (a stalled Redis, a MongoDB failover), instead of a request that hangs. One plain timer
 * per request: the Redis clients have no per-command timeout (src/redis/redis-client.ts).
 *
 * The handler is not cancelled: like any timeout, a write may still complete after the
 * answer, which is what idempotency keys are for. Must run inside the error handler.
 */
export function requestDeadline(ms: number) {
  return async function deadline(ctx: Context, next: Next): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(
          new AppError('SERVICE_UNAVAILABLE', `The request took longer than ${ms} ms`, {
            headers: { 'Retry-After': '1' },
          }),
        );
      }, ms);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}

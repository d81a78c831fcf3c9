import type { Context, Next } from 'koa';
import { AppError } from '../../errors/app-error.js';

/** A request in flight: when its deadline passes, `expire` rejects its middleware. */
interface Pending {
  /** `performance.now()` at which it expires. */
  at: number;
  expire(err: AppError): void;
}

/**
 * Answers 503 SERVICE_UNAVAILABLE (`Retry-After: 1`) when a request is not done within
 * `ms`: what a client sees when a backing service accepts connections but stops answering
 * (a stalled Redis, a MongoDB failover), instead of a request that hangs. The Redis clients
 * have no per-command timeout (src/redis/redis-client.ts), so this is the bound.
 *
 * One timer for all the requests, not one per request: every request gets the same `ms`, so
 * requests in start order are in deadline order, and an insertion-ordered Set is the queue
 * (add and delete O(1)). The timer is armed for the oldest request's deadline; when it fires
 * it expires every request past its deadline and is armed again for the oldest left. A
 * request that ends only leaves the Set; the timer is not touched, so under load it fires
 * about once per `ms` instead of being armed and cleared per request.
 *
 * The handler is not cancelled: like any timeout, a write may still complete after the
 * answer, which is what idempotency keys are for. Must run inside the error handler.
 */
export function requestDeadline(ms: number) {
  const pending = new Set<Pending>();
  let timer: NodeJS.Timeout | undefined;

  const arm = (delay: number) => {
    // +1: a timer may fire a little early by performance.now(); avoid a spin of re-arms.
    timer = setTimeout(onTimer, Math.max(0, Math.ceil(delay)) + 1);
    // The requests' sockets keep the process alive, not this timer.
    timer.unref();
  };
  const onTimer = () => {
    timer = undefined;
    const now = performance.now();
    for (const entry of pending) {
      if (entry.at > now) {
        arm(entry.at - now);
        return;
      }
      pending.delete(entry);
      entry.expire(
        new AppError('SERVICE_UNAVAILABLE', `The request took longer than ${ms} ms`, {
          headers: { 'Retry-After': '1' },
        }),
      );
    }
  };

  return function deadline(_ctx: Context, next: Next): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = { at: performance.now() + ms, expire: reject };
      pending.add(entry);
      if (timer === undefined) arm(ms);
      next().then(
        () => {
          pending.delete(entry);
          resolve();
        },
        (err: unknown) => {
          pending.delete(entry);
          reject(err);
        },
      );
    });
  };
}

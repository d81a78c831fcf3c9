import { AppError } from '../errors/app-error.js';
import { LuaScript, type ScriptRunner } from './lua-script.js';
import { replyArray, replyFlag, replyInteger } from './records/script-reply.js';

export interface FixedWindowLimiterOptions {
  /** Runs the counting scripts (the API's command client). */
  redis: ScriptRunner;
  /** Events allowed per subject per window (at least 1). */
  limit: number;
  /** Window length in seconds (at least 1). */
  windowSeconds: number;
  /** The counter of a subject: one of the `ratelimit:` keys of `RedisKeys`. */
  key(subject: string): string;
  /** The text of the RATE_LIMITED error, given the whole seconds until the window ends. */
  message(retryAfterSeconds: number): string;
}

/**
 * A fixed-window counter per subject in Redis, shared by every API process: one script
 * counts the event and checks it against the limit, so concurrent events cannot overshoot.
 * Over the limit, the event is refused with 429 `RATE_LIMITED` and a `Retry-After` header
 * (seconds until the window ends).
 */
export class FixedWindowLimiter {
  private static readonly countScript = LuaScript.load('rate-limit-1');
  private static readonly refundScript = LuaScript.load('rate-limit-refund-1');

  constructor(private readonly opts: FixedWindowLimiterOptions) {
    if (!(opts.limit >= 1) || !(opts.windowSeconds >= 1)) {
      throw new TypeError('rate limit and window must be ≥ 1');
    }
  }

  /**
   * Counts one event of `subject`.
   * @throws AppError RATE_LIMITED with a `Retry-After` header (seconds) when over the limit;
   *   the Redis client's error when Redis cannot be reached.
   */
  async consume(subject: string): Promise<void> {
    const { keys, args } = this.scriptInput(subject);
    const script = FixedWindowLimiter.countScript;
    const [allowed, , ttlMs] = replyArray(
      await script.run(this.opts.redis, keys, args),
      script.name,
    );
    if (!replyFlag(allowed, script.name)) throw this.rejection(replyInteger(ttlMs, script.name));
  }

  /** Gives back one event counted by {@link consume} in the current window (none once it ended). */
  async refund(subject: string): Promise<void> {
    const script = FixedWindowLimiter.refundScript;
    replyInteger(await script.run(this.opts.redis, [this.opts.key(subject)], []), script.name);
  }

  /**
   * The key and arguments of the check, for a script that counts the event itself (the
   * write-behind send script does, saving a round trip): KEYS `[counter]`, ARGV
   * `[limit, window ms]`, the same counter as {@link consume}.
   */
  scriptInput(subject: string): { keys: [string]; args: [number, number] } {
    return {
      keys: [this.opts.key(subject)],
      args: [this.opts.limit, this.opts.windowSeconds * 1000],
    };
  }

  /** The RATE_LIMITED error for a window that ends in `ttlMs`. */
  rejection(ttlMs: number): AppError {
    const retryAfter = Math.max(1, Math.ceil(ttlMs / 1000));
    return new AppError('RATE_LIMITED', this.opts.message(retryAfter), {
      headers: { 'Retry-After': String(retryAfter) },
    });
  }
}

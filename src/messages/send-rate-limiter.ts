import { AppError } from '../errors/app-error.js';
import type { RedisKeys } from '../redis/keys.js';
import { LuaScript } from '../redis/lua-script.js';
import type { RedisClient } from '../redis/redis-client.js';

export interface SendRateLimiterOptions {
  redis: RedisClient;
  keys: RedisKeys;
  /** Sends allowed per user per window (config.rateLimit.sends). */
  limit: number;
  /** Window length (config.rateLimit.windowSeconds). */
  windowSeconds: number;
}

/**
 * Per-user send limit shared by every API process and by REST and ws alike: a fixed
 * window counter in Redis, incremented and checked in one script.
 */
export class SendRateLimiter {
  private static readonly script = LuaScript.load('rate-limit-1');

  constructor(private readonly opts: SendRateLimiterOptions) {
    if (opts.limit < 1 || opts.windowSeconds < 1) {
      throw new TypeError('rate limit and window must be ≥ 1');
    }
  }

  /**
   * Counts one send of `userId`.
   * @throws AppError RATE_LIMITED with a `Retry-After` header (seconds) when over the limit.
   */
  async consume(userId: string): Promise<void> {
    const { keys, args } = this.scriptInput(userId);
    const res = (await SendRateLimiter.script.run(this.opts.redis, keys, args)) as [
      number,
      number,
      number,
    ];
    const [allowed, , ttlMs] = res;
    if (allowed !== 1) throw this.rejection(ttlMs);
  }

  /**
   * The key and arguments of the check, for a script that counts the send itself (the
   * write-behind send script does, saving a round trip): KEYS `[ratelimit key]`, ARGV
   * `[limit, window ms]`, the same counter as {@link consume}.
   */
  scriptInput(userId: string): { keys: [string]; args: [number, number] } {
    return {
      keys: [this.opts.keys.rateLimit(userId)],
      args: [this.opts.limit, this.opts.windowSeconds * 1000],
    };
  }

  /** The RATE_LIMITED error for a window that ends in `ttlMs`. */
  rejection(ttlMs: number): AppError {
    const retryAfter = Math.max(1, Math.ceil(ttlMs / 1000));
    return new AppError(
      'RATE_LIMITED',
      `At most ${this.opts.limit} messages per ${this.opts.windowSeconds} s; retry in ${retryAfter} s`,
      { headers: { 'Retry-After': String(retryAfter) } },
    );
  }
}

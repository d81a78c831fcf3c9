import type { RedisKeys } from '../redis/keys.js';
import { FixedWindowLimiter } from '../redis/fixed-window-limiter.js';
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
 * window counter in Redis (`ratelimit:send:{userId}`), incremented and checked in one script.
 * `consume(userId)` counts a send; `scriptInput(userId)` gives the counter to the
 * write-behind send script, which counts the send itself.
 */
export class SendRateLimiter extends FixedWindowLimiter {
  constructor(opts: SendRateLimiterOptions) {
    super({
      redis: opts.redis,
      limit: opts.limit,
      windowSeconds: opts.windowSeconds,
      key: (userId) => opts.keys.rateLimit(userId),
      message: (retryAfter) =>
        `At most ${opts.limit} messages per ${opts.windowSeconds} s; retry in ${retryAfter} s`,
    });
  }
}

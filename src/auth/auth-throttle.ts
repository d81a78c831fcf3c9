import { withBackendErrors } from '../errors/backend-errors.js';
import { FixedWindowLimiter } from '../redis/fixed-window-limiter.js';
import type { RedisKeys } from '../redis/keys.js';
import type { ScriptRunner } from '../redis/lua-script.js';

export interface AuthThrottleOptions {
  /** The API's command client. */
  redis: ScriptRunner;
  keys: RedisKeys;
  /** Failed logins and sign-ups naming one username per window (config.authRateLimit.perUsername). */
  perUsername: number;
  /** Logins and sign-ups from one client address per window (config.authRateLimit.perAddress). */
  perAddress: number;
  /** config.authRateLimit.windowSeconds */
  windowSeconds: number;
}

/**
 * Login and sign-up throttling, counted in Redis across API processes: per client address
 * every attempt counts; per username every attempt naming it is counted before the
 * password is hashed, and one that succeeds (a login, or the sign-up that creates the user)
 * gives its count back, so only failures use up the username's budget. The counters are
 * keyed by the name as typed, so an unknown username meets exactly the answers an existing
 * one does.
 */
export class AuthThrottle {
  private readonly byAddress: FixedWindowLimiter;
  private readonly byUsername: FixedWindowLimiter;

  constructor(opts: AuthThrottleOptions) {
    // One text for both limits: the answer tells nothing about the username.
    const message = (retryAfter: number) =>
      `Too many login or sign-up attempts; retry in ${retryAfter} s`;
    const { redis, keys, windowSeconds } = opts;
    const limiter = (limit: number, key: (subject: string) => string) =>
      new FixedWindowLimiter({ redis, limit, windowSeconds, key, message });
    this.byAddress = limiter(opts.perAddress, (a) => keys.authAttemptsByAddress(a));
    this.byUsername = limiter(opts.perUsername, (u) => keys.authAttemptsByUsername(u));
  }

  /**
   * Counts one login or sign-up attempt naming `username` from `address`; call it before
   * any password is hashed. The username is not counted when the address is over its limit.
   * @throws AppError RATE_LIMITED (with `Retry-After`), SERVICE_UNAVAILABLE when Redis is down.
   */
  async attempt(username: string, address: string): Promise<void> {
    await withBackendErrors(async () => {
      await this.byAddress.consume(addressKey(address));
      await this.byUsername.consume(username);
    });
  }

  /**
   * A login or sign-up of `username` succeeded: its attempt is given back. Best effort: if
   * Redis fails now, the attempt stays counted as a failure.
   */
  async succeeded(username: string): Promise<void> {
    await this.byUsername.refund(username).catch(() => undefined);
  }
}

/** One key per client whether it came over IPv4 or as an IPv4-mapped IPv6 address. */
function addressKey(address: string): string {
  if (address === '') return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

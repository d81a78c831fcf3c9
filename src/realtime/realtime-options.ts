import type http from 'node:http';
import type https from 'node:https';
import type { Logger } from '../logging/logger.js';
import type { Message } from '../messages/message.js';
import type { RedisKeys } from '../redis/keys.js';
import type { RedisNodeClient } from '../redis/redis-client.js';
import type { EventBus } from './event-bus.js';

/** The user a token belongs to. */
export interface AuthenticatedUser {
  id: string;
  username: string;
}

/**
 * The message service's send, as REST uses it: validates `input`, applies the per-user rate
 * limit, stores, publishes the `message:new` event, and throws `AppError`s with a `code`.
 */
export type SendMessage = (
  userId: string,
  input: unknown,
  opts: { clientMsgId?: string },
) => Promise<{ message: Message; persisted: boolean }>;

/** Options of `createRealtimeServer`. Give either `bus`, or `redis` and `keys`. */
export interface RealtimeServerOptions {
  /** The HTTP server whose `upgrade` requests are handled (the API's). */
  server: http.Server | https.Server;
  /**
   * An event bus built by the caller (e.g. so that the message service can publish through
   * it before the realtime server exists). The realtime server starts it and closes it.
   */
  bus?: EventBus;
  /** The command client a bus is built on, when `bus` is not given. */
  redis?: RedisNodeClient;
  /** Key names (the events channel), when `bus` is not given. */
  keys?: RedisKeys;
  logger: Logger;
  /**
   * Checks a token and says whose it is. Any throw refuses the upgrade with 401, except an
   * `AppError` of status 500 or more (e.g. the user store is down), which is answered with
   * its own status so that clients do not drop a good token.
   */
  verifyToken: (token: string) => Promise<AuthenticatedUser>;
  sendMessage: SendMessage;
  /** Request path of the ws endpoint. @defaultValue '/ws' */
  path?: string;
  /** Interval of server pings; a socket that did not answer the previous one is terminated. @defaultValue 30000 */
  heartbeatMs?: number;
  /** A socket with more unsent bytes than this is closed with 1013 rather than sent more. @defaultValue 1048576 (1 MiB) */
  maxBufferedBytes?: number;
  /** Largest frame accepted from a client; larger ones close the socket with 1009. @defaultValue 65536 (64 KiB) */
  maxPayload?: number;
  /** Frames of one socket waiting to be handled; more are answered with `RATE_LIMITED`. @defaultValue 32 */
  maxQueuedFrames?: number;
  /** How long `close()` waits for clients to answer the close handshake before terminating them. @defaultValue 2000 */
  closeGraceMs?: number;
  /**
   * Open sockets per user on this server; the next upgrade of that user is refused with 429
   * `TOO_MANY_CONNECTIONS` until one closes. @defaultValue 16
   */
  maxConnectionsPerUser?: number;
  /**
   * Origins (`scheme://host[:port]`) whose pages may open a socket, besides the server's own
   * (`http(s)://` + the request's `Host`); `['*']` allows any. An upgrade with another
   * `Origin` is refused with 403 `FORBIDDEN`; one without `Origin` (not a browser) is
   * allowed. @defaultValue [] (own origin only)
   */
  allowedOrigins?: readonly string[];
}

/** The defaults of the optional options (all but `bus`, `redis` and `keys`). */
export const REALTIME_DEFAULTS = Object.freeze({
  path: '/ws',
  heartbeatMs: 30_000,
  maxBufferedBytes: 1024 * 1024,
  maxPayload: 64 * 1024,
  maxQueuedFrames: 32,
  closeGraceMs: 2_000,
  maxConnectionsPerUser: 16,
  allowedOrigins: Object.freeze([]) as readonly string[],
});

/** Options after defaults and checks; `bus` is set or `redis` and `keys` both are. */
export type ResolvedRealtimeOptions = Omit<RealtimeServerOptions, keyof typeof REALTIME_DEFAULTS> &
  typeof REALTIME_DEFAULTS;

// setInterval/setTimeout treat larger delays as 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Merges `opts` with {@link REALTIME_DEFAULTS} and checks them, as ws does for its server.
 * @throws TypeError naming the option at fault, for missing, invalid or contradictory options.
 */
export function resolveRealtimeOptions(opts: RealtimeServerOptions): ResolvedRealtimeOptions {
  if (opts === null || typeof opts !== 'object') {
    throw new TypeError('createRealtimeServer options must be an object');
  }
  const o = { ...REALTIME_DEFAULTS, ...dropUndefined(opts) } as ResolvedRealtimeOptions;

  if (!o.server || typeof o.server.on !== 'function' || typeof o.server.off !== 'function') {
    throw new TypeError('The "server" option must be an http.Server');
  }
  if (!o.logger || typeof o.logger.info !== 'function') {
    throw new TypeError('The "logger" option must be a pino logger');
  }
  for (const name of ['verifyToken', 'sendMessage'] as const) {
    if (typeof o[name] !== 'function') {
      throw new TypeError(`The "${name}" option must be a function`);
    }
  }
  if (o.bus !== undefined) {
    if (o.redis !== undefined || o.keys !== undefined) {
      throw new TypeError(
        'Give either the "bus" option or the "redis" and "keys" options, not both',
      );
    }
  } else if (o.redis === undefined || o.keys === undefined) {
    throw new TypeError('The "redis" and "keys" options are required when "bus" is not given');
  }
  if (typeof o.path !== 'string' || !/^\/[^?#\s]*$/.test(o.path)) {
    throw new TypeError('The "path" option must start with "/" and hold no query or fragment');
  }
  checkInt('heartbeatMs', o.heartbeatMs, 10, MAX_TIMER_MS);
  checkInt('maxBufferedBytes', o.maxBufferedBytes, 1, Number.MAX_SAFE_INTEGER);
  checkInt('maxPayload', o.maxPayload, 1, 100 * 1024 * 1024);
  checkInt('maxQueuedFrames', o.maxQueuedFrames, 1, 10_000);
  checkInt('closeGraceMs', o.closeGraceMs, 0, MAX_TIMER_MS);
  checkInt('maxConnectionsPerUser', o.maxConnectionsPerUser, 1, 10_000);
  return { ...o, allowedOrigins: checkOrigins(o.allowedOrigins) };
}

/** The origins as browsers send them (lower case), or `['*']`. */
function checkOrigins(value: unknown): readonly string[] {
  const message =
    'The "allowedOrigins" option must be ["*"] or an array of origins such as "https://chat.example.com"';
  if (!Array.isArray(value)) throw new TypeError(message);
  if (value.length === 1 && value[0] === '*') return Object.freeze(['*']);
  const origins = value.map((o: unknown) => {
    if (typeof o !== 'string' || !URL.canParse(o) || new URL(o).origin !== o.toLowerCase()) {
      throw new TypeError(`${message}; got ${JSON.stringify(o)}`);
    }
    return o.toLowerCase();
  });
  return Object.freeze(origins);
}

function checkInt(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`The "${name}" option must be an integer from ${min} to ${max}`);
  }
}

// `{ heartbeatMs: undefined }` means "the default", as it does for ws.
function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

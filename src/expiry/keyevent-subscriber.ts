import { ErrorReply } from 'redis';
import type { Logger } from '../logging/logger.js';
import { watchRedisErrors, type RedisNodeClient } from '../redis/redis-client.js';

/**
 * State of Redis's keyspace notifications as this daemon last saw them:
 * `on` (already configured), `enabled` (merged in by this daemon with CONFIG SET),
 * `unavailable` (CONFIG refused: managed Redis or renamed command; poll alone),
 * `unknown` (not checked yet, or the check failed for a connection problem).
 */
export type NotificationState = 'on' | 'enabled' | 'unavailable' | 'unknown';

/** What a source of `expired` hints calls back. */
export interface ExpiryHintHandlers {
  /** Each expired key name, unfiltered. */
  onExpired: (key: string) => void;
  /** After the subscription came back from a disconnect (events were lost meanwhile). */
  onReconnect: () => void;
}

/**
 * A source of `expired` keyevent hints the daemon can run on: {@link KeyeventSubscriber} on
 * one node, `ClusterKeyeventSubscriber` on every master of a cluster.
 */
export interface ExpiryHints {
  /** Checks notifications and subscribes. */
  start(): Promise<void>;
  /** Unsubscribes and closes every connection it opened. Idempotent. */
  stop(): Promise<void>;
  readonly notifications: NotificationState;
}

export interface KeyeventSubscriberOptions extends ExpiryHintHandlers {
  /** The main connection (CONFIG GET/SET run there); the subscription gets a duplicate. */
  redis: RedisNodeClient;
  /** Logical database: the channel is `__keyevent@<db>__:expired`. */
  db: number;
  /** Logged with connection trouble (never with a password). */
  url: string;
  logger: Logger;
}

/**
 * Subscribes to Redis's `expired` keyevents, as a fast hint only: events are lost while
 * the connection is down, arrive late under load, and carry the key name alone. Makes sure
 * notifications include `E` and `x` at start and after every reconnect (a restarted Redis
 * loses a CONFIG SET not written to its config file), merging them into the flags already
 * set; where CONFIG is refused it warns once and the daemon lives on its poll alone.
 */
export class KeyeventSubscriber implements ExpiryHints {
  private sub: RedisNodeClient | undefined;
  private warnedUnavailable = false;
  private state: NotificationState = 'unknown';
  private stopped = false;

  constructor(private readonly opts: KeyeventSubscriberOptions) {}

  get channel(): string {
    return `__keyevent@${this.opts.db}__:expired`;
  }

  get notifications(): NotificationState {
    return this.state;
  }

  async start(): Promise<void> {
    await this.ensureNotifications();
    // A subscribed connection can run nothing else, so it owns a duplicate, with its own
    // 'error' listener (an 'error' event without one would crash the process).
    const sub = this.opts.redis.duplicate({ name: 'expiry-subscriber' });
    watchRedisErrors(sub, this.opts.url, this.opts.logger, 'expiry-subscriber');
    let connectedOnce = false;
    sub.on('ready', () => {
      if (!connectedOnce) {
        connectedOnce = true;
        return;
      }
      // node-redis resubscribes by itself; what was published meanwhile is gone.
      if (this.stopped) return;
      this.opts.onReconnect();
      void this.ensureNotifications();
    });
    this.sub = sub;
    await sub.connect();
    await sub.subscribe(this.channel, (key) => this.opts.onExpired(key));
  }

  /** Unsubscribes and closes the subscription connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    const sub = this.sub;
    this.sub = undefined;
    if (!sub) return;
    try {
      if (sub.isReady) await sub.unsubscribe(this.channel);
    } catch {
      // Closing below ends the subscription anyway.
    }
    if (sub.isOpen) sub.destroy();
  }

  /**
   * Merges `E` (keyevent channel) and `x` (expired) into `notify-keyspace-events`, keeping
   * the flags already set. Never throws: a failure leaves the daemon on its poll.
   */
  async ensureNotifications(): Promise<NotificationState> {
    const { redis, logger } = this.opts;
    try {
      this.state = await enableExpiredEvents(redis, logger);
    } catch (err) {
      if (err instanceof ErrorReply) {
        // An error reply (not a connection error): CONFIG is renamed or not allowed.
        this.state = 'unavailable';
        if (!this.warnedUnavailable) {
          this.warnedUnavailable = true;
          logger.warn(
            { err: err.message },
            'cannot read or set notify-keyspace-events (CONFIG refused, e.g. managed Redis); ' +
              'running on the deadline poll alone. Set notify-keyspace-events to include "Ex" ' +
              'in the server configuration for lower expiry lag.',
          );
        }
      } else {
        this.state = 'unknown';
        logger.warn({ err: (err as Error).message }, 'could not check keyspace notifications');
      }
    }
    return this.state;
  }

  /** The flags `E` and `x` that `flags` lacks (`A` stands for `g$lshzxetd`, so covers x). */
  static missingFlags(flags: string): string {
    let missing = '';
    if (!flags.includes('E')) missing += 'E';
    if (!flags.includes('x') && !flags.includes('A')) missing += 'x';
    return missing;
  }
}

/** The CONFIG commands {@link enableExpiredEvents} needs, on one node. */
interface ConfigCommands {
  configGet(name: string): Promise<Record<string, string>>;
  configSet(name: string, value: string): Promise<unknown>;
}

/**
 * Merges `E` and `x` into one node's `notify-keyspace-events`, keeping its other flags.
 * @returns 'on' when they were set already, 'enabled' when this call set them
 * @throws the node's error: an ErrorReply when CONFIG is refused
 */
export async function enableExpiredEvents(
  node: ConfigCommands,
  logger: Logger,
  fields: Record<string, unknown> = {},
): Promise<'on' | 'enabled'> {
  const reply = await node.configGet('notify-keyspace-events');
  const flags = reply['notify-keyspace-events'] ?? '';
  const missing = KeyeventSubscriber.missingFlags(flags);
  if (missing === '') return 'on';
  await node.configSet('notify-keyspace-events', flags + missing);
  logger.info(
    { ...fields, before: flags, after: flags + missing },
    'enabled expired keyevent notifications (CONFIG SET notify-keyspace-events)',
  );
  return 'enabled';
}

import { z } from 'zod';
import { maskUrl } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { EventPublisher, MessageEvent } from '../messages/message-events.js';
import type { RedisKeys } from '../redis/keys.js';
import { watchRedisErrors, type RedisClient } from '../redis/redis-client.js';

/** What {@link RedisEventBus} needs. */
export interface RedisEventBusOptions {
  /**
   * The process's command client: PUBLISH goes through it (so it follows its fail-fast
   * setting), and the subscriber connection is its `duplicate()`. The caller connects and
   * closes it.
   */
  redis: RedisClient;
  /** Gives the channel name (`keys.eventsChannel`, with the key prefix). */
  keys: RedisKeys;
  logger: Logger;
}

/** Called for every event received on the channel, from any API process (this one too). */
export type MessageEventHandler = (event: MessageEvent) => void;

// What a received payload must look like before it is handed on. `message` is checked only
// for the fields fan-out and clients rely on; other fields pass through unchanged.
const eventSchema = z.object({
  type: z.enum(['message:new', 'message:updated', 'message:deleted']),
  message: z.looseObject({ id: z.string(), senderId: z.string(), receiverId: z.string() }),
  recipients: z.array(z.string()),
});

/**
 * Fans {@link MessageEvent}s out to every API process over Redis pub/sub.
 *
 * `publish()` sends `PUBLISH <prefix>events <json>`. `start()` subscribes on a dedicated
 * connection (a subscription owns its connection) and calls the handler for each event,
 * including those this process published: local delivery happens only through the channel,
 * so a recipient connected here gets an event exactly once. node-redis resubscribes by
 * itself after a reconnect; events published while the subscriber was disconnected are
 * lost (pub/sub is fire-and-forget), which clients make up for by refetching on reconnect.
 */
export class RedisEventBus implements EventPublisher {
  private readonly redis: RedisClient;
  private readonly channel: string;
  private readonly logger: Logger;
  private subscriber: RedisClient | undefined;

  constructor(opts: RedisEventBusOptions) {
    this.redis = opts.redis;
    this.channel = opts.keys.eventsChannel;
    this.logger = opts.logger;
  }

  /**
   * Publishes one event to every subscribed process.
   * @throws whatever the command client throws (e.g. at once while Redis is down when the
   * client fails fast); the caller decides whether a lost notification matters.
   */
  async publish(event: MessageEvent): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify(event));
  }

  /**
   * Connects the subscriber connection and subscribes. Resolves once subscribed (it waits
   * through reconnect attempts while Redis is down). Call it once.
   * @throws Error when already started, or when {@link close} ran before it was subscribed.
   */
  async start(handler: MessageEventHandler): Promise<void> {
    if (this.subscriber) throw new Error('RedisEventBus already started');
    const name = `${this.redis.options?.name ?? 'api'}:events`;
    // Queue the SUBSCRIBE instead of failing it while disconnected: it must happen once
    // the connection is up, whatever the command client's fail-fast setting.
    const sub: RedisClient = this.redis.duplicate({ name, disableOfflineQueue: false });
    watchRedisErrors(sub, maskUrl(this.redis.options?.url ?? 'redis://'), this.logger, name);
    this.subscriber = sub;
    await sub.connect();
    await sub.subscribe(this.channel, (raw: string) => this.dispatch(raw, handler));
    this.logger.debug({ channel: this.channel }, 'subscribed to realtime events');
  }

  /** Ends the subscription and its connection (not the command client). Idempotent. */
  async close(): Promise<void> {
    const sub = this.subscriber;
    if (!sub) return;
    this.subscriber = undefined;
    if (sub.isReady) {
      await sub.close().catch(() => sub.destroy());
    } else {
      // close() would wait for a reconnect that may never come.
      sub.destroy();
    }
  }

  private dispatch(raw: string, handler: MessageEventHandler): void {
    let event: MessageEvent;
    try {
      const parsed = eventSchema.safeParse(JSON.parse(raw));
      if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid event');
      // The schema checked the discriminant and the fields fan-out uses; the rest of
      // `message` is whatever the publishing process serialized.
      event = parsed.data as MessageEvent;
    } catch (err) {
      this.logger.warn(
        { channel: this.channel, err: (err as Error).message, bytes: raw.length },
        'ignoring malformed realtime event',
      );
      return;
    }
    try {
      handler(event);
    } catch (err) {
      this.logger.error({ err, type: event.type }, 'realtime event handler failed');
    }
  }
}

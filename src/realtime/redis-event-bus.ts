import { maskUrl } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { MessageEvent } from '../messages/message-events.js';
import type { RedisKeys } from '../redis/keys.js';
import { watchRedisErrors, type RedisNodeClient } from '../redis/redis-client.js';
import { PubSubEventBus } from './event-bus.js';

export type { EventBus, MessageEventHandler } from './event-bus.js';

/** What {@link RedisEventBus} needs. */
export interface RedisEventBusOptions {
  /** PUBLISH goes through it; the subscriber is its `duplicate()`. The caller owns it. */
  redis: RedisNodeClient;
  /** Gives the channel name, `keys.eventsChannel`. */
  keys: RedisKeys;
  logger: Logger;
}

/**
 * Fans {@link MessageEvent}s out to every API process over Redis pub/sub on one channel:
 * each event reaches every process's handler once, in its publisher's order.
 *
 * `publish()` delivers to this process's handler at once and sends the events of one tick in
 * one PUBLISH, in the payload format of event-codec.ts (our own echo is dropped by its
 * origin); see `PubSubEventBus` for what both buses share.
 *
 * Pub/sub is fire-and-forget: events published while the subscriber is disconnected are lost,
 * and clients make up for it by refetching on reconnect.
 */
export class RedisEventBus extends PubSubEventBus {
  private readonly redis: RedisNodeClient;
  private readonly channel: string;
  private subscriber: RedisNodeClient | undefined;

  constructor(opts: RedisEventBusOptions) {
    super(opts.logger);
    this.redis = opts.redis;
    this.channel = opts.keys.eventsChannel;
  }

  protected channelFor(_event: MessageEvent): string {
    return this.channel;
  }

  protected send(channel: string, payload: string): Promise<unknown> {
    return this.redis.publish(channel, payload);
  }

  /** Subscribes on a connection of its own, waiting for it through Redis outages. */
  protected async subscribe(listener: (raw: string, channel: string) => void): Promise<void> {
    const name = `${this.redis.options?.name ?? 'api'}:events`;
    // The SUBSCRIBE must wait for the connection, whatever the command client's fail-fast.
    const sub: RedisNodeClient = this.redis.duplicate({ name, disableOfflineQueue: false });
    watchRedisErrors(sub, maskUrl(this.redis.options?.url ?? 'redis://'), this.logger, name);
    this.subscriber = sub;
    await sub.connect();
    await sub.subscribe(this.channel, listener);
    this.logger.debug({ channel: this.channel }, 'subscribed to realtime events');
  }

  protected async unsubscribe(): Promise<void> {
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
}

import type { Logger } from '../logging/logger.js';
import type { MessageEvent } from '../messages/message-events.js';
import { conversationBucket, partitionTags } from '../redis/key-space.js';
import type { RedisKeys } from '../redis/keys.js';
import { reconnectDelay, type RedisClusterClient } from '../redis/redis-client.js';
import { PubSubEventBus } from './event-bus.js';

/** What {@link ShardedEventBus} needs. */
export interface ShardedEventBusOptions {
  /** SPUBLISH goes through it; the subscriber is its `duplicate()`. The caller owns it. */
  redis: RedisClusterClient;
  /** Gives the channels' names: `keys.eventsChannel` + `:{tag}`. */
  keys: RedisKeys;
  logger: Logger;
}

/**
 * Shard channels of the events. The same in every process whatever the topology it started
 * on (a count derived from the masters would differ between processes and change with
 * resharding); enough to spread over up to 16 masters; few enough that a busy tick sends at
 * most 16 SPUBLISH. Subscribing to all of them costs one connection per master, not per channel.
 */
export const SHARDED_EVENT_CHANNELS = 16;

/**
 * Fans {@link MessageEvent}s out to every API process over sharded pub/sub on a Redis Cluster
 * (SPUBLISH/SSUBSCRIBE, as @socket.io/redis-adapter's sharded adapter): each event reaches
 * every process's handler once, in its publisher's order within a conversation.
 *
 * The events go over {@link SHARDED_EVENT_CHANNELS} channels `<prefix>events:{tag}`, whose
 * tags (`partitionTags`) spread them evenly over the slots and so over the masters. A
 * conversation's events always take the same channel; every process subscribes to all of
 * them, since none knows where a recipient is connected. `publish()` delivers to this
 * process's handler at once and sends the events of one tick for one channel in one
 * SPUBLISH, in the payload format of event-codec.ts (our own echo is dropped by its origin);
 * see `PubSubEventBus` for what both buses share.
 *
 * The subscriber is a duplicate of the cluster client holding one connection per master;
 * node-redis moves a master's channels to its replica after a failover, and to the new owner
 * of their slot after resharding. Pub/sub is at-most-once: events published while a shard
 * fails over are lost, and clients make up for it by refetching on reconnect.
 */
export class ShardedEventBus extends PubSubEventBus {
  /** The channels, by index; a conversation's is {@link channelOf}. */
  readonly channels: readonly string[];
  private readonly redis: RedisClusterClient;
  private subscriber: RedisClusterClient | undefined;

  constructor(opts: ShardedEventBusOptions) {
    super(opts.logger);
    this.redis = opts.redis;
    const base = opts.keys.eventsChannel;
    this.channels = partitionTags(SHARDED_EVENT_CHANNELS).map((tag) => `${base}:{${tag}}`);
  }

  /** The channel of the conversation of `a` and `b`. */
  channelOf(a: string, b: string): string {
    return this.channels[this.channelIndex(a, b)]!;
  }

  /** A conversation's events take its channel. */
  protected channelFor(event: MessageEvent): string {
    return this.channelOf(event.message.senderId, event.message.receiverId);
  }

  /** SPUBLISH; it rejects as the cluster client does, e.g. while the shard fails over. */
  protected send(channel: string, payload: string): Promise<unknown> {
    return this.redis.sPublish(channel, payload);
  }

  /**
   * Subscribes to every channel on connections of its own; resolves once subscribed, waiting
   * through cluster outages.
   */
  protected async subscribe(listener: (raw: string, channel: string) => void): Promise<void> {
    const defaults = this.redis._options.defaults;
    const name = `${defaults?.name ?? 'api'}:events`;
    const sub = this.redis.duplicate({
      // Only the masters' subscription connections, no command connection to every node.
      minimizeConnections: true,
      defaults: {
        ...defaults,
        name,
        // The SSUBSCRIBEs must wait for their connection, whatever the command client's fail-fast.
        disableOfflineQueue: false,
      },
    });
    this.subscriber = sub;
    this.watch(sub, name, listener);
    await this.retry(sub, 'connect', () => sub.connect());
    await Promise.all(
      this.channels.map((channel) =>
        this.retry(sub, `subscribe to ${channel}`, () => sub.sSubscribe(channel, listener)),
      ),
    );
    this.logger.debug({ channels: this.channels.length }, 'subscribed to sharded realtime events');
  }

  /**
   * Dropping the bus's own connections ends their subscriptions on every master at once,
   * where SUNSUBSCRIBE would wait on a master being failed over.
   */
  protected async unsubscribe(): Promise<void> {
    const sub = this.subscriber;
    if (!sub) return;
    this.subscriber = undefined;
    sub.destroy();
  }

  private channelIndex(a: string, b: string): number {
    return conversationBucket(a, b, this.channels.length);
  }

  /**
   * Logs the subscriber's trouble once per node outage and its recovery; resubscribes a
   * channel node-redis could not move to its slot's new owner. Without an `'error'` listener
   * a topology refresh that fails would crash the process.
   */
  private watch(
    sub: RedisClusterClient,
    name: string,
    listener: (raw: string, channel: string) => void,
  ): void {
    const down = new Set<string>();
    const address = (node: unknown) => {
      const { host, port } = (node ?? {}) as { host?: string; port?: number };
      return `${host}:${port}`;
    };
    sub.on('error', (err: unknown) => {
      this.logger.error({ client: name, err }, 'realtime events: Redis Cluster error');
    });
    sub.on('node-error', (err: unknown, node: unknown) => {
      const at = address(node);
      if (down.has(at)) return;
      down.add(at);
      this.logger.warn(
        { client: name, node: at, err: err instanceof Error ? err.message : String(err) },
        'realtime events: lost a cluster node; following it, or its failover',
      );
    });
    sub.on('node-ready', (node: unknown) => {
      const at = address(node);
      if (down.delete(at))
        this.logger.info({ client: name, node: at }, 'realtime events: node back');
    });
    sub.on('sharded-channel-moved-error', (err: unknown, channel: unknown) => {
      if (typeof channel !== 'string') return;
      this.logger.warn(
        { client: name, channel, err },
        'realtime events: channel moved; resubscribing',
      );
      // A rejection means the bus was closed meanwhile.
      this.retry(sub, `subscribe to ${channel}`, () => sub.sSubscribe(channel, listener)).catch(
        () => {},
      );
    });
  }

  /**
   * Runs `step` until it succeeds, with the reconnect backoff, logging the first failure;
   * gives up (rethrowing) once `sub` is closed.
   */
  private async retry(
    sub: RedisClusterClient,
    what: string,
    step: () => Promise<unknown>,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await step();
        return;
      } catch (err) {
        if (this.subscriber !== sub) throw err;
        if (attempt === 0) {
          this.logger.warn({ err }, `realtime events: could not ${what}; retrying with backoff`);
        }
        await new Promise((resolve) => setTimeout(resolve, reconnectDelay(attempt)));
        if (this.subscriber !== sub) throw err;
      }
    }
  }
}

import type { Logger } from '../logging/logger.js';
import type { EventPublisher, MessageEvent } from '../messages/message-events.js';
import {
  batchPayload,
  decodeEvents,
  eventFrame,
  eventPart,
  newOriginPrefix,
} from './event-codec.js';
import { TickBatches } from './tick-batches.js';

/**
 * Called once for every event of every API process. `frame` is what ws clients get,
 * `{"type":…,"message":…}`, serialized once per event.
 */
export type MessageEventHandler = (event: MessageEvent, frame: string) => void;

/**
 * What the realtime server needs of a bus: `RedisEventBus` (redis-event-bus.ts) on one Redis
 * node, `ShardedEventBus` (sharded-event-bus.ts) on a Redis Cluster.
 */
export interface EventBus extends EventPublisher {
  start(handler: MessageEventHandler, opts?: { wanted?: () => boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * What both buses share: `publish()` delivers an event to this process's handler at once and
 * sends the events of one tick for one channel in one payload (event-codec.ts); a payload
 * from the channels is dropped when it is this bus's own echo (by its origin) or nobody here
 * wants events, and is otherwise decoded, checked and handed to the handler. A subclass says
 * which channel an event takes and how to publish and subscribe.
 */
export abstract class PubSubEventBus implements EventBus {
  protected readonly logger: Logger;
  /** How every payload of this bus starts. */
  private readonly originPrefix = newOriginPrefix();
  /** Set by {@link start}, for local delivery, until {@link close}. */
  private handler: MessageEventHandler | undefined;
  /** Whether another process's events are wanted now (see {@link start}). */
  private wanted: () => boolean = () => true;
  /** Between {@link start} and {@link close}. */
  private running = false;
  /** Events of this tick not published yet: one payload per channel. */
  private readonly batches = new TickBatches((channel, parts) =>
    this.send(channel, batchPayload(this.originPrefix, parts)),
  );

  protected constructor(logger: Logger) {
    this.logger = logger;
  }

  /** The channel `event` is published on. */
  protected abstract channelFor(event: MessageEvent): string;

  /** Publishes one payload on `channel` (PUBLISH or SPUBLISH). */
  protected abstract send(channel: string, payload: string): Promise<unknown>;

  /**
   * Subscribes `listener` to every channel of the bus on connections of its own; resolves
   * once subscribed.
   */
  protected abstract subscribe(listener: (raw: string, channel: string) => void): Promise<void>;

  /** Ends the subscriptions (not the command client). */
  protected abstract unsubscribe(): Promise<void>;

  /**
   * Delivers the event to this process's handler (if started) at once, and publishes it with
   * the other events of this tick for its channel.
   * @returns a promise settled with the publish of the event's batch; it rejects as the
   * command client does (after the local delivery), e.g. while Redis is down.
   */
  publish(event: MessageEvent): Promise<void> {
    const frame = eventFrame(event);
    const part = eventPart(event, frame);
    if (this.handler) this.handle(this.handler, event, frame);
    return this.batches.add(this.channelFor(event), part);
  }

  /**
   * Subscribes; resolves once subscribed, waiting through Redis outages. `opts.wanted` false
   * drops another process's payload unparsed (nobody here to deliver to), which saves an idle
   * process parsing a busy channel.
   * @throws Error when already started, or when {@link close} ran before it was subscribed.
   */
  async start(handler: MessageEventHandler, opts: { wanted?: () => boolean } = {}): Promise<void> {
    if (this.running) throw new Error(`${this.constructor.name} already started`);
    this.running = true;
    this.handler = handler;
    if (opts.wanted) this.wanted = opts.wanted;
    await this.subscribe((raw, channel) => this.dispatch(raw, channel, handler));
  }

  /** Ends the subscriptions and local delivery (not the command client). Idempotent. */
  async close(): Promise<void> {
    this.handler = undefined;
    if (!this.running) return;
    this.running = false;
    await this.unsubscribe();
  }

  /** A payload from a channel: another process's events are parsed, checked and handled. */
  private dispatch(raw: string, channel: string, handler: MessageEventHandler): void {
    // Our own events were delivered by publish().
    if (raw.startsWith(this.originPrefix) || !this.wanted()) return;
    decodeEvents(
      raw,
      (event) => this.handle(handler, event, eventFrame(event)),
      (reason) =>
        this.logger.warn(
          { channel, err: reason, bytes: raw.length },
          'ignoring malformed realtime event',
        ),
    );
  }

  /** Calls the handler; its failure is logged, never thrown at the publisher or the channel. */
  private handle(handler: MessageEventHandler, event: MessageEvent, frame: string): void {
    try {
      handler(event, frame);
    } catch (err) {
      this.logger.error({ err, type: event.type }, 'realtime event handler failed');
    }
  }
}

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { maskUrl } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { EventPublisher, MessageEvent } from '../messages/message-events.js';
import { messageJson } from '../messages/message.js';
import type { RedisKeys } from '../redis/keys.js';
import { watchRedisErrors, type RedisNodeClient } from '../redis/redis-client.js';
import { TickBatches } from './tick-batches.js';

/** What {@link RedisEventBus} needs. */
export interface RedisEventBusOptions {
  /** PUBLISH goes through it; the subscriber is its `duplicate()`. The caller owns it. */
  redis: RedisNodeClient;
  /** Gives the channel name, `keys.eventsChannel`. */
  keys: RedisKeys;
  logger: Logger;
}

/**
 * Called once for every event of every API process. `frame` is what ws clients get,
 * `{"type":…,"message":…}`, serialized once per event.
 */
export type MessageEventHandler = (event: MessageEvent, frame: string) => void;

/**
 * What the realtime server needs of a bus: {@link RedisEventBus} on one Redis node,
 * `ShardedEventBus` (sharded-event-bus.ts) on a Redis Cluster.
 */
export interface EventBus extends EventPublisher {
  start(handler: MessageEventHandler, opts?: { wanted?: () => boolean }): Promise<void>;
  close(): Promise<void>;
}

// `message` is checked only for the fields fan-out relies on; the rest passes through.
const eventSchema = z.object({
  type: z.enum(['message:new', 'message:updated', 'message:deleted']),
  message: z.looseObject({ id: z.string(), senderId: z.string(), receiverId: z.string() }),
  recipients: z.array(z.string()),
});

/** The payload of several events published in one tick, oldest first. */
const batchSchema = z.object({ events: z.array(z.unknown()) });

/**
 * Fans {@link MessageEvent}s out to every API process over Redis pub/sub: each event reaches
 * every process's handler once, in its publisher's order.
 *
 * `publish()` delivers to this process's handler at once and sends the events of one tick in
 * one PUBLISH. Payloads start with this bus's origin id, so Redis's echo of our own is dropped
 * by a string compare. One event is `{"origin","recipients","type","message"}` (what older
 * versions read too); several are `{"origin","events":[{"recipients","type","message"},…]}`.
 *
 * Pub/sub is fire-and-forget: events published while the subscriber is disconnected are lost,
 * and clients make up for it by refetching on reconnect.
 */
export class RedisEventBus implements EventBus {
  private readonly redis: RedisNodeClient;
  private readonly channel: string;
  private readonly logger: Logger;
  /** How every payload of this bus starts. */
  private readonly originPrefix = newOriginPrefix();
  private subscriber: RedisNodeClient | undefined;
  /** Set by {@link start}, for local delivery, until {@link close}. */
  private handler: MessageEventHandler | undefined;
  /** Whether another process's events are wanted now (see {@link start}). */
  private wanted: () => boolean = () => true;
  /** Events of this tick not published yet: one PUBLISH for all of them. */
  private readonly batches = new TickBatches((channel, parts) =>
    this.redis.publish(channel, batchPayload(this.originPrefix, parts)),
  );

  constructor(opts: RedisEventBusOptions) {
    this.redis = opts.redis;
    this.channel = opts.keys.eventsChannel;
    this.logger = opts.logger;
  }

  /**
   * Delivers the event to this process's handler (if started) at once, and publishes it with
   * the other events of this tick.
   * @returns a promise settled with the PUBLISH of the event's batch; it rejects as the
   * command client does (after the local delivery), e.g. while Redis is down.
   */
  publish(event: MessageEvent): Promise<void> {
    const frame = eventFrame(event);
    const part = eventPart(event, frame);
    if (this.handler) this.handle(this.handler, event, frame);
    return this.batches.add(this.channel, part);
  }

  /**
   * Subscribes on a connection of its own; resolves once subscribed, waiting through Redis
   * outages. `opts.wanted` false drops another process's payload unparsed (nobody here to
   * deliver to), which saves an idle process parsing a busy channel.
   * @throws Error when already started, or when {@link close} ran before it was subscribed.
   */
  async start(handler: MessageEventHandler, opts: { wanted?: () => boolean } = {}): Promise<void> {
    if (this.subscriber) throw new Error('RedisEventBus already started');
    this.handler = handler;
    if (opts.wanted) this.wanted = opts.wanted;
    const name = `${this.redis.options?.name ?? 'api'}:events`;
    // The SUBSCRIBE must wait for the connection, whatever the command client's fail-fast.
    const sub: RedisNodeClient = this.redis.duplicate({ name, disableOfflineQueue: false });
    watchRedisErrors(sub, maskUrl(this.redis.options?.url ?? 'redis://'), this.logger, name);
    this.subscriber = sub;
    await sub.connect();
    await sub.subscribe(this.channel, (raw: string) => this.dispatch(raw, handler));
    this.logger.debug({ channel: this.channel }, 'subscribed to realtime events');
  }

  /** Ends the subscription and local delivery (not the command client). Idempotent. */
  async close(): Promise<void> {
    this.handler = undefined;
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

  /** Publishes the current batch (one PUBLISH) and settles its `publish()` promises. */
  /** A payload from the channel: another process's events are parsed, checked and handled. */
  private dispatch(raw: string, handler: MessageEventHandler): void {
    // Our own events were delivered by publish().
    if (raw.startsWith(this.originPrefix) || !this.wanted()) return;
    decodeEvents(
      raw,
      (event) => this.handle(handler, event, eventFrame(event)),
      (reason) => this.ignore(raw, reason),
    );
  }

  private ignore(raw: string, reason: string): void {
    this.logger.warn(
      { channel: this.channel, err: reason, bytes: raw.length },
      'ignoring malformed realtime event',
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

/** The ws frame of an event, `{"type":…,"message":…}`, reusing the message's JSON. */
export function eventFrame(event: MessageEvent): string {
  return `{"type":${JSON.stringify(event.type)},"message":${messageJson(event.message)}}`;
}

/** An event as a batch carries it, `{"recipients":[…],"type":…,"message":…}`, from its frame. */
export function eventPart(event: MessageEvent, frame: string): string {
  return `{"recipients":${JSON.stringify(event.recipients)},${frame.slice(1)}`;
}

/** How every payload of one bus starts, `{"origin":"<random id>",`; base64url needs no escaping. */
export function newOriginPrefix(): string {
  return `{"origin":"${randomBytes(9).toString('base64url')}",`;
}

/** The payload of a batch's {@link eventPart}s, oldest first (one alone keeps the one-event form). */
export function batchPayload(originPrefix: string, parts: readonly string[]): string {
  const [only] = parts;
  return parts.length === 1 && only !== undefined
    ? originPrefix + only.slice(1)
    : `${originPrefix}"events":[${parts.join(',')}]}`;
}

/**
 * Parses another bus's payload and checks each of its events: `onEvent` gets the valid ones
 * in order, `onInvalid` the reason for the payload or each event that is not valid.
 */
export function decodeEvents(
  raw: string,
  onEvent: (event: MessageEvent) => void,
  onInvalid: (reason: string) => void,
): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    onInvalid((err as Error).message);
    return;
  }
  const batch = batchSchema.safeParse(parsed);
  for (const item of batch.success ? batch.data.events : [parsed]) {
    const checked = eventSchema.safeParse(item);
    if (!checked.success) {
      onInvalid(checked.error.issues[0]?.message ?? 'invalid event');
      continue;
    }
    // The rest of `message` is whatever the publishing process serialized.
    onEvent(checked.data as MessageEvent);
  }
}

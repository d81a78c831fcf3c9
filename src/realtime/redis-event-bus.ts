import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { maskUrl } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { EventPublisher, MessageEvent } from '../messages/message-events.js';
import { messageJson } from '../messages/message.js';
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

/**
 * Called once for every event of every API process: for this process's own events at once
 * from {@link RedisEventBus.publish}, for the others' events when they come in on the
 * channel. `frame` is what ws clients get, `{"type":…,"message":…}`, serialized once per
 * event (the handler need not serialize it again for each socket).
 */
export type MessageEventHandler = (event: MessageEvent, frame: string) => void;

// What a received payload must look like before it is handed on. `message` is checked only
// for the fields fan-out and clients rely on; other fields pass through unchanged.
const eventSchema = z.object({
  type: z.enum(['message:new', 'message:updated', 'message:deleted']),
  message: z.looseObject({ id: z.string(), senderId: z.string(), receiverId: z.string() }),
  recipients: z.array(z.string()),
});

/** The payload of several events published in one tick, oldest first. */
const batchSchema = z.object({ events: z.array(z.unknown()) });

/**
 * A batch whose payload would grow past this many characters is published at once, and a new
 * one begins: one PUBLISH stays far below Redis's limits (512 MB) and the subscribers' reads.
 */
const MAX_BATCH_CHARS = 256 * 1024;

/** The events published in the current tick: one PUBLISH for all of them. */
interface Batch {
  /** Each event as JSON: `{"recipients":[…],"type":…,"message":…}`. */
  parts: string[];
  chars: number;
  /** Settles when the PUBLISH does; every `publish()` of the batch returns it. */
  sent: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Fans {@link MessageEvent}s out to every API process over Redis pub/sub.
 *
 * `publish()` hands the event to this process's handler at once (local delivery: no round
 * trip through Redis, no parsing), and the events published in the same tick go to the
 * other processes in one `PUBLISH <prefix>events <json>` (at the end of the tick:
 * `process.nextTick`, so nothing waits for a timer). `start()` subscribes on a dedicated
 * connection (a subscription owns its connection) and calls the handler for each event of
 * the other processes. Redis also echoes this process's own payloads back; they start with
 * this bus's origin id (`{"origin":"<id>",…`), so the echo is recognized by a string compare
 * and dropped without being parsed. So every event reaches the handler of every process
 * exactly once, and the events of one process keep their publish order everywhere.
 *
 * Payloads: one event is `{"origin","recipients","type","message"}`, the format of earlier
 * versions, which deliver only through the channel and ignore `origin`; several are
 * `{"origin","events":[{"recipients","type","message"},…]}` in publish order, which earlier
 * versions reject as malformed (during a rolling restart their clients miss those events
 * until they reconnect and refetch). Payloads from earlier versions (one event, no `origin`)
 * are delivered like any other process's.
 *
 * When Redis is down, `publish()` still delivers locally, then rejects as the command client
 * does (at once when it fails fast): recipients connected to this process get the event,
 * those on other processes do not. node-redis resubscribes by itself after a reconnect;
 * events of other processes published while the subscriber was disconnected are lost
 * (pub/sub is fire-and-forget), which clients make up for by refetching on reconnect.
 */
export class RedisEventBus implements EventPublisher {
  private readonly redis: RedisClient;
  private readonly channel: string;
  private readonly logger: Logger;
  /**
   * How every payload this bus publishes starts: `{"origin":"<id>",` with an id unique to
   * this bus (12 base64url characters: nothing JSON would escape).
   */
  private readonly originPrefix = `{"origin":"${randomBytes(9).toString('base64url')}",`;
  private subscriber: RedisClient | undefined;
  /** Set by {@link start}: local delivery needs it, and it is kept until {@link close}. */
  private handler: MessageEventHandler | undefined;
  /** Whether another process's events are wanted now (see {@link start}). */
  private wanted: () => boolean = () => true;
  /** Events of this tick not published yet. */
  private batch: Batch | undefined;

  constructor(opts: RedisEventBusOptions) {
    this.redis = opts.redis;
    this.channel = opts.keys.eventsChannel;
    this.logger = opts.logger;
  }

  /**
   * Delivers one event to this process's handler (if started) at once, and publishes it to
   * the other processes with the other events of this tick. The event is serialized once:
   * the ws frame, and the channel payload around it.
   * @returns a promise settled with the PUBLISH of the event's batch.
   * @throws (rejects with) whatever the command client throws for that PUBLISH (e.g. at once
   * while Redis is down when the client fails fast), after the local delivery; the caller
   * decides whether a lost notification matters.
   */
  publish(event: MessageEvent): Promise<void> {
    const frame = eventFrame(event);
    const part = `{"recipients":${JSON.stringify(event.recipients)},${frame.slice(1)}`;
    if (this.handler) this.handle(this.handler, event, frame);
    let batch = this.batch;
    if (batch && batch.chars + part.length > MAX_BATCH_CHARS) {
      this.flush();
      batch = undefined;
    }
    if (!batch) {
      batch = this.batch = newBatch();
      process.nextTick(() => {
        if (this.batch === batch) this.flush();
      });
    }
    batch.parts.push(part);
    batch.chars += part.length;
    return batch.sent;
  }

  /**
   * Connects the subscriber connection and subscribes. Resolves once subscribed (it waits
   * through reconnect attempts while Redis is down). Call it once.
   *
   * `opts.wanted`, asked for every payload from another process: false = drop it unparsed
   * (the ws server: no socket is connected here, so no event has a recipient here). On a
   * busy channel an idle API process otherwise spends its CPU parsing every other
   * process's events for nobody.
   * @throws Error when already started, or when {@link close} ran before it was subscribed.
   */
  async start(handler: MessageEventHandler, opts: { wanted?: () => boolean } = {}): Promise<void> {
    if (this.subscriber) throw new Error('RedisEventBus already started');
    this.handler = handler;
    if (opts.wanted) this.wanted = opts.wanted;
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

  /**
   * Ends the subscription and its connection (not the command client), and local delivery:
   * `publish()` only publishes from then on. Idempotent.
   */
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
  private flush(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = undefined;
    const [only] = batch.parts;
    const payload =
      batch.parts.length === 1 && only !== undefined
        ? this.originPrefix + only.slice(1)
        : `${this.originPrefix}"events":[${batch.parts.join(',')}]}`;
    let sent: Promise<unknown>;
    try {
      sent = this.redis.publish(this.channel, payload);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(() => batch.resolve(), batch.reject);
  }

  /** A payload from the channel: another process's events are parsed, checked and handled. */
  private dispatch(raw: string, handler: MessageEventHandler): void {
    // This process's own events, delivered already by publish().
    if (raw.startsWith(this.originPrefix) || !this.wanted()) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      this.ignore(raw, (err as Error).message);
      return;
    }
    const batch = batchSchema.safeParse(parsed);
    for (const item of batch.success ? batch.data.events : [parsed]) {
      const checked = eventSchema.safeParse(item);
      if (!checked.success) {
        this.ignore(raw, checked.error.issues[0]?.message ?? 'invalid event');
        continue;
      }
      // The schema checked the discriminant and the fields fan-out uses; the rest of
      // `message` is whatever the publishing process serialized.
      const event = checked.data as MessageEvent;
      this.handle(handler, event, eventFrame(event));
    }
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

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const sent = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that does not await its publish() must not make an unhandled rejection of it;
  // callers that do still see the rejection.
  sent.catch(() => {});
  return { parts: [], chars: 0, sent, resolve, reject };
}

/** The ws frame of an event, `{"type":…,"message":…}`, reusing the message's JSON. */
function eventFrame(event: MessageEvent): string {
  return `{"type":${JSON.stringify(event.type)},"message":${messageJson(event.message)}}`;
}

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MESSAGE_EVENT_TYPES } from '../contract/ws-frames.js';
import type { MessageEvent } from '../messages/message-events.js';
import { messageJson } from '../messages/message.js';

/**
 * The payloads the event buses (RedisEventBus, ShardedEventBus) exchange between API
 * processes, and the ws frames made from them: one codec for both buses.
 *
 * One event is `{"origin","recipients","type","message"}` (what older versions read too);
 * several published in one tick are `{"origin","events":[{"recipients","type","message"},…]}`.
 * Every payload starts with its bus's origin id, so a bus drops its own echo by a string
 * compare. `type` and `message` are the ws frame's (the contract's `messageEventFrameSchema`),
 * serialized once per event.
 */

// An event from another process is checked only for what fan-out relies on: its type (one of
// the contract's event frames), its recipients, and the message's parties; the rest of
// `message` passes through as the publishing process serialized it.
const eventSchema = z.object({
  type: z.enum(MESSAGE_EVENT_TYPES),
  message: z.looseObject({ id: z.string(), senderId: z.string(), receiverId: z.string() }),
  recipients: z.array(z.string()),
});

/** The payload of several events published in one tick, oldest first. */
const batchSchema = z.object({ events: z.array(z.unknown()) });

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

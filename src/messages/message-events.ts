import type { MessageEventFrame } from '../contract/ws-frames.js';

/**
 * What the API pushes to ws clients: a frame of the contract's `messageEventFrameSchema`
 * (`message:new`, `message:updated`, `message:deleted`) and its `recipients`, the user ids
 * whose every connection (on any API process) gets it: the receiver and the sender.
 */
export type MessageEvent = MessageEventFrame & { recipients: string[] };

/** Fans events out to every API process (implemented over Redis pub/sub in realtime/). */
export interface EventPublisher {
  publish(event: MessageEvent): Promise<void>;
}

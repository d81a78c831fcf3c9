import type { Message } from './message.js';

/**
 * What the API pushes to ws clients. `recipients` are the user ids whose every connection
 * (on any API process) gets the event: the receiver and the sender.
 */
export type MessageEvent =
  | { type: 'message:new'; message: Message; recipients: string[] }
  | { type: 'message:updated'; message: Message; recipients: string[] }
  | {
      type: 'message:deleted';
      message: Pick<Message, 'id' | 'senderId' | 'receiverId'>;
      recipients: string[];
    };

/** Fans events out to every API process (implemented over Redis pub/sub in realtime/). */
export interface EventPublisher {
  publish(event: MessageEvent): Promise<void>;
}

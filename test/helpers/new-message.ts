import { ObjectId } from 'mongodb';
import type { Message } from '../../src/messages/message.js';

/** A message from `senderId` to `receiverId` (new ids every time). */
export function newMessage(
  senderId: string,
  receiverId: string,
  content: string | null = 'hello',
): Message {
  return {
    id: new ObjectId().toHexString(),
    senderId,
    receiverId,
    content,
    imageUrl: null,
    publicId: null,
    createdAt: new Date().toISOString(),
  };
}

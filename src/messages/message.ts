import { ObjectId } from 'mongodb';
import type { MessageJson } from '../contract/http-schemas.js';
import { conversationId } from '../redis/keys.js';

/**
 * A message as clients see it, and as it is cached in Redis (JSON): the contract's
 * `messageSchema` (src/contract/http-schemas.ts) says what each field holds.
 */
export type Message = MessageJson;

/** A message as stored in MongoDB (`messages` collection). */
export interface MessageDoc {
  _id: ObjectId;
  /** The two user ids sorted and joined by ':' (the conversation cache key's suffix). */
  conversationId: string;
  senderId: string;
  receiverId: string;
  content: string | null;
  imageUrl: string | null;
  publicId: string | null;
  createdAt: Date;
  updatedAt?: Date;
  /** Soft delete: a tombstone keeps a late write-behind insert from resurrecting it. */
  deletedAt?: Date;
  /** The sender's idempotency key, when the client gave one. */
  clientMsgId?: string;
}

export function toMessageDoc(m: Message, clientMsgId?: string): MessageDoc {
  const doc: MessageDoc = {
    _id: new ObjectId(m.id),
    conversationId: conversationId(m.senderId, m.receiverId),
    senderId: m.senderId,
    receiverId: m.receiverId,
    content: m.content,
    imageUrl: m.imageUrl,
    publicId: m.publicId,
    createdAt: new Date(m.createdAt),
  };
  if (m.updatedAt) doc.updatedAt = new Date(m.updatedAt);
  if (clientMsgId) doc.clientMsgId = clientMsgId;
  return doc;
}

export function fromMessageDoc(d: MessageDoc): Message {
  const m: Message = {
    id: d._id.toHexString(),
    senderId: d.senderId,
    receiverId: d.receiverId,
    content: d.content ?? null,
    imageUrl: d.imageUrl ?? null,
    publicId: d.publicId ?? null,
    createdAt: d.createdAt.toISOString(),
  };
  if (d.updatedAt) m.updatedAt = d.updatedAt.toISOString();
  return m;
}

/** Conversation order: by createdAt, then id (ObjectIds of one process increase). */
export function compareMessages(a: Message, b: Message): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * What the expiry daemon keeps in the `expiry:shadow` hash for a message that is not in
 * MongoDB yet (write-behind, or accepted while MongoDB was down): everything needed to
 * persist it after the cache entry expired.
 */
export interface MessageShadow {
  message: Message;
  clientMsgId?: string;
}

/**
 * `JSON.stringify(shadow)` for a message already serialized as `messageJson`: the send path
 * has that string at hand, so a write-behind send serializes the message once.
 */
export function shadowJson(messageJson: string, clientMsgId: string | undefined): string {
  return clientMsgId === undefined
    ? `{"message":${messageJson}}`
    : `{"message":${messageJson},"clientMsgId":${JSON.stringify(clientMsgId)}}`;
}

const serialized = new WeakMap<object, string>();

/**
 * `JSON.stringify(message)`, computed once per message object: a send writes the same
 * message to Redis, to the ws frame and to the HTTP answer. Message objects are never
 * changed after they are made (an edit makes a new one), which is what makes this safe.
 */
export function messageJson(
  message: Message | Pick<Message, 'id' | 'senderId' | 'receiverId'>,
): string {
  let json = serialized.get(message);
  if (json === undefined) {
    json = JSON.stringify(message);
    serialized.set(message, json);
  }
  return json;
}

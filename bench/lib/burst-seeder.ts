import { ObjectId } from 'mongodb';
import { messageJson, shadowJson, type Message } from '../../src/messages/message.js';
import type { KeySpace } from '../../src/redis/key-space.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';

/** A plausible chat message between two of `users` users (ids are ObjectIds, as the API's). */
export function benchMessage(i: number, users: readonly string[], createdAt: number): Message {
  const n = users.length;
  const sender = users[i % n] ?? '';
  const receiver = users[(i + 1 + (Math.floor(i / n) % (n - 1))) % n] ?? '';
  return {
    id: new ObjectId().toHexString(),
    senderId: sender,
    receiverId: receiver === sender ? (users[(i + 1) % n] ?? '') : receiver,
    content: `benchmark message number ${i}: hello, how are you today?`,
    imageUrl: null,
    publicId: null,
    createdAt: new Date(createdAt).toISOString(),
  };
}

/** `n` user ids (ObjectId hex), as the API would have created them. */
export function benchUsers(n: number): string[] {
  return Array.from({ length: n }, () => new ObjectId().toHexString());
}

/**
 * Seeds `count` messages that all fall due at `deadlineMs` (Redis clock = this machine's
 * clock): the send path's own script (MessageCacheRecords.send) given an absolute deadline
 * instead of a TTL, so that 100,000 messages seeded over several seconds all expire in the
 * same millisecond — a burst. No conversation list is cached, so none is created. `shadow`
 * leaves the write-behind shadow + pending entry the daemon persists. Pipelined
 * `concurrency` scripts at a time.
 */
export async function seedBurst(
  redis: RedisNodeClient,
  space: KeySpace,
  opts: {
    count: number;
    deadlineMs: number;
    shadow: boolean;
    users?: number;
    concurrency?: number;
  },
): Promise<Message[]> {
  const users = benchUsers(opts.users ?? 100);
  const base = Date.now();
  const messages = Array.from({ length: opts.count }, (_, i) => benchMessage(i, users, base + i));
  const records = new MessageCacheRecords(redis, space);
  const ttl = { atMs: opts.deadlineMs };
  const step = opts.concurrency ?? 1000;
  for (let i = 0; i < messages.length; i += step) {
    await Promise.all(
      messages.slice(i, i + step).map((m) => {
        const json = messageJson(m);
        const shadow = opts.shadow ? shadowJson(json, undefined) : undefined;
        return records.send(m, { json, ttl, listSize: 100, shadow });
      }),
    );
  }
  return messages;
}

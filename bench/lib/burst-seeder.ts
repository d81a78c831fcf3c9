import { ObjectId } from 'mongodb';
import type { Message, MessageShadow } from '../../src/messages/message.js';
import { LuaScript } from '../../src/redis/lua-script.js';
import type { RedisKeys } from '../../src/redis/keys.js';
import type { RedisClient } from '../../src/redis/redis-client.js';

/**
 * The send script's Redis writes (src/redis/scripts/send-message-7.lua, as
 * docs/redis-data-model.md "Send" specifies them) with one difference: the deadline is an
 * absolute time given by the caller (`PXAT`) instead of `TIME + ttl`, so that 100,000
 * messages seeded over several seconds all expire in the same millisecond — a burst.
 * Conversation lists are not created (the send script only extends a cached one).
 */
const seedScript = LuaScript.inline(
  'bench-seed-burst',
  `
--!include lib/due-slots.lua
local deadline = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', deadline)
slotAdd(KEYS[7], KEYS[1], deadline)
redis.call('INCR', KEYS[3])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[5], KEYS[1], ARGV[3])
  redis.call('ZADD', KEYS[6], tonumber(ARGV[5]), ARGV[4])
end
return 1
`,
);

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
 * clock). `shadow` leaves the write-behind shadow + pending entry the daemon persists.
 * Pipelined `concurrency` scripts at a time.
 */
export async function seedBurst(
  redis: RedisClient,
  keys: RedisKeys,
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
  const step = opts.concurrency ?? 1000;
  for (let i = 0; i < messages.length; i += step) {
    await Promise.all(
      messages.slice(i, i + step).map((m) => {
        const shadow: MessageShadow = { message: m };
        return seedScript.run(redis, keys.messageWrite(m), [
          JSON.stringify(m),
          Math.round(opts.deadlineMs),
          opts.shadow ? JSON.stringify(shadow) : '',
          m.id,
          Date.parse(m.createdAt),
        ]);
      }),
    );
  }
  return messages;
}

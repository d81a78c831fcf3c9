import assert from 'node:assert/strict';
import { ObjectId } from 'mongodb';
import { ConversationCache } from '../../src/messages/conversation-cache.js';
import { messageJson, type Message } from '../../src/messages/message.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import { createRedisNodeClient, type RedisNodeClient } from '../../src/redis/redis-client.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

const SIZE = 5;
const TTL = 60;

/**
 * The conversation list's invariant on a real Redis: the send script keeps it sorted by
 * (createdAt, id) and free of duplicates whatever order sends arrive in, because reads
 * serve its strings joined as they are (ConversationCache.readLatest).
 */
describe('conversation list (send script + readLatest, on a real Redis)', function () {
  let ctx: TestContext;
  let redis: RedisNodeClient;
  let keys: RedisKeys;
  let cache: ConversationCache;
  let records: MessageCacheRecords;
  const a = new ObjectId().toHexString();
  const b = new ObjectId().toHexString();
  const base = Date.parse('2026-11-25T12:00:00.000Z');

  function message(offsetMs: number, id = new ObjectId().toHexString()): Message {
    return {
      id,
      senderId: a,
      receiverId: b,
      content: `at ${offsetMs}`,
      imageUrl: null,
      publicId: null,
      createdAt: new Date(base + offsetMs).toISOString(),
    };
  }

  async function send(m: Message): Promise<void> {
    await records.send(m, { json: messageJson(m), ttl: TTL, listSize: SIZE });
  }

  async function listed(): Promise<Message[]> {
    const raw = await redis.lRange(keys.conversation(a, b), 0, -1);
    return raw.map((s) => JSON.parse(s) as Message);
  }

  before(async function () {
    ctx = createTestContext('convlist');
    redis = createRedisNodeClient(ctx.config.redis, ctx.logger, { name: 'test' });
    await redis.connect();
    keys = new RedisKeys(ctx.config.redis.keyPrefix);
    cache = new ConversationCache({
      redis,
      space: KeySpace.single(keys.prefix),
      ttlSeconds: TTL,
      size: SIZE,
    });
    records = new MessageCacheRecords(redis, KeySpace.single(keys.prefix));
  });

  beforeEach(async function () {
    await redis.del([keys.conversation(a, b), keys.conversationGeneration(a, b)]);
  });

  after(async function () {
    await redis?.close();
    await ctx?.cleanup();
  });

  it('puts late and repeated sends at their place, once', async function () {
    const m10 = message(10);
    assert.equal(await cache.fill(a, b, null, [m10]), true);
    const m30 = message(30);
    const m20 = message(20);
    const m5 = message(5);
    await send(m30);
    await send(m20); // arrives after a newer one: two sends racing
    await send(m5); // older than everything in the list
    await send(m20); // a retry caching the same message again
    await send(m30);
    const list = await listed();
    assert.deepEqual(
      list.map((m) => m.content),
      ['at 5', 'at 10', 'at 20', 'at 30'],
    );
    // Same createdAt: the id breaks the tie, as compareMessages does.
    const [lo, hi] = [new ObjectId().toHexString(), new ObjectId().toHexString()].sort();
    await send(message(40, hi));
    await send(message(40, lo));
    const ids = (await listed()).slice(-2).map((m) => m.id);
    assert.deepEqual(ids, [lo, hi]);
  });

  it('keeps the latest SIZE after an out-of-order insert', async function () {
    await cache.fill(a, b, null, [message(100)]);
    for (const t of [200, 300, 400, 500]) await send(message(t));
    await send(message(50)); // older than the window of a full list: trimmed at once
    await send(message(250));
    assert.deepEqual(
      (await listed()).map((m) => m.content),
      ['at 200', 'at 250', 'at 300', 'at 400', 'at 500'],
    );
  });

  it('readLatest answers the last `limit` as JSON text, and null when the list may lack some', async function () {
    assert.equal(await cache.readLatest(a, b, 3), null, 'not cached');
    await cache.fill(a, b, null, [message(1), message(2)]);
    const page = await cache.readLatest(a, b, 3);
    assert.ok(page, 'a list shorter than SIZE is the whole conversation');
    assert.equal(page.count, 2);
    assert.deepEqual(
      (JSON.parse(Buffer.concat(page.json).toString()) as Message[]).map((m) => m.content),
      ['at 1', 'at 2'],
    );
    for (const t of [3, 4, 5, 6]) await send(message(t));
    const last2 = await cache.readLatest(a, b, 2);
    assert.deepEqual(
      (JSON.parse(last2 ? Buffer.concat(last2.json).toString() : 'null') as Message[]).map(
        (m) => m.content,
      ),
      ['at 5', 'at 6'],
    );
    assert.equal(
      await cache.readLatest(a, b, SIZE + 1),
      null,
      'a full list may have lost older messages to LTRIM',
    );
  });

  it('drops a list it cannot read instead of failing the send', async function () {
    await redis.rPush(keys.conversation(a, b), ['not json']);
    await send(message(1));
    assert.equal(await redis.exists(keys.conversation(a, b)), 0);
    assert.equal(await redis.zScore(keys.due, keys.conversation(a, b)), null);
  });
});

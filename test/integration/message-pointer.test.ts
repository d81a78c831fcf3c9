import assert from 'node:assert/strict';
import { ObjectId } from 'mongodb';
import { CacheService } from '../../src/cache/cache-service.js';
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
 * One copy of a message in Redis (src/redis/scripts/lib/message-pointer.lua), on a real
 * Redis: a message appended to its cached conversation list leaves `@<list key>` in
 * `message:{id}`, reads follow it, and every way an element can leave the list gives the
 * entries pointing at it their JSON back, with their TTL.
 */
describe('message entries pointing into the conversation list (real Redis)', function () {
  let ctx: TestContext;
  let redis: RedisNodeClient;
  let keys: RedisKeys;
  let conversations: ConversationCache;
  let cache: CacheService;
  let records: MessageCacheRecords;
  const a = new ObjectId().toHexString();
  const b = new ObjectId().toHexString();
  let clock = Date.parse('2026-11-26T12:00:00.000Z');

  function message(): Message {
    clock += 10;
    return {
      id: new ObjectId().toHexString(),
      senderId: a,
      receiverId: b,
      content: `at ${clock}`,
      imageUrl: null,
      publicId: null,
      createdAt: new Date(clock).toISOString(),
    };
  }

  async function send(m: Message, ttl = TTL): Promise<void> {
    await records.send(m, { json: messageJson(m), ttl, listSize: SIZE });
  }

  const raw = (m: Message) => redis.get(keys.message(m.id));
  const pointer = () => `@${keys.conversation(a, b)}`;

  /** Sends `n` messages into a cached list (created by a fill, as a read does). */
  async function cachedConversation(n: number, ttl = TTL): Promise<Message[]> {
    const first = message();
    assert.equal(await conversations.fill(a, b, null, [first]), true);
    const sent: Message[] = [];
    for (let i = 0; i < n; i++) {
      const m = message();
      await send(m, ttl);
      sent.push(m);
    }
    return sent;
  }

  before(async function () {
    ctx = createTestContext('msgpointer');
    redis = createRedisNodeClient(ctx.config.redis, ctx.logger, { name: 'test' });
    await redis.connect();
    keys = new RedisKeys(ctx.config.redis.keyPrefix);
    conversations = new ConversationCache({
      redis,
      space: KeySpace.single(keys.prefix),
      ttlSeconds: TTL,
      size: SIZE,
    });
    cache = new CacheService({ redis, space: KeySpace.single(keys.prefix), logger: ctx.logger });
    records = new MessageCacheRecords(redis, KeySpace.single(keys.prefix));
  });

  beforeEach(async function () {
    await redis.del([keys.conversation(a, b), keys.conversationGeneration(a, b)]);
  });

  after(async function () {
    await redis?.close();
    await ctx?.cleanup();
  });

  it('stores a message appended to a cached list once; reads follow the pointer', async function () {
    const [m] = await cachedConversation(1);
    assert.ok(m);
    assert.equal(await raw(m), pointer());
    assert.deepEqual(await cache.getCache<Message>(`message:${m.id}`), m);
    const pttl = await redis.pTTL(keys.message(m.id));
    assert.ok(pttl > (TTL - 2) * 1000 && pttl <= TTL * 1000, `pttl ${pttl}`);

    // No list cached: the entry holds the JSON.
    await redis.del(keys.conversation(a, b));
    const alone = message();
    await send(alone);
    assert.deepEqual(JSON.parse((await raw(alone)) ?? 'null'), alone);
    assert.deepEqual(await cache.getCache<Message>(`message:${alone.id}`), alone);
  });

  it('gives their JSON back, with their TTL, to messages LTRIM pushes out of the list', async function () {
    const sent = await cachedConversation(SIZE + 2);
    const [out1, out2, ...kept] = sent;
    assert.ok(out1 && out2);
    for (const m of [out1, out2]) {
      assert.deepEqual(JSON.parse((await raw(m)) ?? 'null'), m, 'JSON back');
      const pttl = await redis.pTTL(keys.message(m.id));
      assert.ok(pttl > (TTL - 2) * 1000, `TTL kept: ${pttl}`);
      assert.deepEqual(await cache.getCache<Message>(`message:${m.id}`), m);
    }
    for (const m of kept) {
      assert.equal(await raw(m), pointer());
      assert.deepEqual(await cache.getCache<Message>(`message:${m.id}`), m);
    }
    assert.equal(await redis.lLen(keys.conversation(a, b)), SIZE);
  });

  it('gives the other messages their JSON back when an edit or delete drops the list', async function () {
    const sent = await cachedConversation(4);
    const [edited, ...others] = sent;
    assert.ok(edited);
    await records.drop(edited);
    assert.equal(await redis.exists([keys.message(edited.id), keys.conversation(a, b)]), 0);
    for (const m of others) {
      assert.deepEqual(JSON.parse((await raw(m)) ?? 'null'), m);
      assert.deepEqual(await cache.getCache<Message>(`message:${m.id}`), m);
    }
  });

  it('gives longer-lived messages their JSON back before a send shortens the list’s TTL', async function () {
    const [long] = await cachedConversation(1, 600);
    assert.ok(long);
    assert.equal(await raw(long), pointer());
    const short = message();
    await send(short, 5);
    assert.deepEqual(JSON.parse((await raw(long)) ?? 'null'), long);
    assert.ok((await redis.pTTL(keys.message(long.id))) > 590_000);
    assert.equal(await raw(short), pointer());
    assert.ok((await redis.pTTL(keys.conversation(a, b))) <= 5000);
  });

  it('gives their JSON back before a fill replaces the list', async function () {
    const sent = await cachedConversation(3);
    const generation = await conversations.generation(a, b);
    assert.equal(await conversations.fill(a, b, generation, sent.slice(1)), true);
    for (const m of sent) assert.deepEqual(JSON.parse((await raw(m)) ?? 'null'), m);
  });

  it('reads a pointer that leads nowhere (the list evicted) as a miss', async function () {
    const [m] = await cachedConversation(1);
    assert.ok(m);
    await redis.del(keys.conversation(a, b));
    assert.equal(await raw(m), pointer());
    assert.equal(await cache.getCache(`message:${m.id}`), null);
  });
});

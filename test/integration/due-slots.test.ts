import assert from 'node:assert/strict';
import { CacheService } from '../../src/cache/cache-service.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { ExpiryScripts } from '../../src/redis/records/expiry-scripts.js';
import { LuaScript } from '../../src/redis/lua-script.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { createRedisNodeClient, type RedisNodeClient } from '../../src/redis/redis-client.js';
import { dueDeadline, dueEntryCount } from '../helpers/due-index.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

/** `slotAdd(KEYS[1], ARGV[i], ARGV[i+1])` for pairs of key, deadline: the lib itself. */
const addEntries = LuaScript.inline(
  'test-slot-add',
  `--!include lib/due-slots.lua
for i = 1, #ARGV, 2 do slotAdd(KEYS[1], ARGV[i], tonumber(ARGV[i + 1])) end
return 1`,
);

/**
 * The due index's slots (src/redis/scripts/lib/due-slots.lua) on a real Redis: deadlines
 * of keys set once, in 100 ms (or, once full, 1 ms) listpack-encoded sorted sets, claimed
 * once, moved when a live key's TTL is set anew, skipped when stale.
 */
describe('due index slots (real Redis)', function () {
  let ctx: TestContext;
  let redis: RedisNodeClient;
  let keys: RedisKeys;
  let scripts: ExpiryScripts;
  let cache: CacheService;

  const redisNow = async () => {
    const [s, us] = await redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };

  before(async function () {
    ctx = createTestContext('dueslots');
    redis = createRedisNodeClient(ctx.config.redis, ctx.logger, { name: 'test' });
    await redis.connect();
    keys = new RedisKeys(ctx.config.redis.keyPrefix);
    scripts = new ExpiryScripts(redis, keys);
    cache = new CacheService({ redis, space: KeySpace.single(keys.prefix), logger: ctx.logger });
  });

  afterEach(async function () {
    // Each test starts from an empty index.
    const slots = await redis.zRange(keys.dueSlots, 0, -1);
    await redis.del([keys.dueSlots, keys.dueSlotCount, keys.inflight, ...slots]);
  });

  after(async function () {
    await redis?.close();
    await ctx?.cleanup();
  });

  it('records a cached key at its exact expire time, and moves it when the TTL is set anew', async function () {
    const key = keys.message('aaaaaaaaaaaaaaaaaaaaaaaa');
    await cache.setCache('message:aaaaaaaaaaaaaaaaaaaaaaaa', { a: 1 }, 30);
    assert.equal(await dueDeadline(redis, keys, key), await redis.pExpireTime(key));
    await cache.setCache('message:aaaaaaaaaaaaaaaaaaaaaaaa', { a: 2 }, 90);
    assert.equal(await dueEntryCount(redis, keys), 1, 'the old entry is gone');
    assert.equal(await dueDeadline(redis, keys, key), await redis.pExpireTime(key));
    assert.equal(await redis.get(keys.dueSlotCount), '1');
    await redis.del(key);
  });

  it('spills a full 100 ms slot into 1 ms slots; all stay listpacks and are claimed once', async function () {
    const at = (await redisNow()) + 400;
    const base = at - (at % 100);
    // 130 keys due at base+90: 120 fill the 100 ms slot, 10 go to the 1 ms slot base+90;
    // one more due at base+5 goes to a 1 ms slot of its own, earlier than both.
    const pairs: string[] = [];
    for (let i = 0; i < 130; i++) pairs.push(keys.message(`burst${i}`), String(base + 90));
    pairs.push(keys.message('early'), String(base + 5));
    await addEntries.run(redis, [keys.dueSlots], pairs);

    const slots = await redis.zRangeWithScores(keys.dueSlots, 0, -1);
    assert.deepEqual(
      slots.map((s) => [s.value.slice(keys.dueSlots.length), s.score]),
      [
        [`:c:${base}`, base],
        [`:f:${base + 5}`, base + 5],
        [`:f:${base + 90}`, base + 90],
      ],
    );
    for (const s of slots) assert.equal(await redis.objectEncoding(s.value), 'listpack');
    assert.equal(await redis.zCard(`${keys.dueSlots}:c:${base}`), 120);
    assert.equal(await dueEntryCount(redis, keys), 131);
    assert.equal(await redis.get(keys.dueSlotCount), '131');
    assert.equal((await scripts.peek()).earliestDue, base + 5);

    assert.equal((await scripts.claimDue(30000, 1000)).entries.length, 0, 'nothing due yet');
    await waitUntil('base + 90 passed', async () => (await redisNow()) > base + 90, 5000, 20);
    const first = await scripts.claimDue(30000, 100);
    const second = await scripts.claimDue(30000, 100);
    const claimed = [...first.entries, ...second.entries].map((e) => e.key);
    assert.equal(first.entries.length, 100);
    assert.equal(claimed.length, 131);
    assert.equal(new Set(claimed).size, 131, 'each once');
    assert.equal(await redis.exists([keys.dueSlots, keys.dueSlotCount]), 0, 'index empty');
    assert.equal(await redis.zCard(keys.inflight), 131);
  });

  it('skips the stale entry of a key cached anew after it expired, and leaves that key alone', async function () {
    const key = keys.message('bbbbbbbbbbbbbbbbbbbbbbbb');
    await cache.setCache('message:bbbbbbbbbbbbbbbbbbbbbbbb', { v: 1 }, 1);
    // Expired, its entry not claimed (no daemon runs).
    await waitUntil('the key expired', async () => (await redis.exists(key)) === 0, 5000, 20);
    await cache.setCache('message:bbbbbbbbbbbbbbbbbbbbbbbb', { v: 2 }, 60);
    assert.equal(await dueEntryCount(redis, keys), 2);

    const claim = await scripts.claimDue(30000, 100);
    assert.deepEqual(claim.entries, []);
    assert.equal(await redis.get(key), '{"v":2}', 'not unlinked');
    assert.equal(await dueEntryCount(redis, keys), 1);
    assert.equal(await dueDeadline(redis, keys, key), await redis.pExpireTime(key));
    await redis.del(key);
  });

  it('claims a hinted key whose deadline is in a slot, and says when the next one is due', async function () {
    const now = await redisNow();
    const gone = keys.message('cccccccccccccccccccccccc');
    const later = keys.message('dddddddddddddddddddddddd');
    await addEntries.run(
      redis,
      [keys.dueSlots],
      [gone, String(now - 5), later, String(now + 5000)],
    );
    const claim = await scripts.claimKeys(30000, [gone, keys.message('neverseen')], 10);
    assert.deepEqual(
      claim.entries.map((e) => [e.key, e.deadline]),
      [[gone, now - 5]],
    );
    assert.equal(claim.notYetDue, now + 5000);
  });

  it('puts a failed entry back into a slot at now + backoff, and a retried dead letter at now', async function () {
    const key = keys.message('eeeeeeeeeeeeeeeeeeeeeeee');
    const now = await redisNow();
    await addEntries.run(redis, [keys.dueSlots], [key, String(now - 1)]);
    const claim = await scripts.claimDue(30000, 10);
    assert.equal(claim.entries.length, 1);
    assert.deepEqual(await scripts.nack(claim.token, 5, 'boom', [{ key, backoffMs: 60000 }]), [1]);
    const retryAt = await dueDeadline(redis, keys, key);
    assert.ok(retryAt !== null && retryAt >= now + 59000 && retryAt <= now + 62000, `${retryAt}`);

    await redis.hSet(keys.dead, key, JSON.stringify({ error: 'boom', attempts: 8, at: now }));
    assert.equal(await scripts.retryDead(key), true);
    const retried = await dueDeadline(redis, keys, key);
    assert.ok(retried !== null && retried <= (await redisNow()), `${retried}`);
    await redis.del([keys.dead, keys.attempts]);
  });
});

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { CacheService } from '../../src/cache/cache-service.js';
import { createRedisNodeClient, type RedisNodeClient } from '../../src/redis/redis-client.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { dueDeadline } from '../helpers/due-index.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

describe('CacheService (the guide’s cache service, on a real Redis)', function () {
  let ctx: TestContext;
  let redis: RedisNodeClient;
  let keys: RedisKeys;
  let cache: CacheService;
  let lines: string[];

  before(async function () {
    ctx = createTestContext('cachesvc');
    redis = createRedisNodeClient(ctx.config.redis, ctx.logger, { name: 'test' });
    await redis.connect();
    keys = new RedisKeys(ctx.config.redis.keyPrefix);
    lines = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) {
          lines.push((JSON.parse(l) as { msg: string }).msg);
        }
        done();
      },
    });
    cache = new CacheService({
      redis,
      space: KeySpace.single(keys.prefix),
      logger: pino({ level: 'debug' }, sink),
    });
  });

  after(async function () {
    await redis?.close();
    await ctx?.cleanup();
  });

  beforeEach(function () {
    lines.length = 0;
  });

  it('sets with the default TTL of 5 s, records the deadline in expiry:due and logs it', async function () {
    const id = '507f1f77bcf86cd799439011';
    const before = Date.now();
    await cache.setCache(`message:${id}`, { id, content: 'hi' });
    const ttl = await redis.ttl(keys.message(id));
    assert.ok(ttl > 0 && ttl <= 5, `ttl ${ttl}`);
    assert.deepEqual(JSON.parse((await redis.get(keys.message(id))) ?? 'null'), {
      id,
      content: 'hi',
    });
    const deadline = await dueDeadline(redis, keys, keys.message(id));
    assert.ok(deadline !== null && deadline >= before + 4000 && deadline <= Date.now() + 5500);
    assert.ok(lines.includes(`Cached: message:${id} (TTL: 5s)`), lines.join('|'));
  });

  it('takes a per-call TTL', async function () {
    await cache.setCache('message:aaaaaaaaaaaaaaaaaaaaaaaa', { a: 1 }, 60);
    const ttl = await redis.ttl(keys.message('aaaaaaaaaaaaaaaaaaaaaaaa'));
    assert.ok(ttl > 55 && ttl <= 60, `ttl ${ttl}`);
    assert.ok(lines.includes('Cached: message:aaaaaaaaaaaaaaaaaaaaaaaa (TTL: 60s)'));
  });

  it('gets a hit, a miss, and deletes, logging each as the guide does', async function () {
    await cache.setCache('message:bbbbbbbbbbbbbbbbbbbbbbbb', { b: 2 });
    assert.deepEqual(await cache.getCache('message:bbbbbbbbbbbbbbbbbbbbbbbb'), { b: 2 });
    assert.equal(await cache.deleteCache('message:bbbbbbbbbbbbbbbbbbbbbbbb'), true);
    assert.equal(await cache.getCache('message:bbbbbbbbbbbbbbbbbbbbbbbb'), null);
    assert.equal(await redis.exists(keys.message('bbbbbbbbbbbbbbbbbbbbbbbb')), 0);
    assert.ok(lines.includes('Cache hit: message:bbbbbbbbbbbbbbbbbbbbbbbb'));
    assert.ok(lines.includes('Deleted from cache: message:bbbbbbbbbbbbbbbbbbbbbbbb'));
    assert.ok(lines.includes('Cache miss: message:bbbbbbbbbbbbbbbbbbbbbbbb'));
  });

  it('does not write when a guard key changed', async function () {
    const guard = keys.conversationGeneration('a', 'b');
    await redis.set(guard, '3');
    assert.equal(
      await cache.setCache('message:cc', { c: 1 }, 5, { guard: { key: guard, value: '2' } }),
      false,
    );
    assert.equal(await redis.exists(keys.message('cc')), 0);
    assert.equal(
      await cache.setCache('message:cc', { c: 1 }, 5, { guard: { key: guard, value: '3' } }),
      true,
    );
    assert.equal(await redis.exists(keys.message('cc')), 1);
  });

  it('finds keys by pattern under its prefix only, with SCAN', async function () {
    const other = createTestContext('cacheother');
    try {
      for (let i = 0; i < 30; i++) await cache.setCache(`message:scan${i}`, { i });
      await redis.set(`${other.config.redis.keyPrefix}message:scan99`, 'x');
      const found = await cache.getKeysByPattern('message:scan*');
      assert.equal(found.length, 30);
      assert.ok(found.every((k) => /^message:scan\d+$/.test(k)));
    } finally {
      await redis.del(`${other.config.redis.keyPrefix}message:scan99`);
    }
  });

  it('clearAll removes only this app’s cache entries, never the daemon’s records or other prefixes', async function () {
    const other = new RedisKeys(`${ctx.config.redis.keyPrefix}x:`);
    await cache.setCache('message:dd', { d: 1 });
    await redis.rPush(keys.conversation('u1', 'u2'), '{}');
    await redis.hSet(keys.shadow, keys.message('pending1'), '{}');
    await redis.zAdd(keys.pending('u1', 'u2'), { score: 1, value: 'pending1' });
    await redis.zAdd(keys.inflight, { score: 1, value: keys.message('x') });
    await redis.set(keys.conversationGeneration('u1', 'u2'), '7');
    await redis.set(`other-app:message:1`, 'keep');
    await redis.set(other.eventsChannel, 'keep');
    try {
      const removed = await cache.clearAll();
      assert.ok(removed >= 2);
      assert.deepEqual(await cache.getKeysByPattern('message*'), []);
      assert.equal(await redis.exists(keys.dueSlots), 1, 'expiry:slots kept');
      assert.equal(await redis.exists(keys.shadow), 1, 'expiry:shadow kept');
      assert.equal(await redis.exists(keys.inflight), 1, 'expiry:inflight kept');
      assert.equal(await redis.exists(keys.pending('u1', 'u2')), 1, 'pending kept');
      assert.equal(await redis.get(keys.conversationGeneration('u1', 'u2')), '7');
      assert.equal(await redis.get('other-app:message:1'), 'keep');
      assert.equal(await redis.get(other.eventsChannel), 'keep');
    } finally {
      await redis.del(['other-app:message:1']);
    }
  });

  it('refuses a TTL below 1 s', async function () {
    assert.throws(
      () =>
        new CacheService({
          redis,
          space: KeySpace.single(keys.prefix),
          logger: ctx.logger,
          defaultTtlSeconds: 0,
        }),
      TypeError,
    );
    await assert.rejects(cache.setCache('message:ee', {}, 0), TypeError);
  });
});

import assert from 'node:assert/strict';
import { MongoClient, ObjectId } from 'mongodb';
import { USERS_COLLECTION, UserStore, type UserDoc } from '../../src/auth/user-store.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { createRedisNodeClient, type RedisNodeClient } from '../../src/redis/redis-client.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

/**
 * The users known to exist, shared by the API processes through Redis (`users:known`): a
 * process that never saw a user checks it without MongoDB, so its sends are accepted while
 * MongoDB is down. Real Redis and MongoDB-protocol servers; "MongoDB down" is a client of
 * a port nobody listens on.
 */
describe('UserStore with the shared set of known users', function () {
  let ctx: TestContext;
  let redis: RedisNodeClient;
  let mongo: MongoClient;
  let unreachable: MongoClient;
  let shared: { redis: RedisNodeClient; key: (id: string) => string };

  before(async function () {
    ctx = createTestContext('userstore');
    redis = createRedisNodeClient(ctx.config.redis, ctx.logger, { name: 'test' });
    await redis.connect();
    // Partitioned as on a cluster: each user's id is kept in the set of its partition.
    const space = new KeySpace(ctx.config.redis.keyPrefix, 4, true);
    shared = { redis, key: (id) => space.forUser(id).knownUsers };
    mongo = new MongoClient(ctx.config.mongo.uri);
    await mongo.connect();
    unreachable = new MongoClient('mongodb://127.0.0.1:9/', { serverSelectionTimeoutMS: 300 });
  });

  after(async function () {
    await unreachable?.close();
    await mongo?.close();
    await redis?.close();
    await ctx?.cleanup();
  });

  const db = () => mongo.db(ctx.config.mongo.db);

  it('a user created by one process exists for another while MongoDB is down', async function () {
    const one = UserStore.fromDb(db(), { shared });
    const user = await one.create(`u${Date.now()}`, 'hash');
    assert.equal(await redis.sIsMember(shared.key(user.id), user.id), 1);

    const other = UserStore.fromDb(unreachable.db(ctx.config.mongo.db), { shared });
    assert.equal(await other.exists(user.id), true);
    // An id nobody has seen still needs MongoDB, which is down: the error comes through.
    await assert.rejects(other.exists(new ObjectId().toHexString()));
    // Without the shared set, the same process could not tell.
    const alone = UserStore.fromDb(unreachable.db(ctx.config.mongo.db));
    await assert.rejects(alone.exists(user.id));
  });

  it('learns users created before the set existed on their first lookup', async function () {
    const _id = new ObjectId();
    await db()
      .collection<UserDoc>(USERS_COLLECTION)
      .insertOne({ _id, username: `old${Date.now()}`, passwordHash: 'h', createdAt: new Date() });
    const id = _id.toHexString();
    assert.equal(await redis.sIsMember(shared.key(id), id), 0);
    assert.equal(await UserStore.fromDb(db(), { shared }).exists(id), true);
    assert.equal(await redis.sIsMember(shared.key(id), id), 1);
    assert.equal(
      await UserStore.fromDb(db(), { shared }).exists(new ObjectId().toHexString()),
      false,
    );
  });

  it('falls back to MongoDB when Redis is unreachable', async function () {
    const closed = createRedisNodeClient(ctx.config.redis, ctx.logger, { name: 'test-closed' });
    await closed.connect();
    await closed.close();
    const store = UserStore.fromDb(db(), { shared: { redis: closed, key: shared.key } });
    const user = await store.create(`c${Date.now()}`, 'hash');
    assert.equal(
      await UserStore.fromDb(db(), { shared: { redis: closed, key: shared.key } }).exists(user.id),
      true,
    );
  });

  describe('ids MongoDB did not find', function () {
    let monitored: MongoClient;
    let finds = 0;

    before(async function () {
      // The real driver's command events count what reaches MongoDB.
      monitored = new MongoClient(ctx.config.mongo.uri, { monitorCommands: true });
      monitored.on('commandStarted', (e) => {
        if (e.commandName === 'find' && e.command.find === USERS_COLLECTION) finds++;
      });
      await monitored.connect();
    });

    after(async function () {
      await monitored?.close();
    });

    const store = (
      opts: { missingIdsTtlMs?: number; missingIdsLimit?: number; now?: () => number } = {},
    ) => UserStore.fromDb(monitored.db(ctx.config.mongo.db), { shared, ...opts });

    it('reads MongoDB once for a flood of checks of one missing id, concurrent or not', async function () {
      const users = store();
      const missing = new ObjectId().toHexString();
      finds = 0;
      const concurrent = await Promise.all(Array.from({ length: 50 }, () => users.exists(missing)));
      assert.deepEqual(new Set(concurrent), new Set([false]));
      for (let i = 0; i < 50; i++) assert.equal(await users.exists(missing), false);
      assert.equal(finds, 1);
    });

    it('asks again once the answer has lapsed, and forgets the oldest beyond its bound', async function () {
      let clock = 0;
      const users = store({ missingIdsTtlMs: 100, missingIdsLimit: 2, now: () => clock });
      const [a, b, c] = [1, 2, 3].map(() => new ObjectId().toHexString()) as [
        string,
        string,
        string,
      ];
      finds = 0;
      await users.exists(a);
      await users.exists(b);
      await users.exists(a);
      assert.equal(finds, 2);
      await users.exists(c); // a is the oldest: forgotten
      await users.exists(b);
      assert.equal(finds, 3);
      await users.exists(a);
      assert.equal(finds, 4);
      // The answer is short-lived by design: it stands until its TTL, then MongoDB is asked
      // again (a, remembered again just now, is within the bound).
      clock = 99;
      await users.exists(a);
      assert.equal(finds, 4);
      clock = 100;
      await users.exists(a);
      assert.equal(finds, 5);
    });

    it('still sees at once a user another process created after its "no"', async function () {
      const users = store();
      const _id = new ObjectId();
      const id = _id.toHexString();
      finds = 0;
      assert.equal(await users.exists(id), false);
      // Another process creates that user: MongoDB has it, and so has the shared set.
      await db()
        .collection<UserDoc>(USERS_COLLECTION)
        .insertOne({
          _id,
          username: `late${Date.now()}`,
          passwordHash: 'h',
          createdAt: new Date(),
        });
      await redis.sAdd(shared.key(id), id);
      // The shared set is asked before the remembered "no": no stale answer, no MongoDB read.
      assert.equal(await users.exists(id), true);
      assert.equal(finds, 1);
    });
  });
});

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { createClient } from 'redis';
import { ExpiryDaemon } from '../../src/expiry/expiry-daemon.js';
import { ExpiryScripts } from '../../src/expiry/expiry-scripts.js';
import { messagesCollection } from '../../src/messages/message-store.js';
import { RedisKeys } from '../../src/redis/keys.js';
import type { RedisClient } from '../../src/redis/redis-client.js';
import { dueEntryCount } from '../helpers/due-index.js';
import { daemonRecords, pendingCount, seedMessages } from '../helpers/expiry-fixtures.js';
import { waitUntil } from '../helpers/wait.js';
import { sharedServers, startThrowawayRedis, type ThrowawayRedis } from '../helpers/servers.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const EMPTY = { due: 0, inflight: 0, shadow: 0, attempts: 0, dead: 0 };

describe('expiry daemon: nothing lost', function () {
  this.timeout(60000);
  let ctx: TestContext;
  let redis: RedisClient;
  let keys: RedisKeys;
  let daemons: ExpiryDaemon[] = [];
  let own: ThrowawayRedis | undefined;

  /** A context on the shared servers, or on a Redis of this test's own. */
  async function setUp(env: Record<string, string>, redisArgs?: string[]): Promise<void> {
    let servers = sharedServers();
    if (redisArgs) {
      own = await startThrowawayRedis({ extraArgs: redisArgs });
      servers = { ...servers, redisUrl: own.url };
    }
    ctx = createTestContext('expiry-resilience', env, servers);
    keys = new RedisKeys(ctx.config.redis.keyPrefix);
    redis = createClient({ url: ctx.config.redis.url }) as RedisClient;
    redis.on('error', () => {});
    await redis.connect();
  }

  function daemon(opts: ConstructorParameters<typeof ExpiryDaemon>[1] = {}, logger = ctx.logger) {
    const d = new ExpiryDaemon({ config: ctx.config, logger }, { defaultMetrics: false, ...opts });
    daemons.push(d);
    return d;
  }

  afterEach(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    daemons = [];
    await redis.close();
    if (own) {
      await own.dispose();
      own = undefined;
    } else {
      await ctx.cleanup();
    }
  });

  it('processes all 5,000 that expired while the daemon was stopped, after its restart', async () => {
    await setUp({ PERSISTENCE_MODE: 'write-behind' });
    const first = daemon();
    await first.start();
    await first.stop();
    const sent = await seedMessages(redis, keys, 5000, { ttlSeconds: 1, shadow: true });
    // All of them expire (and their events are published to nobody) while no daemon runs.
    await sleep(1500);
    assert.equal(await redis.exists(sent.slice(0, 50).map((m) => keys.message(m.id))), 0);
    assert.equal(await dueEntryCount(redis, keys), 5000);

    const second = daemon();
    await second.start();
    await waitUntil('5,000 processed', () => second.stats().processed.total >= 5000, 30000);
    await sleep(300);
    assert.deepEqual(second.stats().processed, { event: 0, poll: 5000, total: 5000 });
    assert.deepEqual(await daemonRecords(redis, keys), EMPTY);
    assert.equal(await pendingCount(redis, keys, sent), 0);
    const mongo = new MongoClient(ctx.config.mongo.uri);
    try {
      const coll = messagesCollection(mongo.db(ctx.config.mongo.db));
      assert.equal(await coll.countDocuments(), 5000);
    } finally {
      await mongo.close();
    }
  });

  it('misses none when the subscriber connection is killed during expirations', async () => {
    await setUp({}, []);
    // A long interval: between rounds only the events and the earliest deadline wake it.
    const d = daemon({ pollIntervalMs: 20000 });
    await d.start();
    await waitUntil('first round', () => d.stats().rounds >= 1, 5000);
    const sent: Array<{ id: string }> = [];
    for (let wave = 0; wave < 6; wave++) {
      sent.push(...(await seedMessages(redis, keys, 500, { ttlSeconds: 1, shadow: false })));
      await sleep(250);
    }
    // Mid-stream: the first waves are expiring now, the last ones are still to come.
    const killed = await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    assert.ok(Number(killed) >= 1, 'the subscriber connection was killed');
    await waitUntil('3,000 processed', () => d.stats().processed.total >= 3000, 30000);
    await sleep(300);
    const s = d.stats();
    assert.equal(s.processed.total, 3000);
    assert.ok(s.processed.poll > 0, 'the reconnect or the deadline poll took over');
    assert.equal(await redis.exists(sent.slice(0, 100).map((m) => keys.message(m.id))), 0);
    assert.deepEqual(await daemonRecords(redis, keys), EMPTY);
  });

  it('merges E and x into notifications, and processes all by the poll once they are switched off', async () => {
    await setUp({}, ['--notify-keyspace-events', 'K$']);
    const d = daemon({ pollIntervalMs: 200 });
    await d.start();
    assert.equal(d.stats().notifications, 'enabled');
    const flags = (await redis.configGet('notify-keyspace-events'))['notify-keyspace-events'] ?? '';
    assert.deepEqual([...flags].sort(), ['$', 'E', 'K', 'x']);
    await redis.configSet('notify-keyspace-events', '');
    const sent = await seedMessages(redis, keys, 1000, { ttlSeconds: 1, shadow: false });
    await waitUntil('1,000 processed', () => d.stats().processed.total >= 1000, 20000);
    await sleep(300);
    assert.deepEqual(d.stats().processed, { event: 0, poll: 1000, total: 1000 });
    assert.equal(await redis.exists(sent.map((m) => keys.message(m.id))), 0);
    assert.deepEqual(await daemonRecords(redis, keys), EMPTY);
  });

  it('warns once and runs on the poll alone where CONFIG is refused', async () => {
    await setUp({}, ['--rename-command', 'CONFIG', '', '--notify-keyspace-events', '']);
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    );
    const d = daemon({ pollIntervalMs: 200 }, logger);
    await d.start();
    assert.equal(d.stats().notifications, 'unavailable');
    const sent = await seedMessages(redis, keys, 1000, { ttlSeconds: 1, shadow: false });
    // A reconnect checks the configuration again, without a second warning.
    await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await waitUntil('1,000 processed', () => d.stats().processed.total >= 1000, 20000);
    await sleep(300);
    assert.deepEqual(d.stats().processed, { event: 0, poll: 1000, total: 1000 });
    assert.equal(await redis.exists(sent.map((m) => keys.message(m.id))), 0);
    assert.deepEqual(await daemonRecords(redis, keys), EMPTY);
    assert.equal(lines.filter((l) => l.includes('CONFIG refused')).length, 1);
  });

  it('takes back the expired lease of a daemon that died mid-processing', async () => {
    await setUp({ PERSISTENCE_MODE: 'write-behind' });
    const sent = await seedMessages(redis, keys, 20, { ttlSeconds: 1, shadow: true });
    // A daemon claimed them (the claim script itself, with leases of 1 s) and died before
    // it acked.
    await sleep(1100);
    const claim = await new ExpiryScripts(redis, keys).claimDue(1000, 100);
    assert.equal(claim.entries.length, 20);
    assert.equal(await redis.zCard(keys.inflight), 20);

    const d = daemon({ pollIntervalMs: 200 });
    await d.start();
    await waitUntil('20 processed', () => d.stats().processed.total >= 20, 10000);
    await sleep(300);
    assert.deepEqual(d.stats().processed, { event: 0, poll: 20, total: 20 });
    assert.deepEqual(await daemonRecords(redis, keys), EMPTY);
    assert.equal(await pendingCount(redis, keys, sent), 0);
    const mongo = new MongoClient(ctx.config.mongo.uri);
    try {
      assert.equal(await messagesCollection(mongo.db(ctx.config.mongo.db)).countDocuments(), 20);
    } finally {
      await mongo.close();
    }
  });
});

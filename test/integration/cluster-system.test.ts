import assert from 'node:assert/strict';
import { ObjectId } from 'mongodb';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { runCacheCli } from '../../src/cli/cache-cli.js';
import { EXIT } from '../../src/cli/cli-error.js';
import { ExpiryDaemon } from '../../src/expiry/expiry-daemon.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { MessageStore } from '../../src/messages/message-store.js';
import { keySlot } from '../../src/redis/key-space.js';
import { createRedisClient, type RedisClient } from '../../src/redis/redis-client.js';
import { call, inspectMongo, signupUser, type TestUser } from '../helpers/api-harness.js';
import { capturingLogger } from '../helpers/expiry-fixtures.js';
import { sharedServers, startThrowawayCluster, type ThrowawayCluster } from '../helpers/servers.js';
import { createTestContext, type TestContext } from '../helpers/test-context.js';
import { connectWs } from '../helpers/ws-client.js';

/**
 * The whole system on a real Redis Cluster (3 masters + 3 replicas): two API processes and
 * a daemon, in write-behind mode so that every message reaches MongoDB through the daemon.
 */
describe('the system on a Redis Cluster (REDIS_CLUSTER_NODES)', function () {
  this.timeout(60000);
  let cluster: ThrowawayCluster;
  let ctx: TestContext;
  let api1: ApiServer;
  let api2: ApiServer;
  let redis: RedisClient;
  let daemon: ExpiryDaemon;
  let mongo: Awaited<ReturnType<typeof inspectMongo>>;
  const lines: Array<{ msg?: string }> = [];
  let users: TestUser[];

  before(async function () {
    cluster = await startThrowawayCluster();
    ctx = createTestContext(
      'cluster',
      { PERSISTENCE_MODE: 'write-behind', CACHE_TTL_SECONDS: '2', RATE_LIMIT_SENDS: '1000' },
      { clusterNodes: cluster.seeds, mongoUri: sharedServers().mongoUri },
    );
    api1 = await startApiServer(ctx.config, ctx.logger, { metricsPort: 0 });
    api2 = await startApiServer(ctx.config, ctx.logger, { metricsPort: 0 });
    await Promise.all([api1.ready, api2.ready]);
    redis = createRedisClient(ctx.config.redis, ctx.logger, { name: 'test-daemon' });
    await redis.connect();
    mongo = await inspectMongo(ctx.config);
    daemon = new ExpiryDaemon(
      {
        config: ctx.config,
        logger: capturingLogger(lines),
        redis,
        messages: MessageStore.fromDb(mongo.db),
      },
      // Nothing but keyevents wakes it within a test: it learns of a new entry from its event.
      { defaultMetrics: false, pollIntervalMs: 60000 },
    );
    await daemon.start();
    users = await Promise.all(
      Array.from({ length: 6 }, (_, i) => signupUser(i % 2 ? api2.url : api1.url, `cl_${i}`)),
    );
  });

  after(async function () {
    await daemon?.stop();
    await api1?.close();
    await api2?.close();
    await redis?.close();
    await mongo?.close();
    await ctx?.cleanup();
    await cluster?.dispose();
  });

  it('serves the message contract across two API processes, over every master', async function () {
    const [alice, bob] = [users[0]!, users[1]!];
    const bobWs = await connectWs(api2, bob);
    try {
      const sent = await call(api1.url, 'POST', '/api/messages/send', {
        token: alice.token,
        body: { receiverId: bob.id, content: 'over the cluster' },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const id: string = sent.body.message.id;
      const frame = await bobWs.next((f) => f.type === 'message:new' && f.message.id === id, 3000);
      assert.equal(frame.message.content, 'over the cluster');

      const path = `/api/messages/${alice.id}`;
      assert.equal((await call(api2.url, 'GET', path, { token: bob.token })).status, 200);
      const hit = await call(api1.url, 'GET', path, { token: bob.token });
      assert.equal(hit.headers.get('x-cache'), 'HIT');
      assert.deepEqual(
        hit.body.messages.map((m: { id: string }) => m.id),
        [id],
      );
      const item = await call(api2.url, 'GET', `/api/messages/item/${id}`, { token: bob.token });
      assert.equal(item.status, 200);
      assert.equal(item.body.message.id, id);

      const health = await call(api1.url, 'GET', '/health');
      assert.equal(health.status, 200, JSON.stringify(health.body));
      assert.equal(health.body.redis.masters, 3);
    } finally {
      bobWs.ws.close();
    }
  });

  it('the daemon hears expirations on every master and persists each message once (20 s, of a 60 s poll)', async function () {
    const before = daemon.stats().processed.total;
    const ids: string[] = [];
    const masters = new Set<number>();
    const space = api1.services.space;
    for (const [i, from] of users.entries()) {
      for (const to of users.slice(i + 1)) {
        const sent = await call(api1.url, 'POST', '/api/messages/send', {
          token: from.token,
          body: { receiverId: to.id, content: `${from.username} to ${to.username}` },
        });
        assert.equal(sent.status, 201);
        ids.push(sent.body.message.id);
        const key = space.forConversation(from.id, to.id).message(sent.body.message.id);
        if ('slots' in redis) masters.add(redis.slots[keySlot(key)]!.master.port);
      }
    }
    assert.equal(masters.size, 3, 'the conversations live on all three masters');
    const collection = mongo.db.collection('messages');
    await waitUntil(
      'every message persisted by the daemon',
      async () =>
        (await collection.countDocuments({ _id: { $in: ids.map((id) => new ObjectId(id)) } })) ===
        ids.length,
      20000,
    );
    assert.ok(daemon.stats().processed.event > 0, 'woken by keyevents');
    assert.ok(daemon.stats().processed.total - before >= ids.length);
    for (const id of ids) {
      const deleted = lines.filter((l) => l.msg === `Deleted from cache: message:${id}`);
      assert.equal(deleted.length, 1, id);
    }
  });

  it('the CLI and /api/stats read every master', async function () {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: () => {}, confirm: async () => true };
    const code = await runCacheCli(['stats', '--json'], {
      config: ctx.config,
      logger: ctx.logger,
      io,
    });
    assert.equal(code, EXIT.OK);
    const stats = JSON.parse(out.join(''));
    assert.ok(stats.sends >= 16, JSON.stringify(stats));
    assert.ok(stats.memoryBytes > 0);
    const api = await call(api1.url, 'GET', '/api/stats', { token: users[0]!.token });
    assert.equal(api.status, 200);
    assert.equal(api.body.instances.api, 2);
  });
});

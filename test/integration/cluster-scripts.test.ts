import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { createLogger } from '../../src/logging/logger.js';
import { SendRateLimiter } from '../../src/messages/send-rate-limiter.js';
import { keySlot, keySpaceOf } from '../../src/redis/key-space.js';
import {
  createRedisClient,
  isClusterClient,
  type RedisClusterClient,
} from '../../src/redis/redis-client.js';
import { ExpiryScripts } from '../../src/redis/records/expiry-scripts.js';
import { IdempotencyRecords } from '../../src/redis/records/idempotency-records.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import { onNode, shards } from '../helpers/cluster-node.js';
import { startThrowawayCluster, type ThrowawayCluster } from '../helpers/servers.js';

/** Every typed record class against a real Redis Cluster: no script touches two slots. */
describe('the Lua scripts on a Redis Cluster (3 masters + 3 replicas)', function () {
  this.timeout(60000);
  let cluster: ThrowawayCluster;
  let redis: RedisClusterClient;
  const config = (seeds: string) =>
    loadConfig({ REDIS_CLUSTER_NODES: seeds, REDIS_KEY_PREFIX: 'cs:', JWT_SECRET: 'x'.repeat(32) });

  before(async function () {
    cluster = await startThrowawayCluster();
    const client = createRedisClient(
      config(cluster.seeds).redis,
      createLogger({ level: 'silent', name: 'test' }),
      {
        name: 'test-cluster-scripts',
      },
    );
    if (!isClusterClient(client)) throw new Error('REDIS_CLUSTER_NODES gave a single-node client');
    redis = client;
    await redis.connect();
  });
  after(async function () {
    await redis?.close();
    await cluster?.dispose();
  });

  it('writes, reads, fills and drops a conversation in every partition, on every master', async function () {
    const space = keySpaceOf(config(cluster.seeds).redis);
    assert.equal(space.partitions.length, 16, 'the cluster default');
    const records = new MessageCacheRecords(redis, space);
    const ownerOf = new Map<number, number>();
    for (let i = 0; ownerOf.size < 16 && i < 2000; i++) {
      const [a, b] = [hex(2 * i), hex(2 * i + 1)];
      const p = space.partitionOf(a, b);
      if (ownerOf.has(p)) continue;
      const keys = space.forConversation(a, b);
      const id = space.newMessageId(a, b);
      const message = { id, senderId: a, receiverId: b, createdAt: new Date().toISOString() };
      const json = JSON.stringify({ ...message, content: `p${p}` });
      const shadow = JSON.stringify({ message: JSON.parse(json) });
      const sent = await records.send(message, { json, ttl: 60, listSize: 10, shadow });
      assert.equal(sent.sent, true);
      assert.equal(await records.read(keys.message(id)), json);
      assert.equal(
        await records.fill(a, b, String(sent.sent && sent.generation), [json], 60),
        true,
      );
      assert.equal(await records.read(keys.message(id)), json, 'read through the list pointer');
      const gen = keys.conversationGeneration(a, b);
      const genValue = await redis.get(gen);
      assert.equal(
        await records.cacheOne(keys.message(id), json, 60, { key: gen, value: genValue }),
        true,
      );
      assert.ok((await records.drop(message)) > 0);
      ownerOf.set(p, redis.slots[keySlot(keys.message(id))]!.master.port);
    }
    assert.equal(ownerOf.size, 16, 'a conversation in every partition');
    assert.equal(new Set(ownerOf.values()).size, 3, 'the partitions spread over the 3 masters');
  });

  it('claims, acks, nacks and dead-letters in a partition', async function () {
    const space = keySpaceOf(config(cluster.seeds).redis);
    const records = new MessageCacheRecords(redis, space);
    for (const [i, keys] of space.partitions.entries()) {
      const [a, b] = findConversationIn(space, i);
      const id = space.newMessageId(a, b);
      const message = { id, senderId: a, receiverId: b, createdAt: new Date().toISOString() };
      const json = JSON.stringify(message);
      const shadow = JSON.stringify({ message });
      await records.send(message, { json, ttl: { atMs: Date.now() - 1000 }, listSize: 10, shadow });
      const scripts = new ExpiryScripts(redis, keys);
      let claim = await scripts.claimDue(5000, 10);
      if (claim.entries.length === 0) {
        await waitUntil(
          'the entry to fall due',
          async () => (claim = await scripts.claimDue(5000, 10)).entries.length > 0,
          5000,
        );
      }
      assert.equal(claim.entries[0]!.key, keys.message(id));
      assert.deepEqual(
        await scripts.nack(claim.token, 1, 'test', [{ key: keys.message(id), backoffMs: -1 }]),
        [2],
      );
      assert.equal(await scripts.retryDead(keys.message(id)), true);
      const again = await scripts.claimKeys(5000, [keys.message(id)], 10);
      assert.equal(again.entries.length, 1);
      assert.deepEqual(
        await scripts.ack(again.token, [
          { key: keys.message(id), pendingKey: keys.pending(a, b), messageId: id },
        ]),
        [true],
      );
      const peek = await scripts.peek();
      assert.equal(peek.due, 0);
      assert.equal(await scripts.dropDead(keys.message(id)), false, 'not a dead letter');
    }
  });

  it('runs the per-user scripts (idempotency, rate limits) each in its own slot', async function () {
    const keys = keySpaceOf(config(cluster.seeds).redis).shared;
    const idem = new IdempotencyRecords(redis, keys);
    const claim = await idem.claim('u1', 'k1', {
      id: hex(1),
      bodyHash: 'h',
      ttlSeconds: 60,
      leaseMs: 1000,
    });
    assert.equal(claim.state, 'claimed');
    assert.equal(await idem.settle('u1', 'k1', hex(1), { action: 'release' }), true);
    const limiter = new SendRateLimiter({ redis, keys, limit: 1, windowSeconds: 60 });
    await limiter.consume('u1');
    await assert.rejects(limiter.consume('u1'), { code: 'RATE_LIMITED' });
  });

  // Last: it moves a shard's master.
  it("sends a script to its slot's master directly, and after a failover follows the MOVED once", async function () {
    const keys = keySpaceOf(config(cluster.seeds).redis).shared;
    const limiter = new SendRateLimiter({ redis, keys, limit: 100, windowSeconds: 60 });
    const slot = keySlot(keys.rateLimit('mover'));
    const oldMaster = redis.slots[slot]!.master;
    const client = oldMaster.client!;
    let direct = 0;
    const evalSha = client.evalSha.bind(client);
    // An own property over the prototype's command method: counts the calls that reach it.
    (client as { evalSha: typeof evalSha }).evalSha = (...args) => {
      direct++;
      return evalSha(...args);
    };

    await limiter.consume('mover');
    assert.equal(direct, 1, "the master's own client ran it");
    // As on one node: no AbortSignal timer armed per command (src/redis/redis-client.ts).
    assert.equal(client.options?.commandOptions?.timeout, 0);

    let replica: number | undefined;
    await waitUntil(
      `the master of slot ${slot} listed with a replica`,
      async () => {
        const shard = (await shards(cluster)).find((s) => slot >= s.from && slot <= s.to);
        replica = shard?.replicas[0];
        return replica !== undefined;
      },
      10000,
    );
    await onNode(replica!, (c) => c.sendCommand(['CLUSTER', 'FAILOVER']));
    await waitUntil(
      `replica ${replica} promoted`,
      async () => (await cluster.masters()).some((m) => m.port === replica),
      10000,
    );

    // The client's map still names the old master, which now answers MOVED.
    assert.equal(redis.slots[slot]!.master.port, oldMaster.port);
    await limiter.consume('mover');
    assert.equal(direct, 2, 'tried on the old master first');
    assert.equal(redis.slots[slot]!.master.port, replica, 'the cluster client learnt the move');
    assert.equal(await redis.get(keys.rateLimit('mover')), '2', 'counted once per send');
  });
});

function hex(n: number): string {
  return n.toString(16).padStart(24, '0');
}

function findConversationIn(
  space: ReturnType<typeof keySpaceOf>,
  partition: number,
): [string, string] {
  for (let i = 0; i < 10000; i++) {
    const [a, b] = [hex(1000 + 2 * i), hex(1001 + 2 * i)];
    if (space.partitionOf(a, b) === partition) return [a, b];
  }
  throw new Error(`no conversation of 10000 falls in partition ${partition}`);
}

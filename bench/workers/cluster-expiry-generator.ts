/**
 * Load process of the cluster lag row (bench/scenarios/cluster.ts): the `system` mode of
 * expiry-generator.ts on a Redis Cluster — the API's send script (TTL LEAD_MS) at RATE per
 * second for SECONDS, over conversations of every partition, each message id carrying its
 * partition as the API's ids do. Reports how many it created and the achieved rate.
 * Env: CLUSTER_NODES (host:port,…), PARTITIONS, RATE, SECONDS, LEAD_MS.
 */
import { createCluster } from 'redis';
import { messageJson } from '../../src/messages/message.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import { benchMessage, benchUsers } from '../lib/burst-seeder.js';
import { createAtRate } from '../lib/create-at-rate.js';
import { env, runWorker, tell, whenParentSays } from './worker-ipc.js';

runWorker(async () => {
  const rate = Number(env('RATE'));
  const seconds = Number(env('SECONDS'));
  const leadMs = Number(env('LEAD_MS'));
  const space = new KeySpace('', Number(env('PARTITIONS')), true);
  const redis = createCluster({
    rootNodes: env('CLUSTER_NODES')
      .split(',')
      .map((node) => ({ url: `redis://${node}` })),
  });
  redis.on('error', () => {});
  await redis.connect();
  const records = new MessageCacheRecords(redis, space);
  const users = benchUsers(100);

  /** Creates expirations number `from` … `to − 1`. */
  const create = async (from: number, to: number): Promise<void> => {
    const now = Date.now();
    const work: Promise<unknown>[] = [];
    for (let i = from; i < to; i++) {
      const m = benchMessage(i, users, now);
      const message = { ...m, id: space.newMessageId(m.senderId, m.receiverId) };
      work.push(
        records.send(message, {
          json: messageJson(message),
          ttl: Math.round(leadMs / 1000),
          listSize: 100,
        }),
      );
    }
    await Promise.all(work);
  };

  tell({ type: 'ready' });
  await whenParentSays('go');
  const { created, elapsed, start } = await createAtRate(rate, seconds, create);
  await redis.close();
  tell({ type: 'result', data: { created, elapsed, rate: created / elapsed, firstAt: start } });
});

/**
 * Load process of the lag scenarios: creates expirations at a steady rate (RATE per second
 * for SECONDS), each due LEAD_MS after its creation, in one of three forms:
 * - `system`:   the API's send script itself (src/redis/scripts/send-message-8.lua, TTL 1 s)
 * - `bullmq`:   a BullMQ delayed job (delay LEAD_MS) on QUEUE
 * - `keyevent`: a plain `SET key PX LEAD_MS` whose name carries its deadline, for the
 *               `__keyevent@0__:expired` subscriber of the guide's design
 * Reports how many it created and the achieved rate.
 * Env: REDIS_URL, MODE, RATE, SECONDS, LEAD_MS, QUEUE (bullmq).
 */
import { Queue } from 'bullmq';
import { createClient } from 'redis';
import { messageJson } from '../../src/messages/message.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import { benchMessage, benchUsers } from '../lib/burst-seeder.js';
import { useNodeRedisForBullmq } from '../lib/bullmq-node-redis.js';
import { createAtRate } from '../lib/create-at-rate.js';
import { env, runWorker, tell, whenParentSays } from './worker-ipc.js';

runWorker(async () => {
  const mode = env('MODE');
  const rate = Number(env('RATE'));
  const seconds = Number(env('SECONDS'));
  const leadMs = Number(env('LEAD_MS'));
  const redis = createClient({ url: env('REDIS_URL') });
  await redis.connect();
  const records = new MessageCacheRecords(redis, KeySpace.single());
  const users = benchUsers(100);
  let queue: Queue | undefined;
  if (mode === 'bullmq') {
    queue = new Queue(env('QUEUE'), { connection: useNodeRedisForBullmq(env('REDIS_URL')) });
    await queue.waitUntilReady();
  }

  /** Creates expirations number `from` … `to − 1`. */
  const create = async (from: number, to: number): Promise<void> => {
    const now = Date.now();
    if (queue) {
      const jobs = [];
      for (let i = from; i < to; i++) {
        jobs.push({ name: 'expire', data: { i }, opts: { delay: leadMs } });
      }
      await queue.addBulk(jobs);
      return;
    }
    const work: Promise<unknown>[] = [];
    for (let i = from; i < to; i++) {
      if (mode === 'keyevent') {
        work.push(
          redis.set(`kev:${now + leadMs}:${i}`, '1', { expiration: { type: 'PX', value: leadMs } }),
        );
      } else {
        const m = benchMessage(i, users, now);
        work.push(
          records.send(m, { json: messageJson(m), ttl: Math.round(leadMs / 1000), listSize: 100 }),
        );
      }
    }
    await Promise.all(work);
  };

  tell({ type: 'ready' });
  await whenParentSays('go');
  const { created, elapsed, start } = await createAtRate(rate, seconds, create);
  await queue?.close();
  await redis.close();
  tell({ type: 'result', data: { created, elapsed, rate: created / elapsed, firstAt: start } });
});

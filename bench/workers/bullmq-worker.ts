/**
 * Baseline load process: a BullMQ 6 worker with a no-op processor, the competitor of one
 * expiry daemon. Records each job's lag (processing start − (timestamp + delay), i.e. how
 * late after its due time the job ran) and reports them when the parent says 'stop'.
 * Env: REDIS_URL, QUEUE, CONCURRENCY.
 */
import { Worker } from 'bullmq';
import { useNodeRedisForBullmq } from '../lib/bullmq-node-redis.js';
import { env, runWorker, tell, whenParentSays } from './worker-ipc.js';

runWorker(async () => {
  const connection = useNodeRedisForBullmq(env('REDIS_URL'));
  const lags: number[] = [];
  let processed = 0;
  const worker = new Worker(
    env('QUEUE'),
    async (job) => {
      processed++;
      lags.push(Date.now() - (job.timestamp + (job.opts.delay ?? 0)));
    },
    {
      connection,
      concurrency: Number(env('CONCURRENCY')),
      // As the daemon deletes its records once processed, BullMQ keeps none either.
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    },
  );
  worker.on('error', (err) => process.stderr.write(`bullmq worker: ${err.message}\n`));
  await worker.waitUntilReady();
  tell({ type: 'ready' });
  await whenParentSays('stop');
  await worker.close();
  tell({ type: 'result', data: { processed, lags } });
});

import { NodeChild } from './child.js';

/** BullMQ worker processes (bench/workers/bullmq-worker.ts) on one queue. */
export interface BullmqWorkers {
  /** Stops them and returns every job's lag (ms) and the processed count. */
  stop(): Promise<{ processed: number; lags: number[] }>;
}

/** Starts `n` worker processes of `concurrency` each and waits until they are ready. */
export async function startBullmqWorkers(
  redisUrl: string,
  queue: string,
  n: number,
  concurrency: number,
): Promise<BullmqWorkers> {
  const children = Array.from(
    { length: n },
    (_, i) =>
      new NodeChild(`bullmq-worker-${i}`, 'bench/workers/bullmq-worker.ts', {
        env: { REDIS_URL: redisUrl, QUEUE: queue, CONCURRENCY: String(concurrency) },
      }),
  );
  await Promise.all(children.map((c) => c.next('ready', 30000)));
  return {
    async stop() {
      for (const c of children) c.send({ type: 'stop' });
      const results = await Promise.all(
        children.map((c) => c.next<{ processed: number; lags: number[] }>('result', 30000)),
      );
      await Promise.all(children.map((c) => c.waitExit(10000)));
      return {
        processed: results.reduce((s, r) => s + r.processed, 0),
        lags: results.flatMap((r) => r.lags),
      };
    },
  };
}

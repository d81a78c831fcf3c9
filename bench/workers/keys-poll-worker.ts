/**
 * Baseline process of seed-poll-cost: the guide's expiry worker, `KEYS message:*` once a
 * second (it compared the keys it saw with the last round to find the expired ones). Reports
 * the rounds done after each one ('progress'), for seed-poll-cost to count the KEYS calls of
 * its window (it reads the worker's CPU from /proc, then stops it). Told 'stop', it also
 * reports its rounds and its own CPU time since it was ready. Env: REDIS_URL.
 */
import { createClient } from 'redis';
import { sleep } from '../../src/lifecycle/wait.js';
import { env, runWorker, tell } from './worker-ipc.js';

runWorker(async () => {
  const redis = createClient({ url: env('REDIS_URL') });
  await redis.connect();
  let stop = false;
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'stop') stop = true;
  });
  tell({ type: 'ready' });
  const cpuStart = process.cpuUsage();
  let rounds = 0;
  let previous = new Set<string>();
  // Bounded: the parent stops it after the measured window; 600 rounds is a hard cap.
  while (!stop && rounds < 600) {
    const started = Date.now();
    const keys = await redis.keys('message:*');
    const current = new Set(keys);
    // What the guide's worker did with them: those gone since the last round "expired".
    let gone = 0;
    for (const k of previous) if (!current.has(k)) gone++;
    previous = current;
    rounds++;
    tell({ type: 'progress', data: { rounds, gone } });
    await sleep(Math.max(0, 1000 - (Date.now() - started)));
  }
  const cpu = process.cpuUsage(cpuStart);
  await redis.close();
  tell({ type: 'result', data: { cpuSeconds: (cpu.user + cpu.system) / 1e6, rounds } });
});

import { sleep } from '../../src/lifecycle/wait.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { Queue } from 'bullmq';
import type { BenchResult } from '../lib/bench-result.js';
import { startBullmqWorkers } from '../lib/bullmq-workers.js';
import { useNodeRedisForBullmq } from '../lib/bullmq-node-redis.js';
import { seedBurst } from '../lib/burst-seeder.js';
import { waitBullmqDrained, waitExpiryDrained } from '../lib/expiry-progress.js';
import { resetStores, type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';
import { startDaemon, type DaemonProcess } from '../lib/system-processes.js';

/** Daemon instances, and BullMQ worker processes to match. */
const INSTANCES = 2;
/** Jobs in flight per BullMQ worker: a no-op processor gains nothing from more. */
const BULLMQ_CONCURRENCY = 100;
/**
 * How much longer than the measured pace seeding is allowed before the burst's deadline
 * (the machine is shared: the pace varies).
 */
const SEED_MARGIN = 2;

/**
 * Times `seed(count)` on a small sample to learn the pace on this machine now: the burst's
 * deadline must fall after the last message is written, or the daemons (or workers) would
 * start while seeding goes on and the figure would measure the seeding.
 */
async function msPerItem(seed: (count: number) => Promise<void>, count = 2000): Promise<number> {
  const start = performance.now();
  await seed(count);
  return (performance.now() - start) / count;
}

/**
 * `expiry-throughput`: N messages (write-through: no shadow) that all fall due in the same
 * millisecond, processed by 2 daemon instances; expirations per second from the deadline
 * to the moment the due index and in-flight set are empty. Baseline: the same count of
 * BullMQ delayed jobs due at one instant, 2 no-op worker processes, the same Redis.
 */
export const expiryThroughput: Scenario = {
  ids: ['expiry-throughput'],
  async run(ctx) {
    const { options, log } = ctx;
    const n = options.burstCount;
    await resetStores(ctx);
    const rounds: { value: number; baseline: number }[] = [];
    const daemons: DaemonProcess[] = [];
    try {
      for (let i = 0; i < INSTANCES; i++) {
        daemons.push(await startDaemon(ctx.servers, { PERSISTENCE_MODE: 'write-through' }));
      }
      for (let r = 0; r < options.heavyRounds; r++) {
        const system = await systemRound(ctx, n);
        const bull = await bullmqRound(ctx, n, r);
        log(`expiry-throughput round ${r + 1}: system ${round(system)}/s, BullMQ ${round(bull)}/s`);
        rounds.push({ value: system, baseline: bull });
      }
    } finally {
      await Promise.all(daemons.map((d) => d.stop()));
    }
    const value = median(rounds.map((x) => x.value));
    const baseline = median(rounds.map((x) => x.baseline));
    const ratio = value / baseline;
    const result: BenchResult = {
      id: 'expiry-throughput',
      unit: 'expirations/s',
      value: round(value),
      baseline: {
        name: `BullMQ 6 delayed jobs, ${INSTANCES} no-op workers`,
        value: round(baseline),
      },
      ratio: round(ratio),
      goal: '≥ 2.5× BullMQ',
      met: ratio >= 2.5,
      rounds,
      notes: [
        `${n} expirations due in the same millisecond; ${INSTANCES} daemon instances / ${INSTANCES} BullMQ worker processes (concurrency ${BULLMQ_CONCURRENCY})`,
      ],
    };
    return [result];
  },
};

async function systemRound(ctx: ScenarioContext, n: number): Promise<number> {
  // Calibration entries under another prefix, due in an hour, dropped right after.
  const pace = await msPerItem((count) =>
    seedBurst(ctx.redis, KeySpace.single('calibration:'), {
      count,
      deadlineMs: Date.now() + 3600_000,
      shadow: false,
    }).then(() => undefined),
  );
  await dropPrefix(ctx, 'calibration:');
  const deadline = Math.round(Date.now() + 1000 + n * pace * SEED_MARGIN);
  await seedBurst(ctx.redis, KeySpace.single(), { count: n, deadlineMs: deadline, shadow: false });
  if (Date.now() >= deadline) throw new Error('seeding overran the burst deadline');
  await sleep(Math.max(0, deadline - Date.now()));
  const done = await waitExpiryDrained(ctx.redis, 120000);
  return n / ((done - deadline) / 1000);
}

async function dropPrefix(ctx: ScenarioContext, prefix: string): Promise<void> {
  for await (const keys of ctx.redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length > 0) await ctx.redis.unlink(keys);
  }
}

async function bullmqRound(ctx: ScenarioContext, n: number, r: number): Promise<number> {
  const name = `burst${r}`;
  const workers = await startBullmqWorkers(
    ctx.servers.redisUrl,
    name,
    INSTANCES,
    BULLMQ_CONCURRENCY,
  );
  const queue = new Queue(name, { connection: useNodeRedisForBullmq(ctx.servers.redisUrl) });
  try {
    await queue.waitUntilReady();
    const calibration = new Queue(`${name}-calibration`, {
      connection: useNodeRedisForBullmq(ctx.servers.redisUrl),
    });
    const pace = await msPerItem(async (count) => {
      for (let i = 0; i < count; i += 1000) {
        await calibration.addBulk(
          Array.from({ length: 1000 }, (_, j) => ({
            name: 'expire',
            data: { i: i + j },
            opts: { delay: 3600_000 },
          })),
        );
      }
    });
    await calibration.obliterate({ force: true });
    await calibration.close();
    const deadline = Math.round(Date.now() + 1000 + n * pace * SEED_MARGIN);
    for (let i = 0; i < n; i += 1000) {
      const delay = deadline - Date.now();
      const jobs = Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({
        name: 'expire',
        data: { i: i + j },
        opts: { delay },
      }));
      await queue.addBulk(jobs);
    }
    if (Date.now() >= deadline)
      throw new Error('adding the BullMQ jobs overran the burst deadline');
    await sleep(Math.max(0, deadline - Date.now()));
    const done = await waitBullmqDrained(ctx.redis, name, 300000);
    return n / ((done - deadline) / 1000);
  } finally {
    await queue.close();
    const { processed } = await workers.stop();
    if (processed !== n) ctx.log(`BullMQ processed ${processed} of ${n}`);
  }
}

import { ObjectId } from 'mongodb';
import { KeySpace } from '../../src/redis/key-space.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import type { BenchResult } from '../lib/bench-result.js';
import { benchMessage, benchUsers } from '../lib/burst-seeder.js';
import { NodeChild } from '../lib/child.js';
import { sumSamples } from '../lib/prom-text.js';
import { redisCpuSeconds } from '../lib/redis-cpu.js';
import { resetStores, type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { sleep } from '../lib/sleep.js';
import { median, round } from '../lib/stats.js';
import { scrape, startDaemon } from '../lib/system-processes.js';

/** How long a fresh daemon runs before its idle cost is measured. */
const SETTLE_MS = 10000;

/**
 * Fills Redis with `count` cached messages as the send path leaves them (`message:{id}`
 * with a TTL of 30 to 60 min and its entry in the due index's slots), pipelined: nothing is
 * due while the idle cost is measured.
 */
async function seedCached(ctx: ScenarioContext, count: number): Promise<void> {
  const space = KeySpace.single();
  const keys = space.shared;
  const records = new MessageCacheRecords(ctx.redis, space);
  const users = benchUsers(100);
  const start = Date.now();
  const step = 5000;
  for (let i = 0; i < count; i += step) {
    const work: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + step); j++) {
      const m = benchMessage(j, users, Date.now());
      m.id = new ObjectId().toHexString();
      // TTLs of 30 to 60 min, as a stream of sends would leave them.
      const at = start + 1800_000 + Math.floor((j / count) * 1800_000);
      work.push(records.cacheOne(keys.message(m.id), JSON.stringify(m), { atMs: at }));
    }
    await Promise.all(work);
  }
}

/**
 * `seed-poll-cost`: CPU per second of an idle daemon (its own process plus what its polling
 * costs Redis) with 1,000,000 cached keys. Baseline: the guide's worker, `KEYS message:*`
 * every second, measured the same way. Goal ≤ 0.01×.
 */
export const seedPollCost: Scenario = {
  ids: ['seed-poll-cost'],
  async run(ctx) {
    const { options, log } = ctx;
    await resetStores(ctx);
    await seedCached(ctx, options.pollKeys);
    const seconds = options.pollSeconds;
    const rounds: { value: number; baseline: number }[] = [];
    const parts: string[] = [];
    for (let r = 0; r < options.heavyRounds; r++) {
      // Redis's own idle work (hz, active expiry sampling of 1M keys with a TTL) is nobody's
      // polling: measured with no client, and subtracted from both.
      const idleBefore = await redisCpuSeconds(ctx.redis);
      await sleep(seconds * 1000);
      const redisIdle = (await redisCpuSeconds(ctx.redis)) - idleBefore;
      const daemon = await startDaemon(ctx.servers, {});
      let system: number;
      try {
        // Past start-up: module loading, JIT and the first major GCs run on other threads
        // for several seconds and are no part of idle polling (measured: 20–70 ms/s at 2–10 s).
        await sleep(SETTLE_MS);
        const before = sumSamples(await scrape(daemon.metricsUrl), 'process_cpu_seconds_total');
        const redisBefore = await redisCpuSeconds(ctx.redis);
        await sleep(seconds * 1000);
        const after = sumSamples(await scrape(daemon.metricsUrl), 'process_cpu_seconds_total');
        const redisAfter = await redisCpuSeconds(ctx.redis);
        const redisPart = Math.max(0, redisAfter - redisBefore - redisIdle);
        system = (after - before + redisPart) / seconds;
        parts.push(
          `round ${r + 1}: daemon process ${round(((after - before) / seconds) * 1000)} ms/s + Redis ${round((redisPart / seconds) * 1000)} ms/s (Redis idle ${round((redisIdle / seconds) * 1000)} ms/s subtracted)`,
        );
      } finally {
        await daemon.stop();
      }
      const worker = new NodeChild('keys-poll', 'bench/workers/keys-poll-worker.ts', {
        env: { REDIS_URL: ctx.servers.redisUrl },
      });
      let baseline: number;
      try {
        await worker.next('ready', 30000);
        const redisBefore = await redisCpuSeconds(ctx.redis);
        await sleep(seconds * 1000);
        worker.send({ type: 'stop' });
        const res = await worker.next<{ cpuSeconds: number; rounds: number }>('result', 60000);
        const redisAfter = await redisCpuSeconds(ctx.redis);
        const redisPart = Math.max(0, redisAfter - redisBefore - redisIdle);
        baseline = (res.cpuSeconds + redisPart) / seconds;
        parts.push(
          `KEYS worker ${round((res.cpuSeconds / seconds) * 1000)} ms/s + Redis ${round((redisPart / seconds) * 1000)} ms/s (${res.rounds} rounds)`,
        );
      } finally {
        await worker.stop();
      }
      log(
        `seed-poll-cost round ${r + 1}: daemon ${round(system * 1000)} ms CPU/s, KEYS poll ${round(baseline * 1000)} ms CPU/s`,
      );
      rounds.push({ value: system, baseline });
    }
    const value = median(rounds.map((x) => x.value));
    const baseline = median(rounds.map((x) => x.baseline));
    const result: BenchResult = {
      id: 'seed-poll-cost',
      unit: 'ms CPU per s (process + Redis)',
      value: round(value * 1000),
      baseline: {
        name: 'guide worker, `KEYS message:*` every second',
        value: round(baseline * 1000),
      },
      ratio: round(value / baseline),
      goal: '≤ 0.01×',
      met: value / baseline <= 0.01,
      rounds: rounds.map((x) => ({
        value: round(x.value * 1000),
        baseline: round(x.baseline * 1000),
      })),
      notes: [
        `${options.pollKeys} cached messages (TTLs of 30–60 min, in the due index's slots), ${seconds} s idle per round measured ${SETTLE_MS / 1000} s after the daemon's start; POLL_INTERVAL_MS 1000`,
        'CPU = the polling process (daemon: process_cpu_seconds_total, which includes its Prometheus default-metrics collection) + Redis used_cpu_user+sys over the window minus Redis idle',
        ...parts,
      ],
    };
    return [result];
  },
};

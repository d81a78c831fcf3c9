import { ObjectId } from 'mongodb';
import { sleep, waitUntil } from '../../src/lifecycle/wait.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import type { BenchResult } from '../lib/bench-result.js';
import { benchMessage, benchUsers } from '../lib/burst-seeder.js';
import { NodeChild } from '../lib/child.js';
import { cpuSecondsBetween, processCpu, type ProcessCpu } from '../lib/process-cpu.js';
import { redisCpuSeconds } from '../lib/redis-cpu.js';
import { resetStores, type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';
import { startDaemon } from '../lib/system-processes.js';

/**
 * How long a fresh daemon runs before its idle cost is measured (quick: 10 s). Start-up does
 * not end with module loading and JIT: fresh daemons also spent 25–50 ms of CPU in one
 * second, once or twice, between 7 and 25 s after their start (sampled from /proc every
 * second; from 30 to 100 s no second took over 15 ms), which is no part of idle polling.
 */
const SETTLE_SECONDS = { full: 30, quick: 10 };
/** Seconds Redis is measured with no client, per round (for its idle rate). */
const IDLE_SECONDS = 10;

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

/** Seconds the guide's `KEYS` worker is measured per round, at least (whole calls only). */
const KEYS_WINDOW_SECONDS = 10;

/** What {@link read} takes: when, and the CPU of the measured process and of Redis. */
interface Reading {
  at: number;
  process: ProcessCpu | undefined;
  redis: ProcessCpu;
}

/**
 * The CPU of process `pid` (if given) and of Redis, now. Redis's is read from /proc too when
 * its pid is known: an INFO would queue behind a running KEYS and cost Redis a command.
 */
async function read(ctx: ScenarioContext, pid?: number): Promise<Reading> {
  const redisPid = ctx.servers.redisPid;
  let redis: ProcessCpu;
  if (redisPid === undefined) {
    const s = await redisCpuSeconds(ctx.redis);
    redis = { threads: s, ticks: s };
  } else {
    redis = processCpu(redisPid);
  }
  return { at: Date.now(), process: pid === undefined ? undefined : processCpu(pid), redis };
}

/** Seconds between two readings, and the CPU seconds the process and Redis used in them. */
function between(a: Reading, b: Reading): { seconds: number; process: number; redis: number } {
  return {
    seconds: (b.at - a.at) / 1000,
    process: a.process && b.process ? cpuSecondsBetween(a.process, b.process) : Number.NaN,
    redis: cpuSecondsBetween(a.redis, b.redis),
  };
}

/** The KEYS calls a keys-poll worker has finished (its 'progress' messages). */
function keysCalls(worker: NodeChild): number {
  return (worker.progress as { rounds?: number } | undefined)?.rounds ?? 0;
}

/**
 * `seed-poll-cost`: CPU per second of an idle daemon (its own process plus what its polling
 * costs Redis) with 1,000,000 cached keys. Baseline: the guide's worker, `KEYS message:*`
 * once a second: the CPU of one call (worker + Redis), as per second. At 1 M keys a call
 * takes about a second or more, so the worker runs them back to back and its CPU per second
 * of wall time is what the host had to spare, not what its design costs. Goal ≤ 0.01×: the
 * rounds' median daemon cost ÷ their median worker cost. Each round measures Redis idle (no
 * client), then a fresh daemon, then the worker, reading CPU times from /proc (INFO cpu for
 * a Redis without a known pid) at the start and end of each window only: nothing is scraped
 * from the daemon inside it, since a scrape makes the daemon collect its metrics.
 */
export const seedPollCost: Scenario = {
  ids: ['seed-poll-cost'],
  async run(ctx) {
    const { options, log } = ctx;
    await resetStores(ctx);
    await seedCached(ctx, options.pollKeys);
    const seconds = options.pollSeconds;
    const keysSeconds = Math.min(seconds, KEYS_WINDOW_SECONDS);
    const idleSeconds = Math.min(seconds, IDLE_SECONDS);
    const settleSeconds = options.quick ? SETTLE_SECONDS.quick : SETTLE_SECONDS.full;
    const rounds: { value: number; baseline: number }[] = [];
    const parts: string[] = [];
    for (let r = 0; r < options.pollRounds; r++) {
      // Redis's own idle work (hz, active expiry sampling of 1M keys with a TTL) is nobody's
      // polling: measured with no client, and subtracted from both. A KEYS the last round's
      // worker sent before it was stopped runs to its end first: the PING waits behind it.
      await waitUntil(
        'Redis to answer a PING',
        async () => (await ctx.redis.ping().catch(() => '')) === 'PONG',
        60000,
      );
      const idleStart = await read(ctx);
      await sleep(idleSeconds * 1000);
      const idle = between(idleStart, await read(ctx));
      const redisIdle = idle.redis / idle.seconds;
      const daemon = await startDaemon(ctx.servers, {});
      let system: number;
      let daemonPart: string;
      try {
        // Past start-up: module loading, JIT and the first major GCs run on other threads
        // for several seconds and are no part of idle polling (measured: 20–70 ms/s at 2–10 s).
        await sleep(settleSeconds * 1000);
        const start = await read(ctx, daemon.child.pid);
        await sleep(seconds * 1000);
        const cpu = between(start, await read(ctx, daemon.child.pid));
        const own = cpu.process / cpu.seconds;
        const redisPart = Math.max(0, cpu.redis / cpu.seconds - redisIdle);
        system = own + redisPart;
        daemonPart = `daemon ${ms(own)} + Redis ${ms(redisPart)} ms/s`;
      } finally {
        await daemon.stop();
      }
      const worker = new NodeChild('keys-poll', 'bench/workers/keys-poll-worker.ts', {
        env: { REDIS_URL: ctx.servers.redisUrl },
      });
      let baseline: number;
      let workerPart: string;
      try {
        await worker.next('ready', 30000);
        // From the end of one call to the end of another: whole calls, the first one (a
        // connection and code not yet warm) left out.
        await waitUntil('the first KEYS call', () => keysCalls(worker) >= 1, 120000, 5);
        const first = keysCalls(worker);
        const start = await read(ctx, worker.pid);
        await sleep(keysSeconds * 1000);
        const last = Math.max(keysCalls(worker) + 1, first + 2);
        await waitUntil(`KEYS call ${last}`, () => keysCalls(worker) >= last, 120000, 5);
        const calls = keysCalls(worker) - first;
        const cpu = between(start, await read(ctx, worker.pid));
        const own = cpu.process / calls;
        const redisPart = Math.max(0, cpu.redis - redisIdle * cpu.seconds) / calls;
        baseline = own + redisPart;
        workerPart =
          `KEYS worker ${ms(own)} + Redis ${ms(redisPart)} ms per call ` +
          `(${calls} calls of ${round(cpu.seconds / calls)} s; ${ms((cpu.process + redisPart * calls) / cpu.seconds)} ms/s of wall time)`;
      } finally {
        await worker.stop();
      }
      log(
        `seed-poll-cost round ${r + 1}: daemon ${ms(system)} ms CPU/s, KEYS once a second ${ms(baseline)} ms CPU/s, ratio ${round(system / baseline)}`,
      );
      parts.push(
        `round ${r + 1}: ${daemonPart}; ${workerPart}; Redis idle ${ms(redisIdle)} ms/s subtracted`,
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
        name: 'guide worker, `KEYS message:*` once a second (CPU of a call)',
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
        `${options.pollKeys} cached messages (TTLs of 30–60 min, in the due index's slots); ${options.pollRounds} rounds, each: Redis alone ${idleSeconds} s, a fresh daemon ${seconds} s from ${settleSeconds} s after its start (POLL_INTERVAL_MS 1000), the KEYS worker over whole calls for ≥ ${keysSeconds} s`,
        "CPU = the process's threads' run time + Redis's above its idle rate, both from /proc before and after the window (nothing scraped from the daemon inside it); the worker's per KEYS call, as per second at the guide's one call a second",
        ...parts,
      ],
    };
    return [result];
  },
};

/** Seconds as ms, 3 significant digits (CPU s per s as ms per s, s per call as ms per call). */
function ms(secondsPerSecond: number): string {
  return String(round(secondsPerSecond * 1000));
}

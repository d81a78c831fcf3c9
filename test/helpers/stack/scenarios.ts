import assert from 'node:assert/strict';
import { sleep } from '../../../src/lifecycle/wait.js';
import { runScenario, type ChaosContext, type ScenarioResult } from './scenario-runner.js';

// The six faults of the reliability suite. Each runs under the steady load of
// runScenario, which checks every acknowledged message in MongoDB afterwards.

/** 1. `kill -9` of one expiry-daemon instance, repeatedly; PM2 restarts it. */
export function daemonKill(ctx: ChaosContext, label: string): Promise<ScenarioResult> {
  return runScenario(ctx, `1 daemon kill -9 ×${ctx.timing.daemonKills} (${label})`, async () => {
    let faultEndedAt = Date.now();
    const restarts: number[] = [];
    for (let i = 0; i < ctx.timing.daemonKills; i++) {
      const { killedAt, backAt } = await ctx.stack.killInstance('expiry-daemon', i);
      restarts.push(backAt - killedAt);
      faultEndedAt = killedAt;
      await sleep(ctx.timing.killIntervalMs);
    }
    return {
      faultEndedAt,
      notes: [`PM2 restarted the daemon in ${Math.max(...restarts)} ms at most`],
    };
  });
}

/** 2. `kill -9` of one API instance; ws clients reconnect, REST clients retry. */
export function apiKill(ctx: ChaosContext, label: string): Promise<ScenarioResult> {
  return runScenario(ctx, `2 api kill -9 ×${ctx.timing.apiKills} (${label})`, async () => {
    let faultEndedAt = Date.now();
    const restarts: number[] = [];
    for (let i = 0; i < ctx.timing.apiKills; i++) {
      const { killedAt, backAt } = await ctx.stack.killInstance('api', i);
      restarts.push(backAt - killedAt);
      faultEndedAt = killedAt;
      await sleep(ctx.timing.killIntervalMs);
    }
    return {
      faultEndedAt,
      notes: [`PM2 restarted the instance in ${Math.max(...restarts)} ms at most`],
    };
  });
}

/**
 * 3. `CLIENT KILL TYPE pubsub` (the daemons' keyevent subscriptions and the API's event
 * bus), then a 2 s network cut between the daemons and Redis.
 */
export function redisNetwork(ctx: ChaosContext, label: string): Promise<ScenarioResult> {
  return runScenario(ctx, `3 pubsub kill + 2 s daemon↔Redis cut (${label})`, async () => {
    const redis = ctx.stack.inspectRedis!;
    const killed = await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await sleep(500);
    const proxy = ctx.stack.proxy!;
    const dropped = proxy.connections;
    await proxy.cut(2000);
    return {
      faultEndedAt: Date.now(),
      notes: [
        `${String(killed)} pubsub clients killed`,
        `${dropped} daemon connections cut, ${proxy.refused} refused during the cut`,
      ],
    };
  });
}

/**
 * 4. Redis crashes (`SIGKILL`) and is restarted from its AOF. In write-through mode no
 * acknowledged message may be lost; in write-behind mode the loss is measured (what the
 * AOF had not written yet), with the stack's `appendfsync` setting.
 */
export function redisRestart(ctx: ChaosContext, label: string): Promise<ScenarioResult> {
  const measured = ctx.stack.options.persistenceMode === 'write-behind';
  return runScenario(
    ctx,
    `4 Redis crash + restart (${label})`,
    async () => {
      await ctx.stack.crashRedis();
      await sleep(ctx.timing.redisDownMs);
      await ctx.stack.restartRedis();
      return { faultEndedAt: Date.now(), notes: [`Redis down ${ctx.timing.redisDownMs} ms`] };
    },
    { lossIsMeasured: measured },
  );
}

/**
 * 5. The MongoDB-protocol server is stopped for `mongoOutageMs`: write-through sends are
 * answered 202 (`persisted: false`) and persisted later by the daemons.
 */
export async function mongoOutage(ctx: ChaosContext, label: string): Promise<ScenarioResult> {
  const seconds = Math.round(ctx.timing.mongoOutageMs / 1000);
  const outage = { from: 0, to: 0 };
  let accepted = 0;
  const result = await runScenario(
    ctx,
    `5 MongoDB down ${seconds} s (${label})`,
    async () => {
      await ctx.stack.stopMongo();
      outage.from = Date.now();
      await sleep(ctx.timing.mongoOutageMs);
      await ctx.stack.startMongo();
      outage.to = Date.now();
      return { faultEndedAt: outage.to };
    },
    {
      extraNotes: (stats) => {
        const during = stats.acks.filter(
          (a) => a.attemptStartedAt >= outage.from && a.ackedAt <= outage.to,
        );
        accepted = during.filter((a) => !a.persisted).length;
        return [`${accepted} of ${during.length} acks during the outage were 202 persisted:false`];
      },
    },
  );
  assert.ok(accepted > 0, 'no send was accepted with 202 while MongoDB was down');
  return result;
}

/**
 * 6. Memory pressure: `maxmemory` just above what Redis uses, under a load of large
 * messages, so that `volatile-lru` evicts. Cache entries may go; the due index and the
 * shadows (no TTL) never do, so nothing acknowledged is lost.
 */
export async function memoryPressure(ctx: ChaosContext, label: string): Promise<ScenarioResult> {
  const redis = ctx.stack.inspectRedis!;
  const evictedBefore = await evictedKeys(redis);
  let limit = 0;
  let evicted = 0;
  const result = await runScenario(
    ctx,
    `6 Redis maxmemory pressure (${label})`,
    async () => {
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
      limit = used + 2 * 1024 * 1024;
      await redis.configSet('maxmemory', String(limit));
      try {
        await sleep(ctx.timing.pressureMs);
        // A slow host's load may not fill the margin: volatile filler keys (outside the
        // application's keys) top it up until Redis evicts, so the pressure always happens.
        const filler = 'f'.repeat(FILLER_BYTES);
        for (let i = 0; i < MAX_FILLERS && (await evictedKeys(redis)) === evictedBefore; i++) {
          await redis.sendCommand(['SET', `chaos:filler:${i}`, filler, 'EX', '30']);
        }
      } finally {
        await redis.configSet('maxmemory', '0');
      }
      return { faultEndedAt: Date.now() };
    },
    {
      contentBytes: 4000,
      extraNotes: async () => {
        evicted = (await evictedKeys(redis)) - evictedBefore;
        return [`maxmemory ${Math.round(limit / 1024)} KiB, ${evicted} keys evicted`];
      },
    },
  );
  assert.ok(evicted > 0, 'no key was evicted: the pressure did not happen');
  return result;
}

const FILLER_BYTES = 64 * 1024;
/** 16 MiB of fillers at most: far beyond the 2 MiB margin. */
const MAX_FILLERS = 256;

async function evictedKeys(redis: NonNullable<ChaosContext['stack']['inspectRedis']>) {
  return Number(/evicted_keys:(\d+)/.exec(await redis.info('stats'))?.[1] ?? 0);
}

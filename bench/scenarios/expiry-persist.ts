import { sleep } from '../../src/lifecycle/wait.js';
import { KeySpace } from '../../src/redis/key-space.js';
import type { BenchResult } from '../lib/bench-result.js';
import { seedBurst } from '../lib/burst-seeder.js';
import { NodeChild } from '../lib/child.js';
import { waitExpiryDrained } from '../lib/expiry-progress.js';
import { resetStores, type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';
import { startDaemon } from '../lib/system-processes.js';
import { MessageStore } from '../../src/messages/message-store.js';
import type { Message } from '../../src/messages/message.js';

/** The daemon's default EXPIRY_BATCH_SIZE, and the baseline's batch size. */
const BATCH = 500;

/**
 * `expiry-persist`: write-behind mode, N message shadows falling due at once, persisted to
 * MongoDB by one daemon; docs/s from the deadline until all are acked (and counted in
 * MongoDB). Baseline: one process inserting the same documents with `insertMany` in
 * batches of the same size into an empty collection. Goal ≥ 0.8×.
 */
export const expiryPersist: Scenario = {
  ids: ['expiry-persist'],
  async run(ctx) {
    const { options, log } = ctx;
    const n = options.persistCount;
    const rounds: { value: number; baseline: number }[] = [];
    for (let r = 0; r < options.heavyRounds; r++) {
      await resetStores(ctx);
      const { rate, messages } = await systemRound(ctx, n);
      await ctx.mongo.db('bench').dropDatabase();
      const baseline = await baselineRound(ctx, messages);
      log(
        `expiry-persist round ${r + 1}: system ${round(rate)} docs/s, insertMany ${round(baseline)} docs/s`,
      );
      rounds.push({ value: rate, baseline });
    }
    const value = median(rounds.map((x) => x.value));
    const baseline = median(rounds.map((x) => x.baseline));
    const result: BenchResult = {
      id: 'expiry-persist',
      unit: 'docs/s',
      value: round(value),
      baseline: { name: `bare insertMany, batches of ${BATCH}`, value: round(baseline) },
      ratio: round(value / baseline),
      goal: '≥ 0.8× insertMany',
      met: value / baseline >= 0.8,
      rounds: rounds.map((x) => ({ value: round(x.value), baseline: round(x.baseline) })),
      notes: [
        `${n} write-behind expirations due at once, 1 daemon (EXPIRY_BATCH_SIZE ${BATCH}); MongoDB = ${ctx.servers.mongoKind}`,
      ],
    };
    return [result];
  },
};

async function systemRound(
  ctx: ScenarioContext,
  n: number,
): Promise<{ rate: number; messages: Message[] }> {
  const daemon = await startDaemon(ctx.servers, {
    PERSISTENCE_MODE: 'write-behind',
    EXPIRY_BATCH_SIZE: String(BATCH),
  });
  try {
    // Generous: FerretDB shares the 2 cores; an overrun is detected below.
    const deadline = Date.now() + 3000 + n * 0.2;
    const messages = await seedBurst(ctx.redis, KeySpace.single(), {
      count: n,
      deadlineMs: deadline,
      shadow: true,
    });
    if (Date.now() >= deadline) throw new Error('seeding overran the burst deadline');
    await sleep(Math.max(0, deadline - Date.now()));
    const done = await waitExpiryDrained(ctx.redis, 600000);
    const stored = await MessageStore.fromDb(ctx.mongo.db('bench')).collection.countDocuments();
    if (stored !== n) throw new Error(`MongoDB holds ${stored} of ${n} messages after the run`);
    return { rate: n / ((done - deadline) / 1000), messages };
  } finally {
    await daemon.stop();
  }
}

async function baselineRound(ctx: ScenarioContext, messages: Message[]): Promise<number> {
  const child = new NodeChild('insert-many', 'bench/workers/insert-many.ts', {
    env: {
      MONGODB_URI: ctx.servers.mongoUri,
      MONGODB_DB: 'bench',
      COLLECTION: 'baseline_messages',
      BATCH: String(BATCH),
    },
  });
  await child.next('ready', 30000);
  child.send({ type: 'messages', messages });
  const { docsPerSecond } = await child.next<{ docsPerSecond: number }>('result', 600000);
  await child.waitExit(10000);
  return docsPerSecond;
}

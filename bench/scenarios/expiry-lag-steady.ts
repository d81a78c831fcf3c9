import type { BenchResult } from '../lib/bench-result.js';
import { bullmqLagRun, systemLagRun, type LagRun } from '../lib/lag-runs.js';
import { resetStores, type Scenario } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';
import { startDaemon, type DaemonProcess } from '../lib/system-processes.js';

const INSTANCES = 2;
const BULLMQ_CONCURRENCY = 100;

/**
 * `expiry-lag-steady`: expirations at a steady rate (10,000/s for 30 s in a full run),
 * lag = processed − deadline, p50/p99. Baseline: BullMQ delayed jobs at the same rate.
 * Goal: p99 ≤ 100 ms and ≤ 0.25× BullMQ's p99.
 */
export const expiryLagSteady: Scenario = {
  ids: ['expiry-lag-steady'],
  async run(ctx) {
    const { options, log } = ctx;
    await resetStores(ctx);
    const runs: { system: LagRun; bull: LagRun }[] = [];
    const daemons: DaemonProcess[] = [];
    try {
      for (let i = 0; i < INSTANCES; i++) daemons.push(await startDaemon(ctx.servers, {}));
      for (let r = 0; r < options.lagRounds; r++) {
        const system = await systemLagRun(ctx, daemons);
        const bull = await bullmqLagRun(ctx, `steady${r}`, INSTANCES, BULLMQ_CONCURRENCY);
        log(
          `expiry-lag-steady round ${r + 1}: system p50 ${round(system.p50)} p99 ${round(system.p99)} ms ` +
            `(${system.processed}/${system.created}); BullMQ p50 ${round(bull.p50)} p99 ${round(bull.p99)} ms (${bull.processed}/${bull.created})`,
        );
        runs.push({ system, bull });
      }
    } finally {
      await Promise.all(daemons.map((d) => d.stop()));
    }
    const p99 = median(runs.map((x) => x.system.p99));
    const bullP99 = median(runs.map((x) => x.bull.p99));
    const ratio = p99 / bullP99;
    const within = median(runs.map((x) => x.system.within100));
    const result: BenchResult = {
      id: 'expiry-lag-steady',
      unit: 'ms lag p99',
      value: round(p99),
      baseline: { name: 'BullMQ 6 delayed jobs, p99', value: round(bullP99) },
      ratio: round(ratio),
      goal: 'p99 ≤ 100 ms and ≤ 0.25× BullMQ',
      met: within >= 0.99 && ratio <= 0.25,
      p50: round(median(runs.map((x) => x.system.p50))),
      p99: round(p99),
      baselineP50: round(median(runs.map((x) => x.bull.p50))),
      baselineP99: round(bullP99),
      rounds: runs.map((x) => ({ value: round(x.system.p99), baseline: round(x.bull.p99) })),
      notes: [
        `${options.lagRate}/s for ${options.lagSeconds} s, ${options.lagRounds} round(s); ${INSTANCES} daemons / ${INSTANCES} BullMQ workers (concurrency ${BULLMQ_CONCURRENCY})`,
        `system lag from the daemons' expiration_lag_seconds histogram (interpolated inside its buckets; ${round(within * 100, 4)}% within 100 ms); BullMQ lag exact per job`,
        `processed ${runs.map((x) => `${x.system.processed}/${x.system.created}`).join(', ')}`,
      ],
    };
    return [result];
  },
};

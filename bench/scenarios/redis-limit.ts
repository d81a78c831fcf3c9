import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { BenchResult } from '../lib/bench-result.js';
import { resetStores, type Scenario } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';

const run = promisify(execFile);

/**
 * `redis-limit`: `redis-benchmark -t set -P 16` on the bench's Redis, for scale: what the
 * server itself can do on this machine at the time, next to the figures above.
 */
export const redisLimit: Scenario = {
  ids: ['redis-limit'],
  async run(ctx) {
    const { options } = ctx;
    await resetStores(ctx);
    const n = options.quick ? 200000 : 1000000;
    const values: number[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const { stdout } = await run(
        'redis-benchmark',
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(ctx.servers.redisPort),
          '-t',
          'set',
          '-P',
          '16',
          '-n',
          String(n),
          '-q',
        ],
        { timeout: 120000 },
      );
      // -q prints e.g. "SET: 512345.67 requests per second, p50=0.711 msec"
      const rps = Number(
        /SET:\s*([\d.]+) requests per second/.exec(stdout.replace(/\r/g, '\n'))?.[1],
      );
      if (!Number.isFinite(rps)) throw new Error(`cannot read redis-benchmark output: ${stdout}`);
      values.push(rps);
    }
    await resetStores(ctx);
    const value = round(median(values));
    const result: BenchResult = {
      id: 'redis-limit',
      unit: 'SET/s',
      value,
      baseline: { name: 'redis-benchmark -t set -P 16', value },
      ratio: null,
      goal: 'reported, for scale',
      met: null,
      rounds: values.map((v) => ({ value: round(v), baseline: round(v) })),
      notes: [
        `${n} requests, 50 clients, pipeline 16; rounds ${values.map((v) => round(v)).join(', ')}`,
      ],
    };
    return [result];
  },
};

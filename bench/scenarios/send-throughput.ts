import type { BenchResult } from '../lib/bench-result.js';
import { sendRequests, signupUsers } from '../lib/api-users.js';
import { startBareKoa } from '../lib/bare-koa.js';
import { httpLoad, type LoadResult } from '../lib/http-load.js';
import { resetStores, type Scenario } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';
import { startApi, type ApiProcess } from '../lib/system-processes.js';

/** Senders the load rotates over (each sends to the next). */
const USERS = 20;

/**
 * `send-write-through` and `send-write-behind`: `POST /api/messages/send` req/s with 50
 * connections against one API process in each mode. Baselines: a bare Koa route doing one
 * `insertOne` + one `SET EX` on the same servers, and (write-behind) the write-through
 * figure of the same round. No daemon runs: this measures the API alone.
 */
export const sendThroughput: Scenario = {
  ids: ['send-write-through', 'send-write-behind'],
  async run(ctx) {
    const { options, log } = ctx;
    await resetStores(ctx);
    const apis: ApiProcess[] = [];
    const bare = await startBareKoa(ctx.servers);
    const rounds: { wt: LoadResult; bare: LoadResult; wb: LoadResult }[] = [];
    try {
      const wtApi = await startApi(ctx.servers, { PERSISTENCE_MODE: 'write-through' });
      apis.push(wtApi);
      const wbApi = await startApi(ctx.servers, { PERSISTENCE_MODE: 'write-behind' });
      apis.push(wbApi);
      const users = await signupUsers(wtApi.url, USERS);
      const requests = sendRequests(users);
      const bareRequests = requests.map((r) => ({ ...r, path: '/send' }));
      for (let r = 0; r < options.rounds; r++) {
        const wt = await httpLoad(ctx, wtApi.url, requests);
        const b = await httpLoad(ctx, bare.url, bareRequests);
        const wb = await httpLoad(ctx, wbApi.url, requests);
        log(
          `send round ${r + 1}: write-through ${round(wt.requestsPerSecond)}/s, bare Koa ${round(b.requestsPerSecond)}/s, write-behind ${round(wb.requestsPerSecond)}/s`,
        );
        rounds.push({ wt, bare: b, wb });
      }
    } finally {
      await bare.stop();
      await Promise.all(apis.map((a) => a.stop()));
    }
    const m = (f: (x: (typeof rounds)[number]) => number) => round(median(rounds.map(f)));
    const wt = m((x) => x.wt.requestsPerSecond);
    const bareRps = m((x) => x.bare.requestsPerSecond);
    const wb = m((x) => x.wb.requestsPerSecond);
    const note = `${options.connections} connections, ${options.httpSeconds} s per run after a 1 s warm-up, ${options.rounds} rounds; ${USERS} users sending in a ring; no daemon running`;
    const writeThrough: BenchResult = {
      id: 'send-write-through',
      unit: 'req/s',
      value: wt,
      baseline: { name: 'bare Koa: insertOne + SET EX', value: bareRps },
      ratio: round(wt / bareRps),
      goal: '≥ 0.85× bare Koa',
      met: wt / bareRps >= 0.85,
      p50: m((x) => x.wt.p50),
      p99: m((x) => x.wt.p99),
      baselineP50: m((x) => x.bare.p50),
      baselineP99: m((x) => x.bare.p99),
      rounds: rounds.map((x) => ({
        value: round(x.wt.requestsPerSecond),
        baseline: round(x.bare.requestsPerSecond),
      })),
      notes: [note],
    };
    const writeBehind: BenchResult = {
      id: 'send-write-behind',
      unit: 'req/s',
      value: wb,
      baseline: { name: 'send-write-through', value: wt },
      ratio: round(wb / wt),
      goal: '≥ 3× send-write-through',
      met: wb / wt >= 3,
      p50: m((x) => x.wb.p50),
      p99: m((x) => x.wb.p99),
      baselineP50: m((x) => x.wt.p50),
      baselineP99: m((x) => x.wt.p99),
      rounds: rounds.map((x) => ({
        value: round(x.wb.requestsPerSecond),
        baseline: round(x.wt.requestsPerSecond),
      })),
      notes: [note],
    };
    return [writeThrough, writeBehind];
  },
};

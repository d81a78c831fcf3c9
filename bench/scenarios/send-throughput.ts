import { httpThroughputResult } from '../lib/bench-result.js';
import { sendRequests, signupUsers } from '../lib/api-users.js';
import { startBareKoa } from '../lib/bare-koa.js';
import { cpuPerRequestNote, httpLoad, type MeasuredLoad } from '../lib/http-load.js';
import { resetStores, type Scenario } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';
import { startApi, type ApiProcess } from '../lib/system-processes.js';

/** Senders the load rotates over (each sends to the next). */
const USERS = 20;

/**
 * `send-write-through` and `send-write-behind`: `POST /api/messages/send` req/s with 50
 * connections against one API process in each mode. Baselines, bare Koa routes in their own
 * process on the same servers: one `insertOne` + one `SET EX` (write-through), and the least
 * a write-behind send can do — JSON body, the bearer JWT verified (cached per token), one
 * `SET EX` + one `PUBLISH` in one pipeline (write-behind). Each system run sits next to its
 * baseline's in every round. No daemon runs: this measures the API alone.
 */
export const sendThroughput: Scenario = {
  ids: ['send-write-through', 'send-write-behind'],
  async run(ctx) {
    const { options, log } = ctx;
    await resetStores(ctx);
    const apis: ApiProcess[] = [];
    const bare = await startBareKoa(ctx.servers);
    const rounds: {
      wt: MeasuredLoad;
      bare: MeasuredLoad;
      bareBehind: MeasuredLoad;
      wb: MeasuredLoad;
    }[] = [];
    const redis = [ctx.servers.redisPid];
    const mongo = [ctx.servers.mongoPid];
    try {
      const wtApi = await startApi(ctx.servers, { PERSISTENCE_MODE: 'write-through' });
      apis.push(wtApi);
      const wbApi = await startApi(ctx.servers, { PERSISTENCE_MODE: 'write-behind' });
      apis.push(wbApi);
      const users = await signupUsers(wtApi.url, USERS);
      const requests = sendRequests(users);
      const bareRequests = requests.map((r) => ({ ...r, path: '/send' }));
      const bareBehindRequests = requests.map((r) => ({ ...r, path: '/send-behind' }));
      for (let r = 0; r < options.rounds; r++) {
        const wt = await httpLoad(ctx, wtApi.url, requests, {
          cpuOf: { API: [wtApi.child.pid], Redis: redis, 'MongoDB server': mongo },
        });
        const b = await httpLoad(ctx, bare.url, bareRequests, {
          cpuOf: { 'bare Koa': [bare.pid], Redis: redis, 'MongoDB server': mongo },
        });
        const bb = await httpLoad(ctx, bare.url, bareBehindRequests, {
          cpuOf: { 'bare Koa': [bare.pid], Redis: redis },
        });
        const wb = await httpLoad(ctx, wbApi.url, requests, {
          cpuOf: { API: [wbApi.child.pid], Redis: redis },
        });
        log(
          `send round ${r + 1}: write-through ${round(wt.requestsPerSecond)}/s, bare Koa insertOne ${round(b.requestsPerSecond)}/s, ` +
            `bare Koa JWT + SET + PUBLISH ${round(bb.requestsPerSecond)}/s, write-behind ${round(wb.requestsPerSecond)}/s`,
        );
        rounds.push({ wt, bare: b, bareBehind: bb, wb });
      }
    } finally {
      await bare.stop();
      await Promise.all(apis.map((a) => a.stop()));
    }
    const note = `${options.connections} connections, ${options.httpSeconds} s per run after a 1 s warm-up, ${options.rounds} rounds; ${USERS} users sending in a ring; no daemon running`;
    const writeThrough = httpThroughputResult({
      id: 'send-write-through',
      baselineName: 'bare Koa: insertOne + SET EX',
      goal: '≥ 0.85× bare Koa',
      met: (ratio) => ratio >= 0.85,
      runs: rounds.map((x) => ({ system: x.wt, baseline: x.bare })),
      notes: [
        note,
        cpuPerRequestNote([
          { label: 'write-through', runs: rounds.map((x) => x.wt) },
          { label: 'baseline', runs: rounds.map((x) => x.bare) },
        ]),
      ],
    });
    const behindOverThrough = median(
      rounds.map((x) => x.wb.requestsPerSecond / x.wt.requestsPerSecond),
    );
    const writeBehind = httpThroughputResult({
      id: 'send-write-behind',
      baselineName: 'bare Koa: JWT (cached) + SET EX + PUBLISH, one pipeline',
      goal: '≥ 0.8× bare Koa',
      met: (ratio) => ratio >= 0.8,
      runs: rounds.map((x) => ({ system: x.wb, baseline: x.bareBehind })),
      notes: [
        note,
        `baseline: bare Koa route, @koa/bodyparser, jose HS256 verify cached per token, SET EX + PUBLISH by execAsPipeline; write-behind ÷ write-through = ${round(behindOverThrough)}× (median of rounds)`,
        cpuPerRequestNote([
          { label: 'write-behind', runs: rounds.map((x) => x.wb) },
          { label: 'baseline', runs: rounds.map((x) => x.bareBehind) },
        ]),
      ],
    });
    return [writeThrough, writeBehind];
  },
};

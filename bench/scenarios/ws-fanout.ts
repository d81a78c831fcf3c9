import { sleep } from '../../src/lifecycle/wait.js';
import { freePort } from '../../src/local/port-probe.js';
import { sendRequests, signupUsers, type ApiUser } from '../lib/api-users.js';
import type { BenchResult } from '../lib/bench-result.js';
import { NodeChild } from '../lib/child.js';
import { httpLoad } from '../lib/http-load.js';
import { resetStores, type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';
import { startApi } from '../lib/system-processes.js';

/** Sockets per user (several tabs/devices): each message reaches 2 × this many sockets. */
const SOCKETS_PER_USER = 4;

/**
 * Opens the sockets in a client-pool process, drives sends with autocannon for the run, and
 * returns `message:new` frames received per second.
 */
async function deliveries(
  ctx: ScenarioContext,
  urls: string[],
  sendUrl: string,
  requests: Parameters<typeof httpLoad>[2],
): Promise<number> {
  const pool = new NodeChild('ws-client-pool', 'bench/workers/ws-client-pool.ts');
  try {
    await pool.next('ready', 30000);
    pool.send({ urls });
    await pool.next('ready', 120000);
    await sleep(500);
    const before = Number(pool.progress ?? 0);
    const started = Date.now();
    await httpLoad(ctx, sendUrl, requests, { warmupSeconds: 0 });
    await sleep(300); // frames of the last sends still in flight
    const seconds = (Date.now() - started) / 1000;
    pool.send({ type: 'stop' });
    const { received } = await pool.next<{ received: number }>('result', 30000);
    return (received - before) / seconds;
  } finally {
    await pool.stop();
  }
}

/**
 * `ws-fanout`: N sockets (4 per user) connected to one API process (write-behind, so the
 * send itself is cheap and the fan-out dominates); autocannon sends messages round a ring
 * of users; each reaches the 4 sockets of the receiver and the 4 of the sender through the
 * Redis event bus. Deliveries/s = `message:new` frames received. Baseline: a bare `ws`
 * server writing the same frames to the same sockets on a bare HTTP POST. Goal ≥ 0.8×.
 */
export const wsFanout: Scenario = {
  ids: ['ws-fanout'],
  async run(ctx) {
    const { options, log } = ctx;
    await resetStores(ctx);
    const nUsers = Math.ceil(options.sockets / SOCKETS_PER_USER);
    const api = await startApi(ctx.servers, { PERSISTENCE_MODE: 'write-behind' });
    const barePort = await freePort();
    const bare = new NodeChild('bare-ws', 'bench/workers/bare-ws-server.ts', {
      env: { PORT: String(barePort) },
    });
    const rounds: { value: number; baseline: number }[] = [];
    try {
      await bare.next('ready', 30000);
      const users: ApiUser[] = await signupUsers(api.url, nUsers);
      const wsBase = api.url.replace('http', 'ws');
      const apiUrls = users.flatMap((u) =>
        Array.from({ length: SOCKETS_PER_USER }, () => `${wsBase}/ws?token=${u.token}`),
      );
      const bareUrls = users.flatMap((u) =>
        Array.from(
          { length: SOCKETS_PER_USER },
          () => `ws://127.0.0.1:${barePort}/ws?user=${u.id}`,
        ),
      );
      const requests = sendRequests(users);
      const bareRequests = users.map((u, i) => ({
        method: 'POST' as const,
        path: '/send',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          senderId: u.id,
          receiverId: users[(i + 1) % users.length]?.id,
          content: 'benchmark message: hello, how are you today?',
        }),
      }));
      for (let r = 0; r < options.rounds; r++) {
        const system = await deliveries(ctx, apiUrls, api.url, requests);
        const baseline = await deliveries(
          ctx,
          bareUrls,
          `http://127.0.0.1:${barePort}`,
          bareRequests,
        );
        log(
          `ws-fanout round ${r + 1}: API ${round(system)} deliveries/s, bare ws ${round(baseline)}/s`,
        );
        rounds.push({ value: system, baseline });
      }
    } finally {
      await bare.stop();
      await api.stop();
    }
    const value = median(rounds.map((x) => x.value));
    const baseline = median(rounds.map((x) => x.baseline));
    const result: BenchResult = {
      id: 'ws-fanout',
      unit: 'deliveries/s',
      value: round(value),
      baseline: { name: 'bare ws server, same frames', value: round(baseline) },
      ratio: round(value / baseline),
      goal: '≥ 0.8× bare ws',
      met: value / baseline >= 0.8,
      rounds: rounds.map((x) => ({ value: round(x.value), baseline: round(x.baseline) })),
      notes: [
        `${nUsers * SOCKETS_PER_USER} sockets (${SOCKETS_PER_USER} per user, ${nUsers} users), one API process in write-behind mode; sends by autocannon (${options.connections} connections, ${options.httpSeconds} s); every message goes to ${2 * SOCKETS_PER_USER} sockets`,
      ],
    };
    return [result];
  },
};

import { redisClientFor } from '../lib/bench-redis.js';
import { httpThroughputResult, type BenchResult } from '../lib/bench-result.js';
import { signupUsers, type ApiUser } from '../lib/api-users.js';
import { startBareKoa } from '../lib/bare-koa.js';
import { httpLoad, type LoadRequest, type LoadResult } from '../lib/http-load.js';
import { resetStores, type Scenario } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';
import { startApi } from '../lib/system-processes.js';

const USERS = 20;
/** Messages per conversation (a ring: user i → user i+1). */
const PER_CONVERSATION = 20;

async function call(url: string, path: string, user: ApiUser, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${text}`);
  return { cache: res.headers.get('x-cache'), text };
}

/**
 * `read-hit` and `read-miss`: `GET /api/messages/:receiverId` req/s, 50 connections, over
 * 20 conversations of 20 messages. Hit: served from the conversation cache (CACHE_TTL 1 h,
 * filled before the run, X-Cache: HIT checked). Miss: the same pages from an API whose
 * cache cannot hold them (X-Cache: MISS checked): MongoDB read + cache refill each time.
 * Baseline of the hit: a bare Koa route doing one Redis `GET` of the same JSON.
 */
export const readThroughput: Scenario = {
  ids: ['read-hit', 'read-miss'],
  async run(ctx) {
    const { options, log } = ctx;
    await resetStores(ctx);
    const api = await startApi(ctx.servers, { CACHE_TTL_SECONDS: '3600' });
    // Misses: a second API whose conversation cache keeps 1 message, so a page of 50 is
    // never complete in the cache and every read takes the real miss path (MongoDB read +
    // refill). Its own key prefix keeps it off the first API's cache entries.
    const missApi = await startApi(ctx.servers, {
      CACHE_TTL_SECONDS: '3600',
      CONVERSATION_CACHE_SIZE: '1',
      REDIS_KEY_PREFIX: 'miss:',
    });
    const bare = await startBareKoa(ctx.servers);
    const rounds: { hit: LoadResult; bare: LoadResult; miss: LoadResult }[] = [];
    try {
      const users = await signupUsers(api.url, USERS);
      const peer = (i: number) => users[(i + 1) % USERS] as ApiUser;
      for (let k = 0; k < PER_CONVERSATION; k++) {
        await Promise.all(
          users.map((u, i) =>
            call(api.url, '/api/messages/send', u, {
              receiverId: peer(i).id,
              content: `message ${k}: hello, how are you today?`,
            }),
          ),
        );
      }
      const hitRequests: LoadRequest[] = [];
      const missRequests: LoadRequest[] = [];
      const bareRequests: LoadRequest[] = [];
      const redis = await redisClientFor(ctx.servers.redisUrl);
      try {
        for (const [i, u] of users.entries()) {
          const path = `/api/messages/${peer(i).id}`;
          await call(api.url, path, u); // fills the conversation cache
          const page = await call(api.url, path, u);
          if (page.cache !== 'HIT')
            throw new Error(`expected X-Cache: HIT after a fill, got ${page.cache}`);
          await call(missApi.url, path, u);
          const miss = await call(missApi.url, path, u);
          if (miss.cache !== 'MISS') throw new Error(`expected X-Cache: MISS, got ${miss.cache}`);
          if (miss.text !== page.text) throw new Error('the miss and hit pages differ');
          const headers = { authorization: `Bearer ${u.token}` };
          hitRequests.push({ method: 'GET', path, headers });
          missRequests.push({ method: 'GET', path, headers });
          await redis.set(`bare:read:${i}`, page.text);
          bareRequests.push({ method: 'GET', path: `/read/${i}` });
        }
      } finally {
        await redis.close();
      }
      for (let r = 0; r < options.rounds; r++) {
        const hit = await httpLoad(ctx, api.url, hitRequests);
        const b = await httpLoad(ctx, bare.url, bareRequests);
        const miss = await httpLoad(ctx, missApi.url, missRequests);
        log(
          `read round ${r + 1}: hit ${round(hit.requestsPerSecond)}/s, bare GET ${round(b.requestsPerSecond)}/s, miss ${round(miss.requestsPerSecond)}/s`,
        );
        rounds.push({ hit, bare: b, miss });
      }
    } finally {
      await bare.stop();
      await api.stop();
      await missApi.stop();
    }
    const m = (f: (x: (typeof rounds)[number]) => number) => round(median(rounds.map(f)));
    const hit = m((x) => x.hit.requestsPerSecond);
    const miss = m((x) => x.miss.requestsPerSecond);
    const note = `${options.connections} connections, ${options.httpSeconds} s per run after a 1 s warm-up, ${options.rounds} rounds; ${USERS} conversations of ${PER_CONVERSATION} messages`;
    const readHit = httpThroughputResult({
      id: 'read-hit',
      baselineName: 'bare Koa: one Redis GET',
      goal: '≥ 0.8× bare GET; and ≥ 4× read-miss',
      met: (ratio) => ratio >= 0.8 && hit / miss >= 4,
      runs: rounds.map((x) => ({ system: x.hit, baseline: x.bare })),
      notes: [note, `read-hit / read-miss = ${round(hit / miss)}×`],
    });
    const readMiss: BenchResult = {
      id: 'read-miss',
      unit: 'req/s',
      value: miss,
      baseline: { name: 'read-hit', value: hit },
      ratio: round(hit / miss),
      goal: 'read-hit ≥ 4× read-miss',
      met: hit / miss >= 4,
      p50: m((x) => x.miss.p50),
      p99: m((x) => x.miss.p99),
      rounds: rounds.map((x) => ({
        value: round(x.miss.requestsPerSecond),
        baseline: round(x.hit.requestsPerSecond),
      })),
      notes: [
        note,
        'ratio here = read-hit ÷ read-miss; misses from a second API with CONVERSATION_CACHE_SIZE=1 (same page, MongoDB read + refill every time)',
      ],
    };
    return [readHit, readMiss];
  },
};

import { conversationId } from '../../src/redis/keys.js';
import { redisClientFor } from '../lib/bench-redis.js';
import { httpThroughputResult } from '../lib/bench-result.js';
import { clientOf, fillRing, signupUsers, type ApiUser } from '../lib/api-users.js';
import { startBareKoa } from '../lib/bare-koa.js';
import { httpLoad, type LoadRequest, type LoadResult } from '../lib/http-load.js';
import { resetStores, type Scenario } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';
import { startApi } from '../lib/system-processes.js';

const USERS = 20;
/** Messages per conversation (a ring: user i → user i+1). */
const PER_CONVERSATION = 20;
/**
 * Messages the miss path reads from MongoDB: the page's default limit (50), as the miss
 * API's cache size (1) is smaller (message-service.ts: `max(limit, conversationSize)`).
 */
const MISS_FIND_LIMIT = 50;

/** The ids of the messages of a `{ messages: [...] }` page, in order, joined. */
function messageIds(page: { messages: { id: string }[] }): string {
  return page.messages.map((x) => x.id).join();
}

/**
 * `read-hit` and `read-miss`: `GET /api/messages/:receiverId` req/s, 50 connections, over
 * 20 conversations of 20 messages. Hit: served from the conversation cache (CACHE_TTL 1 h,
 * filled before the run, X-Cache: HIT checked). Miss: the same pages from an API whose
 * cache cannot hold them (X-Cache: MISS checked): MongoDB read + cache refill each time.
 * Baseline of the hit: a bare Koa route doing one Redis `GET` of the same JSON. Baseline of
 * the miss: a bare Koa route running the page's MongoDB find (MessageStore.findConversation:
 * same filter, sort and limit) on the same server, collection and documents.
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
    const rounds: { hit: LoadResult; bare: LoadResult; miss: LoadResult; find: LoadResult }[] = [];
    try {
      const users = await signupUsers(api.url, USERS);
      const peer = (i: number) => users[(i + 1) % USERS] as ApiUser;
      await fillRing(api.url, users, PER_CONVERSATION);
      const hitRequests: LoadRequest[] = [];
      const missRequests: LoadRequest[] = [];
      const bareRequests: LoadRequest[] = [];
      const findRequests: LoadRequest[] = [];
      const redis = await redisClientFor(ctx.servers.redisUrl);
      try {
        for (const [i, u] of users.entries()) {
          const path = `/api/messages/${peer(i).id}`;
          const hitClient = clientOf(api.url, u);
          await hitClient.conversation(peer(i).id); // fills the conversation cache
          const page = await hitClient.conversation(peer(i).id);
          if (page.cache !== 'HIT')
            throw new Error(`expected X-Cache: HIT after a fill, got ${page.cache}`);
          const missClient = clientOf(missApi.url, u);
          await missClient.conversation(peer(i).id);
          const miss = await missClient.conversation(peer(i).id);
          if (miss.cache !== 'MISS') throw new Error(`expected X-Cache: MISS, got ${miss.cache}`);
          // The API's page, byte for byte: its hand-made JSON is what JSON.stringify makes.
          const text = JSON.stringify({ messages: page.messages });
          if (JSON.stringify({ messages: miss.messages }) !== text) {
            throw new Error('the miss and hit pages differ');
          }
          const headers = { authorization: `Bearer ${u.token}` };
          hitRequests.push({ method: 'GET', path, headers });
          missRequests.push({ method: 'GET', path, headers });
          await redis.set(`bare:read:${i}`, text);
          bareRequests.push({ method: 'GET', path: `/read/${i}` });
          const find = `/find/${conversationId(u.id, peer(i).id)}?limit=${MISS_FIND_LIMIT}`;
          const found = await fetch(`${bare.url}${find}`).then(
            (res) => res.json() as Promise<{ messages: { id: string }[] }>,
          );
          if (messageIds(found) !== messageIds(miss)) {
            throw new Error('the bare find and the miss page hold different messages');
          }
          findRequests.push({ method: 'GET', path: find });
        }
      } finally {
        await redis.close();
      }
      for (let r = 0; r < options.rounds; r++) {
        const hit = await httpLoad(ctx, api.url, hitRequests);
        const b = await httpLoad(ctx, bare.url, bareRequests);
        const miss = await httpLoad(ctx, missApi.url, missRequests);
        const find = await httpLoad(ctx, bare.url, findRequests);
        log(
          `read round ${r + 1}: hit ${round(hit.requestsPerSecond)}/s, bare GET ${round(b.requestsPerSecond)}/s, miss ${round(miss.requestsPerSecond)}/s, bare find ${round(find.requestsPerSecond)}/s`,
        );
        rounds.push({ hit, bare: b, miss, find });
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
      goal: '≥ 0.8× bare GET',
      met: (ratio) => ratio >= 0.8,
      runs: rounds.map((x) => ({ system: x.hit, baseline: x.bare })),
      notes: [note, `read-hit / read-miss = ${round(hit / miss)}×`],
    });
    const readMiss = httpThroughputResult({
      id: 'read-miss',
      baselineName: 'bare Koa: the same MongoDB find',
      goal: '≥ 0.8× bare find',
      met: (ratio) => ratio >= 0.8,
      runs: rounds.map((x) => ({ system: x.miss, baseline: x.find })),
      notes: [
        note,
        `misses from a second API with CONVERSATION_CACHE_SIZE=1 (same page, MongoDB read + refill every time); bare route: MessageStore.findConversation (limit ${MISS_FIND_LIMIT}) on the same collection, answered as JSON`,
      ],
    });
    return [readHit, readMiss];
  },
};

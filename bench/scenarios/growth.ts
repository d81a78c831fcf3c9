import { MessageStore } from '../../src/messages/message-store.js';
import { KeySpace } from '../../src/redis/key-space.js';
import { expectStatus, timedCall } from '../lib/api-calls.js';
import type { BenchResult } from '../lib/bench-result.js';
import { insertUsers } from '../lib/bulk-users.js';
import { NodeChild } from '../lib/child.js';
import { GrowthStore, seededRandom } from '../lib/growth-store.js';
import { fmt } from '../lib/report-table.js';
import { resetStores, type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { percentile, round } from '../lib/stats.js';
import { startApi, type ApiProcess } from '../lib/system-processes.js';
import type { SeedRequest } from '../workers/seed-messages.js';
import { chatDay } from './chat-day.js';

/** Conversations of the store at every size (the issue: 1,000,000 messages in 10,000). */
const CONVERSATIONS = 10_000;
/** The API's default page (DEFAULT_PAGE); a miss reads max(page, CONVERSATION_CACHE_SIZE = 100). */
const PAGE = 50;
/** Messages a page miss reads and caches (CONVERSATION_CACHE_SIZE's default). */
const MISS_READ = 100;
/** Documents per insertMany of the seeding worker. */
const SEED_BATCH = 1000;
/** Requests of each kind that warm a stage up (JIT, connections, SQLite's page cache) first. */
const WARM_UP = 10;
/** Cold reads of the large conversation. */
const BIG_READS = 5;
/** Issue #15: each cold path's p50 at 1M within this many times its p50 at 10k … */
const GROWTH_GOAL = 2;
/** … and at most this many ms. */
const P50_GOAL_MS = 20;

/** Counts of a run. */
interface Sizes {
  small: number;
  large: number;
  /** Timed requests of each kind at each size. */
  samples: number;
  /** Messages of the one large conversation whose cold page is timed apart. */
  big: number;
}

function sizesOf(ctx: ScenarioContext): Sizes {
  return ctx.options.quick
    ? { small: 10_000, large: 100_000, samples: 100, big: 2_000 }
    : { small: 10_000, large: 1_000_000, samples: 300, big: 10_000 };
}

/** The latencies (ms) of one size. */
interface Stage {
  stored: number;
  page: number[];
  get: number[];
  edit: number[];
  del: number[];
}

/**
 * `cold-read-growth`, `get-miss-growth`, `edit-growth` and `chat-day` (issue #15): the cold
 * paths of the running API at 10,000 and at 1,000,000 stored messages (quick: 100,000), both
 * in 10,000 conversations, then a day of chat over the large store before it is dropped.
 * The store is seeded by `insertMany` from a worker (bench/workers/seed-messages.ts), with
 * the API's own index; each timed request is one at a time, from the bench process, and
 * checked (page contents, ids, edited content), and every one is a cache miss (pages:
 * `X-Cache: MISS`; messages: no `message:{id}` entry before the call).
 */
export const growth: Scenario = {
  ids: ['cold-read-growth', 'get-miss-growth', 'edit-growth', 'chat-day'],
  async run(ctx) {
    const { log } = ctx;
    const sizes = sizesOf(ctx);
    await resetStores(ctx);
    const db = ctx.mongo.db('bench');
    let api: ApiProcess | undefined;
    try {
      const apiUsers = await insertUsers(ctx, 2 * CONVERSATIONS);
      const tokens = new Map(apiUsers.map((u) => [u.id, u.token]));
      // The first 10,000 messages fill 100 conversations: a miss reads their 100 at both sizes.
      const head = { messages: sizes.small, conversations: sizes.small / MISS_READ };
      const store = new GrowthStore(
        apiUsers.map((u) => u.id),
        CONVERSATIONS,
        undefined,
        head,
      );
      // Signed-up users are in the API's shared set of known users; bulk-inserted ones are
      // put there too, so that a cold read is the messages' cost, not a first user lookup.
      const space = KeySpace.single();
      for (let i = 0; i < apiUsers.length; i += 1000) {
        const ids = apiUsers.slice(i, i + 1000).map((u) => u.id);
        await ctx.redis.sAdd(space.forUser(ids[0] as string).knownUsers, ids);
      }
      await MessageStore.fromDb(db).ensureIndexes();
      api = await startApi(ctx.servers, {});

      const sampler = new Sampler(store, sizes.samples, head.conversations / 2);
      const seedSmall = await seed(ctx, store, 0, sizes.small);
      const small = await measureStage(ctx, api, store, tokens, sampler, sizes.small);
      const seedLarge = await seed(ctx, store, sizes.small, sizes.large);
      const seedRate = (sizes.large - sizes.small) / seedLarge;
      log(
        `seeded ${fmt(sizes.large)} messages: ${fmt(round(seedRate))} msgs/s (${round(seedSmall + seedLarge)} s)`,
      );
      const large = await measureStage(ctx, api, store, tokens, sampler, sizes.large);
      await api.stop();
      api = undefined;
      const day = await chatDay(ctx, store, tokens, sizes.large);
      const big = await bigConversation(ctx, sizes.big);
      const bigNote = `cold page of one conversation of ${fmt(sizes.big)} messages (seeded after chat-day, cache key deleted before each read): p50 ${round(percentile(big, 50))} / max ${round(Math.max(...big))} ms over ${big.length} reads: what a page costs where a conversation is large (Zipf-sized conversations, which this store does not have)`;

      const common = [
        `through the API process (HTTP, one request at a time from the bench process, keep-alive), ${sizes.samples} cold requests per size after ${WARM_UP} warm-up ones; ${fmt(CONVERSATIONS)} conversations; the first ${fmt(sizes.small)} messages fill ${fmt(head.conversations)} of them (${MISS_READ} each), the rest go round the others (${fmt(round((sizes.large - sizes.small) / (CONVERSATIONS - head.conversations)))} each at ${fmt(sizes.large)}); index conversation_createdAt (MessageStore.ensureIndexes)`,
        `store seeded by insertMany (batches of ${SEED_BATCH}, from a worker): ${fmt(round(seedRate))} msgs/s, ${fmt(sizes.large)} in ${round(seedSmall + seedLarge)} s`,
        ...(ctx.options.quick ? [`QUICK: ${fmt(sizes.large)} messages instead of 1,000,000`] : []),
      ];
      const rows = [
        growthRow('cold-read-growth', sizes, small.page, large.page, [
          `GET /api/messages/:otherId (page of ${PAGE}; the miss reads the latest 100 = CONVERSATION_CACHE_SIZE and fills the cache), X-Cache: MISS checked, ids checked against the seed; ${sizes.samples} reads of ${fmt(head.conversations / 2)} of the first ${fmt(head.conversations)} conversations at both sizes, each read's cache entry deleted first: the same ${MISS_READ} messages read from a store ${round(sizes.large / sizes.small)} times larger`,
          bigNote,
          ...common,
        ]),
        growthRow('get-miss-growth', sizes, small.get, large.get, [
          'GET /api/messages/item/:id of a message never read (no message:{id} entry, checked): a cache miss, two finds by _id (the re-cache guard) and the refill',
          ...common,
        ]),
        growthRow('edit-growth', sizes, small.edit, large.edit, [
          `PATCH /api/messages/item/:id by its sender, of a message never cached (checked): find by _id + findOneAndUpdate by _id (upsert) + cache drop, edited content checked`,
          `delete (DELETE /api/messages/item/:id, never-cached messages): p50 / p99 ${latencies(small.del)} at ${fmt(sizes.small)} → ${latencies(large.del)} at ${fmt(sizes.large)} (${round(percentile(large.del, 50) / percentile(small.del, 50))}×)`,
          ...common,
        ]),
      ];
      log(rows.map((r) => `${r.id}: p50 ${r.baselineP50} → ${r.p50} ms (${r.ratio}×)`).join('; '));
      return [...rows, { ...day, notes: [...day.notes, bigNote] }];
    } finally {
      await api?.stop();
      await db.dropDatabase();
      await ctx.redis.flushAll();
    }
  },
};

/** `p50 / p99 ms` of some latencies. */
function latencies(ms: number[]): string {
  return `${round(percentile(ms, 50))} / ${round(percentile(ms, 99))} ms`;
}

function growthRow(
  id: string,
  sizes: Sizes,
  small: number[],
  large: number[],
  notes: string[],
): BenchResult {
  const p50 = round(percentile(large, 50));
  const base = round(percentile(small, 50));
  const ratio = round(percentile(large, 50) / percentile(small, 50));
  return {
    id,
    unit: `ms p50 at ${fmt(sizes.large)}`,
    value: p50,
    baseline: { name: `p50 at ${fmt(sizes.small)}`, value: base },
    ratio,
    goal: `≤ ${GROWTH_GOAL}× p50 at 10k, and p50 ≤ ${P50_GOAL_MS} ms at 1M`,
    met: ratio <= GROWTH_GOAL && p50 <= P50_GOAL_MS,
    p50,
    p99: round(percentile(large, 99)),
    baselineP50: base,
    baselineP99: round(percentile(small, 99)),
    rounds: [{ value: p50, baseline: base }],
    notes,
  };
}

/**
 * What each size samples, alike at both sizes: pages of the first `pagePool` conversations
 * (of the store's head: the same 100 messages at both sizes), each read several times, its
 * cache entry deleted before each read; messages drawn uniformly from the whole store, each
 * used once, none of a conversation whose page is read (so that deletes leave the pages'
 * expected contents alone).
 */
class Sampler {
  readonly pageConversations: number[] = [];
  private readonly usedMessages = new Set<number>();
  private readonly random = seededRandom(15);

  constructor(
    private readonly store: GrowthStore,
    samples: number,
    private readonly pagePool: number,
  ) {
    while (this.pageConversations.length < samples)
      this.pageConversations.push(this.conversation());
  }

  /** One of the conversations whose pages are read. */
  conversation(): number {
    return Math.floor(this.random() * this.pagePool);
  }

  /** A message index below `stored` never drawn before, of a conversation whose page is not read. */
  message(stored: number): number {
    for (;;) {
      const i = Math.floor(this.random() * stored);
      if (this.usedMessages.has(i) || this.store.place(i).c < this.pagePool) continue;
      this.usedMessages.add(i);
      return i;
    }
  }
}

/**
 * The cold page of one conversation of `size` messages between two more users, added to
 * the store: its cache key is deleted before each read. The latencies (ms).
 */
async function bigConversation(ctx: ScenarioContext, size: number): Promise<number[]> {
  const users = await insertUsers(ctx, 2);
  const [a, b] = users.map((u) => u.id) as [string, string];
  const space = KeySpace.single();
  await ctx.redis.sAdd(space.forUser(a).knownUsers, [a, b]);
  const store = new GrowthStore([a, b], 1, '6600');
  await seed(ctx, store, 0, size);
  const api = await startApi(ctx.servers, {});
  try {
    const ms: number[] = [];
    for (let k = 0; k < BIG_READS; k++) {
      await ctx.redis.del(space.forConversation(a, b).conversation(a, b));
      const call = expectStatus(
        await timedCall(api.url, users[0]?.token as string, 'GET', `/api/messages/${b}`),
        200,
        'page of the large conversation',
      );
      const { messages } = JSON.parse(call.text) as { messages: { id: string }[] };
      if (call.cache !== 'MISS' || messages[0]?.id !== store.messageId(size - PAGE)) {
        throw new Error(`large conversation: ${call.cache}, ${messages.length} messages`);
      }
      ms.push(call.ms);
    }
    return ms;
  } finally {
    await api.stop();
  }
}

/** Inserts messages `from` ≤ i < `to` of the store from the seeding worker; the seconds it took. */
async function seed(
  ctx: ScenarioContext,
  store: GrowthStore,
  from: number,
  to: number,
): Promise<number> {
  const child = new NodeChild('seed-messages', 'bench/workers/seed-messages.ts', {
    env: { MONGODB_URI: ctx.servers.mongoUri, MONGODB_DB: 'bench', BATCH: String(SEED_BATCH) },
  });
  const progress = setInterval(() => {
    if (typeof child.progress === 'number') {
      ctx.log(`seeding: ${fmt(from + child.progress)} of ${fmt(to)} messages`);
    }
  }, 20000);
  try {
    await child.next('ready', 30000);
    const request: SeedRequest = { type: 'seed', ...store.spec, from, to };
    child.send(request);
    const { seconds, inserted } = await child.next<{ seconds: number; inserted: number }>(
      'result',
      1_200_000,
    );
    await child.waitExit(10000);
    // Not countDocuments: FerretDB counts by reading every document (~40 s at 1M).
    if (inserted !== to - from) throw new Error(`${inserted} of ${to - from} messages inserted`);
    return seconds;
  } finally {
    clearInterval(progress);
  }
}

/** The cold requests of one size: pages, message reads, edits, deletes, each kind in turn. */
async function measureStage(
  ctx: ScenarioContext,
  api: ApiProcess,
  store: GrowthStore,
  tokens: ReadonlyMap<string, string>,
  sampler: Sampler,
  stored: number,
): Promise<Stage> {
  const space = KeySpace.single();
  const token = (user: string) => tokens.get(user) as string;
  const readPage = async (c: number) => {
    const [a, b] = store.pair(c);
    await ctx.redis.del(space.forConversation(a, b).conversation(a, b));
    const call = expectStatus(
      await timedCall(api.url, token(a), 'GET', `/api/messages/${b}`),
      200,
      'conversation page',
    );
    if (call.cache !== 'MISS') throw new Error(`expected X-Cache: MISS, got ${call.cache}`);
    const { messages } = JSON.parse(call.text) as { messages: { id: string }[] };
    const want = Math.min(PAGE, store.sizeOf(c, stored));
    const first = store.messageId(store.firstOfLatestPage(c, stored, PAGE));
    if (messages.length !== want || messages[0]?.id !== first) {
      throw new Error(`conversation ${c}: ${messages.length} messages from ${messages[0]?.id}`);
    }
    return call.ms;
  };
  /** Message `i`, checked to have no cache entry (so the request is a miss). */
  const cold = async (i: number) => {
    const m = store.message(i);
    if ((await ctx.redis.exists(space.forMessage(m.id).message(m.id))) !== 0) {
      throw new Error(`message ${i} is cached before its cold request`);
    }
    return m;
  };
  const getMessage = async (i: number) => {
    const m = await cold(i);
    const call = expectStatus(
      await timedCall(api.url, token(m.receiverId), 'GET', `/api/messages/item/${m.id}`),
      200,
      'message by id',
    );
    if ((JSON.parse(call.text) as { message: { id: string } }).message.id !== m.id) {
      throw new Error(`message ${i}: another message answered`);
    }
    return call.ms;
  };
  const edit = async (i: number) => {
    const m = await cold(i);
    const content = `edited ${i}: see you at the station at seven`;
    const call = expectStatus(
      await timedCall(api.url, token(m.senderId), 'PATCH', `/api/messages/item/${m.id}`, {
        content,
      }),
      200,
      'edit',
    );
    if ((JSON.parse(call.text) as { message: { content: string } }).message.content !== content) {
      throw new Error(`message ${i}: the edit was not applied`);
    }
    return call.ms;
  };
  const del = async (i: number) => {
    const m = await cold(i);
    const call = await timedCall(
      api.url,
      token(m.senderId),
      'DELETE',
      `/api/messages/item/${m.id}`,
    );
    return expectStatus(call, 204, 'delete').ms;
  };

  for (let k = 0; k < WARM_UP; k++) await readPage(sampler.conversation());
  for (let k = 0; k < WARM_UP; k++) {
    await getMessage(sampler.message(stored));
    await edit(sampler.message(stored));
    await del(sampler.message(stored));
  }
  const stage: Stage = { stored, page: [], get: [], edit: [], del: [] };
  for (const c of sampler.pageConversations) stage.page.push(await readPage(c));
  const n = sampler.pageConversations.length;
  for (let k = 0; k < n; k++) stage.get.push(await getMessage(sampler.message(stored)));
  for (let k = 0; k < n; k++) stage.edit.push(await edit(sampler.message(stored)));
  for (let k = 0; k < n; k++) stage.del.push(await del(sampler.message(stored)));
  ctx.log(
    `at ${fmt(stored)} messages, p50 / p99: page ${latencies(stage.page)}, by id ${latencies(stage.get)}, edit ${latencies(stage.edit)}, delete ${latencies(stage.del)}`,
  );
  return stage;
}

import { KeySpace } from '../../src/redis/key-space.js';
import { MessageCacheRecords } from '../../src/redis/records/message-cache-records.js';
import { messageJson, type Message } from '../../src/messages/message.js';
import type { BenchResult } from '../lib/bench-result.js';
import { benchMessage, benchUsers } from '../lib/burst-seeder.js';
import { resetStores, type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { median, round } from '../lib/stats.js';

/** Messages per conversation (the default CONVERSATION_CACHE_SIZE, so lists hold them all). */
const PER_CONVERSATION = 100;
const TTL = 3600;

async function usedMemory(ctx: ScenarioContext): Promise<number> {
  const info = await ctx.redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

/** N messages in conversations of PER_CONVERSATION, in send order. */
function conversations(n: number): Message[][] {
  const convs: Message[][] = [];
  const users = benchUsers(Math.ceil((2 * n) / PER_CONVERSATION) + 2);
  const base = Date.now();
  for (let c = 0; c * PER_CONVERSATION < n; c++) {
    const a = users[2 * c] ?? '';
    const b = users[2 * c + 1] ?? '';
    const count = Math.min(PER_CONVERSATION, n - c * PER_CONVERSATION);
    convs.push(
      Array.from({ length: count }, (_, i) => {
        const m = benchMessage(i, [a, b], base + i);
        return m;
      }),
    );
  }
  return convs;
}

/**
 * The system's format, as the API's own scripts leave it with the conversation cached: the
 * first message sent (no list cached yet), the conversation read (the list filled from
 * MongoDB), then every further message sent (entry, list append, due entries, generation).
 */
async function seedSystem(ctx: ScenarioContext, convs: Message[][]): Promise<void> {
  const space = KeySpace.single();
  const keys = space.shared;
  const records = new MessageCacheRecords(ctx.redis, space);
  const sendOne = (m: Message) =>
    records.send(m, { json: messageJson(m), ttl: TTL, listSize: PER_CONVERSATION });
  for (const conv of convs) {
    const [first, ...rest] = conv;
    if (!first) continue;
    await sendOne(first);
    const { senderId: a, receiverId: b } = first;
    const generation = await ctx.redis.get(keys.conversationGeneration(a, b));
    await records.fill(a, b, generation, [messageJson(first)], TTL);
    await Promise.all(rest.map(sendOne));
  }
}

/** A message as the guide cached it: the Mongoose document's JSON. */
function guideDoc(m: Message) {
  return {
    _id: m.id,
    senderId: m.senderId,
    receiverId: m.receiverId,
    text: m.content,
    image: m.imageUrl ?? undefined,
    createdAt: m.createdAt,
    updatedAt: m.createdAt,
    __v: 0,
  };
}

/** The guide's format: a JSON string per message + one JSON array string per conversation. */
async function seedGuide(ctx: ScenarioContext, convs: Message[][]): Promise<void> {
  for (const conv of convs) {
    const first = conv[0];
    if (!first) continue;
    const multi = ctx.redis.multi();
    for (const m of conv) {
      multi.set(`message:${m.id}`, JSON.stringify(guideDoc(m)), {
        expiration: { type: 'EX', value: TTL },
      });
    }
    const [a, b] = [first.senderId, first.receiverId].sort();
    multi.set(`messages:${a}:${b}`, JSON.stringify(conv.map(guideDoc)), {
      expiration: { type: 'EX', value: TTL },
    });
    await multi.execAsPipeline();
  }
}

/**
 * `cache-memory`: Redis bytes per cached message (`INFO memory` used_memory delta / N) for
 * N messages in conversations of 100, in the system's format (message strings, conversation
 * lists, due index, generations) and in the guide's (a JSON string per message + a JSON
 * list per conversation). Goal ≤ 0.8× the guide's.
 */
export const cacheMemory: Scenario = {
  ids: ['cache-memory'],
  async run(ctx) {
    const { options, log } = ctx;
    const n = options.memoryCount;
    const convs = conversations(n);
    const rounds: { value: number; baseline: number }[] = [];
    for (let r = 0; r < options.rounds; r++) {
      await resetStores(ctx);
      const before = await usedMemory(ctx);
      await seedSystem(ctx, convs);
      const system = ((await usedMemory(ctx)) - before) / n;
      await resetStores(ctx);
      const guideBefore = await usedMemory(ctx);
      await seedGuide(ctx, convs);
      const guide = ((await usedMemory(ctx)) - guideBefore) / n;
      log(
        `cache-memory round ${r + 1}: system ${round(system)} B/message, guide ${round(guide)} B/message`,
      );
      rounds.push({ value: system, baseline: guide });
    }
    await resetStores(ctx);
    const value = median(rounds.map((x) => x.value));
    const baseline = median(rounds.map((x) => x.baseline));
    const sample = convs[0]?.[0];
    const result: BenchResult = {
      id: 'cache-memory',
      unit: 'bytes/message',
      value: round(value),
      baseline: { name: "guide's format (JSON string + JSON list)", value: round(baseline) },
      ratio: round(value / baseline),
      goal: '≤ 0.8× guide',
      met: value / baseline <= 0.8,
      rounds: rounds.map((x) => ({ value: round(x.value), baseline: round(x.baseline) })),
      notes: [
        `${n} messages in conversations of ${PER_CONVERSATION}; message JSON ${sample ? JSON.stringify(sample).length : '?'} B (system) vs ${sample ? JSON.stringify(guideDoc(sample)).length : '?'} B (guide)`,
      ],
    };
    return [result];
  },
};

/**
 * Seeds the growth store (bench/lib/growth-store.ts): messages `from` ≤ i < `to`, as
 * toMessageDoc makes them, by `insertMany` in batches of BATCH, `ordered: false`, one batch
 * after another. The parent sends `{ type: 'seed', from, to }` and the store's `spec`;
 * the worker reports progress (messages inserted so far) and, at the end, the seconds it
 * took and how many documents were inserted.
 * Env: MONGODB_URI, MONGODB_DB, BATCH.
 */
import { MongoClient } from 'mongodb';
import { MessageStore } from '../../src/messages/message-store.js';
import { toMessageDoc, type MessageDoc } from '../../src/messages/message.js';
import { GrowthStore, type StoreHead } from '../lib/growth-store.js';
import { env, runWorker, tell } from './worker-ipc.js';

/** What the parent asks for. */
export interface SeedRequest {
  type: 'seed';
  users: string[];
  conversations: number;
  idPrefix: string;
  head: StoreHead;
  from: number;
  to: number;
}

runWorker(async () => {
  const request = await new Promise<SeedRequest>((resolve) => {
    process.once('message', (m: SeedRequest) => resolve(m));
    tell({ type: 'ready' });
  });
  const store = new GrowthStore(
    request.users,
    request.conversations,
    request.idPrefix,
    request.head,
  );
  const client = new MongoClient(env('MONGODB_URI'));
  await client.connect();
  try {
    const collection = MessageStore.fromDb(client.db(env('MONGODB_DB'))).collection;
    const batch = Number(env('BATCH'));
    const start = performance.now();
    let inserted = 0;
    for (let i = request.from; i < request.to; i += batch) {
      const docs: MessageDoc[] = [];
      for (let j = i; j < Math.min(request.to, i + batch); j++) {
        docs.push(toMessageDoc(store.message(j)));
      }
      inserted += (await collection.insertMany(docs, { ordered: false })).insertedCount;
      tell({ type: 'progress', data: Math.min(request.to, i + batch) - request.from });
    }
    tell({ type: 'result', data: { seconds: (performance.now() - start) / 1000, inserted } });
  } finally {
    await client.close();
  }
});

/**
 * Baseline process of expiry-persist: the bare MongoDB write the daemon's persistence
 * competes with — the same documents, `insertMany` in batches of the daemon's batch size,
 * one batch after another, `ordered: false` like the daemon. Receives the messages from
 * the parent, reports docs/s.
 * Env: MONGODB_URI, MONGODB_DB, COLLECTION, BATCH.
 */
import { MongoClient } from 'mongodb';
import { toMessageDoc, type Message } from '../../src/messages/message.js';
import { env, runWorker, tell } from './worker-ipc.js';

runWorker(async () => {
  const messages = await new Promise<Message[]>((resolve) => {
    process.once('message', (m: { type: string; messages: Message[] }) => resolve(m.messages));
    tell({ type: 'ready' });
  });
  const client = new MongoClient(env('MONGODB_URI'));
  await client.connect();
  const collection = client.db(env('MONGODB_DB')).collection(env('COLLECTION'));
  const batch = Number(env('BATCH'));
  const docs = messages.map((m) => toMessageDoc(m));
  const start = performance.now();
  for (let i = 0; i < docs.length; i += batch) {
    await collection.insertMany(docs.slice(i, i + batch), { ordered: false });
  }
  const seconds = (performance.now() - start) / 1000;
  await client.close();
  tell({ type: 'result', data: { docsPerSecond: docs.length / seconds } });
});

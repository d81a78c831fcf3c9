import type { Db } from 'mongodb';
import { sleep } from '../../../src/lifecycle/wait.js';
import type { KeySpace } from '../../../src/redis/key-space.js';
import { daemonRecords, NO_RECORDS } from '../expiry-fixtures.js';
import type { Ack } from './load-stats.js';

/** What MongoDB holds of a load run's acknowledged messages. */
export interface Verdict {
  /** Acknowledged messages found by `_id`. */
  persisted: number;
  /** Acknowledged messages missing from MongoDB. */
  lost: number;
  /** Extra documents: more than one document with the same (senderId, clientMsgId). */
  duplicated: number;
  /** A few of the missing ids, to look for in the logs. */
  lostIds: string[];
}

/**
 * Waits until the daemons have processed every expiration: the due index (per-key and
 * slots) and `expiry:inflight` empty. Returns how long it took.
 * @throws Error with the backlog when it is not drained within `timeoutMs`.
 */
export async function waitForDrain(
  redis: Parameters<typeof daemonRecords>[0],
  space: KeySpace,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  let last: unknown = NO_RECORDS;
  while (Date.now() - started < timeoutMs) {
    try {
      const records = await daemonRecords(redis, space);
      last = records;
      if (records.due === 0 && records.inflight === 0) return Date.now() - started;
    } catch (err) {
      // Redis (or a shard failing over) may still be coming back after a fault: ask again.
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`the daemons did not drain within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/**
 * Checks every acknowledged message against the `messages` collection: found by its `_id`
 * (the acknowledged id), and stored once per (senderId, clientMsgId) among the documents
 * whose key starts with `keyPrefix` (the load run's keys).
 */
export async function checkAcked(db: Db, acks: Ack[], keyPrefix: string): Promise<Verdict> {
  // One pass over the collection: the MongoDB-protocol server here (FerretDB on SQLite)
  // filters `$in` and `$exists` by scanning, so one scan beats one query per chunk.
  const found = new Set<string>();
  const perKey = new Map<string, number>();
  const docs = db
    .collection('messages')
    .find({}, { projection: { _id: 1, senderId: 1, clientMsgId: 1 } });
  for await (const d of docs) {
    found.add(String(d._id));
    const key = typeof d.clientMsgId === 'string' ? d.clientMsgId : undefined;
    if (key === undefined || !key.startsWith(keyPrefix)) continue;
    const k = `${String(d.senderId)} ${key}`;
    perKey.set(k, (perKey.get(k) ?? 0) + 1);
  }
  const ids = [...new Set(acks.map((a) => a.id))];
  const lostIds = ids.filter((id) => !found.has(id));
  let duplicated = 0;
  for (const n of perKey.values()) duplicated += n - 1;
  return {
    persisted: ids.length - lostIds.length,
    lost: lostIds.length,
    duplicated,
    lostIds: lostIds.slice(0, 10),
  };
}

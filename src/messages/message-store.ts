import type { Collection, Db } from 'mongodb';
import { toMessageDoc, type MessageDoc, type MessageShadow } from './message.js';

export const MESSAGES_COLLECTION = 'messages';

/**
 * Idempotent, order-preserving bulk persistence of messages (used by the expiry daemon for
 * write-behind and for messages accepted while MongoDB was down).
 *
 * Each message is an upsert by `_id` with `$setOnInsert`: a retry after a partial failure
 * inserts nothing twice, and a document already there (written by the API, edited, or
 * tombstoned by a delete) is never overwritten by an older shadow.
 */
export async function upsertMessages(
  collection: Collection<MessageDoc>,
  shadows: MessageShadow[],
): Promise<{ inserted: number; existing: number }> {
  if (shadows.length === 0) return { inserted: 0, existing: 0 };
  const ops = shadows.map((s) => {
    const doc = toMessageDoc(s.message, s.clientMsgId);
    const { _id, ...rest } = doc;
    return {
      updateOne: {
        filter: { _id },
        update: { $setOnInsert: rest },
        upsert: true,
      },
    };
  });
  const res = await collection.bulkWrite(ops, { ordered: true });
  return { inserted: res.upsertedCount, existing: res.matchedCount };
}

export function messagesCollection(db: Db): Collection<MessageDoc> {
  return db.collection<MessageDoc>(MESSAGES_COLLECTION);
}

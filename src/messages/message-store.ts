import { MongoBulkWriteError, ObjectId, type Collection, type Db, type Filter } from 'mongodb';
import { isDuplicateKey } from '../mongo/duplicate-key.js';
import {
  compareMessages,
  fromMessageDoc,
  toMessageDoc,
  type Message,
  type MessageDoc,
  type MessageShadow,
} from './message.js';

export const MESSAGES_COLLECTION = 'messages';

/** Matches documents that are not soft-deleted. */
const NOT_DELETED = { deletedAt: { $exists: false } } as const;

/**
 * The `messages` collection: written by write-through sends, edits and deletes, and by the
 * expiry daemon persisting write-behind shadows; read by conversation pages and lookups.
 */
export class MessageStore {
  constructor(readonly collection: Collection<MessageDoc>) {}

  static fromDb(db: Db): MessageStore {
    return new MessageStore(db.collection<MessageDoc>(MESSAGES_COLLECTION));
  }

  /**
   * Index of conversation reads (latest first, and `before` pages). `_id` breaks ties of equal
   * `createdAt`, so the order is total and pages neither skip nor repeat.
   */
  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex(
      { conversationId: 1, createdAt: 1, _id: 1 },
      { name: 'conversation_createdAt' },
    );
  }

  /**
   * Persists message shadows: inserts each one that is not in MongoDB yet and leaves any
   * document already there untouched (written by the API, edited, tombstoned, or persisted by
   * an earlier attempt of the daemon). One bulk insert rather than an upsert per message: the
   * embedded FerretDB (the local default) runs each upsert as a collection scan. The `_id`
   * index makes a racing insert of the same message fail with a duplicate-key error, which
   * here means "already persisted".
   *
   * Documents are sent ordered by (createdAt, id); `ordered: false` lets the server go on
   * past duplicates, and only other write errors fail the call.
   * @returns how many were inserted, and how many were already there.
   */
  async insertMissing(shadows: MessageShadow[]): Promise<{ inserted: number; existing: number }> {
    if (shadows.length === 0) return { inserted: 0, existing: 0 };
    const docs = [...shadows]
      .sort((a, b) => compareMessages(a.message, b.message))
      .map((s) => toMessageDoc(s.message, s.clientMsgId));
    try {
      const res = await this.collection.insertMany(docs, { ordered: false });
      return { inserted: res.insertedCount, existing: 0 };
    } catch (err) {
      if (err instanceof MongoBulkWriteError && !err.result.getWriteConcernError()) {
        const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
        if (writeErrors.length > 0 && writeErrors.every(isDuplicateKey)) {
          return { inserted: docs.length - writeErrors.length, existing: writeErrors.length };
        }
      }
      throw err;
    }
  }

  /** One message by id; soft-deleted ones only with `includeDeleted` (for page cursors). */
  async findDoc(id: string, opts: { includeDeleted?: boolean } = {}): Promise<MessageDoc | null> {
    const filter = opts.includeDeleted
      ? { _id: new ObjectId(id) }
      : { _id: new ObjectId(id), ...NOT_DELETED };
    return this.collection.findOne(filter);
  }

  /**
   * The latest `limit` live messages of a conversation, or those just older than `before`
   * (by createdAt, then _id); returned oldest first.
   */
  async findConversation(
    conversation: string,
    limit: number,
    before?: { createdAt: Date; id: string },
  ): Promise<Message[]> {
    const filter: Filter<MessageDoc> = { conversationId: conversation, ...NOT_DELETED };
    if (before) {
      const beforeId = new ObjectId(before.id);
      filter.$or = [
        { createdAt: { $lt: before.createdAt } },
        { createdAt: before.createdAt, _id: { $lt: beforeId } },
      ];
    }
    const docs = await this.collection
      .find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .limit(limit)
      .toArray();
    return docs.reverse().map(fromMessageDoc);
  }

  /** The ids (`<a>:<b>`) of the conversations with a message created at or after `since`. */
  async conversationsSince(since: Date): Promise<string[]> {
    return (await this.collection.distinct('conversationId', {
      createdAt: { $gte: since },
    })) as string[];
  }

  /**
   * Writes an edit: `$set` of content and updatedAt on a live message; for a message still
   * pending (only in Redis) the upsert inserts the whole edited document, which the daemon's
   * later insert of the shadow (insert-if-absent) leaves alone. A message deleted meanwhile is
   * left alone.
   * @returns the message as now stored, or null when it is gone (deleted).
   */
  async writeEdit(message: Message, content: string, updatedAt: Date): Promise<Message | null> {
    const { _id, ...rest } = toMessageDoc(message);
    const onInsert: Partial<MessageDoc> = { ...rest };
    delete onInsert.content;
    delete onInsert.updatedAt;
    delete onInsert.deletedAt;
    try {
      const doc = await this.collection.findOneAndUpdate(
        { _id, ...NOT_DELETED },
        { $set: { content, updatedAt }, $setOnInsert: onInsert },
        { upsert: true, returnDocument: 'after' },
      );
      return doc ? fromMessageDoc(doc) : null;
    } catch (err) {
      // The filter missed because the message is tombstoned; the upsert then hit its _id.
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }

  /**
   * Soft-deletes: sets `deletedAt`, upserting a tombstone for a message still pending, so a
   * late daemon insert of its shadow (insert-if-absent) cannot resurrect it. Idempotent.
   */
  async writeTombstone(message: Message, deletedAt: Date): Promise<void> {
    const { _id, ...rest } = toMessageDoc(message);
    const onInsert: Partial<MessageDoc> = { ...rest };
    delete onInsert.deletedAt;
    await this.collection.updateOne(
      { _id },
      { $set: { deletedAt }, $setOnInsert: onInsert },
      { upsert: true },
    );
  }
}

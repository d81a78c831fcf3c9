import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectId, type Collection } from 'mongodb';
import type { UserStore } from '../auth/user-store.js';
import type { CacheService } from '../cache/cache-service.js';
import type { PersistenceMode } from '../config/config.js';
import { AppError, isAppError } from '../errors/app-error.js';
import { isMongoUnavailable, withBackendErrors } from '../errors/backend-errors.js';
import { parseInput } from '../errors/parse-input.js';
import type { Logger } from '../logging/logger.js';
import { conversationId, RedisKeys } from '../redis/keys.js';
import { MessageCacheRecords } from '../redis/records/message-cache-records.js';
import type { RedisClient } from '../redis/redis-client.js';
import type { ConversationCache } from './conversation-cache.js';
import { pageFromCache, uniqueSorted } from './conversation-cache.js';
import { InsertCoalescer } from './insert-coalescer.js';
import type { EventPublisher, MessageEvent } from './message-events.js';
import {
  ensureMessageIndexes,
  findConversationMessages,
  findMessageDoc,
  writeMessageEdit,
  writeMessageTombstone,
} from './message-store.js';
import {
  fromMessageDoc,
  messageJson,
  shadowJson,
  toMessageDoc,
  type Message,
  type MessageDoc,
  type MessageShadow,
} from './message.js';
import type { SendRateLimiter } from './send-rate-limiter.js';
import { SendIdempotency, type IdempotencyClaim } from './send-idempotency.js';
import {
  assertObjectId,
  conversationQuerySchema,
  editMessageSchema,
  IDEMPOTENCY_KEY_RE,
  sendMessageSchema,
} from './message-validation.js';

/** What a send answers. */
export interface SendResult {
  message: Message;
  /** True when the message is in MongoDB; false while only Redis holds it. */
  persisted: boolean;
  /**
   * HTTP status to answer: 201 stored now; 202 accepted into Redis because MongoDB was
   * down in write-through mode; 200 a retry of an earlier send (same idempotency key).
   */
  status: 200 | 201 | 202;
  /** True when this was a retry answered with the earlier message. */
  replayed: boolean;
}

/** What a conversation read answers. */
export interface ConversationPage {
  /**
   * The messages, oldest first, as the JSON text of an array in UTF-8, in pieces to
   * concatenate: a hit is the cached strings as Redis sent them (see
   * ConversationCache.readLatest), so nothing is decoded, parsed or serialized on the hot path.
   */
  json: Buffer[];
  /** How many messages the page holds. */
  count: number;
  /** HIT: served from the cached list; MISS: from MongoDB (+ pending messages). */
  cache: 'HIT' | 'MISS';
}

export interface MessageServiceOptions {
  redis: RedisClient;
  keys: RedisKeys;
  logger: Logger;
  messages: Collection<MessageDoc>;
  users: UserStore;
  cache: CacheService;
  conversations: ConversationCache;
  publisher: EventPublisher;
  rateLimiter: SendRateLimiter;
  idempotency: SendIdempotency;
  persistenceMode: PersistenceMode;
  /** TTL of cache entries written by sends and read-through (config.cache.ttlSeconds). */
  ttlSeconds: number;
  /** Messages kept in a conversation list (config.cache.conversationSize). */
  conversationSize: number;
  /** How long a retry waits for a concurrent request with its key to finish. @defaultValue 3000 */
  idempotencyWaitMs?: number;
  /** Told of cache lookups and accepted sends (metrics); must not throw. */
  observer?: MessageObserver;
}

/** Hooks for metrics: the service stays free of any metrics library. */
export interface MessageObserver {
  cacheLookup(kind: 'message' | 'conversation', hit: boolean): void;
  /** A new (not replayed) message was accepted. */
  sent(persisted: boolean, transport: 'rest' | 'ws'): void;
}

/** Default and largest page of a conversation read. */
export const DEFAULT_PAGE = 50;

/**
 * Sending, reading, editing and deleting messages: MongoDB + the Redis cache + fan-out.
 * Used by the REST routes and the ws server alike (so both share validation, the rate limit
 * and idempotency). Every method takes the authenticated user's id and raw input, validates
 * it, and throws only AppErrors (backend outages become 503 `SERVICE_UNAVAILABLE`).
 */
export class MessageService {
  /** Key names relative to the prefix, as CacheService takes them. */
  private static readonly relKeys = new RedisKeys('');
  private readonly o: MessageServiceOptions;
  /** Write-through inserts, sent together when sends overlap (group commit). */
  private readonly inserts: InsertCoalescer<MessageDoc>;
  private readonly records: MessageCacheRecords;

  constructor(opts: MessageServiceOptions) {
    this.o = opts;
    this.inserts = new InsertCoalescer(opts.messages);
    this.records = new MessageCacheRecords(opts.redis, opts.keys);
  }

  /** Creates the indexes conversation reads need. */
  async ensureIndexes(): Promise<void> {
    await ensureMessageIndexes(this.o.messages);
  }

  /**
   * Sends a message from `senderId` (the authenticated user).
   *
   * `input` is the body of `POST /api/messages/send` (or the ws frame's fields):
   * `{ receiverId, content?, imageUrl?, publicId?, clientMsgId? }`. The idempotency key may
   * come as `opts.idempotencyKey` (the `Idempotency-Key` header), `opts.clientMsgId` (the ws
   * frame's envelope) or `input.clientMsgId`; they are the same thing, and giving two
   * different ones is a 400.
   *
   * @throws AppError VALIDATION_FAILED, INVALID_ID, USER_NOT_FOUND, RATE_LIMITED (with
   *   Retry-After), IDEMPOTENCY_CONFLICT, SERVICE_UNAVAILABLE
   */
  async send(
    senderId: string,
    input: unknown,
    opts: { idempotencyKey?: string; clientMsgId?: string; transport?: 'rest' | 'ws' } = {},
  ): Promise<SendResult> {
    const body = parseInput(sendMessageSchema, input);
    const receiverId = assertObjectId(body.receiverId, 'receiverId');
    if (receiverId === senderId) {
      throw new AppError('VALIDATION_FAILED', 'receiverId: you cannot send a message to yourself');
    }
    const key = idempotencyKeyOf([
      ['Idempotency-Key', opts.idempotencyKey],
      ['clientMsgId', opts.clientMsgId],
      ['clientMsgId', body.clientMsgId],
    ]);
    const fields = {
      receiverId,
      content: body.content ?? null,
      imageUrl: body.imageUrl ?? null,
      publicId: body.publicId ?? null,
    };

    return withBackendErrors(async () => {
      if (!(await this.o.users.exists(receiverId))) throw new AppError('USER_NOT_FOUND');

      let id = new ObjectId().toHexString();
      if (key !== undefined) {
        const claim = await this.claimKey(senderId, key, id, SendIdempotency.bodyHash(fields));
        if (claim.state === 'done') {
          return {
            message: claim.message,
            persisted: claim.persisted,
            status: 200,
            replayed: true,
          };
        }
        id = claim.id;
        if (claim.state === 'takeover') {
          const finished = await this.finishTakeover(senderId, key, id);
          if (finished) return finished;
        }
      }

      // Write-behind counts the send in its send script (one round trip fewer); write-through
      // must know before its MongoDB insert.
      const countInScript = this.o.persistenceMode === 'write-behind';
      if (!countInScript) {
        try {
          await this.o.rateLimiter.consume(senderId);
        } catch (err) {
          if (key !== undefined) await this.o.idempotency.release(senderId, key, id);
          throw err;
        }
      }

      const message: Message = {
        id,
        senderId,
        ...fields,
        createdAt: new Date().toISOString(),
      };
      let persisted: boolean;
      try {
        persisted = await this.store(message, key, countInScript);
      } catch (err) {
        if (key !== undefined) {
          if (isAppError(err) && err.code === 'RATE_LIMITED') {
            // Refused by the send script: nothing was written.
            await this.o.idempotency.release(senderId, key, id);
          } else {
            // A write may have happened: keep the id for the retry, but let it take over now.
            await this.o.idempotency.abandon(senderId, key, id).catch(() => undefined);
          }
        }
        throw err;
      }
      if (key !== undefined) {
        // If this fails, a retry takes over after the lease and finds the message stored.
        await this.o.idempotency.done(senderId, key, message, persisted).catch((err: unknown) => {
          this.o.logger.warn({ err, id }, 'could not record an idempotent send as done');
        });
      }
      this.o.observer?.sent(persisted, opts.transport ?? 'rest');
      // Published before the answer, as always, but not awaited: the answer does not depend
      // on the PUBLISH (a failure is only logged, see publish()), so it need not wait for
      // Redis to acknowledge it. This process's ws clients get the event at once (inside
      // publish()), and the bus keeps events in call order. Waiting cost a second Redis
      // round trip per send (~10% of the write-behind benchmark's throughput).
      void this.publish({ type: 'message:new', message, recipients: [receiverId, senderId] });
      const status = persisted ? 201 : this.o.persistenceMode === 'write-through' ? 202 : 201;
      return { message, persisted, status, replayed: false };
    });
  }

  /**
   * A page of the conversation between `userId` and `otherId`, oldest first. `query` is the
   * query string: `{ before?: messageId, limit?: '1'..'100' }` (default 50).
   * @throws AppError VALIDATION_FAILED, INVALID_ID, USER_NOT_FOUND, MESSAGE_NOT_FOUND (an
   *   unknown `before`), SERVICE_UNAVAILABLE
   */
  async listConversation(
    userId: string,
    otherId: string,
    query: unknown = {},
  ): Promise<ConversationPage> {
    const other = assertObjectId(otherId, 'receiverId');
    const q = parseInput(conversationQuerySchema, query, 'query parameter');
    const before = q.before === undefined ? undefined : assertObjectId(q.before, 'before');
    const limit = q.limit ?? DEFAULT_PAGE;
    if (other === userId) {
      throw new AppError('VALIDATION_FAILED', 'receiverId: a conversation is with another user');
    }
    return withBackendErrors(async () => {
      if (!(await this.o.users.exists(other))) throw new AppError('USER_NOT_FOUND');
      const { conversations } = this.o;

      const hit = await this.readCached(userId, other, limit, before);
      this.o.observer?.cacheLookup('conversation', hit !== null);
      if (hit) return hit;

      const conv = conversationId(userId, other);
      if (before === undefined) {
        // Generation and pending first: see ConversationCache.fill and .pending.
        const generation = await conversations.generation(userId, other);
        const pending = await conversations.pending(userId, other);
        const stored = await findConversationMessages(
          this.o.messages,
          conv,
          Math.max(limit, this.o.conversationSize),
        );
        const all = uniqueSorted(pending, stored);
        const filled = await conversations.fill(userId, other, generation, all);
        this.o.logger.debug({ conversation: conv, filled }, `Conversation cache miss: ${conv}`);
        return missPage(all.slice(-limit));
      }

      const cursor = await this.findCursor(conv, before);
      const pending = (await conversations.pending(userId, other)).filter(
        (m) => compareToCursor(m, cursor) < 0,
      );
      const stored = await findConversationMessages(this.o.messages, conv, limit, {
        createdAt: new Date(cursor.createdAt),
        id: cursor.id,
      });
      return missPage(uniqueSorted(pending, stored).slice(-limit));
    });
  }

  /**
   * A page served from the cached list, or null. The latest page comes joined from the
   * cached strings as they are; a `before` page needs the list parsed to find the cursor.
   */
  private async readCached(
    userId: string,
    other: string,
    limit: number,
    before: string | undefined,
  ): Promise<ConversationPage | null> {
    const { conversations } = this.o;
    if (before === undefined) {
      const page = await conversations.readLatest(userId, other, limit);
      if (page && this.o.logger.isLevelEnabled('debug')) {
        const key = MessageService.relKeys.conversation(userId, other);
        this.o.logger.debug({ key, count: page.count }, `Cache hit: ${key}`);
      }
      return page && { ...page, cache: 'HIT' };
    }
    const cached = await conversations.read(userId, other);
    const page = cached && pageFromCache(cached.messages, cached.complete, limit, before);
    return page && { json: [Buffer.from(JSON.stringify(page))], count: page.length, cache: 'HIT' };
  }

  /**
   * One message, read through its cache entry `message:{id}`: a hit answers from Redis; a
   * miss reads MongoDB and caches it again (with its due entry), or finds a message still
   * pending in its shadow (not cached again: the shadow is the daemon's). Only the sender
   * and the receiver may see it; anyone else gets MESSAGE_NOT_FOUND.
   */
  async getMessage(userId: string, messageId: string): Promise<Message> {
    const id = assertObjectId(messageId, 'messageId');
    return withBackendErrors(async () => {
      const relKey = MessageService.relKeys.message(id);
      const cached = await this.o.cache.getCache<Message>(relKey);
      this.o.observer?.cacheLookup('message', cached !== null);
      if (cached) return visibleTo(cached, userId);

      const doc = await findMessageDoc(this.o.messages, id);
      if (doc) {
        const first = visibleTo(fromMessageDoc(doc), userId);
        // Re-cache only if no write touched the conversation between two reads of the
        // message: an edit racing with this read cannot leave its old version cached.
        const genKey = this.o.keys.conversationGeneration(first.senderId, first.receiverId);
        const generation = await this.o.redis.get(genKey);
        const again = await findMessageDoc(this.o.messages, id);
        if (!again) throw new AppError('MESSAGE_NOT_FOUND');
        const message = fromMessageDoc(again);
        if (JSON.stringify(message) === JSON.stringify(first)) {
          await this.o.cache.setCache(relKey, message, this.o.ttlSeconds, {
            guard: { key: genKey, value: generation },
          });
        }
        return visibleTo(message, userId);
      }

      const shadow = await this.o.conversations.shadow(id);
      if (shadow) return visibleTo(shadow, userId);
      throw new AppError('MESSAGE_NOT_FOUND');
    });
  }

  /**
   * Edits the content of a message the user sent. MongoDB first (upserting a message still
   * pending), then every cached copy and the shadow are dropped in one script; publishes
   * `message:updated` to both parties.
   * @throws AppError VALIDATION_FAILED, INVALID_ID, MESSAGE_NOT_FOUND, FORBIDDEN (the
   *   receiver), SERVICE_UNAVAILABLE
   */
  async editMessage(userId: string, messageId: string, input: unknown): Promise<Message> {
    const id = assertObjectId(messageId, 'messageId');
    const { content } = parseInput(editMessageSchema, input);
    return withBackendErrors(async () => {
      const current = await this.loadOwn(userId, id);
      const updated = await writeMessageEdit(this.o.messages, current, content, new Date());
      if (!updated) throw new AppError('MESSAGE_NOT_FOUND');
      await this.dropCached(updated);
      await this.publish({
        type: 'message:updated',
        message: updated,
        recipients: [updated.receiverId, updated.senderId],
      });
      return updated;
    });
  }

  /**
   * Deletes (soft: a tombstone in MongoDB) a message the user sent, then drops it from the
   * cache and the pending set; publishes `message:deleted` to both parties.
   * @throws AppError INVALID_ID, MESSAGE_NOT_FOUND, FORBIDDEN, SERVICE_UNAVAILABLE
   */
  async deleteMessage(userId: string, messageId: string): Promise<void> {
    const id = assertObjectId(messageId, 'messageId');
    await withBackendErrors(async () => {
      const current = await this.loadOwn(userId, id);
      await writeMessageTombstone(this.o.messages, current, new Date());
      await this.dropCached(current);
      await this.publish({
        type: 'message:deleted',
        message: { id, senderId: current.senderId, receiverId: current.receiverId },
        recipients: [current.receiverId, current.senderId],
      });
    });
  }

  /** Claims an idempotency key, waiting a little for a concurrent request with it. */
  private async claimKey(
    senderId: string,
    key: string,
    id: string,
    hash: string,
  ): Promise<Exclude<IdempotencyClaim, { state: 'conflict' }>> {
    const waitMs = this.o.idempotencyWaitMs ?? 3000;
    let claim = await this.o.idempotency.claim(senderId, key, id, hash);
    for (let waited = 0; claim.state === 'busy' && waited < waitMs; waited += 100) {
      await sleep(100);
      claim = await this.o.idempotency.claim(senderId, key, id, hash);
    }
    if (claim.state === 'conflict') throw new AppError('IDEMPOTENCY_CONFLICT');
    if (claim.state === 'busy') {
      // Retryable, unlike IDEMPOTENCY_CONFLICT: the first request may still finish, or its
      // lease runs out (a crashed process) and the retry takes over.
      throw new AppError('IDEMPOTENCY_IN_PROGRESS', undefined, {
        headers: { 'Retry-After': '1' },
      });
    }
    return claim;
  }

  /**
   * A retry taking over a claim whose request stopped midway: if that request stored the
   * message, finish it (cache it again, record it) and answer it; else null (send it now,
   * with the same id).
   */
  private async finishTakeover(
    senderId: string,
    key: string,
    id: string,
  ): Promise<SendResult | null> {
    const shadow = await this.o.conversations.shadow(id);
    let stored: Message | null = shadow;
    let persisted = false;
    if (!stored) {
      try {
        const doc = await findMessageDoc(this.o.messages, id, { includeDeleted: true });
        if (doc) {
          stored = fromMessageDoc(doc);
          persisted = true;
          // The first attempt may have died before its cache script: run it (lists dedupe).
          if (!doc.deletedAt) await this.cacheSent(stored, null);
        }
      } catch (err) {
        // MongoDB down: cannot tell; sending again with the same id cannot duplicate.
        if (!isMongoUnavailable(err)) throw err;
      }
    }
    if (!stored) return null;
    await this.o.idempotency.done(senderId, key, stored, persisted);
    return { message: stored, persisted, status: 200, replayed: true };
  }

  /**
   * Stores a new message per the persistence mode; returns whether it is in MongoDB.
   * Write-through: the insert (coalesced with concurrent sends), then the send script; if
   * MongoDB cannot be reached the message is accepted into Redis as write-behind (shadow +
   * pending) instead of being lost. `countSend`: the send script counts the rate limit.
   */
  private async store(
    message: Message,
    clientMsgId: string | undefined,
    countSend: boolean,
  ): Promise<boolean> {
    let persisted = false;
    if (this.o.persistenceMode === 'write-through') {
      try {
        // 'duplicate' is a retry with the id of an attempt that did insert: stored too.
        await this.inserts.insert(toMessageDoc(message, clientMsgId));
        persisted = true;
      } catch (err) {
        if (isMongoUnavailable(err)) {
          this.o.logger.warn(
            { err: (err as Error).message, id: message.id },
            'MongoDB unavailable: message accepted into Redis for later persistence',
          );
        } else {
          throw err;
        }
      }
    }
    const shadow: MessageShadow | null = persisted
      ? null
      : clientMsgId
        ? { message, clientMsgId }
        : { message };
    try {
      await this.cacheSent(message, shadow, countSend);
    } catch (err) {
      // Already durable in MongoDB: the cache is an optimisation, the send succeeded.
      if (!persisted) throw err;
      this.o.logger.error({ err, id: message.id }, 'message stored but not cached');
    }
    return persisted;
  }

  /**
   * Runs the send script: entry, list, due entries, convgen and (if given) the shadow; with
   * `countSend`, it first counts the send against the sender's rate limit.
   * @throws AppError RATE_LIMITED (with `countSend`) when over the limit: nothing written.
   */
  private async cacheSent(
    message: Message,
    shadow: MessageShadow | null,
    countSend = false,
  ): Promise<void> {
    const json = messageJson(message);
    const outcome = await this.records.send(message, {
      json,
      ttl: this.o.ttlSeconds,
      listSize: this.o.conversationSize,
      shadow: shadow ? shadowJson(json, shadow.clientMsgId) : undefined,
      rateLimit: countSend ? this.o.rateLimiter.scriptInput(message.senderId) : undefined,
    });
    if (!outcome.sent) throw this.o.rateLimiter.rejection(outcome.retryInMs);
    // Checked first: the arguments (an object, a template string) cost on every send.
    if (this.o.logger.isLevelEnabled('debug')) {
      this.o.logger.debug(
        { id: message.id, ttl: this.o.ttlSeconds },
        `Cached: message:${message.id} (TTL: ${this.o.ttlSeconds}s)`,
      );
    }
  }

  /** After an edit or delete reached MongoDB: drops every cached copy (MessageCacheRecords.drop). */
  private async dropCached(message: Message): Promise<void> {
    await this.records.drop(message);
    this.o.logger.debug({ id: message.id }, `Deleted from cache: message:${message.id}`);
  }

  /** The message if `userId` sent it: 404 when it is not theirs to see, 403 for the receiver. */
  private async loadOwn(userId: string, id: string): Promise<Message> {
    const m =
      (await this.o.cache.getCache<Message>(MessageService.relKeys.message(id))) ??
      (await findMessageDoc(this.o.messages, id).then((d) => (d ? fromMessageDoc(d) : null))) ??
      (await this.o.conversations.shadow(id));
    if (!m || (m.senderId !== userId && m.receiverId !== userId)) {
      throw new AppError('MESSAGE_NOT_FOUND');
    }
    if (m.senderId !== userId) {
      throw new AppError('FORBIDDEN', 'Only the sender may change or delete a message');
    }
    return m;
  }

  /** Where a `before` cursor sits: the message (even deleted) must be of this conversation. */
  private async findCursor(conv: string, id: string): Promise<{ createdAt: string; id: string }> {
    const doc = await findMessageDoc(this.o.messages, id, { includeDeleted: true });
    const m = doc ? fromMessageDoc(doc) : await this.o.conversations.shadow(id);
    if (!m || conversationId(m.senderId, m.receiverId) !== conv) {
      throw new AppError('MESSAGE_NOT_FOUND', 'before: no such message in this conversation');
    }
    return { createdAt: m.createdAt, id: m.id };
  }

  private async publish(event: MessageEvent): Promise<void> {
    try {
      await this.o.publisher.publish(event);
    } catch (err) {
      // The write is done; a lost notification is repaired by the client's next read.
      this.o.logger.warn({ err, type: event.type, id: event.message.id }, 'publish failed');
    }
  }
}

function missPage(messages: Message[]): ConversationPage {
  return { json: [Buffer.from(JSON.stringify(messages))], count: messages.length, cache: 'MISS' };
}

/** The one idempotency key among the places a client may give it (all equal, or a 400). */
function idempotencyKeyOf(candidates: Array<[string, string | undefined]>): string | undefined {
  let key: string | undefined;
  for (const [name, value] of candidates) {
    if (value === undefined) continue;
    if (!IDEMPOTENCY_KEY_RE.test(value)) {
      throw new AppError(
        'VALIDATION_FAILED',
        `${name}: must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -`,
      );
    }
    if (key !== undefined && key !== value) {
      throw new AppError('VALIDATION_FAILED', `${name}: differs from the other idempotency key`);
    }
    key = value;
  }
  return key;
}

function visibleTo(m: Message, userId: string): Message {
  if (m.senderId !== userId && m.receiverId !== userId) throw new AppError('MESSAGE_NOT_FOUND');
  return m;
}

function compareToCursor(m: Message, cursor: { createdAt: string; id: string }): number {
  const t = Date.parse(m.createdAt) - Date.parse(cursor.createdAt);
  if (t !== 0) return t;
  return m.id < cursor.id ? -1 : m.id > cursor.id ? 1 : 0;
}

import type { UserStore } from '../auth/user-store.js';
import type { CacheService } from '../cache/cache-service.js';
import type { PersistenceMode } from '../config/config.js';
import {
  conversationQuerySchema,
  editMessageSchema,
  sendMessageSchema,
} from '../contract/http-schemas.js';
import { AppError } from '../errors/app-error.js';
import { withBackendErrors } from '../errors/backend-errors.js';
import { parseInput } from '../errors/parse-input.js';
import type { Logger } from '../logging/logger.js';
import type { KeySpace } from '../redis/key-space.js';
import type { ReplicaWait } from '../redis/replica-wait.js';
import { conversationId, RedisKeys } from '../redis/keys.js';
import { MessageCacheRecords } from '../redis/records/message-cache-records.js';
import { isClusterClient, type RedisClient } from '../redis/redis-client.js';
import type { ConversationCache } from './conversation-cache.js';
import { pageFromCache, uniqueSorted } from './conversation-cache.js';
import { loadConversation } from './conversation-loader.js';
import { IdempotentSend, idempotencyKeyOf, type SendResult } from './idempotent-send.js';
import type { EventPublisher, MessageEvent } from './message-events.js';
import type { MessageStore } from './message-store.js';
import { fromMessageDoc, type Message } from './message.js';
import { assertObjectId } from './message-validation.js';
import { SendIdempotency } from './send-idempotency.js';
import type { SendRateLimiter } from './send-rate-limiter.js';
import { sendWriteFor, type SendWrite } from './send-write.js';

export type { SendResult };

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

/** What a {@link MessageService} works on; the caller builds these (see api-services.ts). */
export interface MessageServiceDeps {
  redis: RedisClient;
  space: KeySpace;
  logger: Logger;
  messages: MessageStore;
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
  /** REDIS_WAIT_REPLICAS > 0: sends acknowledged while only in Redis wait for replicas. */
  replicaWait?: ReplicaWait;
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
  private readonly records: MessageCacheRecords;
  /** A new message's rate limit and write, per persistence mode. */
  private readonly writes: SendWrite;
  private readonly idempotentSend: IdempotentSend;

  constructor(private readonly deps: MessageServiceDeps) {
    this.records = new MessageCacheRecords(deps.redis, deps.space);
    this.writes = sendWriteFor(deps.persistenceMode, {
      messages: deps.messages,
      // Waited-for writes go through the connection the WAIT blocks, not the one reads use.
      records: deps.replicaWait
        ? new MessageCacheRecords(deps.replicaWait.redis, deps.space)
        : this.records,
      conversations: deps.conversations,
      rateLimiter: deps.rateLimiter,
      logger: deps.logger,
      ttlSeconds: deps.ttlSeconds,
      conversationSize: deps.conversationSize,
      countInScript: !isClusterClient(deps.redis),
      space: deps.space,
      replicaWait: deps.replicaWait,
    });
    this.idempotentSend = new IdempotentSend({
      idempotency: deps.idempotency,
      logger: deps.logger,
      waitMs: deps.idempotencyWaitMs,
    });
  }

  /** Creates the indexes conversation reads need. */
  async ensureIndexes(): Promise<void> {
    await this.deps.messages.ensureIndexes();
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
   *   Retry-After), IDEMPOTENCY_CONFLICT, IDEMPOTENCY_IN_PROGRESS, SERVICE_UNAVAILABLE
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
      if (!(await this.deps.users.exists(receiverId))) throw new AppError('USER_NOT_FOUND');
      const { writes } = this;
      const result = await this.idempotentSend.run(
        senderId,
        key,
        () => SendIdempotency.bodyHash(fields),
        {
          newId: () => this.deps.space.newMessageId(senderId, receiverId),
          admit: () => writes.admit(senderId),
          write: (id) =>
            writes.write({ id, senderId, ...fields, createdAt: new Date().toISOString() }, key),
          findStored: (id) => writes.findStored(id),
        },
      );
      if (result.replayed) return result;
      const { message } = result;
      this.deps.observer?.sent(result.persisted, opts.transport ?? 'rest');
      // Not awaited: the answer does not depend on the PUBLISH (a failure is only logged) and
      // the bus keeps events in call order; awaiting it would add a Redis round trip per send.
      void this.publish({ type: 'message:new', message, recipients: [receiverId, senderId] });
      return result;
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
      if (!(await this.deps.users.exists(other))) throw new AppError('USER_NOT_FOUND');
      const { conversations } = this.deps;

      const hit = await this.readCached(userId, other, limit, before);
      this.deps.observer?.cacheLookup('conversation', hit !== null);
      if (hit) return hit;

      const conv = conversationId(userId, other);
      if (before === undefined) {
        const { messages: all, filled } = await loadConversation(
          conversations,
          this.deps.messages,
          userId,
          other,
          Math.max(limit, this.deps.conversationSize),
        );
        this.deps.logger.debug({ conversation: conv, filled }, `Conversation cache miss: ${conv}`);
        return missPage(all.slice(-limit));
      }

      const cursor = await this.findCursor(conv, before);
      const pending = (await conversations.pending(userId, other)).filter(
        (m) => compareToCursor(m, cursor) < 0,
      );
      const stored = await this.deps.messages.findConversation(conv, limit, {
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
    const { conversations } = this.deps;
    if (before === undefined) {
      const page = await conversations.readLatest(userId, other, limit);
      if (page && this.deps.logger.isLevelEnabled('debug')) {
        const key = MessageService.relKeys.conversation(userId, other);
        this.deps.logger.debug({ key, count: page.count }, `Cache hit: ${key}`);
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
      const cached = await this.deps.cache.getCache<Message>(relKey);
      this.deps.observer?.cacheLookup('message', cached !== null);
      if (cached) return visibleTo(cached, userId);

      const doc = await this.deps.messages.findDoc(id);
      if (doc) {
        const first = visibleTo(fromMessageDoc(doc), userId);
        const { space } = this.deps;
        const keys = space.forConversation(first.senderId, first.receiverId);
        // An id from before the partitions names another one: its entry would not be found.
        if (space.forMessage(id) !== keys) return first;
        // Re-cache only if no write touched the conversation between two reads of the
        // message: an edit racing with this read cannot leave its old version cached.
        const genKey = keys.conversationGeneration(first.senderId, first.receiverId);
        const generation = await this.deps.redis.get(genKey);
        const again = await this.deps.messages.findDoc(id);
        if (!again) throw new AppError('MESSAGE_NOT_FOUND');
        const message = fromMessageDoc(again);
        if (JSON.stringify(message) === JSON.stringify(first)) {
          await this.deps.cache.setCache(relKey, message, this.deps.ttlSeconds, {
            guard: { key: genKey, value: generation },
          });
        }
        return visibleTo(message, userId);
      }

      const shadow = await this.deps.conversations.shadow(id);
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
      const updated = await this.deps.messages.writeEdit(current, content, new Date());
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
      await this.deps.messages.writeTombstone(current, new Date());
      await this.dropCached(current);
      await this.publish({
        type: 'message:deleted',
        message: { id, senderId: current.senderId, receiverId: current.receiverId },
        recipients: [current.receiverId, current.senderId],
      });
    });
  }

  /** After an edit or delete reached MongoDB: drops every cached copy (MessageCacheRecords.drop). */
  private async dropCached(message: Message): Promise<void> {
    await this.records.drop(message);
    this.deps.logger.debug({ id: message.id }, `Deleted from cache: message:${message.id}`);
  }

  /** The message if `userId` sent it: 404 when it is not theirs to see, 403 for the receiver. */
  private async loadOwn(userId: string, id: string): Promise<Message> {
    const m =
      (await this.deps.cache.getCache<Message>(MessageService.relKeys.message(id))) ??
      (await this.deps.messages.findDoc(id).then((d) => (d ? fromMessageDoc(d) : null))) ??
      (await this.deps.conversations.shadow(id));
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
    const doc = await this.deps.messages.findDoc(id, { includeDeleted: true });
    const m = doc ? fromMessageDoc(doc) : await this.deps.conversations.shadow(id);
    if (!m || conversationId(m.senderId, m.receiverId) !== conv) {
      throw new AppError('MESSAGE_NOT_FOUND', 'before: no such message in this conversation');
    }
    return { createdAt: m.createdAt, id: m.id };
  }

  private async publish(event: MessageEvent): Promise<void> {
    try {
      await this.deps.publisher.publish(event);
    } catch (err) {
      // The write is done; a lost notification is repaired by the client's next read.
      this.deps.logger.warn({ err, type: event.type, id: event.message.id }, 'publish failed');
    }
  }
}

function missPage(messages: Message[]): ConversationPage {
  return { json: [Buffer.from(JSON.stringify(messages))], count: messages.length, cache: 'MISS' };
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

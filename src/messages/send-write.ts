import type { PersistenceMode } from '../config/config.js';
import { isMongoUnavailable } from '../errors/backend-errors.js';
import type { Logger } from '../logging/logger.js';
import { OutageBreaker } from '../mongo/outage-breaker.js';
import type { KeySpace } from '../redis/key-space.js';
import type { ReplicaWait } from '../redis/replica-wait.js';
import type { MessageCacheRecords } from '../redis/records/message-cache-records.js';
import type { ConversationCache } from './conversation-cache.js';
import type { Stored, Written } from './idempotent-send.js';
import { InsertCoalescer } from './insert-coalescer.js';
import type { MessageStore } from './message-store.js';
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

export interface SendWriteDeps {
  messages: MessageStore;
  records: MessageCacheRecords;
  /** Where pending messages' shadows are read (a takeover). */
  conversations: ConversationCache;
  rateLimiter: SendRateLimiter;
  logger: Logger;
  /** TTL of the cache entries a send writes (config.cache.ttlSeconds). */
  ttlSeconds: number;
  /** Messages kept in a conversation list (config.cache.conversationSize). */
  conversationSize: number;
  /** Write-through: skips MongoDB while it is known down (a probe per second tries it). */
  outage?: OutageBreaker;
  /**
   * Write-behind: the send script counts the send (one round trip). False on a cluster,
   * where the counter lives in another slot: it is then a call of its own first.
   */
  countInScript: boolean;
  /** Where a message's keys live (the partition its id names). */
  space: KeySpace;
  /** REDIS_WAIT_REPLICAS: a message acknowledged while only in Redis waits for replicas. */
  replicaWait?: ReplicaWait;
}

/** How a new message is counted and written (the steps IdempotentSend runs). */
export interface SendWrite {
  /** Counts the send against the sender's rate limit where the mode counts it first. */
  admit(senderId: string): Promise<void>;
  /**
   * Stores a new message.
   * @throws AppError RATE_LIMITED when the send script refused it (nothing written).
   */
  write(message: Message, clientMsgId: string | undefined): Promise<Written>;
  /** What an earlier send of message `id` stored, cached again if it was lost from Redis. */
  findStored(id: string): Promise<Stored | null>;
}

/** The write of the configured persistence mode. */
export function sendWriteFor(mode: PersistenceMode, deps: SendWriteDeps): SendWrite {
  return mode === 'write-through' ? new WriteThroughSend(deps) : new WriteBehindSend(deps);
}

/** What both modes share: the send script, and finding an earlier attempt's message. */
abstract class SendWriteBase implements SendWrite {
  constructor(protected readonly deps: SendWriteDeps) {}

  abstract admit(senderId: string): Promise<void>;
  abstract write(message: Message, clientMsgId: string | undefined): Promise<Written>;

  async findStored(id: string): Promise<Stored | null> {
    const shadow = await this.deps.conversations.shadow(id);
    if (shadow) {
      // Written by an earlier attempt, perhaps not replicated: our own write after it, waited.
      await this.deps.replicaWait?.afterMark(this.deps.space.forMessage(id).replicaMark);
      return { message: shadow, persisted: false };
    }
    try {
      const doc = await this.deps.messages.findDoc(id, { includeDeleted: true });
      if (!doc) return null;
      const message = fromMessageDoc(doc);
      // The first attempt may have died before its cache script: run it (lists dedupe).
      if (!doc.deletedAt) await this.cache(message, null);
      return { message, persisted: true };
    } catch (err) {
      // MongoDB down: cannot tell; sending again with the same id cannot duplicate.
      if (!isMongoUnavailable(err)) throw err;
      return null;
    }
  }

  /**
   * Runs the send script: entry, list, due entries, convgen and (if given) the shadow; with
   * `countSend`, it first counts the send against the sender's rate limit.
   * @throws AppError RATE_LIMITED (with `countSend`) when over the limit: nothing written.
   */
  protected async cache(
    message: Message,
    shadow: MessageShadow | null,
    countSend = false,
  ): Promise<void> {
    const { records, rateLimiter, logger, ttlSeconds } = this.deps;
    const json = messageJson(message);
    const outcome = await records.send(message, {
      json,
      ttl: ttlSeconds,
      listSize: this.deps.conversationSize,
      shadow: shadow ? shadowJson(json, shadow.clientMsgId) : undefined,
      rateLimit: countSend ? rateLimiter.scriptInput(message.senderId) : undefined,
    });
    if (!outcome.sent) throw rateLimiter.rejection(outcome.retryInMs);
    // Only in Redis: acknowledged once the replicas have it (write-through: in MongoDB).
    if (shadow && this.deps.replicaWait) {
      const keys = this.deps.space.forConversation(message.senderId, message.receiverId);
      await this.deps.replicaWait.after(keys.message(message.id));
    }
    // Checked first: the arguments (an object, a template string) cost on every send.
    if (logger.isLevelEnabled('debug')) {
      logger.debug(
        { id: message.id, ttl: ttlSeconds },
        `Cached: message:${message.id} (TTL: ${ttlSeconds}s)`,
      );
    }
  }
}

/**
 * Write-through: counted first, inserted into MongoDB (coalesced with concurrent sends),
 * then cached. When MongoDB cannot be reached the message is accepted into Redis as
 * write-behind does it (shadow + pending) instead of being lost, and answered 202; while
 * the outage lasts, sends other than the breaker's probes do not wait for MongoDB.
 */
class WriteThroughSend extends SendWriteBase {
  /** Write-through inserts, sent together when sends overlap (group commit). */
  private readonly inserts: InsertCoalescer<MessageDoc>;
  private readonly outage: OutageBreaker;

  constructor(deps: SendWriteDeps) {
    super(deps);
    this.inserts = new InsertCoalescer(deps.messages.collection);
    this.outage = deps.outage ?? new OutageBreaker();
  }

  async admit(senderId: string): Promise<void> {
    await this.deps.rateLimiter.consume(senderId);
  }

  async write(message: Message, clientMsgId: string | undefined): Promise<Written> {
    if (!this.outage.shouldTry()) return this.accept(message, clientMsgId);
    try {
      // 'duplicate' is a retry with the id of an attempt that did insert: stored too.
      await this.inserts.insert(toMessageDoc(message, clientMsgId));
    } catch (err) {
      if (!isMongoUnavailable(err)) throw err;
      if (this.outage.failed()) {
        this.deps.logger.warn(
          { err: (err as Error).message },
          'MongoDB unavailable: sends are accepted into Redis for later persistence',
        );
      }
      return this.accept(message, clientMsgId);
    }
    if (this.outage.succeeded()) {
      this.deps.logger.info('MongoDB reachable again: sends are written through');
    }
    try {
      await this.cache(message, null);
    } catch (err) {
      // Already durable in MongoDB: the cache is an optimisation, the send succeeded.
      this.deps.logger.error({ err, id: message.id }, 'message stored but not cached');
    }
    return { message, persisted: true, status: 201 };
  }

  /** Accepts the message the write-behind way (shadow + pending): answered 202. */
  private async accept(message: Message, clientMsgId: string | undefined): Promise<Written> {
    await this.cache(message, shadowOf(message, clientMsgId));
    return { message, persisted: false, status: 202 };
  }
}

/**
 * Write-behind: one send script counts the send (on one node) and writes the cache entries,
 * the shadow and the pending entry; the expiry daemon persists it later.
 */
class WriteBehindSend extends SendWriteBase {
  async admit(senderId: string): Promise<void> {
    // One node: counted by the send script itself, in the same round trip.
    if (!this.deps.countInScript) await this.deps.rateLimiter.consume(senderId);
  }

  async write(message: Message, clientMsgId: string | undefined): Promise<Written> {
    await this.cache(message, shadowOf(message, clientMsgId), this.deps.countInScript);
    return { message, persisted: false, status: 201 };
  }
}

function shadowOf(message: Message, clientMsgId: string | undefined): MessageShadow {
  return clientMsgId ? { message, clientMsgId } : { message };
}

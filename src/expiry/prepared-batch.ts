import type { Logger } from '../logging/logger.js';
import type { MessageShadow } from '../messages/message.js';
import { conversationId, type RedisKeys } from '../redis/keys.js';
import type { ExpirySource } from './expiry-metrics.js';
import type { AckItem, Claim, ClaimedEntry } from '../redis/records/expiry-scripts.js';

/** A claimed entry whose shadow is to be persisted, with its ack prepared. */
export interface ShadowEntry {
  entry: ClaimedEntry;
  shadow: MessageShadow;
  ack: AckItem;
}

/** One claim, split by what its entries need. */
export interface PreparedBatch {
  claim: Claim;
  source: ExpirySource;
  /** Local clock when the claim's reply arrived (the lag is `claim.now` + time since). */
  claimedAt: number;
  /** Nothing to write (conversation lists, messages already in MongoDB): acked at once. */
  plain: ClaimedEntry[];
  /** Shadows to persist in one bulk write, then acked (or nacked with a backoff). */
  withShadow: ShadowEntry[];
  /** Unreadable shadows: dead-lettered at once. */
  corrupt: ClaimedEntry[];
}

/**
 * Logs each entry of a claim (`Deleted from cache: <key>`, the line operators and tests
 * read) and sorts the entries by what they need: nothing to write, a shadow to persist
 * (its ack item made here), or an unreadable shadow.
 */
export function prepareBatch(
  claim: Claim,
  source: ExpirySource,
  keys: RedisKeys,
  logger: Logger,
): PreparedBatch {
  const batch: PreparedBatch = {
    claim,
    source,
    claimedAt: Date.now(),
    plain: [],
    withShadow: [],
    corrupt: [],
  };
  // The per-entry line costs an object and a string: built only when it is written.
  const logEach = logger.isLevelEnabled('info');
  const prefixLength = keys.prefix.length;
  for (const entry of claim.entries) {
    if (logEach) {
      logger.info(
        { key: entry.key, lagMs: claim.now - entry.deadline, source, attempts: entry.attempts },
        `Deleted from cache: ${entry.key.slice(prefixLength)}`,
      );
    }
    if (entry.shadow === null) {
      // A conversation list, or a message already in MongoDB (write-through): nothing to write.
      batch.plain.push(entry);
      continue;
    }
    const shadow = parseShadow(entry.shadow);
    if (shadow) batch.withShadow.push({ entry, shadow, ack: shadowAck(entry, shadow, keys) });
    else batch.corrupt.push(entry);
  }
  return batch;
}

/** The ack of a persisted shadow: the key, and the conversation's pending entry. */
function shadowAck(entry: ClaimedEntry, shadow: MessageShadow, keys: RedisKeys): AckItem {
  const m = shadow.message;
  return {
    key: entry.key,
    pendingKey: keys.pendingByConversation(conversationId(m.senderId, m.receiverId)),
    messageId: m.id,
  };
}

/** A shadow as the send path writes it, or undefined when it cannot be persisted. */
function parseShadow(json: string): MessageShadow | undefined {
  try {
    const s = JSON.parse(json) as Partial<MessageShadow> | null;
    const m = s?.message;
    if (
      !m ||
      typeof m.id !== 'string' ||
      !/^[0-9a-f]{24}$/i.test(m.id) ||
      typeof m.senderId !== 'string' ||
      typeof m.receiverId !== 'string' ||
      typeof m.createdAt !== 'string' ||
      Number.isNaN(Date.parse(m.createdAt))
    ) {
      return undefined;
    }
    return s as MessageShadow;
  } catch {
    return undefined;
  }
}

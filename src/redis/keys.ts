/**
 * Every Redis key this application writes, in one place. See docs/redis-data-model.md. The
 * KEYS order of each Lua script is kept by its typed class (src/redis/records/,
 * src/expiry/expiry-scripts.ts).
 *
 * Cache entries (with a TTL, evictable under `volatile-*` policies):
 * - `message:{id}`            STRING, the message JSON (the guide's key), or, while the
 *                             message is in its cached conversation list, `@` + that
 *                             list's key (src/redis/scripts/lib/message-pointer.lua)
 * - `messages:{a}:{b}`        LIST of message JSON, oldest first, ids sorted (the guide's key)
 *
 * Daemon records (no TTL, so never evicted under a `volatile-*` policy):
 * - `expiry:due`              ZSET member = conversation list key, score = deadline (ms,
 *                             Redis clock): keys whose TTL every write renews
 * - `expiry:slots`            ZSET slot key → slot start; `expiry:slots:c:<start>` and
 *                             `expiry:slots:f:<ms>` ZSETs cache key → deadline; and the
 *                             counter `expiry:slots:count`: the deadlines of keys set once
 *                             (messages, retries), in small listpack-encoded sorted sets
 *                             (src/redis/scripts/lib/due-slots.lua)
 * - `expiry:inflight`         ZSET member = cache key, score = lease deadline (ms)
 * - `expiry:shadow`           HASH field = cache key, value = message JSON still to persist
 * - `expiry:attempts`         HASH field = cache key, value = failed attempts so far
 * - `expiry:dead`             HASH field = cache key, value = JSON { error, attempts, at }
 * - `pending:{a}:{b}`         ZSET member = message id, score = createdAt: messages of a
 *                             conversation not yet in MongoDB (write-behind, or MongoDB down)
 *
 * Other:
 * - `convgen:{a}:{b}`         STRING counter bumped by every write to a conversation, so a
 *                             cache fill from MongoDB never overwrites a newer write
 * - `users:known`             SET of user ids seen to exist (users are never deleted), so a
 *                             send is checked without MongoDB (src/auth/user-store.ts)
 * - `ratelimit:send:{userId}` fixed-window counter of a user's sends (with the window's TTL)
 * - `ratelimit:auth:user:{username}`, `ratelimit:auth:addr:{address}`  fixed-window counters
 *                             of login and sign-up attempts (with the window's TTL)
 * - `events`                  pub/sub channel fanning ws events out to every API process
 * - `stats:counters`, `stats:instances`  HASHes of cluster-wide stats (dashboard, CLI)
 */
export class RedisKeys {
  constructor(readonly prefix: string = '') {}

  message(id: string): string {
    return `${this.prefix}message:${id}`;
  }

  /** The conversation key; the two user ids sorted so both directions share it. */
  conversation(userA: string, userB: string): string {
    return `${this.prefix}messages:${conversationId(userA, userB)}`;
  }

  conversationGeneration(userA: string, userB: string): string {
    return `${this.prefix}convgen:${conversationId(userA, userB)}`;
  }

  pending(userA: string, userB: string): string {
    return `${this.prefix}pending:${conversationId(userA, userB)}`;
  }

  /** `pending:{a}:{b}` for a conversation id as stored on messages. */
  pendingByConversation(conversation: string): string {
    return `${this.prefix}pending:${conversation}`;
  }

  get due(): string {
    return `${this.prefix}expiry:due`;
  }

  /** The slotted due index (src/redis/scripts/lib/due-slots.lua); its slots are named after it. */
  get dueSlots(): string {
    return `${this.prefix}expiry:slots`;
  }

  /** Entries in all due slots (a gauge kept by the slot scripts, which name it `index:count`). */
  get dueSlotCount(): string {
    return `${this.dueSlots}:count`;
  }

  get inflight(): string {
    return `${this.prefix}expiry:inflight`;
  }

  get shadow(): string {
    return `${this.prefix}expiry:shadow`;
  }

  get attempts(): string {
    return `${this.prefix}expiry:attempts`;
  }

  get dead(): string {
    return `${this.prefix}expiry:dead`;
  }

  get eventsChannel(): string {
    return `${this.prefix}events`;
  }

  /** HASH of cluster-wide counters (see src/metrics/shared-stats.ts). */
  get statsCounters(): string {
    return `${this.prefix}stats:counters`;
  }

  /** HASH instance id → JSON report of each running API/daemon process. */
  get statsInstances(): string {
    return `${this.prefix}stats:instances`;
  }

  /** SET of the user ids seen to exist, shared by the API processes (src/auth/user-store.ts). */
  get knownUsers(): string {
    return `${this.prefix}users:known`;
  }

  rateLimit(userId: string): string {
    return `${this.prefix}ratelimit:send:${userId}`;
  }

  /** Counter of the failed logins and the sign-ups naming `username` (src/auth/auth-throttle.ts). */
  authAttemptsByUsername(username: string): string {
    return `${this.prefix}ratelimit:auth:user:${username}`;
  }

  /** Counter of the logins and sign-ups from one client address (src/auth/auth-throttle.ts). */
  authAttemptsByAddress(address: string): string {
    return `${this.prefix}ratelimit:auth:addr:${address}`;
  }

  idempotency(userId: string, key: string): string {
    return `${this.prefix}idem:${userId}:${key}`;
  }

  /** Patterns of this application's cache entries (for SCAN-based clearing). */
  get cachePatterns(): string[] {
    return [`${escapeGlob(this.prefix)}message:*`, `${escapeGlob(this.prefix)}messages:*`];
  }

  /** What kind of key a name is, with the prefix removed; undefined when it is not ours. */
  parse(
    key: string,
  ): { kind: 'message'; id: string } | { kind: 'conversation'; conversation: string } | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const rest = key.slice(this.prefix.length);
    if (rest.startsWith('message:')) return { kind: 'message', id: rest.slice(8) };
    if (rest.startsWith('messages:')) return { kind: 'conversation', conversation: rest.slice(9) };
    return undefined;
  }
}

/** `a:b` with the ids sorted, as stored in the `conversationId` field of messages. */
export function conversationId(userA: string, userB: string): string {
  return userA < userB ? `${userA}:${userB}` : `${userB}:${userA}`;
}

/** Escapes Redis glob characters so a prefix is matched literally by SCAN MATCH. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

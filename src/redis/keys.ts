/**
 * Every Redis key this application writes, in one place; docs/redis-data-model.md describes
 * each one (type, value, lifetime). The KEYS order of each Lua script is kept by its typed
 * class in src/redis/records/.
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

  /** A counter written only to be waited for (src/redis/replica-wait.ts `afterMark`). */
  get replicaMark(): string {
    return `${this.prefix}replica:mark`;
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

  /** STRING: the partition count the keys are laid out in (src/redis/key-layout.ts). */
  get keyLayout(): string {
    return `${this.prefix}layout:partitions`;
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

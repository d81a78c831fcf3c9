import { LuaScript, type ScriptRunner } from '../lua-script.js';
import type { RedisKeys } from '../keys.js';

/** One expiration claimed by this daemon (see `expiry-claim-due-5.lua`). */
export interface ClaimedEntry {
  /** The cache key, full name (with the prefix). */
  key: string;
  /**
   * When it became due (ms, Redis clock): the due score, i.e. the TTL deadline or, after a
   * failed attempt, the retry time; for a lease taken back from a dead daemon, the
   * expired lease deadline.
   */
  deadline: number;
  /** The `MessageShadow` JSON still to persist, or null (nothing to write). */
  shadow: string | null;
  /** Failed attempts before this claim. */
  attempts: number;
  /** True when the entry was taken back from an expired lease. */
  reclaimed: boolean;
}

/** What a claim returns: Redis's clock, the lease token and the entries. */
export interface Claim {
  /** Redis time (ms) when the claim ran. */
  now: number;
  /** The lease deadline of every entry of this claim; ack/nack must present it. */
  token: number;
  /** Hint claims: the earliest deadline of a named key that was not due yet. */
  notYetDue: number | undefined;
  entries: ClaimedEntry[];
}

/** What {@link ExpiryScripts.peek} reads after a round. */
export interface IndexPeek {
  now: number;
  earliestDue: number | undefined;
  earliestLease: number | undefined;
  /** Entries in the due index (per-key ZCARD + the slots' counter). */
  indexed: number;
  /** Entries already due (score <= now). */
  due: number;
  deadLetters: number;
}

/** One acknowledgement: the key, and the conversation pending entry to remove with it. */
export interface AckItem {
  key: string;
  pendingKey?: string;
  messageId?: string;
}

/** Outcome of a nack per entry, as returned by `expiry-nack-4.lua`. */
export const NackOutcome = { leaseLost: 0, retry: 1, dead: 2 } as const;
export type NackOutcome = (typeof NackOutcome)[keyof typeof NackOutcome];

const scripts = {
  claimDue: LuaScript.load('expiry-claim-due-5'),
  claimKeys: LuaScript.load('expiry-claim-keys-5'),
  ack: LuaScript.load('expiry-ack-3'),
  nack: LuaScript.load('expiry-nack-4'),
  peek: LuaScript.load('expiry-peek-4'),
  retryDead: LuaScript.load('expiry-retry-dead-3'),
  dropDead: LuaScript.load('expiry-drop-dead-4'),
};

/**
 * Typed calls of the expiry daemon's Lua scripts (`src/redis/scripts/expiry-*.lua`; each
 * file documents its KEYS, ARGV and output) on the records of one partition: every key a
 * call names, cache keys and pending keys included, must be of that partition (one hash
 * slot on a cluster). Replies are checked here, in one place, so the daemon never handles
 * raw Redis arrays.
 */
export class ExpiryScripts {
  constructor(
    private readonly redis: ScriptRunner,
    private readonly keys: RedisKeys,
  ) {}

  private get claimKeysList(): string[] {
    const k = this.keys;
    return [k.due, k.inflight, k.shadow, k.attempts, k.dueSlots];
  }

  /** Claims up to `limit` due entries, then expired leases in the room left. */
  async claimDue(leaseMs: number, limit: number): Promise<Claim> {
    const reply = await scripts.claimDue.run(this.redis, this.claimKeysList, [leaseMs, limit]);
    return parseClaim(reply);
  }

  /**
   * Claims the named cache keys that are still in the per-key due index and due, and, for
   * named keys not there (their deadline is in a slot), up to `slotRoom` due slot entries.
   */
  async claimKeys(leaseMs: number, cacheKeys: string[], slotRoom: number): Promise<Claim> {
    const reply = await scripts.claimKeys.run(this.redis, this.claimKeysList, [
      leaseMs,
      slotRoom,
      ...cacheKeys,
    ]);
    return parseClaim(reply);
  }

  /** Acks; returns per item whether its lease still carried `token` (counted as processed). */
  async ack(token: number, items: AckItem[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    const k = this.keys;
    const args: Array<string | number> = [token];
    for (const it of items) args.push(it.key, it.pendingKey ?? '', it.messageId ?? '');
    const reply = await scripts.ack.run(this.redis, [k.inflight, k.shadow, k.attempts], args);
    return asArray(reply, 'ack').map((v) => Number(v) === 1);
  }

  /** Nacks; `backoffMs` -1 sends an entry to the dead letters at once. */
  async nack(
    token: number,
    maxAttempts: number,
    error: string,
    items: Array<{ key: string; backoffMs: number }>,
  ): Promise<NackOutcome[]> {
    if (items.length === 0) return [];
    const k = this.keys;
    const args: Array<string | number> = [token, maxAttempts, error];
    for (const it of items) args.push(it.key, Math.round(it.backoffMs));
    const reply = await scripts.nack.run(
      this.redis,
      [k.inflight, k.dueSlots, k.attempts, k.dead],
      args,
    );
    return asArray(reply, 'nack').map((v) => Number(v) as NackOutcome);
  }

  async peek(): Promise<IndexPeek> {
    const k = this.keys;
    const r = asArray(
      await scripts.peek.run(this.redis, [k.due, k.inflight, k.dead, k.dueSlots], []),
      'peek',
    );
    return {
      now: Number(r[0]),
      earliestDue: r[1] == null ? undefined : Number(r[1]),
      earliestLease: r[2] == null ? undefined : Number(r[2]),
      indexed: Number(r[3]),
      due: Number(r[4]),
      deadLetters: Number(r[5]),
    };
  }

  /** Moves a dead letter back to the due index; false when `key` is not a dead letter. */
  async retryDead(key: string): Promise<boolean> {
    const k = this.keys;
    const r = await scripts.retryDead.run(this.redis, [k.dead, k.dueSlots, k.attempts], [key]);
    return Number(r) === 1;
  }

  /** Drops a dead letter with its shadow and pending entry; false when it is not one. */
  async dropDead(
    key: string,
    pending?: { pendingKey: string; messageId: string },
  ): Promise<boolean> {
    const k = this.keys;
    const r = await scripts.dropDead.run(
      this.redis,
      [k.dead, k.shadow, k.attempts, pending?.pendingKey ?? k.dead],
      [key, pending?.messageId ?? ''],
    );
    return Number(r) === 1;
  }
}

function asArray(reply: unknown, what: string): unknown[] {
  if (!Array.isArray(reply)) throw new TypeError(`unexpected ${what} script reply`);
  return reply;
}

/** Values per claimed entry in a claim reply, flat: key, deadline, shadow, attempts, reclaimed. */
const CLAIM_ENTRY_WIDTH = 5;

function parseClaim(reply: unknown): Claim {
  const r = asArray(reply, 'claim');
  if (r.length < 3 || (r.length - 3) % CLAIM_ENTRY_WIDTH !== 0) {
    throw new TypeError('unexpected claim script reply');
  }
  const entries: ClaimedEntry[] = [];
  for (let i = 3; i < r.length; i += CLAIM_ENTRY_WIDTH) {
    const shadow = r[i + 2];
    entries.push({
      key: String(r[i]),
      deadline: Number(r[i + 1]),
      shadow: shadow == null ? null : String(shadow),
      attempts: Number(r[i + 3]),
      reclaimed: Number(r[i + 4]) === 1,
    });
  }
  return {
    now: Number(r[0]),
    token: Number(r[1]),
    notYetDue: r[2] == null ? undefined : Number(r[2]),
    entries,
  };
}

import { ObjectId, type Collection, type Db } from 'mongodb';
import type { PublicUserJson } from '../contract/http-schemas.js';
import { isDuplicateKey } from '../mongo/duplicate-key.js';
import type { RedisClient } from '../redis/redis-client.js';

export const USERS_COLLECTION = 'users';

/** A user as stored in MongoDB (`users` collection). */
export interface UserDoc {
  _id: ObjectId;
  username: string;
  passwordHash: string;
  createdAt: Date;
}

/** A user as other users see it (the contract's `publicUserSchema`). */
export type PublicUser = PublicUserJson;

export interface UserStoreOptions {
  /** How many known user ids are remembered in memory. @defaultValue 50000 */
  knownIdsLimit?: number;
  /**
   * How long an id MongoDB did not find is answered "no such user" without asking it again
   * (the shared set is still asked first, so a user created meanwhile by another process is
   * seen at once). @defaultValue 10000
   */
  missingIdsTtlMs?: number;
  /** How many such ids are remembered (the oldest go first). @defaultValue 10000 */
  missingIdsLimit?: number;
  /** The clock those answers lapse by, in ms since the epoch (tests move it). @defaultValue Date.now */
  now?: () => number;
  /**
   * Redis SETs of the ids seen to exist, shared by every API process (`keys.knownUsers` of
   * the user's partition, so that a cluster spreads them): a process that has not seen a
   * user yet learns it there, without MongoDB.
   */
  shared?: { redis: Pick<RedisClient, 'sAdd' | 'sIsMember'>; key: (id: string) => string };
}

/** Thrown by {@link UserStore.create} when the unique username index refuses the insert. */
export class DuplicateUsernameError extends Error {
  constructor(readonly username: string) {
    super(`username ${username} is taken`);
    this.name = 'DuplicateUsernameError';
  }
}

/**
 * The `users` collection. Users are never deleted, so a user id once seen to exist stays
 * valid: `exists` remembers them in memory and, with `shared`, in a Redis SET every API
 * process reads. That lets a send be accepted (as write-behind) while MongoDB is down, as
 * long as any process has seen the receiver since the set was introduced (older users are
 * added on their first lookup). The set is a record without TTL, like the daemon's: never
 * evicted under `volatile-lru`, about 80 bytes a user. Ids MongoDB did not find are
 * remembered briefly, so a flood of checks of a missing id does not read MongoDB each time.
 */
export class UserStore {
  private readonly known = new Set<string>();
  private readonly knownLimit: number;
  /** Ids MongoDB did not find → when that answer lapses (ms); insertion-ordered. */
  private readonly missing = new Map<string, number>();
  private readonly missingTtlMs: number;
  private readonly missingLimit: number;
  private readonly now: () => number;
  /** MongoDB lookups in flight, so that concurrent checks of one id share one read. */
  private readonly lookups = new Map<string, Promise<boolean>>();
  private readonly shared: UserStoreOptions['shared'];

  constructor(
    readonly collection: Collection<UserDoc>,
    opts: UserStoreOptions = {},
  ) {
    this.knownLimit = opts.knownIdsLimit ?? 50000;
    this.missingTtlMs = opts.missingIdsTtlMs ?? 10_000;
    this.missingLimit = opts.missingIdsLimit ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.shared = opts.shared;
  }

  static fromDb(db: Db, opts?: UserStoreOptions): UserStore {
    return new UserStore(db.collection<UserDoc>(USERS_COLLECTION), opts);
  }

  /** Unique index on `username` (signup races are settled by it). */
  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ username: 1 }, { unique: true, name: 'username_unique' });
  }

  /** @throws DuplicateUsernameError when the username is taken. */
  async create(username: string, passwordHash: string): Promise<PublicUser> {
    const doc: UserDoc = { _id: new ObjectId(), username, passwordHash, createdAt: new Date() };
    try {
      await this.collection.insertOne(doc);
    } catch (err) {
      if (isDuplicateKey(err)) {
        throw new DuplicateUsernameError(username);
      }
      throw err;
    }
    const id = doc._id.toHexString();
    await this.remember(id);
    return { id, username };
  }

  async findByUsername(username: string): Promise<UserDoc | null> {
    const doc = await this.collection.findOne({ username });
    if (doc) await this.remember(doc._id.toHexString());
    return doc;
  }

  /** Whether this process has seen the user exist (no I/O; {@link exists} asks further). */
  isKnownHere(id: string): boolean {
    return this.known.has(id);
  }

  /**
   * Whether a user with this id (24 hex, already validated) exists: this process's memory,
   * then the shared set, then the ids MongoDB recently did not find, then MongoDB (one read
   * for concurrent checks of one id). An unreachable Redis only skips the shared set.
   * @throws the driver's error when MongoDB must be asked and cannot be reached.
   */
  async exists(id: string): Promise<boolean> {
    if (this.known.has(id)) return true;
    if (this.shared) {
      const member = await this.shared.redis.sIsMember(this.shared.key(id), id).catch(() => 0);
      if (member === 1) {
        this.rememberHere(id);
        return true;
      }
    }
    if (this.recentlyMissing(id)) return false;
    let lookup = this.lookups.get(id);
    if (!lookup) {
      lookup = this.lookUp(id).finally(() => this.lookups.delete(id));
      this.lookups.set(id, lookup);
    }
    return lookup;
  }

  /** Every user except `exceptId`, by username (at most `limit`). */
  async listOthers(exceptId: string, limit = 1000): Promise<PublicUser[]> {
    const docs = await this.collection
      .find({ _id: { $ne: new ObjectId(exceptId) } }, { projection: { username: 1 } })
      .sort({ username: 1 })
      .limit(limit)
      .toArray();
    return docs.map((d) => ({ id: d._id.toHexString(), username: d.username }));
  }

  private async lookUp(id: string): Promise<boolean> {
    const doc = await this.collection.findOne(
      { _id: new ObjectId(id) },
      { projection: { _id: 1 } },
    );
    if (doc) await this.remember(id);
    else this.rememberMissing(id);
    return doc !== null;
  }

  private recentlyMissing(id: string): boolean {
    const until = this.missing.get(id);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.missing.delete(id);
    return false;
  }

  private rememberMissing(id: string): void {
    if (this.missingTtlMs <= 0) return;
    // Re-inserted at the end, so the first entry is always the one to lapse first.
    this.missing.delete(id);
    if (this.missing.size >= this.missingLimit) {
      const oldest = this.missing.keys().next().value;
      if (oldest !== undefined) this.missing.delete(oldest);
    }
    this.missing.set(id, this.now() + this.missingTtlMs);
  }

  /** In this process, and in the shared set (best effort: MongoDB has the user anyway). */
  private async remember(id: string): Promise<void> {
    if (this.known.has(id)) return; // offered to the shared set when first seen here
    this.rememberHere(id);
    await this.shared?.redis.sAdd(this.shared.key(id), id).catch(() => 0);
  }

  private rememberHere(id: string): void {
    this.missing.delete(id);
    // A plain bounded set: forgetting an id only costs one more lookup.
    if (this.known.size >= this.knownLimit) this.known.clear();
    this.known.add(id);
  }
}

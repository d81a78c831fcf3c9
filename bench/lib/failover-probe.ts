import { ObjectId, type Collection } from 'mongodb';
import { sleep, waitUntil } from '../../src/lifecycle/wait.js';
import type { MessageDoc } from '../../src/messages/message.js';
import { keySlot, type KeySpace } from '../../src/redis/key-space.js';
import type { ApiUser } from './api-users.js';
import { clusterShards, masterOfSlot, type ClusterShard } from '../../src/local/redis-cluster.js';
import type { BenchCluster } from './bench-cluster.js';

/** An acknowledged send: the message id the API gave it, when it was started and answered. */
interface Ack {
  id: string;
  startedAt: number;
  ackedAt: number;
}

/** A new send this often: a light load that keeps every shard written to (~30 sends/s each). */
const SEND_INTERVAL_MS = 10;
const MAX_IN_FLIGHT = 200;
/** How long one send may take before it counts as failed (a send to a dead master may hang). */
const SEND_TIMEOUT_MS = 5000;
const RECOVERY_TIMEOUT_MS = 20000;

/**
 * A light steady load of `POST /api/messages/send` over every conversation of `users`,
 * from this process: one new send every 10 ms whatever becomes of the earlier ones, each
 * tried once (no retry: a retry would only blur when the shard took writes again).
 */
export class SendTrickle {
  readonly acks: Ack[] = [];
  /** Sends not acknowledged, by HTTP status (`net`: no answer within 5 s, or none at all). */
  readonly failed: Record<string, number> = {};
  private running = true;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly pacer: Promise<void>;
  private readonly pairs: Array<[ApiUser, ApiUser]>;

  constructor(
    private readonly apiUrl: string,
    users: readonly ApiUser[],
  ) {
    this.pairs = users.flatMap((a, i) => users.slice(i + 1).map((b): [ApiUser, ApiUser] => [a, b]));
    this.pacer = this.pace();
  }

  /** Starts no more sends and waits for the started ones to end. */
  async stop(): Promise<void> {
    this.running = false;
    await this.pacer;
    await Promise.all(this.inFlight);
  }

  private async pace(): Promise<void> {
    for (let n = 0; this.running; n++) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) {
        await Promise.race(this.inFlight);
        continue;
      }
      const [a, b] = this.pairs[n % this.pairs.length]!;
      const [from, to] = Math.floor(n / this.pairs.length) % 2 ? [b, a] : [a, b];
      const send: Promise<void> = this.send(from, to.id, n).finally(() =>
        this.inFlight.delete(send),
      );
      this.inFlight.add(send);
      await sleep(SEND_INTERVAL_MS);
    }
  }

  private async send(from: ApiUser, receiverId: string, n: number): Promise<void> {
    const startedAt = Date.now();
    try {
      const res = await fetch(`${this.apiUrl}/api/messages/send`, {
        method: 'POST',
        headers: { authorization: `Bearer ${from.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ receiverId, content: `failover probe ${n}` }),
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status !== 201 && res.status !== 202) {
        this.fail(String(res.status));
        return;
      }
      const { message } = JSON.parse(text) as { message: { id: string } };
      this.acks.push({ id: message.id, startedAt, ackedAt: Date.now() });
    } catch {
      this.fail('net');
    }
  }

  private fail(outcome: string): void {
    this.failed[outcome] = (this.failed[outcome] ?? 0) + 1;
  }
}

/** What one `kill -9` of a master came to; times from the kill. */
export interface FailoverOutcome {
  victim: number;
  /** Until a replica of the victim served its slots (CLUSTER SLOTS of a surviving node). */
  promotedMs: number;
  /** Until the first acknowledged send, started after the victim was gone, of a message on its shard. */
  writesBackMs: number;
  /**
   * Until the first expiration on its shard was processed after the kill: a message of the
   * shard acknowledged before the kill, due after it, found in MongoDB (write-behind: the
   * daemon stores it when it expires).
   */
  expirationsBackMs: number;
}

/** What {@link killMasterOnce} needs to see expirations processed. */
export interface ExpiryWatch {
  /** The messages collection the daemon writes expired messages to. */
  messages: Collection<MessageDoc>;
  /** The TTL the API caches sends with (CACHE_TTL_SECONDS), in ms. */
  ttlMs: number;
}

/**
 * Kills (SIGKILL) the master of shard `shardIndex` (shards by first slot) while `load`
 * runs, measures until a send to that shard is acknowledged again and until an expiration
 * of that shard is processed again (`watch`), then starts the killed
 * node again (it rejoins as a replica of the promoted one) and waits for a healthy cluster.
 * The load must already write to the system on `cluster`, whose key space is `space`.
 */
export async function killMasterOnce(
  cluster: BenchCluster,
  space: KeySpace,
  load: SendTrickle,
  shardIndex: number,
  watch: ExpiryWatch,
): Promise<FailoverOutcome> {
  const ports = cluster.running.nodes.map((n) => n.port);
  await cluster.running.waitHealthy(30000);
  const shards = await clusterShards(ports);
  const shard = shards[shardIndex % shards.length]!;
  const victim = shard.master;
  const onShard = (ack: Ack) => {
    const slot = keySlot(space.forMessage(ack.id).message(ack.id));
    return slot >= shard.from && slot <= shard.to;
  };
  const steadySince = Date.now();
  await waitUntil(
    `sends acknowledged on the shard of ${victim}`,
    () => load.acks.some((a) => a.startedAt >= steadySince && onShard(a)),
    RECOVERY_TIMEOUT_MS,
    10,
  );

  const killedAt = Date.now();
  await cluster.running.killNode(victim);
  const goneAt = Date.now();
  const survivors = ports.filter((p) => p !== victim);
  const promoted = waitUntil(
    `a replica of ${victim} promoted`,
    async () => {
      const now = await clusterShards(survivors).catch((): ClusterShard[] => []);
      const master = masterOfSlot(now, shard.from);
      return master !== undefined && master !== victim;
    },
    RECOVERY_TIMEOUT_MS,
    20,
  ).then(() => Date.now() - killedAt);
  // Awaited below; observed now so that a failure first elsewhere is no unhandled rejection.
  promoted.catch(() => {});
  const back = () => load.acks.filter((a) => a.startedAt >= goneAt && onShard(a));
  await waitUntil(
    `a send to the shard of ${victim} acknowledged again`,
    () => back().length > 0,
    RECOVERY_TIMEOUT_MS,
    5,
  );
  const writesBackMs = Math.min(...back().map((a) => a.ackedAt)) - killedAt;
  const expirationsBackMs = await firstExpirationAfter(killedAt, load.acks.filter(onShard), watch);
  const promotedMs = await promoted;
  await cluster.running.startNode(victim);
  await cluster.running.waitHealthy(30000);
  return { victim, promotedMs, writesBackMs, expirationsBackMs };
}

/**
 * Polls MongoDB for the messages of `acks` (of the dead shard) acknowledged before the kill
 * and due after it, until one is stored; ms from the kill to that poll.
 */
async function firstExpirationAfter(
  killedAt: number,
  acks: readonly Ack[],
  watch: ExpiryWatch,
): Promise<number> {
  const ids = acks
    .filter((a) => a.ackedAt < killedAt && a.ackedAt + watch.ttlMs > killedAt)
    .map((a) => new ObjectId(a.id));
  if (ids.length === 0) throw new Error('no message of the dead shard was due after the kill');
  let at = 0;
  await waitUntil(
    'an expiration of the dead shard processed',
    async () => {
      const found = await watch.messages.findOne({ _id: { $in: ids } }, { projection: { _id: 1 } });
      at = Date.now();
      return found !== null;
    },
    RECOVERY_TIMEOUT_MS,
    20,
  );
  return at - killedAt;
}

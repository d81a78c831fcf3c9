import { ErrorReply } from 'redis';
import { AppError } from '../errors/app-error.js';
import { keySlot } from './key-space.js';
import { isClusterClient, type RedisClient } from './redis-client.js';

/** Redis's answer to a WAIT sent to a replica. */
const WAIT_ON_REPLICA = /^ERR WAIT cannot be used with replica/;

/** The WAIT of one connection: the one in flight, and the next one its callers join. */
interface NodeWaits {
  inFlight: Promise<number> | undefined;
  next: Promise<number> | undefined;
}

/**
 * Makes a write durable through a failover before it is acknowledged: `WAIT replicas
 * timeoutMs` on the connection that sent it (Redis replication is asynchronous; WAIT
 * covers every write the connection sent before it). Callers that arrive while a WAIT is
 * in flight share the next one, so a connection runs at most one WAIT at a time and one
 * per replication round trip under load, whatever the number of concurrent sends.
 */
export class ReplicaWait {
  private readonly byNode = new Map<string, NodeWaits>();

  /**
   * @param redis the connection the waited-for writes go through: WAIT blocks it, so it
   *   should be one of their own, not the one reads share
   */
  constructor(
    readonly redis: RedisClient,
    readonly replicas: number,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Resolves once `replicas` replicas acknowledged every write this process sent so far to
   * the master of `key`'s slot.
   * @throws AppError NOT_REPLICATED when fewer did within the timeout
   */
  async after(key: string): Promise<void> {
    const node = this.nodeOf(key);
    let waits = this.byNode.get(node);
    if (!waits) {
      waits = { inFlight: undefined, next: undefined };
      this.byNode.set(node, waits);
    }
    const acked = await this.join(waits, key);
    if (acked < this.replicas) {
      throw new AppError(
        'NOT_REPLICATED',
        `Confirmed on ${acked} of ${this.replicas} Redis replica(s) within ${this.timeoutMs} ms; ` +
          'retry with the same idempotency key',
      );
    }
  }

  /**
   * For a write another connection made: a write of ours to the same master after it
   * (`INCR markKey`, a key of that write's slot), then {@link after}: replication is in order.
   * @throws AppError NOT_REPLICATED
   */
  async afterMark(markKey: string): Promise<void> {
    await this.redis.incr(markKey);
    await this.after(markKey);
  }

  /** A WAIT sent after this call: the one in flight may have left before our write's reply. */
  private join(waits: NodeWaits, key: string): Promise<number> {
    if (!waits.inFlight) return this.start(waits, key);
    waits.next ??= waits.inFlight
      .catch(() => 0)
      .then(() => {
        waits.next = undefined;
        return this.start(waits, key);
      });
    return waits.next;
  }

  private start(waits: NodeWaits, key: string): Promise<number> {
    const sent = this.wait(key).finally(() => {
      if (waits.inFlight === sent) waits.inFlight = undefined;
    });
    waits.inFlight = sent;
    return sent;
  }

  private async wait(key: string): Promise<number> {
    const args = ['WAIT', String(this.replicas), String(this.timeoutMs)];
    try {
      const reply = isClusterClient(this.redis)
        ? await this.redis.sendCommand(key, false, args)
        : await this.redis.sendCommand(args);
      return Number(reply);
    } catch (err) {
      // A restarted master that took the write before it learnt it was demoted: not kept.
      if (err instanceof ErrorReply && WAIT_ON_REPLICA.test(err.message)) return 0;
      throw err;
    }
  }

  /** One connection per master on a cluster (the one of the key's slot), one on a node. */
  private nodeOf(key: string): string {
    if (!isClusterClient(this.redis)) return '';
    return this.redis.slots[keySlot(key)]?.master.address ?? '';
  }
}

import { createClient, ErrorReply, type RedisClusterOptions, type RedisClusterType } from 'redis';
import type { Logger } from '../logging/logger.js';
import { watchRedisErrors } from '../redis/redis-client.js';
import {
  enableExpiredEvents,
  type ExpiryHintHandlers,
  type ExpiryHints,
  type NotificationState,
} from './keyevent-subscriber.js';

/** A cluster has database 0 only (SELECT is refused). */
const CHANNEL = '__keyevent@0__:expired';
/** The longest a resync waits for one node's answer or for a topology refresh. */
const STEP_TIMEOUT_MS = 2000;
/** The cluster client's events after which the masters may have changed. */
const NODE_EVENTS = ['node-ready', 'node-connect', 'node-disconnect', 'node-reconnecting'] as const;

type MasterNode = RedisClusterType['masters'][number];

export interface ClusterKeyeventSubscriberOptions extends ExpiryHintHandlers {
  /**
   * The process's cluster client: its view of the masters (refreshed by this subscriber),
   * and CONFIG GET/SET through its node clients. Connected before start().
   */
  cluster: RedisClusterType;
  logger: Logger;
  /** How often the masters are resynced and their notifications checked. @defaultValue 1000 */
  resyncIntervalMs?: number;
  /**
   * Options of the subscriber's own connections (credentials, TLS, timeouts, reconnect
   * strategy): the cluster's `defaults`. Host and port are each master's.
   */
  nodeOptions?: RedisClusterOptions['defaults'];
  /** CLIENT SETNAME of its connections. @defaultValue 'expiry-subscriber' */
  name?: string;
}

/**
 * Subscribes to the `expired` keyevents of every master of a Redis Cluster, as a fast hint
 * only (see `KeyeventSubscriber`). Keyspace events are node-local — only the master
 * that expired a key publishes it — so each master gets its own subscriber connection.
 * node-redis has no "topology changed" event: the set of masters is resynced on the
 * cluster client's node events and on a timer, subscribing to new masters (then asking
 * for a poll, as events were lost meanwhile) and dropping nodes that are no longer masters.
 * `notify-keyspace-events` is per node, empty on a promoted replica and lost by a restart,
 * so `E` and `x` are merged in on every master at each resync.
 */
export class ClusterKeyeventSubscriber implements ExpiryHints {
  private readonly cluster: RedisClusterType;
  private readonly logger: Logger;
  private readonly resyncIntervalMs: number;
  private readonly name: string;
  /** By node address (`host:port`), as node-redis names its masters. */
  private readonly subs = new Map<string, MasterSubscription>();
  private readonly states = new Map<string, NotificationState>();
  private warnedUnavailable = false;
  private phase: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private resyncing: Promise<void> | undefined;
  private resyncAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private probeTurn = 0;
  private stopping: Promise<void> | undefined;
  private readonly onNodeEvent = () => this.requestResync();

  constructor(private readonly opts: ClusterKeyeventSubscriberOptions) {
    this.cluster = opts.cluster;
    this.logger = opts.logger;
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 1000;
    this.name = opts.name ?? 'expiry-subscriber';
    if (!(this.resyncIntervalMs > 0)) throw new TypeError('resyncIntervalMs must be positive');
  }

  /**
   * `on` when every master had `E` and `x` already, `enabled` when this subscriber merged
   * them in on some; otherwise the worst state of a master (`unavailable`, then `unknown`).
   */
  get notifications(): NotificationState {
    const states = [...this.states.values()];
    if (states.length === 0) return 'unknown';
    for (const worst of ['unavailable', 'unknown', 'enabled'] as const) {
      if (states.includes(worst)) return worst;
    }
    return 'on';
  }

  /**
   * Subscribes on every master the cluster client knows, checking their notifications.
   * Resolves once each subscription is in place or its first connection attempt failed
   * (that master is subscribed when it answers, and a poll is asked for then).
   */
  async start(): Promise<void> {
    if (this.phase !== 'new') {
      throw new Error('ClusterKeyeventSubscriber.start() may be called once');
    }
    this.phase = 'starting';
    for (const event of NODE_EVENTS) this.cluster.on(event, this.onNodeEvent);
    this.requestResync();
    await this.resyncing;
    await Promise.all([...this.subs.values()].map((sub) => sub.settled));
  }

  /** Unsubscribes and closes every connection it opened; stops resyncing. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    this.phase = 'stopped';
    clearTimeout(this.timer);
    for (const event of NODE_EVENTS) this.cluster.off(event, this.onNodeEvent);
    const subs = [...this.subs.values()];
    this.subs.clear();
    await Promise.all(subs.map((sub) => sub.close()));
    // A resync in flight opens nothing more now; its commands are bounded.
    await this.resyncing;
  }

  /** Runs a resync now, or right after the one running; then one every interval. */
  private requestResync(): void {
    if (this.phase === 'new' || this.phase === 'stopped') return;
    if (this.resyncing) {
      this.resyncAgain = true;
      return;
    }
    clearTimeout(this.timer);
    this.resyncing = this.resyncLoop();
  }

  private async resyncLoop(): Promise<void> {
    try {
      do {
        this.resyncAgain = false;
        await this.resync();
      } while (this.resyncAgain && this.phase !== 'stopped');
    } finally {
      this.resyncing = undefined;
      if (this.phase !== 'stopped') {
        this.timer = setTimeout(() => this.requestResync(), this.resyncIntervalMs);
        this.timer.unref();
      }
    }
  }

  /** Never throws: whatever fails is tried again at the next resync. */
  private async resync(): Promise<void> {
    // A closed cluster client lists no masters: nothing to learn from it.
    if (!this.cluster.isOpen) return;
    if (await this.topologyChanged()) {
      try {
        // No public refresh in node-redis (it runs this itself on MOVED and, after 5 s,
        // on reconnect attempts): without it a failover would be followed only that late.
        await bounded(this.cluster._slots.rediscover(), 'cluster topology refresh');
      } catch (err) {
        this.logger.debug({ err: (err as Error).message }, 'cluster topology refresh failed');
      }
    }
    if (this.phase === 'stopped') return;
    const masters = new Map(this.cluster.masters.map((m) => [m.address, m]));
    for (const [address, sub] of this.subs) {
      if (masters.has(address)) continue;
      // A node that is no longer a master (failed, demoted, removed) publishes nothing.
      this.subs.delete(address);
      this.states.delete(address);
      sub.drop();
      this.logger.info({ node: address }, 'not a master any more: keyevent subscription dropped');
    }
    // Masters found after start missed the events published before their subscription.
    const announce = this.phase === 'running';
    for (const [address, master] of masters) {
      if (this.subs.has(address)) continue;
      this.subs.set(address, this.subscribe(master, announce));
      this.states.set(address, 'unknown');
      if (announce) this.logger.info({ node: address }, 'new master: subscribing to its keyevents');
    }
    await Promise.all([...masters.values()].map((m) => this.ensureNotifications(m)));
    if (this.phase === 'starting') this.phase = 'running';
  }

  /**
   * Whether a live master's CLUSTER SLOTS names other masters than the cluster client
   * knows (a failover, a new or removed shard); true when no known master answers.
   */
  private async topologyChanged(): Promise<boolean> {
    const known = this.cluster.masters;
    const live = known.filter((m) => m.client?.isReady);
    const probe = live[this.probeTurn++ % Math.max(live.length, 1)]?.client;
    if (!probe) return true;
    try {
      const shards = await probe.withCommandOptions({ timeout: STEP_TIMEOUT_MS }).clusterSlots();
      const owners = new Set(shards.map((s) => `${s.master.host}:${s.master.port}`));
      return owners.size !== known.length || known.some((m) => !owners.has(m.address));
    } catch {
      return true;
    }
  }

  private subscribe(master: MasterNode, announce: boolean): MasterSubscription {
    const client = subscriberClient(this.opts.nodeOptions, this.name, master);
    watchRedisErrors(client, master.address, this.logger, this.name);
    return new MasterSubscription(client, announce, {
      onExpired: (key) => this.opts.onExpired(key),
      onSubscribed: () => {
        if (this.phase !== 'stopped') this.opts.onReconnect();
      },
      onResubscribed: () => {
        if (this.phase === 'stopped') return;
        this.opts.onReconnect();
        // A restarted node lost a CONFIG SET: checked again at once.
        if (this.states.has(master.address)) this.states.set(master.address, 'unknown');
        this.requestResync();
      },
      onTrouble: () => this.requestResync(),
    });
  }

  /**
   * Merges `E` and `x` into a master's `notify-keyspace-events` through the cluster's
   * client of that node. A master that refused CONFIG is not asked again while it stays
   * subscribed; one that does not answer is `unknown` until the next resync.
   */
  private async ensureNotifications(master: MasterNode): Promise<void> {
    const { address } = master;
    const before = this.states.get(address);
    if (before === 'unavailable') return;
    const set = (state: NotificationState) => {
      if (this.states.has(address)) this.states.set(address, state);
    };
    // A command to a node that is down would wait for its reconnect (a first connection
    // in progress, to a master just found, is waited for).
    if (master.client && !master.client.isReady && !master.connectPromise) return set('unknown');
    try {
      const node = await bounded(this.cluster.nodeClient(master), `connection to ${address}`);
      const redis = node.withCommandOptions({ timeout: STEP_TIMEOUT_MS });
      const state = await enableExpiredEvents(redis, this.logger, { node: address });
      set(state === 'on' && before === 'enabled' ? 'enabled' : state);
    } catch (err) {
      if (err instanceof ErrorReply) {
        // An error reply (not a connection error): CONFIG is renamed or not allowed.
        set('unavailable');
        if (this.warnedUnavailable) return;
        this.warnedUnavailable = true;
        this.logger.warn(
          { node: address, err: err.message },
          'cannot read or set notify-keyspace-events on a cluster master (CONFIG refused, ' +
            'e.g. managed Redis); its expirations are found by the deadline poll alone. Set ' +
            'notify-keyspace-events to include "Ex" on every node for lower expiry lag.',
        );
        return;
      }
      if (before !== 'unknown') {
        this.logger.warn(
          { node: address, err: (err as Error).message },
          'could not check keyspace notifications',
        );
      }
      set('unknown');
    }
  }
}

interface SubscriptionEvents {
  onExpired: (key: string) => void;
  /** The first SUBSCRIBE succeeded, when announced (the master was found late, or was down). */
  onSubscribed: () => void;
  /** The connection came back: node-redis resubscribes, what was published meanwhile is gone. */
  onResubscribed: () => void;
  /** The connection failed or is reconnecting: the node may have stopped being a master. */
  onTrouble: () => void;
}

/** One master's subscriber connection. */
class MasterSubscription {
  /** Settles once subscribed, or once the first connection attempt failed. */
  readonly settled: Promise<void>;
  private closed = false;

  constructor(
    private readonly client: SubscriberClient,
    announce: boolean,
    events: SubscriptionEvents,
  ) {
    let settle = () => {};
    this.settled = new Promise<void>((resolve) => (settle = resolve));
    let subscribed = false;
    let readyOnce = false;
    client.on('error', () => {
      if (!subscribed) {
        // Events published before the subscription is in place are lost.
        announce = true;
        settle();
      }
      events.onTrouble();
    });
    client.on('reconnecting', events.onTrouble);
    client.on('ready', () => {
      if (!readyOnce) {
        readyOnce = true;
        return;
      }
      if (!this.closed) events.onResubscribed();
    });
    client
      .connect()
      .then(() => client.subscribe(CHANNEL, (key) => events.onExpired(key)))
      .then(() => {
        subscribed = true;
        settle();
        if (announce && !this.closed) events.onSubscribed();
      })
      // Closed while connecting, or the connection dropped during SUBSCRIBE (node-redis
      // subscribes again when it is back, and onResubscribed asks for a poll).
      .catch(() => settle());
  }

  /** Closes the connection of a node that is no longer a master. */
  drop(): void {
    this.closed = true;
    if (this.client.isOpen) this.client.destroy();
  }

  /** Unsubscribes, then closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    try {
      if (this.client.isReady) await this.client.unsubscribe(CHANNEL);
    } catch {
      // Closing below ends the subscription anyway.
    }
    if (this.client.isOpen) this.client.destroy();
  }
}

type SubscriberClient = ReturnType<typeof subscriberClient>;

/** Not connected; the options are the cluster's `defaults` with the master's address. */
function subscriberClient(
  nodeOptions: ClusterKeyeventSubscriberOptions['nodeOptions'],
  name: string,
  master: MasterNode,
) {
  return createClient({
    ...nodeOptions,
    name,
    socket: { ...nodeOptions?.socket, host: master.host, port: master.port },
  });
}

/** `promise`, or a rejection after STEP_TIMEOUT_MS (the work itself goes on). */
function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} took longer than ${STEP_TIMEOUT_MS} ms`)),
      STEP_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

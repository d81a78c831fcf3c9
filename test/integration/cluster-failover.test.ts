import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import { ExpiryDaemon } from '../../src/expiry/expiry-daemon.js';
import { sleep, waitUntil } from '../../src/lifecycle/wait.js';
import { MessageStore } from '../../src/messages/message-store.js';
import { keySlot, keySpaceOf, type KeySpace } from '../../src/redis/key-space.js';
import { createRedisClient, type RedisClient } from '../../src/redis/redis-client.js';
import { LoadStats, type Ack } from '../helpers/load/load-stats.js';
import { sendOverRest } from '../helpers/load/rest-sender.js';
import type { SendJob } from '../helpers/load/send-job.js';
import { checkAcked, type Verdict } from '../helpers/load/verify.js';
import { inspectMongo, signupUser, type TestUser } from '../helpers/api-harness.js';
import {
  capturingLogger,
  daemonRecords as fixtureRecords,
  NO_RECORDS as NO_DAEMON_RECORDS,
} from '../helpers/expiry-fixtures.js';
import { sharedServers, startThrowawayCluster, type ThrowawayCluster } from '../helpers/servers.js';
import { createTestContext } from '../helpers/test-context.js';
import { masterOf, messageSlot, onNode, shards, type Shard } from '../helpers/cluster-node.js';

/**
 * The whole system through the failover of a Redis Cluster master under a steady send load:
 * two API processes and a daemon in-process on a throwaway cluster (3 masters + 3 replicas,
 * cluster-node-timeout 1000), REST senders that retry each send with its idempotency key
 * until it is acknowledged, and every acknowledged message then looked up in MongoDB
 * (test/helpers/load/verify.ts). Figures are printed as `[cluster-failover] …` lines; no
 * assertion is on a time.
 */

const USERS = 8;
/** A new send this often: a steady load, not a flood of the machine's few cores. */
const SEND_INTERVAL_MS = 10;
const MAX_IN_FLIGHT = 200;
/** How long one send is retried before it counts as given up. */
const SEND_DEADLINE_MS = 20000;
/** Acknowledged sends a shard must have before a fault, and again after it. */
const STEADY_ACKS = 15;
const RECOVERY_TIMEOUT_MS = 20000;
const DRAIN_TIMEOUT_MS = 20000;

interface LogLine {
  msg?: string;
  key?: string;
  time?: number;
}

/** The system on a cluster: what {@link useSystemOnCluster} starts for a describe. */
interface ClusterSystem {
  cluster: ThrowawayCluster;
  space: KeySpace;
  apis: ApiServer[];
  daemon: ExpiryDaemon;
  /** The daemon's log, parsed (`Deleted from cache: <key>` lines carry `key` and `time`). */
  daemonLines: LogLine[];
  /** A fail-fast client of the test's own, for looking at the daemon's records. */
  inspect: RedisClient;
  mongo: Awaited<ReturnType<typeof inspectMongo>>;
  users: TestUser[];
  /** Every pair of users: conversations in partitions of every master. */
  conversations: Array<[TestUser, TestUser]>;
}

/**
 * Starts a cluster, two API processes and a daemon (as test/integration/cluster-system.test.ts
 * does) before the describe's tests and disposes of everything after them. `env` is added to
 * the test context's variables.
 */
function useSystemOnCluster(name: string, env: Record<string, string>): () => ClusterSystem {
  let sys: ClusterSystem | undefined;
  const parts: Partial<ClusterSystem> & { daemonRedis?: RedisClient } = {};

  before(async function () {
    parts.cluster = await startThrowawayCluster();
    const ctx = createTestContext(
      name,
      {
        CACHE_TTL_SECONDS: '1',
        RATE_LIMIT_SENDS: '100000',
        // A claim whose ack died with its master is taken back after the lease: short, so
        // that the drain at the end of a test does not wait for the default 30 s.
        EXPIRY_LEASE_MS: '3000',
        ...env,
      },
      { clusterNodes: parts.cluster.seeds, mongoUri: sharedServers().mongoUri },
    );
    parts.apis = [];
    for (let i = 0; i < 2; i++) {
      parts.apis.push(await startApiServer(ctx.config, ctx.logger, { metricsPort: 0 }));
    }
    await Promise.all(parts.apis.map((api) => api.ready));
    parts.inspect = createRedisClient(ctx.config.redis, ctx.logger, {
      name: 'test-inspect',
      failFastWhenDown: true,
    });
    await parts.inspect.connect();
    parts.daemonRedis = createRedisClient(ctx.config.redis, ctx.logger, { name: 'test-daemon' });
    await parts.daemonRedis.connect();
    parts.mongo = await inspectMongo(ctx.config);
    parts.daemonLines = [];
    parts.daemon = new ExpiryDaemon(
      {
        config: ctx.config,
        logger: capturingLogger(parts.daemonLines),
        redis: parts.daemonRedis,
        messages: MessageStore.fromDb(parts.mongo.db),
      },
      { defaultMetrics: false },
    );
    await parts.daemon.start();
    const apis = parts.apis;
    parts.users = await Promise.all(
      Array.from({ length: USERS }, (_, i) => signupUser(apis[i % 2]!.url, `fo_${i}`)),
    );
    parts.conversations = parts.users.flatMap((a, i) =>
      parts.users!.slice(i + 1).map((b): [TestUser, TestUser] => [a, b]),
    );
    parts.space = keySpaceOf(ctx.config.redis);
    sys = parts as ClusterSystem;
  });

  after(async function () {
    // Each step bounded and on its own: a test that failed midway may leave a client
    // waiting on a dead node, and every process must still be stopped.
    const steps: Array<[string, (() => Promise<unknown>) | undefined]> = [
      ['the daemon to stop', parts.daemon && (() => parts.daemon!.stop())],
      ...(parts.apis ?? []).map((api): [string, () => Promise<unknown>] => [
        `the API ${api.url} to close`,
        () => api.close(),
      ]),
      ['the daemon client to close', parts.daemonRedis && (() => parts.daemonRedis!.close())],
      ['the inspection client to close', parts.inspect && (() => parts.inspect!.close())],
      // The cluster and its keys are thrown away whole; only the database outlives it.
      ['the test database to drop', parts.mongo && (() => parts.mongo!.db.dropDatabase())],
      ['the MongoDB client to close', parts.mongo && (() => parts.mongo!.close())],
      ['the cluster to stop', parts.cluster && (() => parts.cluster!.dispose())],
    ];
    for (const [what, step] of steps) {
      if (!step) continue;
      await within(10000, what, step()).catch((err: unknown) =>
        console.log(`[cluster-failover] cleanup: ${(err as Error).message}`),
      );
    }
  });

  return () => {
    if (!sys) throw new Error('the system is not started');
    return sys;
  };
}

/** Rejects when `promise` has not settled within `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * REST sends over every conversation, in both directions, alternating between the API
 * processes, started at a steady rate whatever becomes of them (a send waiting for a
 * failover holds back no other), at most {@link MAX_IN_FLIGHT} at once. Each send has its
 * own idempotency key (`<tag>-<n>`) and is retried with it on a network error, a 5xx or a
 * 409 in progress until it is acknowledged or its deadline.
 */
class SendLoad {
  readonly stats = new LoadStats();
  private running = true;
  private readonly inFlight = new Map<SendJob, Promise<void>>();
  /** When each send (by idempotency key) was started. */
  private readonly startedAt = new Map<string, number>();
  private readonly pacer: Promise<void>;

  constructor(
    private readonly sys: ClusterSystem,
    readonly tag: string,
  ) {
    this.pacer = this.pace();
  }

  /** Acknowledged sends whose message's slot `isOn`, their attempt started at or after `since`. */
  acksOn(isOn: (slot: number) => boolean, since = 0): Ack[] {
    return this.stats.acks.filter(
      (a) => a.attemptStartedAt >= since && isOn(messageSlot(this.sys.space, a.id)),
    );
  }

  /** Attempts answered with anything but an acknowledgement, by status (`net`: no answer). */
  failedAttempts(): Record<string, number> {
    return Object.fromEntries(
      Object.entries(this.stats.outcomes).filter(([k]) => !['200', '201', '202'].includes(k)),
    );
  }

  /** The longest time from a send's start to its acknowledgement, retries included. */
  longestSendMs(): number {
    return this.stats.acks.reduce(
      (max, a) => Math.max(max, a.ackedAt - (this.startedAt.get(a.clientMsgId) ?? a.ackedAt)),
      0,
    );
  }

  /** Starts no more sends and waits for the started ones to be acknowledged (or given up). */
  async stop(): Promise<void> {
    this.running = false;
    await this.pacer;
    await Promise.all(this.inFlight.values());
  }

  /** Stops at once: sends not yet acknowledged are given up after their current attempt. */
  async abort(): Promise<void> {
    this.running = false;
    await this.pacer;
    for (const job of this.inFlight.keys()) job.deadline = 0;
    await Promise.all(this.inFlight.values());
  }

  private async pace(): Promise<void> {
    for (let n = 0; this.running;) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) {
        await Promise.race(this.inFlight.values());
        continue;
      }
      const job = this.job(n++);
      this.stats.sent++;
      this.startedAt.set(job.clientMsgId, Date.now());
      this.inFlight.set(
        job,
        sendOverRest(job, this.stats).finally(() => this.inFlight.delete(job)),
      );
      await sleep(SEND_INTERVAL_MS);
    }
  }

  private job(n: number): SendJob {
    const { apis, conversations } = this.sys;
    const [a, b] = conversations[n % conversations.length]!;
    const [sender, receiver] = Math.floor(n / conversations.length) % 2 ? [b, a] : [a, b];
    return {
      baseUrl: apis[n % apis.length]!.url,
      sender,
      receiverId: receiver.id,
      content: `${this.tag} ${n}`,
      clientMsgId: `${this.tag}-${n}`,
      keyIn: 'header',
      timeoutMs: 5000,
      maxAttempts: 1000,
      deadline: Date.now() + SEND_DEADLINE_MS,
      attempts: 0,
    };
  }
}

/** Runs `body` with a load of its own, aborted if `body` throws. */
async function underLoad<T>(
  sys: ClusterSystem,
  tag: string,
  body: (load: SendLoad) => Promise<T>,
): Promise<T> {
  const load = new SendLoad(sys, tag);
  try {
    return await body(load);
  } catch (err) {
    await load.abort();
    throw err;
  }
}

/** Waits until every master has {@link STEADY_ACKS} acknowledged sends of `load`. */
async function untilSteady(load: SendLoad, map: Shard[]): Promise<void> {
  const masters = [...new Set(map.map((s) => s.master))];
  await waitUntil(
    `${STEADY_ACKS} acknowledged sends on each master ${masters.join(', ')}`,
    () =>
      masters.every((m) => load.acksOn((slot) => masterOf(map, slot) === m).length >= STEADY_ACKS),
    15000,
  );
}

/** What {@link daemonRecords} answers once every expiration was processed. */
const NO_RECORDS = { ...NO_DAEMON_RECORDS, pending: 0 };

/** The daemon's records summed over the partitions, and the entries of the pending sets. */
async function daemonRecords(sys: ClusterSystem): Promise<typeof NO_RECORDS> {
  const { inspect, space, conversations } = sys;
  const sums = { ...(await fixtureRecords(inspect, space)), pending: 0 };
  for (const [a, b] of conversations) {
    sums.pending += await inspect.zCard(space.forConversation(a.id, b.id).pending(a.id, b.id));
  }
  return sums;
}

/**
 * Waits until the daemon has processed every expiration (the due index and the inflight
 * set empty on every partition). @returns how long it took
 */
async function drain(sys: ClusterSystem): Promise<number> {
  const started = Date.now();
  let last: unknown;
  await waitUntil(
    'the daemon to drain the due index',
    async () => {
      try {
        const r = await within(2000, 'the records', daemonRecords(sys));
        last = r;
        return r.due === 0 && r.inflight === 0;
      } catch (err) {
        last = (err as Error).message;
        return false;
      }
    },
    DRAIN_TIMEOUT_MS,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last: ${JSON.stringify(last)}`);
  });
  return Date.now() - started;
}

/** The acknowledged messages missing from MongoDB (all of them, unlike `Verdict.lostIds`). */
async function missingIds(sys: ClusterSystem, acks: Ack[]): Promise<string[]> {
  const found = new Set<string>();
  const docs = sys.mongo.db.collection('messages').find({}, { projection: { _id: 1 } });
  for await (const d of docs) found.add(String(d._id));
  return acks.map((a) => a.id).filter((id) => !found.has(id));
}

/** `Deleted from cache` lines of the daemon, by full key. */
function deletions(sys: ClusterSystem): Map<string, LogLine[]> {
  const byKey = new Map<string, LogLine[]>();
  for (const line of sys.daemonLines) {
    if (!line.msg?.startsWith('Deleted from cache: ') || line.key === undefined) continue;
    byKey.set(line.key, [...(byKey.get(line.key) ?? []), line]);
  }
  return byKey;
}

/** What a kill -9 of a master under load came to; times are from the kill. */
interface KillOutcome {
  load: SendLoad;
  victim: number;
  onVictim: (slot: number) => boolean;
  killedAt: number;
  /** Until the victim's replica served its slots. */
  promotedMs: number;
  /**
   * Until the first acknowledgement of a send to the dead shard started after the kill
   * (write-through acknowledges a message once in MongoDB, cached or not).
   */
  sendsBackMs: number;
  /** Until the acknowledgement of the first message cached on the dead shard's new master. */
  cachedBackMs: number;
  /** Until the first expiration of the dead shard the daemon claimed after the kill. */
  expiriesBackMs: number;
  drainMs: number;
  verdict: Verdict;
}

/**
 * Puts the system under load, kills (SIGKILL) the master of the first conversation's
 * partition, waits until sends to its shard are acknowledged and cached again and its
 * expirations are processed again, stops the load, lets the daemon drain and checks MongoDB.
 */
async function killMasterUnderLoad(
  sys: ClusterSystem,
  tag: string,
  opts: { restartVictim?: boolean } = {},
): Promise<KillOutcome> {
  const map = await shards(sys.cluster);
  const [a, b] = sys.conversations[0]!;
  const slot = keySlot(sys.space.forConversation(a.id, b.id).message('x'));
  const victim = masterOf(map, slot);
  const onVictim = (s: number) => masterOf(map, s) === victim;
  return underLoad(sys, tag, async (load) => {
    await untilSteady(load, map);
    const killedAt = Date.now();
    await sys.cluster.killNode(victim);
    const goneAt = Date.now();
    const promoted = waitUntil(
      `a replica of ${victim} promoted`,
      async () => {
        try {
          return masterOf(await shards(sys.cluster), slot) !== victim;
        } catch {
          return false;
        }
      },
      RECOVERY_TIMEOUT_MS,
      20,
    ).then(() => Date.now() - killedAt);
    // Awaited below; observed now so that a failure first elsewhere is no unhandled rejection.
    promoted.catch(() => {});
    // The promoted replica has no replica of its own until the old master rejoins as one.
    if (opts.restartVictim) {
      await promoted;
      await sys.cluster.startNode(victim);
    }

    const firstAfterKill = (times: number[]) =>
      times.reduce((min, t) => Math.min(min, t - killedAt), Infinity);
    const cachedAcks = () => {
      const byKey = deletions(sys);
      return load
        .acksOn(onVictim, killedAt)
        .filter((ack) => byKey.has(sys.space.forMessage(ack.id).message(ack.id)));
    };
    const expiriesAfterKill = () =>
      sys.daemonLines.filter(
        (l) =>
          l.msg?.startsWith('Deleted from cache: ') &&
          l.key !== undefined &&
          (l.time ?? 0) > goneAt &&
          onVictim(keySlot(l.key)),
      );
    await waitUntil(
      `sends to the shard of ${victim} acknowledged and cached, and its expirations processed, again`,
      () =>
        load.acksOn(onVictim, killedAt).length > 0 &&
        expiriesAfterKill().length > 0 &&
        cachedAcks().length > 0,
      RECOVERY_TIMEOUT_MS,
    );
    await waitUntil(
      `${STEADY_ACKS} acknowledged sends to the failed-over shard`,
      () => load.acksOn(onVictim, killedAt).length >= STEADY_ACKS,
      RECOVERY_TIMEOUT_MS,
    );
    await load.stop();
    const drainMs = await drain(sys);
    const verdict = await checkAcked(sys.mongo.db, load.stats.acks, tag);
    return {
      load,
      victim,
      onVictim,
      killedAt,
      promotedMs: await promoted,
      sendsBackMs: firstAfterKill(load.acksOn(onVictim, killedAt).map((ack) => ack.ackedAt)),
      // Taken after the drain: a message is known to be cached once it has expired.
      cachedBackMs: firstAfterKill(cachedAcks().map((ack) => ack.ackedAt)),
      expiriesBackMs: firstAfterKill(expiriesAfterKill().map((l) => l.time!)),
      drainMs,
      verdict,
    };
  });
}

/** The recovery figures of a kill. */
function recovery(out: KillOutcome): string {
  return (
    `replica promoted after ${out.promotedMs} ms; sends to the dead shard acknowledged again ` +
    `after ${out.sendsBackMs} ms, cached again after ${out.cachedBackMs} ms; its expirations ` +
    `processed again after ${out.expiriesBackMs} ms`
  );
}

function summary(load: SendLoad, verdict: Verdict): string {
  const slowest = load.stats.acks.reduce(
    (max, a) => Math.max(max, a.ackedAt - a.attemptStartedAt),
    0,
  );
  return (
    `${load.stats.acknowledged} acknowledged of ${load.stats.sent} sent, ` +
    `${verdict.lost} lost, ${verdict.duplicated} duplicated, ${load.stats.gaveUp} given up; ` +
    `failed attempts ${JSON.stringify(load.failedAttempts())}; slowest acknowledged ` +
    `attempt ${slowest} ms, longest send (retries included) ${load.longestSendMs()} ms`
  );
}

describe('the system through a Redis Cluster failover, under load', function () {
  this.timeout(60000);

  describe('write-through (PERSISTENCE_MODE default)', function () {
    const system = useSystemOnCluster('failover_wt', {});

    it('kill -9 of a master: every acknowledged message in MongoDB once, every expiration processed', async function () {
      const sys = system();
      const out = await killMasterUnderLoad(sys, 'wtkill');
      const { load, verdict } = out;
      await within(10000, 'the daemon to stop', sys.daemon.stop());

      const byKey = deletions(sys);
      const healthy = load.stats.acks.filter((a) => !out.onVictim(messageSlot(sys.space, a.id)));
      const onDead = load.stats.acks.filter((a) => out.onVictim(messageSlot(sys.space, a.id)));
      const times = (a: Ack) => byKey.get(sys.space.forMessage(a.id).message(a.id))?.length ?? 0;
      const deadShard = {
        once: onDead.filter((a) => times(a) === 1).length,
        never: onDead.filter((a) => times(a) === 0).length,
        twice: onDead.filter((a) => times(a) > 1).length,
      };
      console.log(
        `[cluster-failover] write-through, kill -9 of master :${out.victim}: ${recovery(out)}; ` +
          `${summary(load, verdict)}; drained in ${out.drainMs} ms; ` +
          `expirations of the dead shard's ${onDead.length} messages: ${JSON.stringify(deadShard)}`,
      );

      assert.equal(load.stats.gaveUp, 0, 'every send was acknowledged');
      assert.equal(load.failedAttempts()['500'], undefined, 'no attempt answered 500');
      assert.deepEqual(load.stats.rejections, []);
      assert.equal(verdict.lost, 0, `acknowledged but not in MongoDB: ${verdict.lostIds}`);
      assert.equal(verdict.duplicated, 0);
      const notOnce = healthy.filter((a) => times(a) !== 1).map((a) => `${a.id}×${times(a)}`);
      assert.deepEqual(notOnce, [], 'each message of a healthy shard deleted from the cache once');
      assert.deepEqual(await daemonRecords(sys), NO_RECORDS);
    });
  });

  describe('write-behind without a replica wait', function () {
    const system = useSystemOnCluster('failover_wb', { PERSISTENCE_MODE: 'write-behind' });

    it('manual failover (CLUSTER FAILOVER on a replica): nothing acknowledged lost or duplicated', async function () {
      const sys = system();
      const [a, b] = sys.conversations[0]!;
      const slot = keySlot(sys.space.forConversation(a.id, b.id).message('x'));
      let map: Shard[] = [];
      let shard: Shard | undefined;
      // A node learns of its peers' replicas by gossip: asked early, it may list none yet.
      await waitUntil(
        `the master of slot ${slot} listed with a replica`,
        async () => {
          map = await shards(sys.cluster);
          shard = map.find((s) => slot >= s.from && slot <= s.to);
          return (shard?.replicas.length ?? 0) > 0;
        },
        10000,
      );
      const { master, replicas, from, to } = shard!;
      const replica = replicas[0]!;
      const onShard = (s: number) => s >= from && s <= to;

      const out = await underLoad(sys, 'wbmanual', async (load) => {
        await untilSteady(load, map);
        const startedAt = Date.now();
        await onNode(replica, (c) => c.sendCommand(['CLUSTER', 'FAILOVER']));
        await waitUntil(
          `replica ${replica} promoted`,
          async () => (await sys.cluster.masters()).some((m) => m.port === replica),
          10000,
        );
        const promotedMs = Date.now() - startedAt;
        await waitUntil(
          `${STEADY_ACKS} acknowledged sends to the shard after the failover`,
          () => load.acksOn(onShard, startedAt + promotedMs).length >= STEADY_ACKS,
          RECOVERY_TIMEOUT_MS,
        );
        await load.stop();
        const drainMs = await drain(sys);
        const verdict = await checkAcked(sys.mongo.db, load.stats.acks, 'wbmanual');
        return { load, promotedMs, drainMs, verdict };
      });
      const { load, verdict } = out;
      console.log(
        `[cluster-failover] write-behind, manual failover of master :${master} to ` +
          `:${replica}: promoted within ${out.promotedMs} ms; ${summary(load, verdict)}; ` +
          `drained in ${out.drainMs} ms`,
      );

      assert.equal(load.stats.gaveUp, 0, 'every send was acknowledged');
      assert.equal(load.failedAttempts()['500'], undefined, 'no attempt answered 500');
      assert.deepEqual(load.stats.rejections, []);
      assert.equal(verdict.lost, 0, `acknowledged but not in MongoDB: ${verdict.lostIds}`);
      assert.equal(verdict.duplicated, 0);
      assert.deepEqual(load.failedAttempts(), {}, 'no attempt failed: the clients follow MOVED');
      assert.deepEqual(await daemonRecords(sys), NO_RECORDS);
    });

    it('kill -9 of a master: the acknowledged messages lost are measured (none elsewhere)', async function () {
      const sys = system();
      // The demoted master of the previous test resynchronised as a replica.
      await sys.cluster.waitHealthy(20000);
      const out = await killMasterUnderLoad(sys, 'wbkill');
      const { load, verdict } = out;
      await within(10000, 'the daemon to stop', sys.daemon.stop());

      const byDeadMaster = load.acksOn(out.onVictim).filter((a) => a.ackedAt < out.killedAt);
      const lostElsewhere = (await missingIds(sys, load.stats.acks)).filter(
        (id) => !out.onVictim(messageSlot(sys.space, id)),
      );
      console.log(
        `[cluster-failover] write-behind without REDIS_WAIT_REPLICAS, kill -9 of master ` +
          `:${out.victim}: lost ${verdict.lost} of ${load.stats.acknowledged} acknowledged ` +
          `(${byDeadMaster.length} by the dead master); ${recovery(out)}; ` +
          `${summary(load, verdict)}; drained in ${out.drainMs} ms` +
          (verdict.lost ? `; lost e.g. ${verdict.lostIds.slice(0, 3).join(', ')}` : ''),
      );

      assert.equal(load.stats.gaveUp, 0, 'every send was acknowledged');
      assert.equal(load.failedAttempts()['500'], undefined, 'no attempt answered 500');
      assert.deepEqual(load.stats.rejections, []);
      assert.deepEqual(lostElsewhere, [], 'only messages of the dead shard are lost');
      assert.deepEqual(await daemonRecords(sys), NO_RECORDS);
    });
  });

  describe('write-behind with REDIS_WAIT_REPLICAS=1', function () {
    const system = useSystemOnCluster('failover_wait', {
      PERSISTENCE_MODE: 'write-behind',
      REDIS_WAIT_REPLICAS: '1',
    });

    it('kill -9 of a master: nothing acknowledged lost or duplicated', async function () {
      const sys = system();
      const out = await killMasterUnderLoad(sys, 'wwkill', { restartVictim: true });
      const { load, verdict } = out;
      await within(10000, 'the daemon to stop', sys.daemon.stop());
      console.log(
        `[cluster-failover] write-behind with REDIS_WAIT_REPLICAS=1, kill -9 of master ` +
          `:${out.victim} (restarted once its replica was promoted): ${recovery(out)}; ` +
          `${summary(load, verdict)}; drained in ${out.drainMs} ms`,
      );

      assert.equal(load.stats.gaveUp, 0, 'every send was acknowledged');
      assert.equal(load.failedAttempts()['500'], undefined, 'no attempt answered 500');
      assert.equal(verdict.lost, 0, `acknowledged but not in MongoDB: ${verdict.lostIds}`);
      assert.equal(verdict.duplicated, 0);
      assert.deepEqual(await daemonRecords(sys), NO_RECORDS);
    });
  });
});

import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { StatsSnapshotJson } from '../contract/http-schemas.js';
import type { KeySpace } from '../redis/key-space.js';
import type { RedisClient } from '../redis/redis-client.js';
import type { RedisKeys } from '../redis/keys.js';

/** Cluster-wide counters kept in Redis (`{p}stats:counters`), summed over all processes. */
export type StatsCounter =
  | 'sends'
  | 'cacheHits'
  | 'cacheMisses'
  | 'expirations:event'
  | 'expirations:poll'
  | 'persistFailures';

/** What one process reports about itself (`{p}stats:instances`, refreshed every flush). */
export interface InstanceReport {
  role: 'api' | 'daemon';
  wsConnections?: number;
  lagP50Ms?: number;
  lagP99Ms?: number;
  /** ms since the epoch of the report. */
  at: number;
}

/** Reports older than this are ignored (their process died or hangs) and removed. */
const STALE_MS = 10_000;

/**
 * Counts locally and flushes the deltas to Redis once a second in one round trip, so the
 * dashboard and `npm run cache -- stats` see totals over every API and daemon process
 * without a Redis write per event on the hot path.
 */
export class SharedStats {
  private readonly pending = new Map<StatsCounter, number>();
  private timer: NodeJS.Timeout | undefined;
  readonly instanceId: string;

  /** `keys`: where the shared figures live (`KeySpace.shared`). */
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly report: () => Omit<InstanceReport, 'at'>,
    opts: { instanceId?: string; flushMs?: number } = {},
  ) {
    // Random suffix: several instances may share a process (tests, benchmarks).
    this.instanceId =
      opts.instanceId ??
      `${report().role}:${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.timer = setInterval(() => void this.flush().catch(() => {}), opts.flushMs ?? 1000);
    this.timer.unref();
  }

  count(counter: StatsCounter, n = 1): void {
    this.pending.set(counter, (this.pending.get(counter) ?? 0) + n);
  }

  /** Sends the pending deltas and this instance's report. Deltas are kept on failure. */
  async flush(): Promise<void> {
    if (!this.redis.isReady) return;
    const deltas = [...this.pending.entries()];
    this.pending.clear();
    // Separate commands, not a MULTI: the two hashes may live on two cluster nodes. They are
    // sent together (one round trip on one node); a delta that did not land is kept.
    const sent = await Promise.allSettled([
      this.redis.hSet(
        this.keys.statsInstances,
        this.instanceId,
        JSON.stringify({ ...this.report(), at: Date.now() }),
      ),
      ...deltas.map(([field, n]) => this.redis.hIncrBy(this.keys.statsCounters, field, n)),
    ]);
    deltas.forEach(([field, n], i) => {
      if (sent[i + 1]!.status === 'rejected') this.count(field, n);
    });
    const failed = sent.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Stops flushing, after one last flush; removes this instance's report. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => {});
    await this.redis.hDel(this.keys.statsInstances, this.instanceId).catch(() => {});
  }
}

/**
 * The cluster-wide picture served by `GET /api/stats` and the cache CLI's `stats` (the
 * contract's `statsSnapshotSchema`).
 */
export type StatsSnapshot = StatsSnapshotJson;

/**
 * Reads the shared stats: the counters and reports of `space.shared`, and the due index
 * and dead letters summed over the partitions. One MULTI per partition (a partition is one
 * hash slot on a cluster), all sent at once: one round trip on a single node.
 */
export async function readStats(redis: RedisClient, space: KeySpace): Promise<StatsSnapshot> {
  const now = Date.now();
  const keys = space.shared;
  const [{ counters, instances }, ...partitions] = await Promise.all([
    readShared(redis, keys),
    ...space.partitions.map((p) => readBacklog(redis, p)),
  ]);
  let backlog = 0;
  let dead = 0;
  for (const p of partitions) {
    backlog += p.indexed;
    dead += p.deadLetters;
  }
  const n = (f: StatsCounter) => Number(counters[f] ?? 0);
  let ws = 0;
  let p50: number | null = null;
  let p99: number | null = null;
  const count = { api: 0, daemon: 0 };
  const stale: string[] = [];
  for (const [id, json] of Object.entries(instances)) {
    let r: InstanceReport;
    try {
      r = JSON.parse(json) as InstanceReport;
    } catch {
      stale.push(id);
      continue;
    }
    if (now - r.at > STALE_MS) {
      stale.push(id);
      continue;
    }
    count[r.role]++;
    ws += r.wsConnections ?? 0;
    // Across daemons, show the worst: a lag problem on one instance must not be averaged away.
    if (r.lagP50Ms !== undefined) p50 = Math.max(p50 ?? 0, r.lagP50Ms);
    if (r.lagP99Ms !== undefined) p99 = Math.max(p99 ?? 0, r.lagP99Ms);
  }
  if (stale.length) await redis.hDel(keys.statsInstances, stale).catch(() => {});
  const hits = n('cacheHits');
  const misses = n('cacheMisses');
  return {
    at: new Date(now).toISOString(),
    sends: n('sends'),
    cacheHits: hits,
    cacheMisses: misses,
    hitRate: hits + misses > 0 ? hits / (hits + misses) : null,
    wsConnections: ws,
    expirations: { event: n('expirations:event'), poll: n('expirations:poll') },
    persistFailures: n('persistFailures'),
    lag: { p50Ms: p50, p99Ms: p99 },
    backlog,
    deadLetter: dead,
    instances: count,
  };
}

async function readShared(redis: RedisClient, keys: RedisKeys) {
  // Two commands sent together, not a MULTI: on a cluster the hashes may be on two nodes.
  const [counters, instances] = await Promise.all([
    redis.hGetAll(keys.statsCounters),
    redis.hGetAll(keys.statsInstances),
  ]);
  return { counters, instances };
}

/** The due index size (per-key index + the slots' counter) and dead letters of a partition. */
async function readBacklog(redis: RedisClient, keys: RedisKeys) {
  const [perKey, slotted, dead] = (await redis
    .multi()
    .zCard(keys.due)
    .get(keys.dueSlotCount)
    .hLen(keys.dead)
    .exec()) as unknown as [number, string | null, number];
  return { indexed: Number(perKey) + Math.max(0, Number(slotted ?? 0)), deadLetters: Number(dead) };
}
